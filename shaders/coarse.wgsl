// Coarse stage of the index: every query descriptor's score against every centroid.
// Invocation = one centroid x one query; the score is the better orientation
// (plain: even + odd, mirrored: even - odd, see descriptor.rs), as the exact search
// scores a frame. The CPU twin is `ivf::coarse_scores`; the CPU picks each query's best
// clusters from the row (`ivf::probe`).

#import shared/common.wgsl

// ivf::CoarseParams
struct Params {
    queries: u32,
    centroids: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<u32>;
@group(0) @binding(2) var<storage, read> centroids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let q = gid.y;
    if c >= params.centroids || q >= params.queries {
        return;
    }
    var even = 0;
    var odd = 0;
    for (var w = 0u; w < WORDS / 2u; w++) {
        even += dot4(queries[q * WORDS + w], centroids[c * WORDS + w]);
        odd += dot4(queries[q * WORDS + w + WORDS / 2u], centroids[c * WORDS + w + WORDS / 2u]);
    }
    out[q * params.centroids + c] = max(even + odd, even - odd);
}

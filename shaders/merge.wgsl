// Each query's per-chunk lists (written by `search.wgsl`, chunks in frame order) folded
// into its top-k, on the device. Invocation = one query. The lists are inserted in
// chunk order, each best first, after every equal score: the result is ordered by score
// descending then key ascending, the order one scan of all frames produces. A list is
// left at its first hit that cannot enter (the rest score no more).
// CPU twin: `search::merge`.

#import shared/common.wgsl
#import shared/topk.wgsl

// search::MergeParams
struct Params {
    queries: u32,
    chunks: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> hits: array<Hit>;
@group(0) @binding(2) var<storage, read_write> out: array<Hit>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let qi = gid.x;
    if qi >= params.queries {
        return;
    }
    var best = topk_empty();
    for (var c = 0u; c < params.chunks; c++) {
        let o = (qi * params.chunks + c) * TOPK;
        for (var i = 0u; i < TOPK; i++) {
            let h = hits[o + i];
            if h.score <= best.threshold {
                break;
            }
            topk_offer(&best, h.score, h.key);
        }
    }
    for (var i = 0u; i < TOPK; i++) {
        out[qi * TOPK + i] = Hit(best.score[i], best.key[i]);
    }
}

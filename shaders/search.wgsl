// Exact top-k search: every query descriptor against one tile of catalogue frames.
// Invocation = one query x one chunk of frames; it keeps the query in registers
// (WORDS words of packed signed bytes), scans its chunk, and writes the chunk's top-k.
// The CPU merges the chunks' lists (src/kernels/search.rs, `merge`); the CPU twin is
// `search::cpu_chunk_topk`.
//
// A catalogue frame has `views` descriptors (crops of the frame); its score is the best
// over its views and over both orientations of the query (plain: even + odd, mirrored:
// even - odd, see descriptor.rs).

#import shared/common.wgsl

struct Params {
    queries: u32,
    frames: u32,
    views: u32,
    chunk: u32,
}

// search::Hit: score, then frame index << 1 | mirrored.
struct Hit {
    score: i32,
    key: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<u32>;
@group(0) @binding(2) var<storage, read> catalogue: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<Hit>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let qi = gid.x;
    let chunk_index = gid.y;
    if qi >= params.queries {
        return;
    }
    var q: array<u32, 32>;
    for (var w = 0u; w < WORDS; w++) {
        q[w] = queries[qi * WORDS + w];
    }
    var best_s: array<i32, 16>;
    var best_k: array<u32, 16>;
    for (var i = 0u; i < TOPK; i++) {
        best_s[i] = -2147483647 - 1;
        best_k[i] = 0xffffffffu;
    }

    let first = chunk_index * params.chunk;
    let last = min(first + params.chunk, params.frames);
    for (var f = first; f < last; f++) {
        var score = -2147483647 - 1;
        var key = 0u;
        for (var v = 0u; v < params.views; v++) {
            let row = (f * params.views + v) * WORDS;
            var even = 0;
            var odd = 0;
            for (var w = 0u; w < WORDS / 2u; w++) {
                even += dot4(q[w], catalogue[row + w]);
                odd += dot4(q[w + WORDS / 2u], catalogue[row + w + WORDS / 2u]);
            }
            if even + odd > score {
                score = even + odd;
                key = f << 1u;
            }
            if even - odd > score {
                score = even - odd;
                key = (f << 1u) | 1u;
            }
        }
        if score > best_s[TOPK - 1u] {
            // Insert after every equal score: ties keep the lower frame first.
            var p = TOPK - 1u;
            while p > 0u && score > best_s[p - 1u] {
                best_s[p] = best_s[p - 1u];
                best_k[p] = best_k[p - 1u];
                p--;
            }
            best_s[p] = score;
            best_k[p] = key;
        }
    }
    let n_chunks = (params.frames + params.chunk - 1u) / params.chunk;
    let o = (qi * n_chunks + chunk_index) * TOPK;
    for (var i = 0u; i < TOPK; i++) {
        out[o + i] = Hit(best_s[i], best_k[i]);
    }
}

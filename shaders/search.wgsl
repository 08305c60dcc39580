// Exact top-k search: a tile of WORKGROUP query descriptors against one chunk of
// catalogue frames. Invocation = one query, held in registers; the workgroup streams its
// chunk through workgroup memory ROWS descriptors at a time, each loaded once, in
// consecutive 16-byte words, and read by every query of the tile. A query's list keeps
// its 16th score as a running threshold, so a frame below it costs one compare.
// Each (query, chunk) list goes to `hits`; `merge.wgsl` folds a query's lists into its
// top-k on the device, so only queries x TOPK hits are read back.
// CPU twin: `search::cpu_chunk_topk`, keys offset by the tile's first frame.
//
// A catalogue frame has `views` descriptors (crops of the frame); its score is the best
// over its views and over both orientations of the query (plain: even + odd, mirrored:
// even - odd, see descriptor.rs). Plain wins ties over mirrored, earlier views over later.

#import shared/common.wgsl
#import shared/topk.wgsl

// search::SearchParams
struct Params {
    queries: u32,
    frames: u32,
    views: u32,
    chunk: u32,
    // Index of the tile's first frame among all frames: keys are global.
    first: u32,
    // The tile's first chunk among the chunks of all tiles, and their count.
    chunk_base: u32,
    chunks_total: u32,
    // vec4s from one query to the next: a packed descriptor, or a whole `Descriptor`.
    query_stride: u32,
}

// Descriptors staged in workgroup memory per step, 8 x 16 bytes each.
const ROWS: u32 = 64u;
const VEC4S: u32 = 8u; // WORDS / 4

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> catalogue: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> hits: array<Hit>;

var<workgroup> stage: array<vec4<u32>, 512>; // ROWS * VEC4S

fn dot16(a: vec4<u32>, b: vec4<u32>) -> i32 {
    return dot4(a.x, b.x) + dot4(a.y, b.y) + dot4(a.z, b.z) + dot4(a.w, b.w);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let qi = wg.x * 64u + lid;
    let live = qi < params.queries;
    // Constant indices only, so that the query stays in registers (an invocation past the
    // last query reads the first, and scores nothing).
    let b = select(0u, qi * params.query_stride, live);
    let q = array<vec4<u32>, 8>(
        queries[b], queries[b + 1u], queries[b + 2u], queries[b + 3u],
        queries[b + 4u], queries[b + 5u], queries[b + 6u], queries[b + 7u],
    );
    var best = topk_empty();

    let first_frame = wg.y * params.chunk;
    let last_frame = min(first_frame + params.chunk, params.frames);
    let row_end = last_frame * params.views;
    // The frame being scored, its view, and its best so far (they carry across steps).
    var f = first_frame;
    var v = 0u;
    var score = -2147483647 - 1;
    var key = 0u;
    // Every invocation takes part in every step (barriers), live or not.
    for (var base = first_frame * params.views; base < row_end; base += ROWS) {
        workgroupBarrier();
        for (var k = 0u; k < VEC4S; k++) {
            let s = k * 64u + lid;
            let row = base + s / VEC4S;
            if row < row_end {
                stage[s] = catalogue[base * VEC4S + s];
            }
        }
        workgroupBarrier();
        // Inactive invocations skip the scoring but never the barriers.
        let rows = select(0u, min(ROWS, row_end - base), live);
        for (var r = 0u; r < rows; r++) {
            let o = r * VEC4S;
            let even = dot16(q[0], stage[o]) + dot16(q[1], stage[o + 1u]) + dot16(q[2], stage[o + 2u]) + dot16(q[3], stage[o + 3u]);
            let odd = dot16(q[4], stage[o + 4u]) + dot16(q[5], stage[o + 5u]) + dot16(q[6], stage[o + 6u]) + dot16(q[7], stage[o + 7u]);
            let g = (params.first + f) << 1u;
            if even + odd > score {
                score = even + odd;
                key = g;
            }
            if even - odd > score {
                score = even - odd;
                key = g | 1u;
            }
            v++;
            if v == params.views {
                // Frames come in order: ties keep the lower frame first.
                topk_offer(&best, score, key);
                v = 0u;
                f++;
                score = -2147483647 - 1;
            }
        }
    }
    if live {
        let o = (qi * params.chunks_total + params.chunk_base + wg.y) * TOPK;
        for (var i = 0u; i < TOPK; i++) {
            hits[o + i] = Hit(best.score[i], best.key[i]);
        }
    }
}

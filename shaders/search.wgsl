// Exact top-k search: a tile of SEARCH_QUERIES (2 x WORKGROUP) query descriptors against
// one chunk of catalogue frames. Invocation = two queries (`lid` and `lid + 64` of the
// tile), held in registers; the workgroup streams its chunk through workgroup memory ROWS
// descriptors at a time, each loaded once, in consecutive 16-byte words. An invocation
// reads each staged descriptor into registers once and scores it against both of its
// queries: half the workgroup-memory reads and frame bookkeeping per comparison of one
// query per invocation, 1.34x faster on an H200 at 12 views (docs/GPU.md). A query's
// list keeps its 16th score as a running threshold, so a frame below it costs one compare.
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
    let qa = wg.x * 128u + lid;
    let qb = qa + 64u;
    let live_a = qa < params.queries;
    let live_b = qb < params.queries;
    // Constant indices only, so that the queries stay in registers (a query past the last
    // reads the first, and its lists are not written).
    let a = load_query(select(0u, qa * params.query_stride, live_a));
    let b = load_query(select(0u, qb * params.query_stride, live_b));
    var best_a = topk_empty();
    var best_b = topk_empty();

    let first_frame = wg.y * params.chunk;
    let last_frame = min(first_frame + params.chunk, params.frames);
    let row_end = last_frame * params.views;
    // The frame being scored, its view, and each query's best so far (they carry across
    // steps).
    var f = first_frame;
    var v = 0u;
    var score_a = -2147483647 - 1;
    var key_a = 0u;
    var score_b = -2147483647 - 1;
    var key_b = 0u;
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
        // Invocations with no live query skip the scoring but never the barriers.
        let rows = select(0u, min(ROWS, row_end - base), live_a);
        for (var r = 0u; r < rows; r++) {
            let o = r * VEC4S;
            let c = array<vec4<u32>, 8>(
                stage[o], stage[o + 1u], stage[o + 2u], stage[o + 3u],
                stage[o + 4u], stage[o + 5u], stage[o + 6u], stage[o + 7u],
            );
            let even_a = dot16(a[0], c[0]) + dot16(a[1], c[1]) + dot16(a[2], c[2]) + dot16(a[3], c[3]);
            let odd_a = dot16(a[4], c[4]) + dot16(a[5], c[5]) + dot16(a[6], c[6]) + dot16(a[7], c[7]);
            let even_b = dot16(b[0], c[0]) + dot16(b[1], c[1]) + dot16(b[2], c[2]) + dot16(b[3], c[3]);
            let odd_b = dot16(b[4], c[4]) + dot16(b[5], c[5]) + dot16(b[6], c[6]) + dot16(b[7], c[7]);
            let g = (params.first + f) << 1u;
            keep_better(&score_a, &key_a, even_a, odd_a, g);
            keep_better(&score_b, &key_b, even_b, odd_b, g);
            v++;
            if v == params.views {
                // Frames come in order: ties keep the lower frame first.
                topk_offer(&best_a, score_a, key_a);
                topk_offer(&best_b, score_b, key_b);
                v = 0u;
                f++;
                score_a = -2147483647 - 1;
                score_b = -2147483647 - 1;
            }
        }
    }
    write_hits(qa, live_a, wg.y, best_a);
    write_hits(qb, live_b, wg.y, best_b);
}

// A view's score against a query, plain (even + odd) and mirrored (even - odd), into the
// frame's best so far: plain wins ties over mirrored, earlier views over later.
fn keep_better(score: ptr<function, i32>, key: ptr<function, u32>, even: i32, odd: i32, g: u32) {
    if even + odd > *score {
        *score = even + odd;
        *key = g;
    }
    if even - odd > *score {
        *score = even - odd;
        *key = g | 1u;
    }
}

fn load_query(b: u32) -> array<vec4<u32>, 8> {
    return array<vec4<u32>, 8>(
        queries[b], queries[b + 1u], queries[b + 2u], queries[b + 3u],
        queries[b + 4u], queries[b + 5u], queries[b + 6u], queries[b + 7u],
    );
}

// A query's list for its chunk `chunk` of this tile.
fn write_hits(qi: u32, live: bool, chunk: u32, best: TopK) {
    if live {
        let o = (qi * params.chunks_total + params.chunk_base + chunk) * TOPK;
        for (var i = 0u; i < TOPK; i++) {
            hits[o + i] = Hit(best.score[i], best.key[i]);
        }
    }
}

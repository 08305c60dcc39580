// A query's best-first list of TOPK hits, shared by search.wgsl and merge.wgsl (CPU twin:
// `search::insert`). `threshold`, the 16th score, sits beside the list so that the
// common case, a hit that does not enter, never indexes the list (indexed at run time,
// the list lives in local memory on NVIDIA).

struct TopK {
    score: array<i32, 16>,
    key: array<u32, 16>,
    threshold: i32,
}

fn topk_empty() -> TopK {
    var t: TopK;
    for (var i = 0u; i < TOPK; i++) {
        t.score[i] = -2147483647 - 1;
        t.key[i] = 0xffffffffu;
    }
    t.threshold = -2147483647 - 1;
    return t;
}

// Inserts after every equal score, so that ties keep the hit offered first; a hit no
// better than the 16th is left out.
fn topk_offer(t: ptr<function, TopK>, score: i32, key: u32) {
    if score <= (*t).threshold {
        return;
    }
    var p = TOPK - 1u;
    while p > 0u && score > (*t).score[p - 1u] {
        (*t).score[p] = (*t).score[p - 1u];
        (*t).key[p] = (*t).key[p - 1u];
        p--;
    }
    (*t).score[p] = score;
    (*t).key[p] = key;
    (*t).threshold = (*t).score[TOPK - 1u];
}

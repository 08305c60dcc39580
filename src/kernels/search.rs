//! Exact top-k search of query descriptors against catalogue frames. CPU twin of
//! `shaders/search.wgsl`, and the merge of the kernel's per-chunk lists.

use crate::kernels::descriptor::{WORDS, split_dot};
use crate::kernels::lanes::{self, MAX_BLOCKED_VIEWS};
use crate::kernels::neighbours::insert;
pub use crate::kernels::neighbours::{Hit, Matrix, Neighbours, TOPK};
use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

/// The uniform of `search.wgsl`: sizes of the dispatch, the frames each workgroup
/// scans, and where its lists go. WGSL twin: `struct Params` in `shaders/search.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct SearchParams {
    pub queries: u32,
    /// Frames of the catalogue tile.
    pub frames: u32,
    pub views: u32,
    /// Frames per chunk: one list per query and chunk.
    pub chunk: u32,
    /// Index of the tile's first frame among all frames (keys are global).
    pub first: u32,
    /// The tile's first chunk among all tiles' chunks, and their count.
    pub chunk_base: u32,
    pub chunks_total: u32,
    /// `vec4<u32>`s from one query to the next.
    pub query_stride: u32,
}

/// The uniform of `merge.wgsl`. WGSL twin: `struct Params` in `shaders/merge.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct MergeParams {
    pub queries: u32,
    /// Lists per query.
    pub chunks: u32,
    pub pad: [u32; 2],
}

/// Best score of query `q` against frame `f` over its views and both orientations,
/// with the key the kernel would record. Plain wins ties over mirrored, and earlier
/// views over later ones, as in the kernel.
fn frame_score(q: &[u32; WORDS], m: &Matrix, f: usize) -> (i32, u32) {
    let mut best = (i32::MIN, 0u32);
    for v in 0..m.views {
        let row = (f * m.views + v) * WORDS;
        let r: &[u32; WORDS] = m.words[row..row + WORDS].try_into().expect("row of WORDS words");
        let (even, odd) = split_dot(q, r);
        if even + odd > best.0 {
            best = (even + odd, (f as u32) << 1);
        }
        if even - odd > best.0 {
            best = (even - odd, (f as u32) << 1 | 1);
        }
    }
    best
}

/// CPU twin of one query of `search.wgsl` (an invocation scores two): query `q` against
/// frames `first..last`.
pub fn cpu_chunk_topk(q: &[u32; WORDS], m: &Matrix, first: usize, last: usize) -> Neighbours {
    let mut list = [Hit::EMPTY; TOPK];
    for f in first..last {
        let (score, key) = frame_score(q, m, f);
        insert(&mut list, Hit { score, key });
    }
    list
}

/// Fewest frames a parallel task scans. Each task starts with empty lists, which fill
/// (and insert often) before its threshold settles; long tasks amortise that.
const MIN_FRAMES_PER_TASK: usize = 1024;

/// Queries per parallel task when the frames are too few to share out.
const QUERIES_PER_TASK: usize = 256;

/// Exact top-k of every query against the whole matrix, on all cores: the same lists as
/// `cpu_chunk_topk` over all frames, computed block by block (see `Block`) over ranges
/// of frames in parallel, then merged.
pub fn cpu_search(queries: &[[u32; WORDS]], m: &Matrix) -> Vec<Neighbours> {
    let frames = m.frames();
    if m.views > MAX_BLOCKED_VIEWS {
        return queries.par_iter().map(|q| cpu_chunk_topk(q, m, 0, frames)).collect();
    }
    // Two tasks per thread: even when one thread is slowed, the others take its share.
    let threads = rayon::current_num_threads();
    let per_task = frames.div_ceil(2 * threads).max(MIN_FRAMES_PER_TASK);
    let tasks = frames.div_ceil(per_task).max(1);
    // Few frames and many queries (index centroids): the queries are shared out instead.
    if tasks < 2 * threads && queries.len() > 2 * QUERIES_PER_TASK {
        return queries.par_chunks(QUERIES_PER_TASK).flat_map_iter(|qs| cpu_search(qs, m)).collect();
    }
    let partial: Vec<Vec<Neighbours>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut lists = vec![[Hit::EMPTY; TOPK]; queries.len()];
            lanes::scan(queries, m, t * per_task, ((t + 1) * per_task).min(frames), &mut lists);
            lists
        })
        .collect();
    (0..queries.len())
        .map(|q| {
            let merged = merge(partial.iter().flat_map(|p| p[q]));
            let mut list = [Hit::EMPTY; TOPK];
            list[..merged.len()].copy_from_slice(&merged);
            list
        })
        .collect()
}

/// The order of every neighbour list: score descending, then frame (and orientation)
/// ascending, the order a single scan produces.
fn best_first(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.score.cmp(&a.score).then(a.key.cmp(&b.key))
}

/// Merges per-chunk lists into one best-first list. The order (score desc, key asc)
/// is the one a single scan produces, so chunked and unchunked searches agree exactly.
pub fn merge(lists: impl IntoIterator<Item = Hit>) -> Vec<Hit> {
    let mut all: Vec<Hit> = lists.into_iter().filter(|h| !h.is_empty()).collect();
    all.sort_by(best_first);
    all.truncate(TOPK);
    all
}

/// The best neighbours of several descriptors of one upload frame (its views): each
/// catalogue frame and orientation once, with its best score, best first.
pub fn union(lists: &[Neighbours]) -> Neighbours {
    let mut all: Vec<Hit> = lists.iter().flatten().filter(|h| !h.is_empty()).copied().collect();
    all.sort_by(best_first);
    let mut seen = std::collections::HashSet::new();
    let mut out = [Hit::EMPTY; TOPK];
    for (slot, h) in out.iter_mut().zip(all.into_iter().filter(|h| seen.insert(h.key))) {
        *slot = h;
    }
    out
}

/// Folds a tile's merged list into a running best-first list.
pub fn fold(acc: &mut Neighbours, hits: &[Hit]) {
    let merged = merge(acc.iter().chain(hits).copied());
    *acc = [Hit::EMPTY; TOPK];
    acc[..merged.len()].copy_from_slice(&merged);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::lanes::{LANES, group_blocks};
    use crate::testkit::tie_heavy_words;

    #[test]
    fn hit_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Hit>(), 8);
    }

    #[test]
    fn chunked_merge_equals_single_scan() {
        let words = tie_heavy_words(300 * 3 * WORDS, 7);
        let m = Matrix { words: &words, views: 3 };
        let qs = tie_heavy_words(5 * WORDS, 11);
        for q in qs.chunks(WORDS) {
            let q: [u32; WORDS] = q.try_into().unwrap();
            let whole = cpu_chunk_topk(&q, &m, 0, m.frames());
            let chunks = (0..m.frames()).step_by(37).flat_map(|a| cpu_chunk_topk(&q, &m, a, (a + 37).min(m.frames())));
            let merged = merge(chunks);
            assert_eq!(&whole[..], &merged[..]);
        }
    }

    #[test]
    fn blocked_search_equals_the_reference_scan() {
        // Views that fill a block exactly, leave lanes unused, straddle blocks in groups
        // of 2, 3 and 4 blocks, and exceed a group (the unblocked scan); enough frames for
        // several parallel tasks; signed coefficients with many ties.
        let cases = [(1, 4 * MIN_FRAMES_PER_TASK + 77), (3, 1000), (8, 600), (10, 500), (12, 700), (LANES + 1, 50)];
        assert_eq!(cases.map(|(v, _)| group_blocks(v)), [1, 3, 1, 2, 3, 4]);
        for (views, frames) in cases.into_iter().chain([(MAX_BLOCKED_VIEWS + 1, 9)]) {
            let words: Vec<u32> = tie_heavy_words(frames * views * WORDS, 3 + views as u64)
                .iter()
                .enumerate()
                .map(|(i, w)| if i % 3 == 0 { w | 0x8080_0000 } else { *w })
                .collect();
            let m = Matrix { words: &words, views };
            let qs: Vec<[u32; WORDS]> =
                tie_heavy_words(9 * WORDS, 13).chunks(WORDS).map(|q| q.try_into().unwrap()).collect();
            let reference: Vec<Neighbours> = qs.iter().map(|q| cpu_chunk_topk(q, &m, 0, frames)).collect();
            assert_eq!(cpu_search(&qs, &m), reference, "views {views}");
        }
    }

    #[test]
    fn many_queries_over_few_frames_are_shared_out_alike() {
        let (views, frames) = (1, 150);
        let words = tie_heavy_words(frames * views * WORDS, 31);
        let m = Matrix { words: &words, views };
        let qs: Vec<[u32; WORDS]> = tie_heavy_words((2 * QUERIES_PER_TASK + 77) * WORDS, 37)
            .chunks(WORDS)
            .map(|q| q.try_into().unwrap())
            .collect();
        let reference: Vec<Neighbours> = qs.iter().map(|q| cpu_chunk_topk(q, &m, 0, frames)).collect();
        assert_eq!(cpu_search(&qs, &m), reference);
    }

    #[test]
    fn finds_itself_first() {
        // Real unit-norm descriptors: a random image's own descriptor is its best match.
        let t = crate::kernels::descriptor::Tables::new();
        let words: Vec<u32> = (0..100)
            .flat_map(|i| crate::kernels::descriptor::describe(&crate::testkit::random_image(i), &t).words)
            .collect();
        let m = Matrix { words: &words, views: 2 };
        let f = 17;
        let q: [u32; WORDS] = words[(f * 2 + 1) * WORDS..(f * 2 + 2) * WORDS].try_into().unwrap();
        let list = cpu_search(&[q], &m);
        assert_eq!(list[0][0].frame(), f);
        assert!(!list[0][0].mirrored());
    }
}

//! Exact top-k search of query descriptors against catalogue frames. CPU twin of
//! `shaders/similarity.wgsl`, and the merge of the kernel's per-chunk lists.

use crate::descriptor::{WORDS, split_dot};
use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

/// Neighbours kept per query frame.
pub const TOPK: usize = 16;

/// One neighbour: a catalogue frame and the query's similarity to it.
/// WGSL twin: `struct Hit` in `similarity.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Hit {
    /// Dot product of the quantised descriptors (`descriptor::DOT_ONE` is a perfect match).
    pub score: i32,
    /// `frame << 1 | mirrored`; `u32::MAX` marks an empty slot.
    pub key: u32,
}

impl Hit {
    pub const EMPTY: Hit = Hit { score: i32::MIN, key: u32::MAX };

    pub fn is_empty(&self) -> bool {
        self.key == u32::MAX
    }
    /// Index of the catalogue frame.
    pub fn frame(&self) -> usize {
        (self.key >> 1) as usize
    }
    /// The query matched this frame mirrored.
    pub fn mirrored(&self) -> bool {
        self.key & 1 == 1
    }
}

/// A query frame's neighbours, best first; ties keep the lower frame first.
pub type Neighbours = [Hit; TOPK];

/// Catalogue descriptors as the kernel reads them: `views` descriptors per frame,
/// `WORDS` words each, frames in catalogue order.
pub struct Matrix<'a> {
    pub words: &'a [u32],
    pub views: usize,
}

impl Matrix<'_> {
    pub fn frames(&self) -> usize {
        self.words.len() / (self.views * WORDS)
    }
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

/// Inserts like the kernel: after every equal score.
fn insert(list: &mut Neighbours, hit: Hit) {
    if hit.score <= list[TOPK - 1].score {
        return;
    }
    let mut p = TOPK - 1;
    while p > 0 && hit.score > list[p - 1].score {
        list[p] = list[p - 1];
        p -= 1;
    }
    list[p] = hit;
}

/// CPU twin of one invocation of `similarity.wgsl`: query `q` against frames
/// `first..last`.
pub fn cpu_chunk_topk(q: &[u32; WORDS], m: &Matrix, first: usize, last: usize) -> Neighbours {
    let mut list = [Hit::EMPTY; TOPK];
    for f in first..last {
        let (score, key) = frame_score(q, m, f);
        insert(&mut list, Hit { score, key });
    }
    list
}

/// Exact top-k of every query against the whole matrix, on all cores.
pub fn cpu_search(queries: &[[u32; WORDS]], m: &Matrix) -> Vec<Neighbours> {
    queries.par_iter().map(|q| cpu_chunk_topk(q, m, 0, m.frames())).collect()
}

/// Merges per-chunk lists into one best-first list. The order (score desc, key asc)
/// is the one a single scan produces, so chunked and unchunked searches agree exactly.
pub fn merge(lists: impl IntoIterator<Item = Hit>, frame_offset: u32) -> Vec<Hit> {
    let mut all: Vec<Hit> = lists
        .into_iter()
        .filter(|h| !h.is_empty())
        .map(|h| Hit { score: h.score, key: h.key + (frame_offset << 1) })
        .collect();
    all.sort_by(|a, b| b.score.cmp(&a.score).then(a.key.cmp(&b.key)));
    all.truncate(TOPK);
    all
}

/// Folds a tile's merged list into a running best-first list.
pub fn fold(acc: &mut Neighbours, hits: &[Hit]) {
    let merged = merge(acc.iter().chain(hits).copied(), 0);
    *acc = [Hit::EMPTY; TOPK];
    acc[..merged.len()].copy_from_slice(&merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_words(n: usize, seed: u64) -> Vec<u32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Small coefficients produce many ties, which is what the order must survive.
                (s as u32) & 0x0303_0303
            })
            .collect()
    }

    #[test]
    fn hit_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Hit>(), 8);
    }

    #[test]
    fn chunked_merge_equals_single_scan() {
        let words = random_words(300 * 3 * WORDS, 7);
        let m = Matrix { words: &words, views: 3 };
        let qs = random_words(5 * WORDS, 11);
        for q in qs.chunks(WORDS) {
            let q: [u32; WORDS] = q.try_into().unwrap();
            let whole = cpu_chunk_topk(&q, &m, 0, m.frames());
            let chunks = (0..m.frames()).step_by(37).flat_map(|a| cpu_chunk_topk(&q, &m, a, (a + 37).min(m.frames())));
            let merged = merge(chunks, 0);
            assert_eq!(&whole[..], &merged[..]);
        }
    }

    #[test]
    fn finds_itself_first() {
        // Real unit-norm descriptors: a random image's own descriptor is its best match.
        let t = crate::descriptor::Tables::new();
        let words: Vec<u32> = (0..100u32)
            .flat_map(|i| {
                let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(i);
                let px: Vec<u8> = (0..1024)
                    .map(|_| {
                        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (s >> 56) as u8
                    })
                    .collect();
                crate::descriptor::describe(&crate::descriptor::pack_image(&px), &t).words
            })
            .collect();
        let m = Matrix { words: &words, views: 2 };
        let f = 17;
        let q: [u32; WORDS] = words[(f * 2 + 1) * WORDS..(f * 2 + 2) * WORDS].try_into().unwrap();
        let list = cpu_search(&[q], &m);
        assert_eq!(list[0][0].frame(), f);
        assert!(!list[0][0].mirrored());
    }
}

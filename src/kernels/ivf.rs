//! An inverted-file index over the catalogue's descriptors, so that a search costs less
//! than a pass over the whole catalogue.
//!
//! Coarse stage: every query descriptor is scored against `K` centroids (quantised unit
//! descriptors) by `coarse.wgsl` or its twin `coarse_scores`, and its `probes` best
//! clusters are picked (`probe`). Fine stage: the view descriptors listed under those
//! clusters are scored exactly, both orientations, each frame kept with its best view
//! in the exhaustive search's order (`fine::rerank`). The centroids are trained and the
//! descriptors assigned by `cluster`; `engine` runs the two stages.

use crate::kernels::descriptor::{WORDS, halves, widen};
use crate::kernels::mapped::Section;
use crate::kernels::search::Matrix;
use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

/// The uniform of `coarse.wgsl`. WGSL twin: `struct Params` there.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct CoarseParams {
    pub queries: u32,
    pub centroids: u32,
    pub pad0: u32,
    pub pad1: u32,
}

/// Most query x centroid scores held at once (64 MiB).
const MAX_SCORES: usize = 1 << 24;

/// Queries per coarse call for `centroids` centroids.
pub fn batch_for(centroids: usize) -> usize {
    (MAX_SCORES / centroids.max(1)).max(1)
}

/// CPU twin of `coarse.wgsl`: every query's score against every centroid (rows of
/// `WORDS` words), the better orientation, query-major.
pub fn coarse_scores(queries: &[[u32; WORDS]], centroids: &[u32]) -> Vec<i32> {
    let k = centroids.len() / WORDS;
    let mut out = vec![0i32; queries.len() * k];
    if k == 0 {
        return out;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
        use crate::kernels::vnni::{LANES, coarse, offsets_of};
        let mut offsets = Vec::with_capacity(k);
        // SAFETY (both calls): the CPU has just been found to support all three.
        unsafe { offsets_of(centroids, &mut offsets) };
        // Blocks of queries, each on a core; 16 queries share a pass over the centroids.
        let per = LANES * queries.len().div_ceil(LANES * rayon::current_num_threads()).max(1);
        out.par_chunks_mut(per * k)
            .zip(queries.par_chunks(per))
            .for_each(|(rows, qs)| unsafe { coarse(qs, centroids, &offsets, rows) });
        return out;
    }
    out.par_chunks_mut(k).zip(queries).for_each(|(row, q)| portable_row(q, centroids, row));
    out
}

/// One query's row of coarse scores in plain Rust.
fn portable_row(q: &[u32; WORDS], centroids: &[u32], row: &mut [i32]) {
    let wq = widen(q);
    for (s, c) in row.iter_mut().zip(centroids.chunks_exact(WORDS)) {
        let (even, odd) = halves(&wq, c);
        *s = (even + odd).max(even - odd);
    }
}

/// The best centroid of a row of coarse scores and its score: the first of the best, so
/// the lower centroid on a tie, as the exhaustive search breaks ties.
pub fn row_best(row: &[i32]) -> (u32, i32) {
    let (c, s) = row.iter().enumerate().fold((0, i32::MIN), |b, (c, &s)| if s > b.1 { (c, s) } else { b });
    (c as u32, s)
}

/// `row_best` of each query's row of `coarse_scores`, without writing the rows: the
/// nearest centroid, for the index's training and assignment. Empty where there are no
/// centroids.
pub fn coarse_best(queries: &[[u32; WORDS]], centroids: &[u32]) -> Vec<(u32, i32)> {
    let k = centroids.len() / WORDS;
    if k == 0 {
        return Vec::new();
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
        use crate::kernels::vnni::{LANES, coarse_best, offsets_of};
        let mut offsets = Vec::with_capacity(k);
        // SAFETY (both calls): the CPU has just been found to support all three.
        unsafe { offsets_of(centroids, &mut offsets) };
        let mut out = vec![(0, 0); queries.len()];
        out.par_chunks_mut(LANES)
            .zip(queries.par_chunks(LANES))
            .for_each(|(best, qs)| unsafe { coarse_best(qs, centroids, &offsets, best) });
        return out;
    }
    queries
        .par_iter()
        .map_init(
            || vec![0; k],
            |row, q| {
                portable_row(q, centroids, row);
                row_best(row)
            },
        )
        .collect()
}

/// The `probes` best clusters of one query's row of coarse scores: score descending,
/// then cluster ascending.
pub fn probe(row: &[i32], probes: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..row.len() as u32).collect();
    let better = |a: &u32, b: &u32| row[*b as usize].cmp(&row[*a as usize]).then(a.cmp(b));
    if probes < order.len() {
        order.select_nth_unstable_by(probes, better);
        order.truncate(probes);
    }
    order.sort_unstable_by(better);
    order
}

/// Quantises a direction as the descriptors are: unit length scaled to 127.
pub fn quantise(sum: &[f64]) -> Option<[u32; WORDS]> {
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        return None;
    }
    let mut words = [0u32; WORDS];
    for (d, x) in sum.iter().enumerate() {
        let q = (x / norm * 127.0).round().clamp(-127.0, 127.0) as i8;
        words[d / 4] |= u32::from(q as u8) << (8 * (d % 4));
    }
    Some(words)
}

/// The view descriptors of each cluster, stored together in cluster order (so that a
/// probed cluster is read front to back), with the frame and view each came from. A
/// catalogue's index is one `Lists` per frames part, each over that part's frames from
/// `first_frame` on, held in memory or mapped from its file (`store::served`, which
/// makes them with `checked`).
pub struct Lists {
    /// `offsets[c]..offsets[c + 1]` indexes the entries of cluster `c`.
    pub offsets: Section<u64>,
    /// Each entry's frame, counted from `first_frame`.
    pub frames: Section<u32>,
    pub views: Section<u8>,
    /// `WORDS` words per entry.
    pub words: Section<u32>,
    /// Descriptors per frame, and where view `v` of frame `f` is: `entry[f * views + v]`.
    pub per_frame: usize,
    pub entry: Section<u32>,
    pub first_frame: u32,
}

impl Lists {
    /// Lists of `m`'s view descriptors from `assignments` (the cluster of each, frame by
    /// frame) for `clusters` clusters. Within a cluster, entries keep catalogue order.
    pub fn new(m: &Matrix, assignments: &[u32], clusters: usize) -> Lists {
        let mut b = ListsBuilder::new(m.views, clusters, assignments.iter().copied());
        for (i, &c) in assignments.iter().enumerate() {
            b.place(c, (i / m.views) as u32, i % m.views, &m.words[i * WORDS..(i + 1) * WORDS]);
        }
        b.finish(m.frames())
    }

    /// These lists, where their arrays agree, so that reading them never fails; else
    /// what is wrong.
    pub fn checked(self) -> Result<Lists, String> {
        let n = self.frames.len();
        let o = &self.offsets;
        if o.first() != Some(&0) || o.windows(2).any(|w| w[0] > w[1]) || o.last() != Some(&(n as u64)) {
            return Err(format!("the cluster offsets do not rise from 0 to its {n} entries"));
        }
        let per_frame = self.per_frame;
        if self.views.len() != n || self.words.len() != n * WORDS || per_frame == 0 {
            return Err("its arrays disagree on the number of entries".into());
        }
        if !self.entry.len().is_multiple_of(per_frame) || self.entry.iter().any(|&e| e as usize >= n) {
            return Err("an entry points past the lists".into());
        }
        if self.views.iter().any(|&v| v as usize >= per_frame) {
            return Err(format!("a view is not below {per_frame}"));
        }
        // Keys are `frame << 1 | mirrored`: every frame, counted from `first_frame`, must
        // be one of these lists' and fit a key.
        let frames = self.frame_count();
        if u64::from(self.first_frame) + frames as u64 > u64::from(u32::MAX >> 1)
            || self.frames.iter().any(|&f| f as usize >= frames)
        {
            return Err(format!("an entry's frame is not one of its {frames} frames"));
        }
        Ok(self)
    }

    /// Frames these lists cover.
    pub fn frame_count(&self) -> usize {
        self.entry.len() / self.per_frame
    }

    pub fn clusters(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Entries over all lists: view descriptors.
    pub fn entries(&self) -> usize {
        self.frames.len()
    }

    /// Entries of `cluster`.
    pub fn entries_of(&self, cluster: usize) -> usize {
        self.range(cluster).len()
    }

    /// Asks the kernel to start reading `cluster`'s descriptors where they are mapped
    /// and not in memory, so that they stream in while the cluster before is scored.
    pub fn prefetch(&self, cluster: usize) {
        let r = self.range(cluster);
        self.words.advise(memmap2::Advice::WillNeed, r.start * WORDS..r.end * WORDS);
    }

    pub(crate) fn range(&self, cluster: usize) -> std::ops::Range<usize> {
        match (self.offsets.get(cluster), self.offsets.get(cluster + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// The cluster of each view of each frame, frame by frame: what `new` was given.
    /// These lists must be `checked` (every entry one of them).
    pub fn assignments(&self) -> Vec<u32> {
        let mut cluster = vec![0u32; self.entries()];
        for c in 0..self.clusters() {
            cluster[self.range(c)].fill(c as u32);
        }
        self.entry.iter().map(|&e| cluster[e as usize]).collect()
    }

    /// The descriptor of row `r` (view `r % per_frame` of frame `r / per_frame`).
    pub fn row(&self, r: usize) -> &[u32] {
        let e = self.entry[r] as usize;
        &self.words[e * WORDS..(e + 1) * WORDS]
    }

    /// Bytes of its arrays.
    pub fn bytes(&self) -> usize {
        self.offsets.len() * 8 + self.frames.len() * 5 + self.words.len() * 4 + self.entry.len() * 4
    }
}

/// Fills `Lists` one view descriptor at a time, in catalogue order, without the whole
/// catalogue in frame order: a catalogue searched through its index is held once.
pub struct ListsBuilder {
    offsets: Vec<u64>,
    next: Vec<u64>,
    frames: Vec<u32>,
    views: Vec<u8>,
    words: Vec<u32>,
    per_frame: usize,
}

impl ListsBuilder {
    /// Room for `capacity` (the cluster of every descriptor that may be placed; some
    /// may not be).
    pub fn new(per_frame: usize, clusters: usize, capacity: impl IntoIterator<Item = u32>) -> ListsBuilder {
        let mut offsets = vec![0u64; clusters + 1];
        for c in capacity {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..clusters {
            offsets[c + 1] += offsets[c];
        }
        let n = offsets[clusters] as usize;
        ListsBuilder {
            next: offsets.clone(),
            offsets,
            frames: vec![0; n],
            views: vec![0; n],
            words: vec![0; n * WORDS],
            per_frame,
        }
    }

    /// Places view `view` of frame `frame`, whose descriptor is `words`, in `cluster`.
    pub fn place(&mut self, cluster: u32, frame: u32, view: usize, words: &[u32]) {
        let e = self.next[cluster as usize] as usize;
        self.next[cluster as usize] += 1;
        self.frames[e] = frame;
        self.views[e] = view as u8;
        self.words[e * WORDS..(e + 1) * WORDS].copy_from_slice(words);
    }

    /// The lists of what was placed, for a catalogue of `frames` frames; room left
    /// unused is closed up.
    pub fn finish(mut self, frames: usize) -> Lists {
        let clusters = self.offsets.len() - 1;
        let mut offsets = vec![0u64; clusters + 1];
        let mut to = 0usize;
        for c in 0..clusters {
            for e in self.offsets[c] as usize..self.next[c] as usize {
                self.frames[to] = self.frames[e];
                self.views[to] = self.views[e];
                self.words.copy_within(e * WORDS..(e + 1) * WORDS, to * WORDS);
                to += 1;
            }
            offsets[c + 1] = to as u64;
        }
        self.frames.truncate(to);
        self.views.truncate(to);
        self.words.truncate(to * WORDS);
        let mut entry = vec![u32::MAX; frames * self.per_frame];
        for (e, (&f, &v)) in self.frames.iter().zip(&self.views).enumerate() {
            entry[f as usize * self.per_frame + v as usize] = e as u32;
        }
        Lists {
            offsets: Section::Owned(offsets),
            frames: Section::Owned(self.frames),
            views: Section::Owned(self.views),
            words: Section::Owned(self.words),
            per_frame: self.per_frame,
            entry: Section::Owned(entry),
            first_frame: 0,
        }
    }
}

/// The catalogue's descriptors as alignment reads them, frame by frame: the catalogue
/// in frame order, or, where it is held only in its index, the lists of its parts.
#[derive(Clone, Copy)]
pub enum Descriptors<'a> {
    Frames(&'a [u32], usize),
    Lists(&'a [Lists]),
}

impl<'a> Descriptors<'a> {
    /// The descriptors of frame `f`'s views, in view order.
    pub fn of(self, f: usize) -> impl Iterator<Item = &'a [u32; WORDS]> {
        let (frames, lists) = match self {
            Descriptors::Frames(words, views) => (&words[f * views * WORDS..(f + 1) * views * WORDS], None),
            Descriptors::Lists(parts) => {
                let p = parts.partition_point(|l| l.first_frame as usize <= f).saturating_sub(1);
                (&[][..], parts.get(p).map(|l| (l, f - l.first_frame as usize)))
            }
        };
        let from_frames = frames.chunks_exact(WORDS).map(|w| w.try_into().expect("WORDS words"));
        let from_lists = lists.into_iter().flat_map(move |(l, f)| {
            l.entry[f * l.per_frame..(f + 1) * l.per_frame].iter().map(|&e| {
                let e = e as usize;
                <&[u32; WORDS]>::try_from(&l.words[e * WORDS..(e + 1) * WORDS]).expect("WORDS words")
            })
        });
        from_frames.chain(from_lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::descriptor::{mirror_words as mirror, oriented_dot};
    use crate::kernels::engine::Engine;
    use crate::kernels::fine::rerank;
    use crate::kernels::search::cpu_search;
    use crate::testkit::{indexed, row, shot_descriptors as catalogue};

    #[test]
    fn coarse_scores_are_each_querys_better_orientation() {
        let mut rng = crate::testkit::Rng::new(5);
        // Full-range bytes, -128 included; query counts off the vector unit's 16 lanes.
        let mut word = || rng.next_u64() as u32;
        let centroids: Vec<u32> = (0..67 * WORDS).map(|_| word()).collect();
        for n in [1, 16, 37] {
            let mut queries: Vec<[u32; WORDS]> = (0..n).map(|_| std::array::from_fn(|_| word())).collect();
            queries[0] = [0x8080_8080; WORDS];
            let expected: Vec<i32> = queries
                .iter()
                .flat_map(|q| {
                    centroids.chunks_exact(WORDS).map(move |c| {
                        let c: &[u32; WORDS] = c.try_into().expect("WORDS words");
                        oriented_dot(q, c, false).max(oriented_dot(q, c, true))
                    })
                })
                .collect();
            assert_eq!(coarse_scores(&queries, &centroids), expected, "{n} queries");
        }
    }

    #[test]
    fn the_best_centroid_is_the_exhaustive_searchs_first_hit() {
        // Few byte values: many equal scores, which the lower centroid must win.
        let centroids = crate::testkit::tie_heavy_words(53 * WORDS, 3);
        let queries: Vec<[u32; WORDS]> =
            crate::testkit::tie_heavy_words(37 * WORDS, 5).chunks(WORDS).map(|q| q.try_into().unwrap()).collect();
        let best = coarse_best(&queries, &centroids);
        let rows = coarse_scores(&queries, &centroids);
        let searched = cpu_search(&queries, &Matrix { words: &centroids, views: 1 });
        assert_eq!(best.len(), queries.len());
        for ((b, row), hits) in best.iter().zip(rows.chunks(53)).zip(&searched) {
            assert_eq!(*b, row_best(row));
            assert_eq!((b.0 as usize, b.1), (hits[0].frame(), hits[0].score));
        }
        assert!(coarse_best(&queries, &[]).is_empty());
    }

    #[test]
    fn every_probe_equals_the_exhaustive_search() {
        // With every cluster probed, the fine stage scans every frame: the lists must
        // then equal the exhaustive search's exactly, ties and orientation included.
        let views = 3;
        let words = catalogue(300, views);
        let m = Matrix { words: &words, views };
        let engine = Engine::Cpu(Box::default());
        let (centroids, lists) = indexed(&engine, &m, 12);
        let k = centroids.len() / WORDS;
        assert_eq!(k, 12);
        let queries: Vec<[u32; WORDS]> = (0..40)
            .map(|i| {
                let q = row(&words, i * 17);
                if i % 2 == 0 { q } else { mirror(&q) }
            })
            .collect();
        let exact = cpu_search(&queries, &m);
        // Every cluster, in any order.
        let all: Vec<u32> = (0..k as u32).rev().collect();
        assert_eq!(rerank(&queries, &vec![all; queries.len()], std::slice::from_ref(&lists)), exact);
        // The same through the whole path, coarse stage included.
        let ix = engine.prepare_indexed(&centroids, std::slice::from_ref(&lists), k).unwrap();
        assert_eq!(engine.search_indexed(&ix, &queries).unwrap(), exact);
    }

    #[test]
    fn a_few_probes_find_the_frame_itself_in_either_orientation() {
        let views = 2;
        let words = catalogue(400, views);
        let m = Matrix { words: &words, views };
        let engine = Engine::Cpu(Box::default());
        let (centroids, lists) = indexed(&engine, &m, 20);
        let ix = engine.prepare_indexed(&centroids, std::slice::from_ref(&lists), 1).unwrap();
        for f in (0..400).step_by(13) {
            for mirrored in [false, true] {
                let q = if mirrored { mirror(&row(&words, f * views)) } else { row(&words, f * views) };
                let got = engine.search_indexed(&ix, &[q]).unwrap();
                // Its own cluster is probed first, so the frame itself comes back, with the
                // score and orientation the exhaustive scan gives it.
                let own = crate::kernels::search::cpu_chunk_topk(&q, &m, f, f + 1)[0];
                assert!(got[0].contains(&own), "frame {f}");
                assert_eq!(own.mirrored(), mirrored);
            }
        }
    }

    #[test]
    fn probes_are_the_best_scores_lower_cluster_first_on_ties() {
        assert_eq!(probe(&[5, 9, 9, -3, 7], 3), vec![1, 2, 4]);
        assert_eq!(probe(&[5, 9, 9, -3, 7], 9), vec![1, 2, 4, 0, 3]);
        assert_eq!(probe(&[0, 0, 0], 2), vec![0, 1]);
    }

    #[test]
    fn lists_hold_each_view_under_its_cluster_in_catalogue_order() {
        let words: Vec<u32> = (0..6 * WORDS as u32).collect();
        let l = Lists::new(&Matrix { words: &words, views: 2 }, &[2, 2, 0, 1, 2, 2], 3);
        let at = |c: usize| l.range(c).map(|e| (l.frames[e], l.views[e], l.words[e * WORDS])).collect::<Vec<_>>();
        assert_eq!(at(0), [(1, 0, 2 * WORDS as u32)]);
        assert_eq!(at(1), [(1, 1, 3 * WORDS as u32)]);
        assert_eq!(at(2), [(0, 0, 0), (0, 1, WORDS as u32), (2, 0, 4 * WORDS as u32), (2, 1, 5 * WORDS as u32)]);
        assert!(at(3).is_empty());
        assert_eq!(l.entries(), 6);
        assert_eq!(l.assignments(), [2, 2, 0, 1, 2, 2]);
    }

    #[test]
    fn the_lists_give_back_every_frame_in_view_order() {
        let views = 3;
        let words = catalogue(40, views);
        let m = Matrix { words: &words, views };
        let assignments: Vec<u32> = (0..40 * views as u32).map(|i| (i * 7) % 5).collect();
        let lists = Lists::new(&m, &assignments, 5);
        for f in 0..40 {
            let a: Vec<_> = Descriptors::Frames(&words, views).of(f).collect();
            assert_eq!(Descriptors::Lists(std::slice::from_ref(&lists)).of(f).collect::<Vec<_>>(), a);
        }
        // Room left unused is closed up: a builder with room for every descriptor, given
        // every other frame, holds just those.
        let mut b = ListsBuilder::new(views, 5, assignments.iter().copied());
        for (i, &c) in assignments.iter().enumerate().filter(|(i, _)| i / views % 2 == 0) {
            b.place(c, (i / views / 2) as u32, i % views, &words[i * WORDS..(i + 1) * WORDS]);
        }
        let half = b.finish(20);
        assert_eq!(half.entries(), 20 * views);
        for f in 0..20 {
            let a: Vec<_> = Descriptors::Frames(&words, views).of(2 * f).collect();
            assert_eq!(Descriptors::Lists(std::slice::from_ref(&half)).of(f).collect::<Vec<_>>(), a);
        }
    }
}

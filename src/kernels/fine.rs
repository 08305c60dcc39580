//! The index's fine stage: the view descriptors listed under each query's probed
//! clusters (`ivf::Lists`) scored exactly, both orientations, each frame kept with its
//! best view in the exhaustive search's order. Cluster by cluster rather than query by
//! query: a listed descriptor is read from memory once and scored against every query
//! that probes its cluster.

use crate::kernels::descriptor::{DIM, WORDS, halves, widen};
use crate::kernels::ivf::Lists;
use crate::kernels::search::{Hit, Neighbours, TOPK};
use rayon::prelude::*;

/// A frame's best hit so far in a fine-stage list, with the view that gave it.
#[derive(Clone, Copy)]
struct Best {
    hit: Hit,
    view: u8,
}

/// Offers one view's hit of a frame to a best-first list of distinct frames. A frame
/// keeps its best view, and on equal scores the earlier view, then the plain
/// orientation: what the exhaustive scan, which meets views in order, would record.
/// The list stays in the exhaustive order: score descending, key ascending.
#[inline(always)]
fn offer(list: &mut [Best; TOPK], hit: Hit, view: u8) {
    let last = list[TOPK - 1].hit;
    // (A frame's other view with the last entry's score may still replace it.)
    if hit.score < last.score || (hit.score == last.score && hit.key >= last.key && hit.key >> 1 != last.key >> 1) {
        return;
    }
    let frame = hit.key >> 1;
    if let Some(p) = list.iter().position(|b| !b.hit.is_empty() && b.hit.key >> 1 == frame) {
        let old = list[p];
        let better =
            hit.score > old.hit.score || (hit.score == old.hit.score && (view, hit.key) < (old.view, old.hit.key));
        if !better {
            return;
        }
        // The old entry's slot is freed: entries after it move up one.
        list.copy_within(p + 1.., p);
        list[TOPK - 1] = Best { hit: Hit::EMPTY, view: 0 };
    }
    let mut p = TOPK - 1;
    let before = |a: &Hit, b: &Hit| a.score > b.score || (a.score == b.score && a.key < b.key);
    while p > 0 && (list[p - 1].hit.is_empty() || before(&hit, &list[p - 1].hit)) {
        list[p] = list[p - 1];
        p -= 1;
    }
    list[p] = Best { hit, view };
}

/// A query's fine-stage list: distinct frames, each with its best view, best first.
type Ranked = [Best; TOPK];

const UNRANKED: Ranked = [Best { hit: Hit::EMPTY, view: 0 }; TOPK];

/// Probed clusters, each with the queries that probe it, in cluster order.
type Work = [(u32, Vec<u32>)];

/// `work` in order, each cluster's descriptors asked for (`Lists::prefetch`) one cluster
/// ahead of its turn.
fn streamed<'a>(work: &'a Work, parts: &'a [Lists]) -> impl Iterator<Item = &'a (u32, Vec<u32>)> {
    let prefetch = |c: u32| parts.iter().for_each(|l| l.prefetch(c as usize));
    if let Some(&(first, _)) = work.first() {
        prefetch(first);
    }
    work.iter().enumerate().map(move |(i, w)| {
        if let Some(&(next, _)) = work.get(i + 1) {
            prefetch(next);
        }
        w
    })
}

/// The fine stage over `work` in plain Rust, for queries `qs` (widened as `halves` reads
/// them), into their lists `ranked`: every view descriptor listed under a cluster, in
/// every part's lists, is read once and scored against each query that probes the
/// cluster in turn. Query by query instead, each descriptor would cross memory once per
/// query probing its cluster (about ten per cluster for one upload's queries at 128
/// probes), and the fine stage would wait on memory.
fn fine(ranked: &mut [Ranked], qs: &[[i16; DIM]], work: &Work, parts: &[Lists]) {
    for (c, probing) in streamed(work, parts) {
        for lists in parts {
            let (words, frames, views) = (&*lists.words, &*lists.frames, &*lists.views);
            for e in lists.range(*c as usize) {
                let row = &words[e * WORDS..(e + 1) * WORDS];
                let f = lists.first_frame + frames[e];
                for &i in probing {
                    let (even, odd) = halves(&qs[i as usize], row);
                    // The plain orientation wins a tie, as in the exhaustive scan.
                    let hit = if even - odd > even + odd {
                        Hit { score: even - odd, key: f << 1 | 1 }
                    } else {
                        Hit { score: even + odd, key: f << 1 }
                    };
                    offer(&mut ranked[i as usize], hit, views[e]);
                }
            }
        }
    }
}

/// The fine stage over `work` as `fine` runs it, with AVX-512 VNNI (`vnni`): each
/// listed descriptor is scored against up to 16 of the queries probing its cluster at
/// once. Only lanes whose score can enter their query's list go on to `offer`.
///
/// # Safety
/// The CPU must support avx512f, avx512bw and avx512vnni.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn fine_vnni(ranked: &mut [Ranked], queries: &[[u32; WORDS]], work: &Work, parts: &[Lists]) {
    use crate::kernels::vnni::{self, LANES};
    use std::arch::x86_64::*;
    // Each listed descriptor's offsets, taken once per cluster: about a dozen groups of
    // queries read each descriptor of a batch of uploads.
    let mut offsets: Vec<Vec<(i32, i32)>> = vec![Vec::new(); parts.len()];
    for (c, probing) in streamed(work, parts) {
        for (lists, offsets) in parts.iter().zip(&mut offsets) {
            let r = lists.range(*c as usize);
            // SAFETY: the CPU supports the features.
            unsafe { vnni::offsets_of(&lists.words[r.start * WORDS..r.end * WORDS], offsets) };
        }
        for group in probing.chunks(LANES) {
            // SAFETY: the CPU supports avx512f.
            let g = unsafe { vnni::group(group.iter().map(|&i| &queries[i as usize])) };
            let mut floor = _mm512_set1_epi32(i32::MIN);
            for (l, &i) in group.iter().enumerate() {
                floor = _mm512_mask_set1_epi32(floor, 1 << l, ranked[i as usize][TOPK - 1].hit.score);
            }
            for (lists, offsets) in parts.iter().zip(&offsets) {
                let (words, frames, views) = (&*lists.words, &*lists.frames, &*lists.views);
                for (e, &o) in lists.range(*c as usize).zip(offsets) {
                    // SAFETY: the CPU supports the features; the row is WORDS words.
                    let (plain, mirrored) = unsafe { vnni::scores(&g, &words[e * WORDS..(e + 1) * WORDS], o) };
                    // The plain orientation wins a tie, as in the exhaustive scan.
                    let flipped = _mm512_cmpgt_epi32_mask(mirrored, plain);
                    let score = _mm512_mask_blend_epi32(flipped, plain, mirrored);
                    let mut enter = _mm512_mask_cmpge_epi32_mask(g.active, score, floor);
                    if enter == 0 {
                        continue;
                    }
                    let mut scores = [0i32; LANES];
                    // SAFETY: `scores` holds LANES i32.
                    unsafe { _mm512_storeu_si512(scores.as_mut_ptr().cast(), score) };
                    let f = lists.first_frame + frames[e];
                    while enter != 0 {
                        let l = enter.trailing_zeros() as usize;
                        enter &= enter - 1;
                        let list = &mut ranked[group[l] as usize];
                        let key = f << 1 | u32::from(flipped >> l & 1 == 1);
                        offer(list, Hit { score: scores[l], key }, views[e]);
                        floor = _mm512_mask_set1_epi32(floor, 1 << l, list[TOPK - 1].hit.score);
                    }
                }
            }
        }
    }
}

/// The fine stage over `work` as `fine` runs it, with AVX2 (CPUs without AVX-512 VNNI):
/// each listed descriptor is read once per cluster and scored against the queries
/// probing it 8 at a time. A group's queries lie transposed (`cols[p]`: dimensions `2p`
/// and `2p + 1` of each, 16 bits each), and each pair of the descriptor's dimensions,
/// broadcast, is multiplied into them by one `vpmaddwd`: every lane ends with its query's
/// two half sums, with no sum across lanes. Unlike `fine_vnni`'s, the columns do not fit
/// in the 16 registers: the groups of a cluster are set up once, and each descriptor,
/// widened once per tile of `TILE` groups (8 KB of columns, which stay in L1), meets the
/// tile's groups in turn (`cargo bench --bench kernels -- "fine stage"`: tiles of 4 and
/// 8 groups ran alike, a whole cluster's groups at once 1.1x slower). Only lanes whose
/// score can enter their query's list go on to `offer`.
///
/// # Safety
/// The CPU must support avx2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fine_avx2(ranked: &mut [Ranked], queries: &[[i16; DIM]], work: &Work, parts: &[Lists]) {
    use std::arch::x86_64::*;
    /// Queries scored together: one 32-bit lane of a 256-bit register each.
    const LANES: usize = 8;
    const PAIRS: usize = DIM / 2;
    const TILE: usize = 4;
    let mut cols: Vec<[[i32; LANES]; PAIRS]> = Vec::new();
    let mut floors: Vec<[i32; LANES]> = Vec::new();
    for (c, probing) in streamed(work, parts) {
        cols.clear();
        floors.clear();
        let groups: Vec<&[u32]> = probing.chunks(LANES).collect();
        for group in &groups {
            let mut t = [[0i32; LANES]; PAIRS];
            // A lane without a query keeps a floor no score reaches.
            let mut floor = [i32::MAX; LANES];
            for (l, &i) in group.iter().enumerate() {
                let q = &queries[i as usize];
                for (p, col) in t.iter_mut().enumerate() {
                    col[l] = i32::from(q[2 * p] as u16) | i32::from(q[2 * p + 1]) << 16;
                }
                floor[l] = ranked[i as usize][TOPK - 1].hit.score;
            }
            cols.push(t);
            floors.push(floor);
        }
        for tile in (0..groups.len()).step_by(TILE) {
            let tile = tile..(tile + TILE).min(groups.len());
            for lists in parts {
                let (words, frames, views) = (&*lists.words, &*lists.frames, &*lists.views);
                for e in lists.range(*c as usize) {
                    let bytes: &[u8] = bytemuck::cast_slice(&words[e * WORDS..(e + 1) * WORDS]);
                    // The descriptor's dimensions as 16-bit pairs, as the columns hold them.
                    let mut d = [0i32; PAIRS];
                    for (k, chunk) in bytes.chunks_exact(16).enumerate() {
                        // SAFETY: reads the 16 bytes of `chunk`; writes pairs 8k..8k + 8 of `d`
                        // (DIM / 16 chunks of 8 pairs).
                        unsafe {
                            let wide = _mm256_cvtepi8_epi16(_mm_loadu_si128(chunk.as_ptr().cast()));
                            _mm256_storeu_si256(d.as_mut_ptr().add(8 * k).cast(), wide);
                        }
                    }
                    let f = lists.first_frame + frames[e];
                    for ((t, floor), group) in
                        cols[tile.clone()].iter().zip(&mut floors[tile.clone()]).zip(&groups[tile.clone()])
                    {
                        let (mut even, mut odd) = (_mm256_setzero_si256(), _mm256_setzero_si256());
                        for p in 0..PAIRS / 2 {
                            // SAFETY: each load reads the LANES values of one column.
                            let (ce, co) = unsafe {
                                (
                                    _mm256_loadu_si256(t[p].as_ptr().cast()),
                                    _mm256_loadu_si256(t[PAIRS / 2 + p].as_ptr().cast()),
                                )
                            };
                            even = _mm256_add_epi32(even, _mm256_madd_epi16(ce, _mm256_set1_epi32(d[p])));
                            odd = _mm256_add_epi32(odd, _mm256_madd_epi16(co, _mm256_set1_epi32(d[PAIRS / 2 + p])));
                        }
                        let (plain, mirrored) = (_mm256_add_epi32(even, odd), _mm256_sub_epi32(even, odd));
                        // The plain orientation wins a tie, as in the exhaustive scan.
                        let flipped = _mm256_cmpgt_epi32(mirrored, plain);
                        let score = _mm256_blendv_epi8(plain, mirrored, flipped);
                        // SAFETY: `floor` holds LANES i32.
                        let below = _mm256_cmpgt_epi32(unsafe { _mm256_loadu_si256(floor.as_ptr().cast()) }, score);
                        let mut enter = !_mm256_movemask_ps(_mm256_castsi256_ps(below)) as u32 & 0xff;
                        if enter == 0 {
                            continue;
                        }
                        let flips = _mm256_movemask_ps(_mm256_castsi256_ps(flipped)) as u32;
                        let mut scores = [0i32; LANES];
                        // SAFETY: `scores` holds LANES i32.
                        unsafe { _mm256_storeu_si256(scores.as_mut_ptr().cast(), score) };
                        while enter != 0 {
                            let l = enter.trailing_zeros() as usize;
                            enter &= enter - 1;
                            let list = &mut ranked[group[l] as usize];
                            let key = f << 1 | (flips >> l & 1);
                            offer(list, Hit { score: scores[l], key }, views[e]);
                            floor[l] = list[TOPK - 1].hit.score;
                        }
                    }
                }
            }
        }
    }
}

/// Each query's probed clusters turned around (every probed cluster with its queries),
/// cut into runs of about equal work (descriptors x queries) for the cores.
fn shares(clusters: &[Vec<u32>], parts: &[Lists]) -> Vec<Vec<(u32, Vec<u32>)>> {
    let k = parts.iter().map(Lists::clusters).max().unwrap_or(0);
    let mut probing: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, cs) in clusters.iter().enumerate() {
        for &c in cs.iter().filter(|&&c| (c as usize) < k) {
            probing[c as usize].push(i as u32);
        }
    }
    let cost = |c: usize, q: &[u32]| parts.iter().map(|l| l.entries_of(c)).sum::<usize>() * q.len();
    let total: usize = probing.iter().enumerate().map(|(c, q)| cost(c, q)).sum();
    // A few runs per core, so that a core that drew the heavier clusters is not waited on.
    let share = total.div_ceil(4 * rayon::current_num_threads()).max(1);
    let mut out: Vec<Vec<(u32, Vec<u32>)>> = vec![Vec::new()];
    let mut held = 0;
    for (c, q) in probing.into_iter().enumerate().filter(|(_, q)| !q.is_empty()) {
        if held >= share {
            out.push(Vec::new());
            held = 0;
        }
        held += cost(c, &q);
        out.last_mut().expect("one run at least").push((c as u32, q));
    }
    out
}

/// The vector units the fine stage runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// AVX-512 VNNI (with avx512bw): 16 queries per pass (`fine_vnni`).
    Vnni,
    /// AVX2: 8 queries per pass (`fine_avx2`).
    Avx2,
    /// Plain Rust, query by query.
    Portable,
}

impl Unit {
    /// The units this CPU has, best first.
    pub fn available() -> Vec<Unit> {
        let mut units = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
                units.push(Unit::Vnni);
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                units.push(Unit::Avx2);
            }
        }
        units.push(Unit::Portable);
        units
    }
}

/// The fine stage for every query, on all cores, on the best vector unit this CPU has:
/// query `i` scores the frames listed under `clusters[i]` in every part's lists.
pub fn rerank(queries: &[[u32; WORDS]], clusters: &[Vec<u32>], parts: &[Lists]) -> Vec<Neighbours> {
    rerank_on(Unit::available()[0], queries, clusters, parts)
}

/// `rerank` on `unit` (the portable code where this CPU does not have it): every unit
/// gives the same lists. Each core scores runs of clusters for the queries that probe
/// them into lists of its own (192 bytes per query), which are then joined: that gives
/// the list one pass over all the clusters gives (`offer` keeps a frame's best view
/// whatever order its views come in).
pub fn rerank_on(unit: Unit, queries: &[[u32; WORDS]], clusters: &[Vec<u32>], parts: &[Lists]) -> Vec<Neighbours> {
    let runs = shares(clusters, parts);
    let n = queries.len();
    // Lists of all the queries for each piece of the runs rayon hands a core, rather
    // than for each run: a few per core instead of four.
    let each = |kernel: &(dyn Fn(&mut [Ranked], &Work) + Sync)| -> Vec<Vec<Ranked>> {
        runs.par_iter()
            .fold(
                || vec![UNRANKED; n],
                |mut ranked, w| {
                    kernel(&mut ranked, w);
                    ranked
                },
            )
            .collect()
    };
    let has = Unit::available().contains(&unit);
    let ranked = 'simd: {
        #[cfg(target_arch = "x86_64")]
        if unit == Unit::Vnni && has {
            // SAFETY: the CPU has just been found to support avx512f, avx512bw and avx512vnni.
            break 'simd each(&|r, w| unsafe { fine_vnni(r, queries, w, parts) });
        }
        // The other units read the queries widened to 16 bits.
        let qs: Vec<[i16; DIM]> = queries.iter().map(widen).collect();
        #[cfg(target_arch = "x86_64")]
        if unit == Unit::Avx2 && has {
            // SAFETY: the CPU has just been found to support avx2.
            break 'simd each(&|r, w| unsafe { fine_avx2(r, &qs, w, parts) });
        }
        each(&|r, w| fine(r, &qs, w, parts))
    };
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut list = UNRANKED;
            for b in ranked.iter().flat_map(|r| r[i]).filter(|b| !b.hit.is_empty()) {
                offer(&mut list, b.hit, b.view);
            }
            list.map(|b| b.hit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::descriptor::mirror_words as mirror;
    use crate::kernels::engine::Engine;
    use crate::kernels::search::{Matrix, cpu_search};
    use crate::testkit::{indexed, row, shot_descriptors as catalogue};

    #[test]
    fn every_vector_unit_ranks_as_one_query_at_a_time() {
        let views = 3;
        let words = catalogue(400, views);
        let m = Matrix { words: &words, views };
        let (centroids, lists) = indexed(&Engine::Cpu(Box::default()), &m, 10);
        let k = centroids.len() as u32 / WORDS as u32;
        let parts = std::slice::from_ref(&lists);
        // 60 queries, each probing 4 clusters of its own: about 24 probe each cluster, so
        // the vector unit scores full groups of queries and a part-filled one.
        let queries: Vec<[u32; WORDS]> = (0..60)
            .map(|i| {
                let q = row(&words, i * 19);
                if i % 3 == 0 { mirror(&q) } else { q }
            })
            .collect();
        let clusters: Vec<Vec<u32>> = (0..60u32).map(|i| (0..4).map(|j| (i * 7 + j * 3) % k).collect()).collect();
        let want: Vec<Neighbours> = queries
            .iter()
            .zip(&clusters)
            .map(|(q, cs)| {
                let mut list = UNRANKED;
                for e in cs.iter().flat_map(|&c| lists.range(c as usize)) {
                    let row: &[u32; WORDS] = lists.words[e * WORDS..(e + 1) * WORDS].try_into().unwrap();
                    let (even, odd) = crate::kernels::descriptor::split_dot(q, row);
                    let f = lists.frames[e];
                    let hit = if even - odd > even + odd {
                        Hit { score: even - odd, key: f << 1 | 1 }
                    } else {
                        Hit { score: even + odd, key: f << 1 }
                    };
                    offer(&mut list, hit, lists.views[e]);
                }
                list.map(|b| b.hit)
            })
            .collect();
        assert!(want.iter().all(|l| !l[TOPK - 1].is_empty()));
        for unit in Unit::available() {
            assert_eq!(rerank_on(unit, &queries, &clusters, parts), want, "{unit:?}");
        }
        // Each vector unit over all the work as one run.
        let work = shares(&clusters, parts).concat();
        let hits = |kernel: &dyn Fn(&mut [Ranked])| {
            let mut ranked = vec![UNRANKED; queries.len()];
            kernel(&mut ranked);
            ranked.into_iter().map(|l| l.map(|b| b.hit)).collect::<Vec<_>>()
        };
        let wide: Vec<[i16; DIM]> = queries.iter().map(widen).collect();
        assert_eq!(hits(&|r| fine(r, &wide, &work, parts)), want);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: avx2 was just detected.
            assert_eq!(hits(&|r| unsafe { fine_avx2(r, &wide, &work, parts) }), want);
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: avx512f, avx512bw and avx512vnni were just detected.
            assert_eq!(hits(&|r| unsafe { fine_vnni(r, &queries, &work, parts) }), want);
        }
    }

    #[test]
    fn every_dot_product_agrees_with_split_dot() {
        let words = catalogue(50, 1);
        for (a, b) in words
            .chunks(WORDS)
            .zip(words.chunks(WORDS).skip(7))
            .chain([(&[0x8080_8080; WORDS][..], &[0x8080_8080; WORDS][..])])
            .chain([(&[0x7f80_7f80; WORDS][..], &[0x807f_ff01; WORDS][..])])
        {
            let (a, b): (&[u32; WORDS], &[u32; WORDS]) = (a.try_into().unwrap(), b.try_into().unwrap());
            let want = crate::kernels::descriptor::split_dot(a, b);
            assert_eq!(halves(&widen(a), b), want);
        }
    }

    #[test]
    fn every_unit_scores_extreme_bytes_exactly() {
        // Rows and queries of -128 and 127 (where a product or a sum of two held in 16
        // bits would overflow) among ordinary descriptors, in one cluster; 12 queries: a
        // full group of 8 and a part-filled one, or one part-filled group of 16.
        let extremes = [0x8080_8080u32, 0x7f7f_7f7f, 0x7f80_7f80, 0x807f_ff01];
        let mut words = catalogue(40, 1);
        words.extend(extremes.iter().flat_map(|&w| [w; WORDS]));
        let m = Matrix { words: &words, views: 1 };
        let lists = Lists::new(&m, &vec![0; m.frames()], 1);
        let queries: Vec<[u32; WORDS]> =
            extremes.iter().map(|&w| [w; WORDS]).chain((0..8).map(|i| row(&words, i * 5))).collect();
        let want = cpu_search(&queries, &m);
        for unit in Unit::available() {
            let got = rerank_on(unit, &queries, &vec![vec![0]; queries.len()], std::slice::from_ref(&lists));
            assert_eq!(got, want, "{unit:?}");
        }
    }

    #[test]
    fn ties_keep_the_earlier_view_then_the_plain_orientation() {
        // A catalogue of equal descriptors in every view: all scores tie, so the order is
        // the keys', and each frame's orientation the one its first view gives.
        let views = 3;
        let row = row(&catalogue(1, 1), 0);
        let words: Vec<u32> = (0..40 * views).flat_map(|i| if i % 2 == 0 { row } else { mirror(&row) }).collect();
        let m = Matrix { words: &words, views };
        let lists = Lists::new(&m, &vec![0; 40 * views], 1);
        for q in [row, mirror(&row)] {
            assert_eq!(rerank(&[q], &[vec![0]], std::slice::from_ref(&lists)), cpu_search(&[q], &m));
        }
    }
}

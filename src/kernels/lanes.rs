//! The CPU twin's exact scan on the widest vector unit the CPU has: catalogue rows in
//! blocks of 16 lanes (one 512-bit register of 32-bit sums, or two 256-bit ones), each
//! query scoring a whole block per instruction, and its list touched only where a lane
//! beats the list's last score. Same hits, keys and tie order as the reference scan
//! (`search::cpu_chunk_topk`).

use crate::kernels::descriptor::{DIM, WORDS};
use crate::kernels::neighbours::{Hit, Matrix, Neighbours, TOPK, insert};

/// Catalogue rows scored together by the blocked scan: one 512-bit register of 32-bit
/// sums, or two 256-bit ones.
pub(crate) const LANES: usize = 16;

/// How a block of catalogue rows and a query are laid out for a `Lanes` implementation.
trait Layout {
    type Block;
    type Query: Sync;
    fn block() -> Self::Block;
    /// Up to `LANES` rows; unused lanes score zero.
    fn fill(b: &mut Self::Block, rows: &[u32]);
    fn query(q: &[u32; WORDS]) -> Self::Query;
}

/// Dimensions widened to 16 bits, in pairs (`Block`, `Query`).
struct Wide;

impl Layout for Wide {
    type Block = Block;
    type Query = Query;
    fn block() -> Block {
        Block { v: [0; DIM * LANES] }
    }
    fn fill(b: &mut Block, rows: &[u32]) {
        b.fill(rows)
    }
    fn query(q: &[u32; WORDS]) -> Query {
        Query::new(q)
    }
}

/// Up to `LANES` catalogue rows, widened to 16 bits and transposed so
/// that pair `p` of dimensions (2p, 2p+1) of every row lies side by side:
/// `v[(p * LANES + lane) * 2 + k]` is dimension `2p + k` of row `lane`. A query then
/// scores all rows with one multiply-add of its broadcast pair per pair, and no
/// horizontal sums; unused lanes are zero.
struct Block {
    v: [i16; DIM * LANES],
}

impl Block {
    fn fill(&mut self, rows: &[u32]) {
        self.v = [0; DIM * LANES];
        for (lane, row) in rows.chunks_exact(WORDS).enumerate() {
            for d in 0..DIM {
                let byte = (row[d / 4] >> (8 * (d % 4))) as u8 as i8;
                self.v[((d / 2) * LANES + lane) * 2 + d % 2] = i16::from(byte);
            }
        }
    }
}

/// A query as the blocked scan reads it: dimension pairs (2p, 2p+1) packed as the low
/// and high 16 bits of `pairs[p]`, ready to broadcast against a `Block`.
struct Query {
    pairs: [i32; DIM / 2],
}

impl Query {
    fn new(q: &[u32; WORDS]) -> Query {
        let dim = |d: usize| (q[d / 4] >> (8 * (d % 4))) as u8 as i8 as i16 as u16 as u32;
        Query { pairs: std::array::from_fn(|p| (dim(2 * p) | dim(2 * p + 1) << 16) as i32) }
    }
}

/// The even and odd half dot products of a query with every lane of a block.
type Halves = ([i32; LANES], [i32; LANES]);

/// Even and odd half dot products (as `split_dot` splits them) of a query with every
/// lane of a block, written to `out` only when some lane scores above `threshold` in
/// either orientation (returns whether; most blocks for most queries do not).
trait Lanes {
    type L: Layout;
    /// # Safety
    /// The CPU must have the target features the implementation uses.
    unsafe fn dots(
        q: &<Self::L as Layout>::Query,
        b: &<Self::L as Layout>::Block,
        threshold: i32,
        out: &mut Halves,
    ) -> bool;
}

/// Any CPU: plain loops.
struct Portable;

impl Lanes for Portable {
    type L = Wide;
    #[inline(always)]
    unsafe fn dots(q: &Query, b: &Block, threshold: i32, out: &mut Halves) -> bool {
        let half = |pairs: std::ops::Range<usize>| {
            let mut acc = [0i32; LANES];
            for p in pairs {
                let (q0, q1) = (i32::from(q.pairs[p] as i16), q.pairs[p] >> 16);
                let col = &b.v[p * LANES * 2..][..LANES * 2];
                for (l, a) in acc.iter_mut().enumerate() {
                    *a += q0 * i32::from(col[2 * l]) + q1 * i32::from(col[2 * l + 1]);
                }
            }
            acc
        };
        let (even, odd) = (half(0..DIM / 4), half(DIM / 4..DIM / 2));
        let best = (0..LANES).map(|l| (even[l] + odd[l]).max(even[l] - odd[l])).max().unwrap_or(i32::MIN);
        if best <= threshold {
            return false;
        }
        *out = (even, odd);
        true
    }
}

/// The even and odd half sums of 16 lanes, where any lane scores above `threshold` in
/// either orientation.
///
/// # Safety
/// The CPU must support avx512f.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn above_512(
    even: std::arch::x86_64::__m512i,
    odd: std::arch::x86_64::__m512i,
    threshold: i32,
    out: &mut Halves,
) -> bool {
    use std::arch::x86_64::*;
    // SAFETY: avx512f is the caller's guarantee; a 512-bit register is 16 lanes of i32.
    unsafe {
        let best = _mm512_max_epi32(_mm512_add_epi32(even, odd), _mm512_sub_epi32(even, odd));
        if _mm512_cmpgt_epi32_mask(best, _mm512_set1_epi32(threshold)) == 0 {
            return false;
        }
        _mm512_storeu_si512(out.0.as_mut_ptr().cast(), even);
        _mm512_storeu_si512(out.1.as_mut_ptr().cast(), odd);
        true
    }
}

/// x86-64 with AVX-512BW: a block column is one 512-bit register, `vpmaddwd` scores 16
/// rows per dimension pair.
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type L = Wide;
    #[inline(always)]
    unsafe fn dots(q: &Query, b: &Block, threshold: i32, out: &mut Halves) -> bool {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees avx512f and avx512bw; every load reads 64 bytes
        // inside `b.v`, whose length is DIM * LANES 16-bit values = DIM / 2 columns of 64.
        unsafe {
            let half = |pairs: std::ops::Range<usize>| {
                let mut acc = _mm512_setzero_si512();
                for p in pairs {
                    let col = _mm512_loadu_si512(b.v.as_ptr().add(p * LANES * 2).cast());
                    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_set1_epi32(q.pairs[p]), col));
                }
                acc
            };
            above_512(half(0..DIM / 4), half(DIM / 4..DIM / 2), threshold, out)
        }
    }
}

/// x86-64 with AVX2: a block column is two 256-bit registers.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type L = Wide;
    #[inline(always)]
    unsafe fn dots(q: &Query, b: &Block, threshold: i32, out: &mut Halves) -> bool {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees avx2; loads stay inside `b.v` as for Avx512.
        unsafe {
            let half = |pairs: std::ops::Range<usize>| {
                let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
                for p in pairs {
                    let col = b.v.as_ptr().add(p * LANES * 2);
                    let qp = _mm256_set1_epi32(q.pairs[p]);
                    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(qp, _mm256_loadu_si256(col.cast())));
                    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(qp, _mm256_loadu_si256(col.add(LANES).cast())));
                }
                [lo, hi]
            };
            let (even, odd) = (half(0..DIM / 4), half(DIM / 4..DIM / 2));
            let thr = _mm256_set1_epi32(threshold);
            let above = |k: usize| {
                let best = _mm256_max_epi32(_mm256_add_epi32(even[k], odd[k]), _mm256_sub_epi32(even[k], odd[k]));
                _mm256_movemask_epi8(_mm256_cmpgt_epi32(best, thr))
            };
            if above(0) | above(1) == 0 {
                return false;
            }
            *out = (
                std::mem::transmute::<[__m256i; 2], [i32; LANES]>(even),
                std::mem::transmute::<[__m256i; 2], [i32; LANES]>(odd),
            );
            true
        }
    }
}

/// Rows as four signed bytes to a word, transposed by word (`w[word * LANES + lane]`),
/// with each row's byte sums over the even and the odd half (`Bytes`).
struct WordBlock {
    w: [u32; WORDS * LANES],
    sums: [[i32; LANES]; 2],
}

/// A query with 128 added to every byte, as `vpdpbusd` wants its unsigned operand:
/// `(q + 128) . r = q . r + 128 * sum(r)`, and the block's sums take the excess back.
struct BiasedQuery {
    words: [u32; WORDS],
}

/// Dimensions left as bytes (`WordBlock`, `BiasedQuery`).
struct Bytes;

impl Layout for Bytes {
    type Block = WordBlock;
    type Query = BiasedQuery;
    fn block() -> WordBlock {
        WordBlock { w: [0; WORDS * LANES], sums: [[0; LANES]; 2] }
    }
    fn fill(b: &mut WordBlock, rows: &[u32]) {
        *b = Self::block();
        for (lane, row) in rows.chunks_exact(WORDS).enumerate() {
            for (word, &v) in row.iter().enumerate() {
                b.w[word * LANES + lane] = v;
                let bytes: i32 = v.to_le_bytes().iter().map(|&x| i32::from(x as i8)).sum();
                b.sums[word / (WORDS / 2)][lane] += bytes;
            }
        }
    }
    fn query(q: &[u32; WORDS]) -> BiasedQuery {
        BiasedQuery { words: q.map(|w| w ^ 0x8080_8080) }
    }
}

/// x86-64 with AVX-512 VNNI: `vpdpbusd` multiplies four byte pairs and adds them into
/// each 32-bit lane, one instruction per word of 16 rows (twice the dimensions of a
/// `vpmaddwd`, without widening the rows).
#[cfg(target_arch = "x86_64")]
struct Vnni;

#[cfg(target_arch = "x86_64")]
impl Lanes for Vnni {
    type L = Bytes;
    #[inline(always)]
    unsafe fn dots(q: &BiasedQuery, b: &WordBlock, threshold: i32, out: &mut Halves) -> bool {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees avx512f, avx512bw and avx512vnni; every load reads
        // 64 bytes of `b.w` (16 words from a multiple of LANES) or of `b.sums`.
        unsafe {
            let half = |k: usize| {
                let mut acc = _mm512_setzero_si512();
                for word in k * WORDS / 2..(k + 1) * WORDS / 2 {
                    let col = _mm512_loadu_si512(b.w.as_ptr().add(word * LANES).cast());
                    acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(q.words[word] as i32), col);
                }
                let excess = _mm512_slli_epi32::<7>(_mm512_loadu_si512(b.sums[k].as_ptr().cast()));
                _mm512_sub_epi32(acc, excess)
            };
            above_512(half(0), half(1), threshold, out)
        }
    }
}

/// Most blocks scored together: up to `GROUP_BLOCKS * LANES` rows of whole frames. A
/// frame's views may straddle two blocks, so that few lanes stay empty (12 views: 48 of
/// 48 rows used in three blocks, where one block per frame uses 12 of 16).
const GROUP_BLOCKS: usize = 4;

/// The number of blocks in a group that leaves the fewest lanes empty, the fewest
/// blocks among equals: a small group skips more often (one threshold test covers
/// fewer frames).
pub(crate) fn group_blocks(views: usize) -> usize {
    let used = |g: usize| (g * LANES / views * views) as f64 / (g * LANES) as f64;
    (1..=GROUP_BLOCKS).filter(|&g| g * LANES >= views).fold(GROUP_BLOCKS, |best, g| {
        if used(g) > used(best) || (used(g) == used(best) && g < best) { g } else { best }
    })
}

/// The halves of a block with no lane above the threshold: below any real score.
const BELOW: Halves = ([i32::MIN / 2; LANES], [0; LANES]);

/// Most views per frame the blocked scan takes (one group holds at least one frame).
pub(crate) const MAX_BLOCKED_VIEWS: usize = GROUP_BLOCKS * LANES;

/// Scans frames `first..last` for every query, group by group, into `lists`. Same hits,
/// keys and tie order as `cpu_chunk_topk` on each query.
///
/// # Safety
/// The CPU must have the target features `L` uses.
#[inline(always)]
unsafe fn scan_blocks<L: Lanes>(
    queries: &[[u32; WORDS]],
    m: &Matrix,
    first: usize,
    last: usize,
    lists: &mut [Neighbours],
) {
    // SAFETY (all four): passed on from the caller. The group size is a constant of each
    // instance, so that its loops unroll.
    unsafe {
        match group_blocks(m.views) {
            1 => scan_groups::<L, 1>(queries, m, first, last, lists),
            2 => scan_groups::<L, 2>(queries, m, first, last, lists),
            3 => scan_groups::<L, 3>(queries, m, first, last, lists),
            _ => scan_groups::<L, GROUP_BLOCKS>(queries, m, first, last, lists),
        }
    }
}

/// `scan_blocks` with groups of `G` blocks.
///
/// # Safety
/// As for `scan_blocks`.
#[inline(always)]
unsafe fn scan_groups<L: Lanes, const G: usize>(
    queries: &[[u32; WORDS]],
    m: &Matrix,
    first: usize,
    last: usize,
    lists: &mut [Neighbours],
) {
    let queries: Vec<_> = queries.iter().map(L::L::query).collect();
    let per_group = G * LANES / m.views;
    let mut blocks: [_; G] = std::array::from_fn(|_| L::L::block());
    let mut halves = [BELOW; G];
    let mut f0 = first;
    while f0 < last {
        let f1 = (f0 + per_group).min(last);
        let rows = &m.words[f0 * m.views * WORDS..f1 * m.views * WORDS];
        let used = rows.len().div_ceil(LANES * WORDS);
        for (block, chunk) in blocks.iter_mut().zip(rows.chunks(LANES * WORDS)) {
            L::L::fill(block, chunk);
        }
        for (q, list) in queries.iter().zip(lists.iter_mut()) {
            let threshold = list[TOPK - 1].score;
            // Blocks where no lane beats the threshold keep a score below any real one:
            // such a lane cannot be a frame's best above the threshold, so the frame's
            // insertion (if its best is in another block) comes out as it would.
            let mut above = [false; G];
            for ((a, block), h) in above.iter_mut().zip(&blocks[..used]).zip(halves.iter_mut()) {
                // SAFETY: passed on from the caller.
                *a = unsafe { L::dots(q, block, threshold, h) };
            }
            if !above.contains(&true) {
                continue;
            }
            for (h, _) in halves.iter_mut().zip(above).filter(|(_, a)| !a) {
                *h = BELOW;
            }
            let lane = |l: usize| (halves[l / LANES].0[l % LANES], halves[l / LANES].1[l % LANES]);
            for f in f0..f1 {
                let mut hit = Hit { score: i32::MIN, key: 0 };
                for l in (f - f0) * m.views..(f - f0 + 1) * m.views {
                    let (even, odd) = lane(l);
                    if even + odd > hit.score {
                        hit = Hit { score: even + odd, key: (f as u32) << 1 };
                    }
                    if even - odd > hit.score {
                        hit = Hit { score: even - odd, key: (f as u32) << 1 | 1 };
                    }
                }
                insert(list, hit);
            }
        }
        f0 = f1;
    }
}

/// `scan_blocks` for the widest vector unit this CPU has, picked at run time so that
/// one binary runs everywhere.
pub(crate) fn scan(queries: &[[u32; WORDS]], m: &Matrix, first: usize, last: usize, lists: &mut [Neighbours]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        fn vnni(queries: &[[u32; WORDS]], m: &Matrix, first: usize, last: usize, lists: &mut [Neighbours]) {
            // SAFETY: this function only runs where avx512f, avx512bw and avx512vnni are
            // enabled.
            unsafe { scan_blocks::<Vnni>(queries, m, first, last, lists) }
        }
        #[target_feature(enable = "avx512f,avx512bw")]
        fn avx512(queries: &[[u32; WORDS]], m: &Matrix, first: usize, last: usize, lists: &mut [Neighbours]) {
            // SAFETY: as above, for avx512f and avx512bw.
            unsafe { scan_blocks::<Avx512>(queries, m, first, last, lists) }
        }
        #[target_feature(enable = "avx2")]
        fn avx2(queries: &[[u32; WORDS]], m: &Matrix, first: usize, last: usize, lists: &mut [Neighbours]) {
            // SAFETY: as above, for avx2.
            unsafe { scan_blocks::<Avx2>(queries, m, first, last, lists) }
        }
        if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has just been found to support all three.
            return unsafe { vnni(queries, m, first, last, lists) };
        }
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has just been found to support avx512f and avx512bw.
            return unsafe { avx512(queries, m, first, last, lists) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for avx2.
            return unsafe { avx2(queries, m, first, last, lists) };
        }
    }
    // SAFETY: Portable needs no target feature.
    unsafe { scan_blocks::<Portable>(queries, m, first, last, lists) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::search::cpu_chunk_topk;
    use crate::testkit::tie_heavy_words;

    #[test]
    fn every_vector_unit_scans_alike() {
        // The dispatch picks one implementation per CPU; each one this CPU can run is
        // checked against the reference here, with views that leave lanes unused (3) and
        // that straddle blocks (12).
        for (views, frames) in [(3, 500), (12, 300)] {
            vector_units_scan_alike(views, frames);
        }
    }

    fn vector_units_scan_alike(views: usize, frames: usize) {
        // Full-range bytes (-128 and 127 included) in half the rows, few values in the
        // rest (ties).
        let mut r = crate::testkit::Rng::new(29);
        let words: Vec<u32> = tie_heavy_words(frames * views * WORDS, 21)
            .into_iter()
            .enumerate()
            .map(|(i, w)| if (i / WORDS).is_multiple_of(2) { r.next_u64() as u32 } else { w })
            .collect();
        let m = Matrix { words: &words, views };
        let qs: Vec<[u32; WORDS]> =
            tie_heavy_words(7 * WORDS, 23).chunks(WORDS).map(|q| q.try_into().unwrap()).collect();
        let reference: Vec<Neighbours> = qs.iter().map(|q| cpu_chunk_topk(q, &m, 0, frames)).collect();
        let run = |f: &dyn Fn(&mut [Neighbours])| {
            let mut lists = vec![[Hit::EMPTY; TOPK]; qs.len()];
            f(&mut lists);
            lists
        };
        // SAFETY: Portable needs no target feature.
        assert_eq!(run(&|l| unsafe { scan_blocks::<Portable>(&qs, &m, 0, frames, l) }), reference);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: avx2 was just detected.
                assert_eq!(run(&|l| unsafe { scan_blocks::<Avx2>(&qs, &m, 0, frames, l) }), reference);
            }
            if std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: avx512f and avx512bw were just detected (avx512bw implies avx512f).
                assert_eq!(run(&|l| unsafe { scan_blocks::<Avx512>(&qs, &m, 0, frames, l) }), reference);
            }
            if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: avx512f, avx512bw and avx512vnni were just detected.
                assert_eq!(run(&|l| unsafe { scan_blocks::<Vnni>(&qs, &m, 0, frames, l) }), reference);
            }
        }
    }
}

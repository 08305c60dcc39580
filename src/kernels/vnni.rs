//! Scoring 16 queries against one descriptor at a time with AVX-512 VNNI, for the
//! index's two stages on the CPU: the coarse stage here (`coarse`, every query against
//! every centroid) and the fine stage (`fine`, the listed descriptors of probed
//! clusters). A group's queries are transposed once (`Group::cols[j]` holds word `j` of
//! each, its bytes made unsigned by +128), and each word of a descriptor, broadcast, is
//! multiplied into them by one `vpdpbusd`: every lane then holds its query's two half
//! sums, with no sum across lanes, and `128 x` the descriptor's half sums (`offsets`)
//! takes the +128 back.

#![cfg(target_arch = "x86_64")]

use crate::kernels::descriptor::WORDS;
use std::arch::x86_64::*;

/// Queries scored together: one lane of a 512-bit register each.
pub const LANES: usize = 16;

/// Up to `LANES` queries, transposed.
pub struct Group {
    pub cols: [__m512i; WORDS],
    /// The lanes that hold a query.
    pub active: __mmask16,
}

/// `queries` (at most `LANES`) transposed, their bytes made unsigned.
///
/// # Safety
/// The CPU must support avx512f.
#[inline]
#[target_feature(enable = "avx512f")]
pub unsafe fn group<'a>(queries: impl ExactSizeIterator<Item = &'a [u32; WORDS]>) -> Group {
    let n = queries.len();
    debug_assert!(n <= LANES);
    let mut t = [[0u32; LANES]; WORDS];
    for (l, q) in queries.enumerate() {
        for (j, &w) in q.iter().enumerate() {
            t[j][l] = w ^ 0x8080_8080;
        }
    }
    // SAFETY: each load reads the LANES words of one row of `t`.
    let cols = std::array::from_fn(|j| unsafe { _mm512_loadu_si512(t[j].as_ptr().cast()) });
    Group { cols, active: if n == LANES { !0 } else { (1 << n) - 1 } }
}

/// The `offsets` of each row of `rows` (`WORDS` words each) into `out`, which is
/// cleared first. Taken once per descriptor, however many groups of queries read it.
///
/// # Safety
/// The CPU must support avx512f and avx512bw.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn offsets_of(rows: &[u32], out: &mut Vec<(i32, i32)>) {
    out.clear();
    // SAFETY: the caller's CPU supports the features; each row is WORDS words.
    out.extend(rows.chunks_exact(WORDS).map(|row| unsafe { offsets(row) }));
}

/// `128 x` the half sums of `row`'s bytes made unsigned, less `64 x 128` each: what
/// `scores` takes off the lanes' sums.
///
/// # Safety
/// The CPU must support avx512f and avx512bw; `row` must hold `WORDS` words.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn offsets(row: &[u32]) -> (i32, i32) {
    debug_assert_eq!(row.len(), WORDS);
    let (flip, zero) = (_mm512_set1_epi8(i8::MIN), _mm512_setzero_si512());
    // SAFETY: both loads read 64 bytes of `row` (128 bytes).
    let (lo, hi) =
        unsafe { (_mm512_loadu_si512(row.as_ptr().cast()), _mm512_loadu_si512(row.as_ptr().add(WORDS / 2).cast())) };
    let sum = |v: __m512i| _mm512_reduce_add_epi64(_mm512_sad_epu8(_mm512_xor_si512(v, flip), zero)) as i32 - 64 * 128;
    (sum(lo) << 7, sum(hi) << 7)
}

/// Each lane's score of `row` in both orientations, `(plain, mirrored)`, from the
/// row's `offsets`.
///
/// # Safety
/// The CPU must support avx512f and avx512vnni; `row` must hold `WORDS` words.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn scores(g: &Group, row: &[u32], (oe, oo): (i32, i32)) -> (__m512i, __m512i) {
    debug_assert_eq!(row.len(), WORDS);
    let zero = _mm512_setzero_si512();
    // Two chains per half, so that each `vpdpbusd` waits on the one before it only
    // every other step; named, so that they stay in registers.
    let (mut e0, mut e1, mut o0, mut o1) = (zero, zero, zero, zero);
    let half = WORDS / 2;
    for j in (0..half).step_by(2) {
        let word = |j: usize| _mm512_set1_epi32(row[j] as i32);
        e0 = _mm512_dpbusd_epi32(e0, g.cols[j], word(j));
        e1 = _mm512_dpbusd_epi32(e1, g.cols[j + 1], word(j + 1));
        o0 = _mm512_dpbusd_epi32(o0, g.cols[half + j], word(half + j));
        o1 = _mm512_dpbusd_epi32(o1, g.cols[half + j + 1], word(half + j + 1));
    }
    let even = _mm512_sub_epi32(_mm512_add_epi32(e0, e1), _mm512_set1_epi32(oe));
    let odd = _mm512_sub_epi32(_mm512_add_epi32(o0, o1), _mm512_set1_epi32(oo));
    (_mm512_add_epi32(even, odd), _mm512_sub_epi32(even, odd))
}

/// `ivf::coarse_scores` with AVX-512 VNNI: `out` (query-major, one row of
/// `centroids.len() / WORDS` per query) gets each query's better orientation against
/// every centroid, 16 queries per pass over the centroids, whose `offsets_of` are
/// `offsets`.
///
/// # Safety
/// The CPU must support avx512f, avx512bw and avx512vnni.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn coarse(queries: &[[u32; WORDS]], centroids: &[u32], offsets: &[(i32, i32)], out: &mut [i32]) {
    let k = centroids.len() / WORDS;
    // SAFETY (all calls below): the CPU supports the features; rows are WORDS long.
    let mut block = vec![[0i32; LANES]; k];
    for (qs, rows) in queries.chunks(LANES).zip(out.chunks_mut(LANES * k)) {
        let g = unsafe { group(qs.iter()) };
        for ((c, &o), scores_of) in centroids.chunks_exact(WORDS).zip(offsets).zip(block.iter_mut()) {
            let (plain, mirrored) = unsafe { scores(&g, c, o) };
            // SAFETY: `scores_of` holds LANES i32.
            unsafe { _mm512_storeu_si512(scores_of.as_mut_ptr().cast(), _mm512_max_epi32(plain, mirrored)) };
        }
        for (l, row) in rows.chunks_mut(k).enumerate() {
            for (s, b) in row.iter_mut().zip(&block) {
                *s = b[l];
            }
        }
    }
}

/// `ivf::coarse_best` with AVX-512 VNNI: `out[i]` gets query `i`'s best centroid and its
/// score, the first of the best (each lane keeps a centroid only where a later one
/// scores strictly more), 16 queries per pass over the centroids, whose `offsets_of`
/// are `offsets`. No row of scores is written: the lanes keep the best.
///
/// # Safety
/// The CPU must support avx512f, avx512bw and avx512vnni.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn coarse_best(queries: &[[u32; WORDS]], centroids: &[u32], offsets: &[(i32, i32)], out: &mut [(u32, i32)]) {
    for (qs, out) in queries.chunks(LANES).zip(out.chunks_mut(LANES)) {
        // SAFETY (all calls below): the CPU supports the features; rows are WORDS long.
        let g = unsafe { group(qs.iter()) };
        let (mut best, mut at) = (_mm512_set1_epi32(i32::MIN), _mm512_setzero_si512());
        for (c, (row, &o)) in centroids.chunks_exact(WORDS).zip(offsets).enumerate() {
            let (plain, mirrored) = unsafe { scores(&g, row, o) };
            let score = _mm512_max_epi32(plain, mirrored);
            let better = _mm512_cmpgt_epi32_mask(score, best);
            best = _mm512_mask_blend_epi32(better, best, score);
            at = _mm512_mask_set1_epi32(at, better, c as i32);
        }
        let (mut scores, mut centroid) = ([0i32; LANES], [0i32; LANES]);
        // SAFETY: both hold LANES i32.
        unsafe {
            _mm512_storeu_si512(scores.as_mut_ptr().cast(), best);
            _mm512_storeu_si512(centroid.as_mut_ptr().cast(), at);
        }
        for (l, o) in out.iter_mut().enumerate() {
            *o = (centroid[l] as u32, scores[l]);
        }
    }
}

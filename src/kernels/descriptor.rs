//! Frame descriptor: 128 low-frequency 2-D DCT coefficients of a rank-equalised 32x32
//! luma image, centred and whitened with fixed statistics, quantised to signed bytes.
//! CPU twin of `shaders/descriptor.wgsl`, and the host side of its bindings.
//!
//! Everything is integer arithmetic so that the GPU kernel and this twin produce the
//! same bytes, not merely close floats: the search then ranks identically on both
//! devices and `--device gpu` and `--device cpu` give the same matches.
//!
//! Why each step (measured as frame-level AP on ../shared/bench/dev, see the issue-3
//! note): rank equalisation undoes brightness, contrast and gamma grading; 128
//! coefficients instead of 64 separate unrelated pictures better; subtracting the mean
//! coefficient of natural footage and dividing by its spread stops the few coefficients
//! every picture shares (sky above, ground below) from dominating the similarity.
//!
//! Layout: the 64 coefficients with even horizontal frequency `u` first, then the 64 with
//! odd `u`, each half in order of rising frequency. A horizontal mirror negates exactly
//! the odd-`u` half (the odd means are 0), so the search kernel gets the mirrored
//! similarity for free as `even - odd`.

use bytemuck::{Pod, Zeroable};

/// Bumped whenever any constant or step below changes; catalogues record it.
pub const DESCRIPTOR_VERSION: u32 = 2;
/// Side of the square luma image a descriptor is computed from.
pub const IMG: usize = 32;
/// DCT basis functions tabulated along each axis (the kept coefficients use fewer).
pub const FREQ: usize = 16;
/// Coefficients per descriptor.
pub const DIM: usize = 128;
/// A descriptor packed as 4 signed bytes per word.
pub const WORDS: usize = DIM / 4;
/// Words of one packed 32x32 luma image.
pub const IMG_WORDS: usize = IMG * IMG / 4;
/// Fixed-point scales of the row and column DCT bases.
const ROW_ONE: f64 = 4096.0;
const COL_ONE: f64 = 256.0;
/// Right shifts after the row and the column pass; they keep every sum inside i32
/// (|equalised| <= 1023: |row| < 1023 * 4096 * 32 < 2^27 -> 2^17; |col| < 2^17 * 256 * 32 = 2^30).
pub const ROW_SHIFT: u32 = 10;
pub const COL_SHIFT: u32 = 14;
/// Normalised coefficients fit in (-2^11, 2^11) before their squares are summed.
pub const NORM_BITS: u32 = 11;

/// Mean of each coefficient (slot order) over the full-frame views of
/// ../shared/footage/catalogue and their mirrors; `examples/fit_descriptor.rs` prints it.
const MEAN: [i32; DIM] = [
    7045, -2346, -3760, -443, 178, -191, 136, -988, 801, -418, -20, -82, 166, 742, 129, 221, -1119, -735, -344, 104,
    61, 139, 85, -330, 145, -73, -268, -29, -310, 152, -53, 6, -76, -172, 77, -9, -144, 144, 460, 76, -114, -8, -7,
    -165, 11, 60, -282, -41, 22, -46, -23, 37, -111, 89, -46, 136, -76, -141, 31, 40, 75, 29, 107, 240, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
/// Weight of each coefficient: (u² + v²)^(1/8) / sqrt(spread), scaled so the largest is
/// 1024; fitted with `MEAN`.
const WEIGHT: [i32; DIM] = [
    101, 156, 145, 247, 263, 208, 346, 241, 255, 379, 377, 364, 448, 323, 497, 455, 331, 328, 484, 479, 480, 574, 594,
    381, 548, 558, 574, 645, 429, 382, 553, 704, 581, 528, 657, 655, 682, 644, 451, 816, 595, 762, 726, 493, 759, 800,
    453, 691, 645, 634, 751, 854, 714, 722, 890, 529, 845, 758, 852, 796, 828, 823, 536, 531, 130, 194, 269, 196, 286,
    289, 386, 397, 405, 318, 453, 427, 416, 459, 554, 595, 578, 576, 598, 397, 560, 626, 568, 564, 659, 589, 672, 729,
    582, 778, 725, 709, 438, 672, 580, 718, 808, 773, 698, 687, 773, 850, 821, 805, 840, 727, 890, 873, 608, 751, 736,
    789, 869, 815, 865, 925, 697, 859, 953, 906, 901, 991, 1024, 844,
];

/// A packed 32x32 luma image, row-major, 4 pixels per word (little-endian bytes).
/// WGSL twin: `array<u32, 256>` slices of `images` in `descriptor.wgsl`.
pub type PackedImage = [u32; IMG_WORDS];

/// One quantised descriptor plus the contrast of its image.
/// WGSL twin: `struct Descriptor` in `shaders/shared/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Descriptor {
    /// 128 signed bytes, packed little-endian four to a word.
    pub words: [u32; WORDS],
    /// 16 x the standard deviation of the image's pixels: low on flat, black or faded
    /// frames, which carry no identity (equalisation would blow their noise up into a
    /// confident-looking descriptor).
    pub energy: u32,
    /// Keeps the struct a multiple of 16 bytes, as WGSL storage arrays lay it out.
    pub pad: [u32; 3],
}

/// Tables shared by the kernel and its twin, uploaded to the GPU as-is.
/// WGSL twin: `struct Tables` in `shaders/shared/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Tables {
    /// `row_basis[u * IMG + x] = round(4096 * cos(pi * (2x + 1) * u / 64))`.
    pub row_basis: [i32; FREQ * IMG],
    /// The same functions at scale 256, for the column pass.
    pub col_basis: [i32; FREQ * IMG],
    /// Mean and weight of output slot `j`.
    pub mean: [i32; DIM],
    pub weight: [i32; DIM],
    /// Row `v` and column `u` of output slot `j`, packed as `v << 8 | u`.
    pub slot: [u32; DIM],
}

impl Tables {
    pub fn new() -> Self {
        let mut t = Tables::zeroed();
        for u in 0..FREQ {
            for x in 0..IMG {
                let c = (std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2 * IMG) as f64).cos();
                t.row_basis[u * IMG + x] = (ROW_ONE * c).round() as i32;
                t.col_basis[u * IMG + x] = (COL_ONE * c).round() as i32;
            }
        }
        for (j, (v, u)) in slot_order().enumerate() {
            t.slot[j] = (v << 8 | u) as u32;
        }
        t.mean = MEAN;
        t.weight = WEIGHT;
        t
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// The uniform of `descriptor.wgsl`: images in the dispatch.
/// WGSL twin: `struct Params` in `shaders/descriptor.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct DescribeParams {
    pub count: u32,
    pub pad: [u32; 3],
}

/// (v, u) of each output slot: the 64 lowest frequencies (by u² + v², then v) with even
/// u, then the 64 lowest with odd u.
pub fn slot_order() -> impl Iterator<Item = (usize, usize)> {
    let half = |parity: usize| {
        let mut f: Vec<(usize, usize)> = (0..FREQ)
            .flat_map(|v| (0..FREQ).map(move |u| (v, u)))
            .filter(|&(v, u)| u % 2 == parity && u + v > 0)
            .collect();
        f.sort_by_key(|&(v, u)| (u * u + v * v, v));
        f.truncate(DIM / 2);
        f
    };
    half(0).into_iter().chain(half(1))
}

/// Rounds `x / 2^s` half away from zero, so that negation commutes with it.
fn round_shift(x: i32, s: u32) -> i32 {
    if s == 0 {
        return x;
    }
    let m = ((x.unsigned_abs() + (1u32 << (s - 1))) >> s) as i32;
    if x < 0 { -m } else { m }
}

/// Largest `r` with `r * r <= n`, by bisection over 16 bits (the WGSL twin does the same).
pub fn isqrt(n: u32) -> u32 {
    let mut r = 0u32;
    let mut bit = 1u32 << 15;
    while bit > 0 {
        let c = r | bit;
        if c * c <= n {
            r = c;
        }
        bit >>= 1;
    }
    r
}

fn pixel(img: &PackedImage, i: usize) -> i32 {
    ((img[i / 4] >> (8 * (i % 4))) & 0xff) as i32
}

/// 16 x the standard deviation of the pixels (about the truncated mean).
fn contrast(img: &PackedImage) -> u32 {
    let n = IMG * IMG;
    let mean = (0..n).map(|i| pixel(img, i) as u32).sum::<u32>() / n as u32;
    let ss: u32 = (0..n).map(|i| (pixel(img, i) - mean as i32).pow(2) as u32).sum();
    isqrt(ss / 4)
}

/// Each pixel value's mid-rank among the image's pixels, centred: 2 * (pixels below) +
/// (pixels equal) - 1024, in [-1023, 1023]. Ties share a rank, so a mirrored image gets
/// the mirrored ranks.
fn equalisation(img: &PackedImage) -> [i32; 256] {
    let mut hist = [0i32; 256];
    for i in 0..IMG * IMG {
        hist[pixel(img, i) as usize] += 1;
    }
    let mut lut = [0i32; 256];
    let mut below = 0;
    for (l, &h) in lut.iter_mut().zip(&hist) {
        *l = 2 * below + h - 1024;
        below += h;
    }
    lut
}

/// The DCT coefficients of the equalised image in slot order, before centring and weights.
pub fn raw_coefficients(img: &PackedImage, t: &Tables) -> [i32; DIM] {
    let lut = equalisation(img);
    // Row pass: R[u][y] for every tabulated frequency u and row y. Each row is equalised
    // once, then multiplied by every basis row: plain products the compiler vectorises.
    // R is kept frequency-major so that the column pass reads each column contiguously.
    let mut cols = [[0i32; IMG]; FREQ];
    for y in 0..IMG {
        let eq: [i32; IMG] = std::array::from_fn(|x| lut[pixel(img, y * IMG + x) as usize]);
        for (u, col) in cols.iter_mut().enumerate() {
            let basis = &t.row_basis[u * IMG..(u + 1) * IMG];
            let acc: i32 = eq.iter().zip(basis).map(|(a, b)| a * b).sum();
            col[y] = round_shift(acc, ROW_SHIFT);
        }
    }
    let mut coef = [0i32; DIM];
    for (j, c) in coef.iter_mut().enumerate() {
        let v = (t.slot[j] >> 8) as usize;
        let u = (t.slot[j] & 0xff) as usize;
        let basis = &t.col_basis[v * IMG..(v + 1) * IMG];
        let acc: i32 = cols[u].iter().zip(basis).map(|(a, b)| a * b).sum();
        *c = round_shift(acc, COL_SHIFT);
    }
    coef
}

/// CPU twin of `descriptor.wgsl`'s `main` for one image.
pub fn describe(img: &PackedImage, t: &Tables) -> Descriptor {
    let energy = contrast(img);
    if energy == 0 {
        // A flat image has no ranks to speak of: it matches nothing.
        return Descriptor { energy, ..Descriptor::zeroed() };
    }
    let mut coef = raw_coefficients(img, t);
    let mut max_abs = 0u32;
    for (j, c) in coef.iter_mut().enumerate() {
        *c = (*c - t.mean[j]) * t.weight[j];
        max_abs = max_abs.max(c.unsigned_abs());
    }
    let mut d = normalise(&coef, max_abs);
    d.energy = energy;
    d
}

/// Scales the coefficients to unit L2 norm in 127ths, in integers only.
fn normalise(coef: &[i32; DIM], max_abs: u32) -> Descriptor {
    let mut s = 0u32;
    while (max_abs >> s) >= (1 << NORM_BITS) {
        s += 1;
    }
    let mut e = [0i32; DIM];
    let mut sum = 0u32;
    for (ej, &c) in e.iter_mut().zip(coef) {
        *ej = round_shift(c, s);
        sum += (*ej * *ej) as u32;
    }
    let n = isqrt(sum);
    let mut d = Descriptor::zeroed();
    if n == 0 {
        return d;
    }
    for (j, &ej) in e.iter().enumerate() {
        let m = (254 * ej.unsigned_abs() + n) / (2 * n);
        let q = if ej < 0 { -(m as i32) } else { m as i32 };
        d.words[j / 4] |= ((q as u32) & 0xff) << (8 * (j % 4));
    }
    d
}

/// The signed coefficients of packed descriptor words, in dimension order.
pub fn coefficients(words: &[u32]) -> impl Iterator<Item = i8> + '_ {
    words.iter().flat_map(|w| w.to_le_bytes()).map(|b| b as i8)
}

/// Whether dimension `d` is in the odd-u half, the half a mirror image negates (see
/// `split_dot`).
pub fn is_odd_half(d: usize) -> bool {
    d >= DIM / 2
}

/// The words of the horizontally mirrored image's descriptor: odd-u half negated.
pub fn mirror_words(words: &[u32; WORDS]) -> [u32; WORDS] {
    let mut out = [0u32; WORDS];
    for (j, c) in coefficients(words).enumerate() {
        let c = if is_odd_half(j) { c.wrapping_neg() } else { c };
        out[j / 4] |= u32::from(c as u8) << (8 * (j % 4));
    }
    out
}

impl Descriptor {
    /// The coefficients as signed bytes.
    pub fn coefficients(&self) -> [i8; DIM] {
        let mut out = [0i8; DIM];
        out.iter_mut().zip(coefficients(&self.words)).for_each(|(o, c)| *o = c);
        out
    }

    /// The descriptor of the horizontally mirrored image: odd-u half negated.
    pub fn mirrored(&self) -> Descriptor {
        Descriptor { words: mirror_words(&self.words), ..*self }
    }
}

/// Packs a 32x32 row-major byte image into words.
pub fn pack_image(pixels: &[u8]) -> PackedImage {
    assert_eq!(pixels.len(), IMG * IMG, "pack_image takes a 32x32 image");
    let mut out = [0u32; IMG_WORDS];
    for (i, &p) in pixels.iter().enumerate() {
        out[i / 4] |= (p as u32) << (8 * (i % 4));
    }
    out
}

/// Similarity scale: the dot product of two unit descriptors is about this much.
pub const DOT_ONE: f32 = 127.0 * 127.0;

/// Dot product of two packed descriptors split as (even-u half, odd-u half):
/// `even + odd` compares as-is, `even - odd` compares one of them mirrored.
pub fn split_dot(a: &[u32; WORDS], b: &[u32; WORDS]) -> (i32, i32) {
    let dot4 = |x: u32, y: u32| -> i32 {
        (0..4).map(|k| ((x >> (8 * k)) as u8 as i8 as i32) * ((y >> (8 * k)) as u8 as i8 as i32)).sum()
    };
    let half = WORDS / 2;
    let even = (0..half).map(|w| dot4(a[w], b[w])).sum();
    let odd = (half..WORDS).map(|w| dot4(a[w], b[w])).sum();
    (even, odd)
}

/// A query widened to 16 bits, for the fine stage's dot products.
pub fn widen(q: &[u32; WORDS]) -> [i16; DIM] {
    let mut out = [0i16; DIM];
    for (o, x) in out.iter_mut().zip(coefficients(q)) {
        *o = i16::from(x);
    }
    out
}

/// Even and odd half dot products of a widened query with one packed row, as
/// `split_dot` computes them; written so that the compiler vectorises it.
#[inline(always)]
pub fn halves(q: &[i16; DIM], row: &[u32]) -> (i32, i32) {
    let bytes: &[u8] = bytemuck::cast_slice(row);
    let half = |r: std::ops::Range<usize>| -> i32 {
        q[r.clone()].iter().zip(&bytes[r]).map(|(&a, &b)| i32::from(a) * i32::from(b as i8)).sum()
    };
    (half(0..DIM / 2), half(DIM / 2..DIM))
}

/// Dot product of two packed descriptors, one of them mirrored when `mirrored`.
pub fn oriented_dot(a: &[u32; WORDS], b: &[u32; WORDS], mirrored: bool) -> i32 {
    let (even, odd) = split_dot(a, b);
    if mirrored { even - odd } else { even + odd }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64) -> Vec<u8> {
        crate::testkit::random_pixels(seed)
    }

    #[test]
    fn the_descriptor_changes_only_with_its_version() {
        // Catalogues record DESCRIPTOR_VERSION and are refused by a build of another: any
        // change to the tables or the steps must bump it (and the fingerprint here).
        let t = Tables::new();
        let probe: Vec<u32> = (0..8).flat_map(|s| describe(&crate::testkit::random_image(s), &t).words).collect();
        let fingerprint = crate::stable_hash(&[&format!("{:?}{probe:?}", bytemuck::bytes_of(&t))]);
        assert_eq!((DESCRIPTOR_VERSION, fingerprint), (2, 0x3226_cabc_028f_5195), "{fingerprint:#x}");
    }

    #[test]
    fn unit_norm_and_self_similarity() {
        let t = Tables::new();
        let d = describe(&pack_image(&image(3)), &t);
        let (e, o) = split_dot(&d.words, &d.words);
        let dot = (e + o) as f32 / DOT_ONE;
        assert!((dot - 1.0).abs() < 0.02, "self dot {dot}");
        assert!(d.energy > 0);
    }

    #[test]
    fn mirror_negates_odd_half_exactly() {
        let t = Tables::new();
        for seed in 0..20 {
            let img = image(seed);
            let mut flipped = img.clone();
            for row in flipped.chunks_mut(IMG) {
                row.reverse();
            }
            let d = describe(&pack_image(&img), &t);
            let f = describe(&pack_image(&flipped), &t);
            assert_eq!(f, d.mirrored(), "seed {seed}");
            let (e, o) = split_dot(&d.words, &f.words);
            let (se, so) = split_dot(&d.words, &d.words);
            assert_eq!(e - o, se + so);
        }
    }

    #[test]
    fn flat_image_has_no_energy() {
        let t = Tables::new();
        let d = describe(&pack_image(&[77u8; IMG * IMG]), &t);
        assert_eq!(d.energy, 0);
        assert_eq!(d.words, [0; WORDS]);
    }

    #[test]
    fn brightness_and_contrast_barely_move_it() {
        let t = Tables::new();
        let img = image(9);
        let graded: Vec<u8> = img.iter().map(|&p| (p as f32 * 0.6 + 40.0) as u8).collect();
        let a = describe(&pack_image(&img), &t);
        let b = describe(&pack_image(&graded), &t);
        let (e, o) = split_dot(&a.words, &b.words);
        assert!((e + o) as f32 / DOT_ONE > 0.97);
    }

    #[test]
    fn slots_are_the_lowest_frequencies_of_each_parity() {
        let slots: Vec<(usize, usize)> = slot_order().collect();
        assert_eq!(slots.len(), DIM);
        assert!(slots[..DIM / 2].iter().all(|&(_, u)| u % 2 == 0));
        assert!(slots[DIM / 2..].iter().all(|&(_, u)| u % 2 == 1));
        assert!(slots.iter().all(|&(v, u)| v < FREQ && u < FREQ && u + v > 0));
        // Mirroring is a sign flip only if the odd half is centred on 0.
        assert!(MEAN[DIM / 2..].iter().all(|&m| m == 0));
    }

    #[test]
    fn gamma_grading_barely_moves_it() {
        // Equalisation sees ranks only: any increasing tone curve leaves them alone.
        let t = Tables::new();
        let img = image(5);
        let graded: Vec<u8> = img.iter().map(|&p| (255.0 * (p as f32 / 255.0).powf(1.25)).round() as u8).collect();
        let a = describe(&pack_image(&img), &t);
        let b = describe(&pack_image(&graded), &t);
        let (e, o) = split_dot(&a.words, &b.words);
        assert!((e + o) as f32 / DOT_ONE > 0.95, "{}", (e + o) as f32 / DOT_ONE);
    }

    #[test]
    fn isqrt_is_floor_sqrt() {
        for n in [0u32, 1, 2, 3, 4, 15, 16, 17, 99, 100, 65535, 1 << 28, (1 << 30) - 1] {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
    }
}

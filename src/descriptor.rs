//! Frame descriptor: a whitened low-frequency 2-D DCT of a 32x32 luma image, quantised
//! to 64 signed bytes. CPU twin of `shaders/descriptor.wgsl`.
//!
//! Everything is integer arithmetic so that the GPU kernel and this twin produce the
//! same bytes, not merely close floats: the search then ranks identically on both
//! devices and `--device gpu` and `--device cpu` give the same matches.
//!
//! Layout of the 64 coefficients: the 32 with even horizontal frequency `u` first, then
//! the 32 with odd `u`. A horizontal mirror negates exactly the odd-`u` half, so the
//! search kernel gets the mirrored similarity for free as `even - odd`.

use bytemuck::{Pod, Zeroable};

/// Bumped whenever any constant or step below changes; catalogues record it.
pub const DESCRIPTOR_VERSION: u32 = 1;
/// Side of the square luma image a descriptor is computed from.
pub const IMG: usize = 32;
/// Number of DCT frequencies kept along each axis.
pub const FREQ: usize = 8;
/// Coefficients per descriptor (FREQ x FREQ, DC stored as 0).
pub const DIM: usize = FREQ * FREQ;
/// A descriptor packed as 4 signed bytes per word.
pub const WORDS: usize = DIM / 4;
/// Words of one packed 32x32 luma image.
pub const IMG_WORDS: usize = IMG * IMG / 4;
/// Fixed-point scale of the DCT basis.
const BASIS_ONE: f64 = 2048.0;
/// Right shifts after the row and the column pass; they keep every sum inside i32
/// (bounds: |row| < 128 * 2048 * 32, |col| < 2^15 * 2048 * 32 * 0.64).
const ROW_SHIFT: u32 = 8;
const COL_SHIFT: u32 = 14;
/// Normalised coefficients fit in (-2^11, 2^11) before their squares are summed.
const NORM_BITS: u32 = 11;

/// A packed 32x32 luma image, row-major, 4 pixels per word (little-endian bytes).
/// WGSL twin: `array<u32, 256>` slices of `images` in `descriptor.wgsl`.
pub type PackedImage = [u32; IMG_WORDS];

/// One quantised descriptor plus its pre-normalisation energy.
/// WGSL twin: `struct Descriptor` in `shaders/shared/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Descriptor {
    /// 64 signed bytes, packed little-endian four to a word.
    pub words: [u32; WORDS],
    /// L2 norm of the weighted coefficients before normalisation: low on flat,
    /// black or faded frames, which carry no identity.
    pub energy: u32,
    /// Keeps the struct a multiple of 16 bytes, as WGSL storage arrays lay it out.
    pub pad: [u32; 3],
}

/// Tables shared by the kernel and its twin, uploaded to the GPU as-is.
/// WGSL twin: `struct Tables` in `shaders/shared/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Tables {
    /// `basis[u * IMG + x] = round(2048 * cos(pi * (2x + 1) * u / 64))`.
    pub basis: [i32; FREQ * IMG],
    /// Whitening weight of output slot `j`, 0 for DC.
    pub weight: [i32; DIM],
    /// Row `v` and column `u` of output slot `j`, packed as `v << 8 | u`.
    pub slot: [u32; DIM],
}

impl Tables {
    pub fn new() -> Self {
        let mut t = Tables::zeroed();
        for u in 0..FREQ {
            for x in 0..IMG {
                let angle = std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2 * IMG) as f64;
                t.basis[u * IMG + x] = (BASIS_ONE * angle.cos()).round() as i32;
            }
        }
        for (j, (v, u)) in slot_order().enumerate() {
            t.slot[j] = (v << 8 | u) as u32;
            // Natural images fall off as 1/f; weighting by sqrt(f) evens out the
            // contribution of the frequencies without letting the finest (least robust
            // to blur and crops) dominate.
            let f = ((u * u + v * v) as f64).sqrt();
            t.weight[j] = if u == 0 && v == 0 { 0 } else { (8.0 * f.sqrt()).round() as i32 };
        }
        t
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// (v, u) of each output slot: even u first, then odd u.
fn slot_order() -> impl Iterator<Item = (usize, usize)> {
    let even = (0..FREQ).flat_map(|v| (0..FREQ).step_by(2).map(move |u| (v, u)));
    let odd = (0..FREQ).flat_map(|v| (1..FREQ).step_by(2).map(move |u| (v, u)));
    even.chain(odd)
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

/// CPU twin of `descriptor.wgsl`'s `main` for one image.
pub fn describe(img: &PackedImage, t: &Tables) -> Descriptor {
    // Row pass: R[y][u] for every row y and kept frequency u.
    let mut rows = [[0i32; FREQ]; IMG];
    for (y, row) in rows.iter_mut().enumerate() {
        for (u, r) in row.iter_mut().enumerate() {
            let mut acc = 0i32;
            for x in 0..IMG {
                acc += (pixel(img, y * IMG + x) - 128) * t.basis[u * IMG + x];
            }
            *r = round_shift(acc, ROW_SHIFT);
        }
    }
    // Column pass and whitening, straight into slot order.
    let mut coef = [0i32; DIM];
    let mut max_abs = 0u32;
    for (j, c) in coef.iter_mut().enumerate() {
        let v = (t.slot[j] >> 8) as usize;
        let u = (t.slot[j] & 0xff) as usize;
        let mut acc = 0i32;
        for (y, row) in rows.iter().enumerate() {
            acc += row[u] * t.basis[v * IMG + y];
        }
        *c = round_shift(acc, COL_SHIFT) * t.weight[j];
        max_abs = max_abs.max(c.unsigned_abs());
    }
    normalise(&coef, max_abs)
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
    d.energy = n << s;
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

impl Descriptor {
    /// The 64 coefficients as signed bytes.
    pub fn coefficients(&self) -> [i8; DIM] {
        let mut out = [0i8; DIM];
        for (j, o) in out.iter_mut().enumerate() {
            *o = (self.words[j / 4] >> (8 * (j % 4))) as u8 as i8;
        }
        out
    }

    /// The descriptor of the horizontally mirrored image: odd-u half negated.
    pub fn mirrored(&self) -> Descriptor {
        let mut d = *self;
        d.words = [0; WORDS];
        for (j, c) in self.coefficients().iter().enumerate() {
            let c = if j >= DIM / 2 { c.wrapping_neg() } else { *c };
            d.words[j / 4] |= ((c as u8) as u32) << (8 * (j % 4));
        }
        d
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..IMG * IMG)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn struct_sizes_match_wgsl() {
        assert_eq!(std::mem::size_of::<Descriptor>(), 80);
        assert_eq!(std::mem::size_of::<Tables>(), (FREQ * IMG + 2 * DIM) * 4);
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
    fn isqrt_is_floor_sqrt() {
        for n in [0u32, 1, 2, 3, 4, 15, 16, 17, 99, 100, 65535, 1 << 28, (1 << 30) - 1] {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
    }
}

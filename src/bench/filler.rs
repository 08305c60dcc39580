//! Filler for the scale benchmark: catalogue frames whose descriptors follow real
//! footage, so that a large synthetic catalogue clusters the way real pictures do.
//!
//! A filler video is a run of shots. A shot mixes three frames of a donor catalogue
//! (real footage no benchmark upload shows): the first weighs most, the others add
//! their content; each advances one donor frame per filler frame while its donor video
//! goes on, so a shot drifts like footage does. Every frame adds a little noise and the
//! video's own grade (a fixed direction, as a colour grade shifts every frame of a
//! show); a mirrored video negates the odd half, as the descriptor of a mirrored
//! picture does. The picture (where the donor stores them) is the first donor frame's,
//! mirrored with the video.

use crate::kernels::descriptor::{DIM, PackedImage, WORDS, coefficients, is_odd_half};
use crate::kernels::ivf::quantise;
use crate::store::catalog::Catalogue;

/// The settings of the filler model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FillerModel {
    /// Length of a filler video, seconds.
    pub video_s: f64,
    /// Shortest and longest shot, seconds.
    pub shot_s: (f64, f64),
    /// Weight of the first donor frame of a shot, lowest and highest.
    pub first_weight: (f64, f64),
    /// Standard deviation of the per-frame noise, in descriptor units (a unit
    /// descriptor has coefficients of about 11 on average).
    pub noise: f64,
    /// Weight of the video's grade.
    pub grade: f64,
}

impl Default for FillerModel {
    fn default() -> Self {
        FillerModel { video_s: 2700.0, shot_s: (2.0, 12.0), first_weight: (0.45, 0.8), noise: 3.0, grade: 0.15 }
    }
}

/// A seeded generator (SplitMix64): the same filler on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, (lo, hi): (f64, f64)) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// About normal (the sum of four uniforms, scaled to unit variance).
    fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.unit()).sum::<f64>() - 2.0) * 3f64.sqrt()
    }
}

/// One filler frame: its descriptors (`views * WORDS` words), picture and energy.
pub struct FillerFrame {
    pub words: Vec<u32>,
    /// Where the donor stores pictures.
    pub picture: Option<PackedImage>,
    pub energy: u32,
}

/// The frames of filler video `index` (`frames` of them) made from `donor`'s frames.
pub fn video(donor: &Catalogue, model: &FillerModel, seed: u64, index: u64, frames: usize) -> Vec<FillerFrame> {
    let views = donor.manifest.views;
    let n = donor.frame_video.len();
    let mut rng = Rng(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let mirrored = rng.next() & 1 == 1;
    let grade: Vec<f64> = (0..DIM).map(|_| rng.normal()).collect();
    let grade_norm = grade.iter().map(|x| x * x).sum::<f64>().sqrt();
    let rate = donor.manifest.rate;
    let mut out = Vec::with_capacity(frames);
    while out.len() < frames && n > 0 {
        let shot = (rng.range(model.shot_s) * rate).round().max(1.0) as usize;
        let mut src = [rng.below(n), rng.below(n), rng.below(n)];
        let w0 = rng.range(model.first_weight);
        let split = rng.unit();
        let weights = [w0, (1.0 - w0) * split, (1.0 - w0) * (1.0 - split)];
        for _ in 0..shot.min(frames - out.len()) {
            let mut words = Vec::with_capacity(views * WORDS);
            for v in 0..views {
                let mut sum = [0f64; DIM];
                for (s, w) in src.iter().zip(weights) {
                    let row = &donor.words[(s * views + v) * WORDS..][..WORDS];
                    for (x, c) in sum.iter_mut().zip(coefficients(row)) {
                        *x += w * f64::from(c);
                    }
                }
                for (d, x) in sum.iter_mut().enumerate() {
                    *x += model.noise * rng.normal() + model.grade * 127.0 * grade[d] / grade_norm;
                    if mirrored && is_odd_half(d) {
                        *x = -*x;
                    }
                }
                words.extend(quantise(&sum).unwrap_or([0; WORDS]));
            }
            let mut picture = (!donor.pictures.is_empty()).then(|| donor.pictures[src[0]]);
            if let Some(p) = picture.as_mut().filter(|_| mirrored) {
                mirror_picture(p);
            }
            out.push(FillerFrame { words, picture, energy: donor.frame_energy[src[0]] });
            // Each donor frame moves on while its video does.
            for s in src.iter_mut() {
                if *s + 1 < n && donor.frame_video[*s + 1] == donor.frame_video[*s] {
                    *s += 1;
                }
            }
        }
    }
    out
}

/// Mirrors a packed 32x32 picture left to right.
fn mirror_picture(p: &mut PackedImage) {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(p);
    bytes.chunks_exact_mut(crate::kernels::descriptor::IMG).for_each(|row| row.reverse());
}

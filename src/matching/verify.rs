//! Stage 4, `verify`: a crop of the catalogue pictures that explains a weak segment's
//! frames. An upload that crops the picture (to 70-90% of its width and of its height,
//! chosen apart, anywhere in the frame) matches none of the crops the catalogue stores
//! well, so its frames find their catalogue frames weakly. For a candidate segment, the
//! crop of the catalogue pictures that best explains the upload frames along its line is
//! searched, one crop for the whole segment (an uploader crops a clip once, and one crop
//! shared by many frames cannot be fitted to unrelated footage the way one crop per
//! frame could).

use crate::frame::gray::{Gray, axis_weights, resample_with};
use crate::kernels::descriptor::{DOT_ONE, IMG, PackedImage, Tables, describe, oriented_dot};
use crate::matching::config::{MatchConfig, VerifyConfig};
use crate::matching::model::{QueryFrames, RefFrames, Segment};
use rayon::prelude::*;

type Weights = Vec<Vec<(usize, f32)>>;

/// One crop of the catalogue picture, in fractions of its width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    pub x0: f32,
    pub y0: f32,
    pub w: f32,
    pub h: f32,
}

impl Crop {
    pub const WHOLE: Crop = Crop { x0: 0.0, y0: 0.0, w: 1.0, h: 1.0 };

    /// Resampling weights of the crop of an `IMG`-sided picture, per axis.
    fn weights(&self) -> (Weights, Weights) {
        let side = IMG as f32;
        let axis = |a: f32, len: f32| axis_weights(IMG, a * side, (a + len) * side, IMG);
        (axis(self.x0, self.w), axis(self.y0, self.h))
    }
}

/// Every crop searched: each kept width with each kept height, at every position.
fn crops(p: &VerifyConfig) -> Vec<Crop> {
    let axis = || {
        p.scales.iter().flat_map(|&s| {
            let places: &[f32] = if s < 1.0 { &p.places } else { &[0.0] };
            places.iter().map(move |&at| (at * (1.0 - s), s))
        })
    };
    axis().flat_map(|(x0, w)| axis().map(move |(y0, h)| Crop { x0, y0, w, h })).collect()
}

fn unpack(img: &PackedImage) -> Gray {
    Gray { w: IMG, h: IMG, data: bytemuck::cast_slice::<u32, u8>(img).to_vec() }
}

/// What `best_crop` found.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    pub crop: Crop,
    /// Mean similarity of the frames to `crop` of their catalogue pictures, and to the
    /// whole pictures.
    pub similarity: f32,
    pub whole: f32,
}

/// The crop of the catalogue pictures on `seg`'s line that the upload frames resemble
/// best; None when no frame of the segment has a catalogue picture on the line.
pub fn best_crop(seg: &Segment, q: &QueryFrames, r: &RefFrames, tables: &Tables, c: &MatchConfig) -> Option<Fit> {
    let p = &c.verify;
    let frames: Vec<usize> = q.within(seg.core).filter(|&i| q.energy[i] >= c.vote.min_energy).collect();
    let step = frames.len().div_ceil(p.samples).max(1);
    // (upload frame, catalogue picture) pairs along the line.
    let pairs: Vec<(usize, Gray)> = frames
        .iter()
        .step_by(step)
        .filter_map(|&i| r.nearest(seg.video, seg.ref_time(q.t[i])).map(|f| (i, unpack(r.picture(f)))))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    // Mean similarity of the frames in `pairs` to the crop.
    let similarity = |crop: &Crop, pairs: &[(usize, Gray)]| {
        let (wx, wy) = crop.weights();
        let total: f32 = pairs
            .iter()
            .map(|(i, g)| {
                let d = describe(&resample_with(g, &wx, &wy), tables).words;
                let best =
                    q.words[q.views[*i].clone()].iter().map(|v| oriented_dot(v, &d, seg.mirrored)).max().unwrap_or(0);
                best as f32 / DOT_ONE
            })
            .sum();
        total / pairs.len() as f32
    };
    // Coarse to fine: every crop on a few of the frames, the best few crops on all.
    let spread = pairs.len().div_ceil(p.coarse_samples);
    let few: Vec<(usize, Gray)> = pairs.iter().step_by(spread).cloned().collect();
    let mut coarse: Vec<(Crop, f32)> = crops(p).into_iter().map(|c| (c, similarity(&c, &few))).collect();
    coarse.sort_by(|a, b| b.1.total_cmp(&a.1));
    coarse.truncate(p.finalists);
    let best = coarse
        .into_iter()
        .map(|(c, _)| (c, similarity(&c, &pairs)))
        .fold(None, |best: Option<(Crop, f32)>, (c, s)| best.filter(|b| b.1 >= s).or(Some((c, s))))?;
    Some(Fit { crop: best.0, similarity: best.1, whole: similarity(&Crop::WHOLE, &pairs) })
}

/// Raises the score of every segment that verification could lift over
/// `select.min_score` by how well its best crop explains its frames. Segments already
/// over it are left alone (the search costs about 2 ms a segment), as are those no
/// verification could lift.
pub fn rescore(segs: &mut [Segment], q: &QueryFrames, r: &RefFrames, tables: &Tables, c: &MatchConfig) {
    let (p, min_score) = (&c.verify, c.select.min_score);
    let most = 1.0 + p.gain * (1.0 - p.floor);
    segs.par_iter_mut().filter(|s| s.score < min_score && s.score * most >= min_score).for_each(|s| {
        if let Some(fit) = best_crop(s, q, r, tables, c) {
            // What the crop explains beyond the whole pictures: in a static scene a wrong
            // line resembles the frames as well as the right one, crop or none.
            s.score *= 1.0 + p.gain * (fit.similarity - fit.whole.max(p.floor)).max(0.0);
        }
    });
}

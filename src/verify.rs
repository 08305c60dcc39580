//! Verification of candidate segments against the catalogue's pictures. An upload that
//! crops the picture (to 70-90% of its width and of its height, chosen apart, anywhere
//! in the frame) matches none of the crops the catalogue stores well, so its frames find
//! their catalogue frames weakly. For a candidate segment, the crop of the catalogue
//! pictures that best explains the upload frames along its line is searched, one crop
//! for the whole segment (an uploader crops a clip once, and one crop shared by many
//! frames cannot be fitted to unrelated footage the way one crop per frame could).

use crate::align::{AlignParams, QueryFrames, RefFrames, Segment};
use crate::descriptor::{DOT_ONE, IMG, PackedImage, Tables, describe, oriented_dot};
use crate::frame::{Gray, axis_weights, resample_with};
use rayon::prelude::*;

type Weights = Vec<Vec<(usize, f32)>>;

/// Most upload frames of a segment the crop is fitted on.
const SAMPLES: usize = 8;
/// Frames every crop is first tried on, and how many of the best crops are then tried on
/// all `SAMPLES`.
const COARSE_SAMPLES: usize = 3;
const FINALISTS: usize = 6;

/// Kept fractions of the catalogue picture's width (and, apart, height) searched.
const SCALES: [f32; 4] = [0.7, 0.8, 0.9, 1.0];
/// Positions of a crop in its slack: left (top), centre, right (bottom).
const PLACES: [f32; 3] = [0.0, 0.5, 1.0];

/// One crop of the catalogue picture, in fractions of its width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    pub x0: f32,
    pub y0: f32,
    pub w: f32,
    pub h: f32,
}

impl Crop {
    const WHOLE: Crop = Crop { x0: 0.0, y0: 0.0, w: 1.0, h: 1.0 };

    /// Resampling weights of the crop of an `IMG`-sided picture, per axis.
    fn weights(&self) -> (Weights, Weights) {
        let side = IMG as f32;
        let axis = |a: f32, len: f32| axis_weights(IMG, a * side, (a + len) * side, IMG);
        (axis(self.x0, self.w), axis(self.y0, self.h))
    }
}

/// Every crop searched: each kept width with each kept height, at every position.
fn crops() -> Vec<Crop> {
    let axis = || {
        SCALES.iter().flat_map(|&s| {
            let places: &[f32] = if s < 1.0 { &PLACES } else { &[0.0] };
            places.iter().map(move |&p| (p * (1.0 - s), s))
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
pub fn best_crop(seg: &Segment, q: &QueryFrames, r: &RefFrames, tables: &Tables, min_energy: u32) -> Option<Fit> {
    let frames: Vec<usize> =
        (0..q.t.len()).filter(|&i| (seg.core.0..=seg.core.1).contains(&q.t[i]) && q.energy[i] >= min_energy).collect();
    let step = frames.len().div_ceil(SAMPLES).max(1);
    // (upload frame, catalogue picture) pairs along the line.
    let pairs: Vec<(usize, Gray)> = frames
        .iter()
        .step_by(step)
        .filter_map(|&i| r.nearest(seg.video, seg.ref_time(q.t[i])).map(|f| (i, unpack(&r.pictures[f]))))
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
    let spread = pairs.len().div_ceil(COARSE_SAMPLES);
    let few: Vec<(usize, Gray)> = pairs.iter().step_by(spread).cloned().collect();
    let mut coarse: Vec<(Crop, f32)> = crops().into_iter().map(|c| (c, similarity(&c, &few))).collect();
    coarse.sort_by(|a, b| b.1.total_cmp(&a.1));
    coarse.truncate(FINALISTS);
    let best = coarse
        .into_iter()
        .map(|(c, _)| (c, similarity(&c, &pairs)))
        .fold(None, |best: Option<(Crop, f32)>, (c, s)| best.filter(|b| b.1 >= s).or(Some((c, s))))?;
    Some(Fit { crop: best.0, similarity: best.1, whole: similarity(&Crop::WHOLE, &pairs) })
}

/// Raises the score of every segment that verification could lift over `min_score` by
/// how well its best crop explains its frames. Segments already over it are left alone
/// (the search costs about 2 ms a segment), as are those no verification could lift.
pub fn rescore(segs: &mut [Segment], q: &QueryFrames, r: &RefFrames, p: &AlignParams) {
    let most = 1.0 + p.verify_gain * (1.0 - p.verify_floor);
    let tables = Tables::new();
    segs.par_iter_mut().filter(|s| s.score < p.min_score && s.score * most >= p.min_score).for_each(|s| {
        if let Some(fit) = best_crop(s, q, r, &tables, p.min_energy) {
            // What the crop explains beyond the whole pictures: in a static scene a wrong
            // line resembles the frames as well as the right one, crop or none.
            s.score *= 1.0 + p.verify_gain * (fit.similarity - fit.whole.max(p.verify_floor)).max(0.0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::frames_by_video;
    use crate::frame::{Rect, resample};
    use crate::search::Neighbours;

    /// A 128x128 picture of a few random low-frequency waves, different for every seed.
    fn picture(seed: u64) -> Gray {
        let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f32 / (1u64 << 53) as f32
        };
        let waves: Vec<[f32; 4]> = (0..6)
            .map(|_| [1.0 + 5.0 * next(), 1.0 + 5.0 * next(), std::f32::consts::TAU * next(), 40.0 * next()])
            .collect();
        let side = 128;
        let data = (0..side * side)
            .map(|i| {
                let (x, y) = ((i % side) as f32 / side as f32, (i / side) as f32 / side as f32);
                let v: f32 =
                    waves.iter().map(|w| w[3] * (std::f32::consts::TAU * (w[0] * x + w[1] * y) + w[2]).cos()).sum();
                (128.0 + v).clamp(0.0, 255.0) as u8
            })
            .collect();
        Gray { w: side, h: side, data }
    }

    /// Fits a segment of 20 upload frames (2/s) that show catalogue frames 0, 2, 4, ...
    /// (4/s) through `shown`, a region of each picture in fractions.
    fn fit(shown: Crop) -> (Fit, Segment, f32) {
        let tables = Tables::new();
        let sources: Vec<Gray> = (0..40).map(picture).collect();
        let pictures: Vec<PackedImage> = sources.iter().map(|g| resample(g, Rect::full(g))).collect();
        let words: Vec<u32> = pictures.iter().flat_map(|p| describe(p, &tables).words).collect();
        let video = vec![0u32; 40];
        let t: Vec<f64> = (0..40).map(|i| i as f64 * 0.25).collect();
        let by_video = frames_by_video(&video, &t, 1);
        let energy = vec![1000u32; 40];
        let refs = RefFrames {
            video: &video,
            t: &t,
            energy: &energy,
            duration: &[10.0],
            words: &words,
            views: 1,
            by_video: &by_video,
            pictures: &pictures,
        };
        let qt: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
        let qwords: Vec<_> = (0..20)
            .map(|i| {
                let g = &sources[2 * i];
                let side = g.w as f32;
                let r = Rect {
                    x0: shown.x0 * side,
                    y0: shown.y0 * side,
                    x1: (shown.x0 + shown.w) * side,
                    y1: (shown.y0 + shown.h) * side,
                };
                describe(&resample(g, r), &tables).words
            })
            .collect();
        let views: Vec<_> = (0..20).map(|i| i..i + 1).collect();
        let neighbours: Vec<Neighbours> = vec![[crate::search::Hit::EMPTY; crate::search::TOPK]; 20];
        let q = QueryFrames {
            t: &qt,
            words: &qwords,
            views: &views,
            energy: &energy[..20],
            neighbours: &neighbours,
            period: 0.5,
            duration: 10.0,
        };
        let seg = Segment {
            video: 0,
            mirrored: false,
            query_start: 0.0,
            query_end: 10.0,
            ref_start: 0.0,
            ref_end: 10.0,
            speed: 1.0,
            offset: 0.0,
            score: 0.5,
            frames: 20,
            core: (0.0, 9.5),
        };
        let p = AlignParams::default();
        let fit = best_crop(&seg, &q, &refs, &tables, p.min_energy).expect("pictures on the line");
        let mut lifted = [seg.clone()];
        rescore(&mut lifted, &q, &refs, &p);
        (fit, seg, lifted[0].score)
    }

    #[test]
    fn finds_the_crop_an_upload_made() {
        let (fit, seg, lifted) = fit(Crop { x0: 0.2, y0: 0.05, w: 0.7, h: 0.9 });
        assert!((fit.crop.w - 0.7).abs() < 0.11 && (fit.crop.h - 0.9).abs() < 0.11, "{fit:?}");
        assert!(fit.similarity > 0.7 && fit.similarity > fit.whole + 0.2, "{fit:?}");
        assert!(lifted > seg.score * 1.4, "{lifted} from {}", seg.score);
    }

    #[test]
    fn a_picture_shown_whole_gains_nothing() {
        let (fit, seg, lifted) = fit(Crop::WHOLE);
        assert!(fit.whole > 0.9, "{fit:?}");
        assert!(lifted < seg.score * 1.1, "{lifted} from {}", seg.score);
    }
}

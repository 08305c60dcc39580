//! Stage 7, `cuts`: a reported segment that runs over jump cuts, split into its clips.
//! A recap plays clips of one episode in story order with skips between them: one line
//! through all of them, steeper than any clip plays (the skips add to the slope), fits
//! them well enough to be found, and reports one catalogue range that none of them
//! shows. Each clip is a run of frames that resemble the catalogue along one offset.

use crate::matching::config::MatchConfig;
use crate::matching::model::{QueryFrames, RefFrames, Segment};
use std::collections::HashMap;

/// The clips of `s`: itself where its frames follow one line, else one segment per run
/// of frames that follow another offset (a jump of `cuts.min_jump_s` or more), found by
/// dynamic programming over its frames and offsets within `cuts.window_s` of its line,
/// each cut costing `cuts.penalty` of summed similarity. Each clip keeps the segment's
/// score: the segment's evidence found the video, the cuts only place its clips.
pub fn cut(s: &Segment, q: &QueryFrames, r: &RefFrames, c: &MatchConfig) -> Vec<Segment> {
    let p = &c.cuts;
    let frames: Vec<usize> =
        q.within((s.query_start, s.query_end)).filter(|&i| q.energy[i] >= c.vote.min_energy).collect();
    if frames.len() < 2 * p.min_frames {
        return vec![s.clone()];
    }
    let mid = 0.5 * (s.query_start + s.query_end);
    let at = s.line().at(mid);
    let reach = (p.window_s / p.step_s).round() as i32;
    let jump = (p.min_jump_s / p.step_s).ceil() as i32;
    let mut known: HashMap<(usize, usize), f32> = HashMap::new();
    let mut best: Option<Fit> = None;
    for &factor in &p.speed_factors {
        let speed = s.speed * factor;
        if !(c.vote.min_speed..=c.vote.max_speed).contains(&speed) {
            continue;
        }
        // sims[k][d]: frame k on the line at `speed` moved by d steps; 0 off the video.
        let sims: Vec<Vec<f32>> = frames
            .iter()
            .map(|&i| {
                (-reach..=reach)
                    .map(|d| {
                        let tr = at + speed * (q.t[i] - mid) + f64::from(d) * p.step_s;
                        r.nearest(s.video, tr).map_or(0.0, |f| {
                            *known
                                .entry((i, f))
                                .or_insert_with(|| r.frame_similarity(q.probe(i), f, s.mirrored).unwrap_or(0.0))
                        })
                    })
                    .collect()
            })
            .collect();
        let (value, path) = best_path(&sims, jump, p.penalty);
        if best.as_ref().is_none_or(|b| value > b.value) {
            best = Some(Fit { value, speed, path, sims });
        }
    }
    let Some(Fit { speed, path, sims, .. }) = best else {
        return vec![s.clone()];
    };
    // Runs of one offset, their ends trimmed of frames that do not resemble it (the
    // talking head between two clips).
    let mut clips = Vec::new();
    let mut k = 0;
    while k < path.len() {
        let d = path[k];
        let end = (k..path.len()).find(|&j| path[j] != d).unwrap_or(path.len());
        let on = |j: &usize| sims[*j][(d + reach) as usize] >= p.min_similarity;
        if let (Some(a), Some(b)) = ((k..end).find(on), (k..end).rev().find(on))
            && b + 1 - a >= p.min_frames
        {
            clips.push((a, b, d));
        }
        k = end;
    }
    // Each clip must resemble its own offset clearly better than its neighbours': on
    // static footage every offset fits about as well, and the best of many wins by
    // chance. Neighbours must be a jump apart: two runs a little apart, once the frames
    // between them are dropped, are one clip that the line's speed drifts off. And they
    // must not show the same catalogue stretch twice: a run that goes back over its
    // neighbour's stretch is a static shot matched again (a talking head), or one clip
    // whose frames tie on a still moment (make_queries.py seed 3, `q0027`).
    let mean = |(a, b, _): (usize, usize, i32), d: i32| {
        (a..=b).map(|j| sims[j][(d + reach) as usize]).sum::<f32>() / (b + 1 - a) as f32
    };
    let shown = |(a, b, d): (usize, usize, i32)| {
        let at_frame = |j: usize| at + f64::from(d) * p.step_s + speed * (q.t[frames[j]] - mid);
        (at_frame(a), at_frame(b))
    };
    let clear = |x: (usize, usize, i32), y: (usize, usize, i32)| {
        let ((a0, b0), (a1, b1)) = (shown(x), shown(y));
        (y.2 - x.2).abs() >= jump
            && (a1 > b0 || b1 < a0)
            && mean(x, x.2) - mean(x, y.2) >= p.min_gain
            && mean(y, y.2) - mean(y, x.2) >= p.min_gain
    };
    // Of two neighbours that are not clearly apart, the one with less evidence (summed
    // similarity on its own offset) is no clip: a run on the frames of an insert, or a
    // stretch of a static shot. The rest are judged again, so that one such run does not
    // keep every other clip of the recap merged.
    let evidence = |x: (usize, usize, i32)| mean(x, x.2) * (x.1 + 1 - x.0) as f32;
    while let Some(k) = (1..clips.len()).find(|&k| !clear(clips[k - 1], clips[k])) {
        clips.remove(if evidence(clips[k - 1]) < evidence(clips[k]) { k - 1 } else { k });
    }
    if clips.len() < 2 {
        return vec![s.clone()];
    }
    let dur = r.duration[s.video as usize];
    clips
        .into_iter()
        .map(|(a, b, d)| {
            let mut clip = s.clone();
            clip.speed = speed;
            clip.offset = at + f64::from(d) * p.step_s - speed * mid;
            clip.frames = (b + 1 - a) as u32;
            clip.core = (q.t[frames[a]], q.t[frames[b]]);
            let (start, end) = q.range(frames[a], frames[b]);
            clip.span(start, end, dur);
            clip
        })
        .collect()
}

/// The best cut of a segment at one speed: its summed similarity less penalties, the
/// offset (steps from the line) of each frame, and each frame's similarity at each offset.
struct Fit {
    value: f32,
    speed: f64,
    path: Vec<i32>,
    sims: Vec<Vec<f32>>,
}

/// The offset (column of `sims`) of each frame (row) that maximises the summed
/// similarity less `penalty` per change of offset, a change being `jump` columns or
/// more; with that sum.
fn best_path(sims: &[Vec<f32>], jump: i32, penalty: f32) -> (f32, Vec<i32>) {
    let width = sims[0].len();
    let mut value = sims[0].clone();
    let mut from: Vec<Vec<usize>> = vec![(0..width).collect()];
    for row in &sims[1..] {
        let mut next = vec![0.0; width];
        let mut back = vec![0; width];
        for d in 0..width {
            let (mut v, mut b) = (value[d], d);
            for (e, &w) in value.iter().enumerate() {
                if (e as i32 - d as i32).abs() >= jump && w - penalty > v {
                    (v, b) = (w - penalty, e);
                }
            }
            (next[d], back[d]) = (v + row[d], b);
        }
        value = next;
        from.push(back);
    }
    let (mut d, total) =
        value.iter().enumerate().fold((0, f32::MIN), |(bd, bv), (d, &v)| if v > bv { (d, v) } else { (bd, bv) });
    let mut path = vec![0i32; sims.len()];
    for k in (0..sims.len()).rev() {
        path[k] = d as i32 - (width as i32 - 1) / 2;
        d = from[k][d];
    }
    (total, path)
}

#[cfg(test)]
mod tests {
    use super::{best_path, cut};
    use crate::kernels::descriptor::Tables;
    use crate::matching::config::MatchConfig;
    use crate::matching::model::Segment;
    use crate::testkit::{CATALOGUE_RATE, Catalogue, UPLOAD_PERIOD, Upload};

    /// Frames at 2/s of video 0 at normal speed: `frames` from each `start` in turn.
    fn runs(cat: &Catalogue, pieces: &[(f64, usize)]) -> Upload {
        let at: Vec<f64> =
            pieces.iter().flat_map(|&(start, n)| (0..n).map(move |k| start + k as f64 * UPLOAD_PERIOD)).collect();
        let mut u = Upload::new(cat, &Tables::new(), at.len(), 0, 0..0, 0..0, 1.0, 0.0);
        for (w, t) in u.words.iter_mut().zip(at) {
            *w = cat.frame_words((t * CATALOGUE_RATE).round() as usize);
        }
        u
    }

    /// 24 frames: 4 s from each of `starts` in turn.
    fn recap(cat: &Catalogue, starts: [f64; 3]) -> Upload {
        runs(cat, &starts.map(|t| (t, 8)))
    }

    fn merged(speed: f64, offset: f64) -> Segment {
        merged_over(12.0, speed, offset)
    }

    /// A segment of video 0 over the first `end` seconds of an upload.
    fn merged_over(end: f64, speed: f64, offset: f64) -> Segment {
        let mut s = Segment {
            video: 0,
            mirrored: false,
            query_start: 0.0,
            query_end: end,
            ref_start: 0.0,
            ref_end: 0.0,
            speed,
            offset,
            score: 3.0,
            frames: (end / UPLOAD_PERIOD) as u32,
            core: (0.0, end - UPLOAD_PERIOD),
            evidence: None,
            probability: None,
        };
        s.span(0.0, end, 100.0);
        s
    }

    #[test]
    fn a_line_through_three_clips_with_skips_between_is_cut_into_the_clips() {
        let cat = Catalogue::new(1, &Tables::new(), 0.0);
        let c = MatchConfig::default();
        // Catalogue 10-14 s, 15.5-19.5 s and 21-25 s: one line at 1.25x runs through all
        // three, touching each.
        let u = recap(&cat, [10.0, 15.5, 21.0]);
        let clips = cut(&merged(1.25, 10.0), &u.frames(), &cat.refs(), &c);
        let got: Vec<_> = clips.iter().map(|s| (s.query_start, s.query_end, s.ref_start, s.speed)).collect();
        assert_eq!(clips.len(), 3, "{got:?}");
        let expected: [(f64, f64); 3] = [(0.0, 10.0), (4.0, 15.5), (8.0, 21.0)];
        for (clip, (qs, rs)) in clips.iter().zip(expected) {
            assert!((clip.speed - 1.0).abs() < 1e-9, "{got:?}");
            // Half a sampling period before its first frame.
            assert!((clip.query_start - (qs - 0.25).max(0.0)).abs() < 1e-9, "{got:?}");
            assert!((clip.ref_start - rs).abs() < 0.3, "{got:?}");
            assert_eq!(clip.score, 3.0, "a clip keeps the segment's score");
        }
        // One clip played through is left whole.
        let one = recap(&cat, [10.0, 14.0, 18.0]);
        assert_eq!(cut(&merged(1.0, 10.0), &one.frames(), &cat.refs(), &c), vec![merged(1.0, 10.0)]);
        // Runs that go back over each other's catalogue stretch (10-13.5 s, 12-15.5 s,
        // 14-17.5 s) are not cut apart, however well each fits.
        let again = recap(&cat, [10.0, 12.0, 14.0]);
        assert_eq!(cut(&merged(1.0, 10.0), &again.frames(), &cat.refs(), &c), vec![merged(1.0, 10.0)]);
    }

    #[test]
    fn a_short_run_over_its_neighbours_stretch_is_dropped_not_left_to_keep_the_recap_whole() {
        let cat = Catalogue::new(1, &Tables::new(), 0.0);
        let c = MatchConfig::default();
        // Clips from 10, 15.5 and 24 s, and between the last two 2 s that show 16-17.5 s
        // again (a run on an insert's frames, or on a still moment): that run and its
        // neighbour show the same stretch, so they are not apart; the run, with less
        // evidence, goes, and the three clips are cut apart around it.
        let u = runs(&cat, &[(10.0, 8), (15.5, 8), (16.0, 4), (24.0, 8)]);
        let clips = cut(&merged_over(14.0, 1.0, 11.0), &u.frames(), &cat.refs(), &c);
        let got: Vec<_> = clips.iter().map(|s| (s.query_start, s.query_end, s.ref_start)).collect();
        assert_eq!(clips.len(), 3, "{got:?}");
        for (clip, (qs, rs)) in clips.iter().zip([(0.0, 10.0), (4.0, 15.5), (10.0, 24.0)]) {
            assert!((clip.query_start - (qs - 0.25f64).max(0.0)).abs() < 1e-9, "{got:?}");
            assert!((clip.ref_start - rs).abs() < 0.3, "{got:?}");
        }
    }

    #[test]
    fn a_run_that_resembles_another_offset_better_by_more_than_the_penalty_is_cut_off() {
        // Offsets -1, 0, 1 (columns 0-2); the first three frames follow offset 0, the
        // last three offset 1 strongly, then offset -1 weakly.
        let row = |a: f32, b: f32, c: f32| vec![a, b, c];
        let sims =
            vec![row(0.1, 0.8, 0.2), row(0.1, 0.8, 0.2), row(0.1, 0.8, 0.2), row(0.1, 0.2, 0.9), row(0.1, 0.2, 0.9)];
        assert_eq!(best_path(&sims, 1, 0.5).1, [0, 0, 0, 1, 1]);
        // A penalty above the gain (2 x 0.7) keeps one offset.
        assert_eq!(best_path(&sims, 1, 1.5).1, [0, 0, 0, 0, 0]);
        // A jump must be 2 columns at least: 0 -> 1 is not one, and -1 gains nothing.
        assert_eq!(best_path(&sims, 2, 0.5).1, [0, 0, 0, 0, 0]);
    }
}

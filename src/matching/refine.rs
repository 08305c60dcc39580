//! Stage 5, `refine`: a reported segment's catalogue range moved onto the line, near
//! the voted one, that its pictures resemble best. The voted line comes from the few
//! frames whose top neighbours agree and from offset bins half a second wide, and least
//! squares over them is only tried on 3.5 s or more: a fifth of the true segments of
//! the nine sets of the issue-3 note were fitted more than 5% off their speed.

use crate::matching::config::MatchConfig;
use crate::matching::grow::grow;
use crate::matching::model::{QueryFrames, RefFrames, Segment};
use std::collections::HashMap;

/// Judges lines through one segment's upload range by its pictures: the mean similarity
/// of its frames (at most `refine.max_frames`, spread over it) to the catalogue frame
/// nearest the line, of the segment's video and orientation. The lines tried cross the
/// same few catalogue frames over and over: each (frame, catalogue frame) similarity is
/// computed once.
pub struct LineJudge {
    video: u32,
    mirrored: bool,
    frames: Vec<usize>,
    known: Vec<HashMap<usize, Option<f32>>>,
    /// Upload time at the middle of the range: lines are given by their catalogue time there.
    pub mid: f64,
}

impl LineJudge {
    /// None when the segment has under `refine.min_frames` frames with a picture.
    pub fn new(s: &Segment, q: &QueryFrames, c: &MatchConfig) -> Option<Self> {
        let frames: Vec<usize> =
            q.within((s.query_start, s.query_end)).filter(|&i| q.energy[i] >= c.vote.min_energy).collect();
        if frames.len() < c.refine.min_frames {
            return None;
        }
        // A long segment is judged on frames spread over it: as good a judge, at a bounded
        // cost.
        let step = frames.len().div_ceil(c.refine.max_frames);
        let frames: Vec<usize> = frames.into_iter().step_by(step).collect();
        let known = vec![HashMap::new(); frames.len()];
        Some(LineJudge {
            video: s.video,
            mirrored: s.mirrored,
            frames,
            known,
            mid: 0.5 * (s.query_start + s.query_end),
        })
    }

    /// Frames the judge compares.
    pub fn count(&self) -> usize {
        self.frames.len()
    }

    /// Similarity of frame `k` of the judge to the catalogue frame nearest time `tr`;
    /// None off the video.
    pub fn similarity(&mut self, k: usize, tr: f64, q: &QueryFrames, r: &RefFrames) -> Option<f32> {
        let f = r.nearest(self.video, tr)?;
        let probe = q.probe(self.frames[k]);
        Some(self.known[k].entry(f).or_insert_with(|| r.frame_similarity(probe, f, self.mirrored)).unwrap_or(0.0))
    }

    /// Catalogue time of frame `k` on the line at `speed` through catalogue time `at` at
    /// `mid`.
    pub fn time(&self, k: usize, speed: f64, at: f64, q: &QueryFrames) -> f64 {
        at + speed * (q.t[self.frames[k]] - self.mid)
    }

    /// Mean similarity along the line at `speed` through catalogue time `at` at `mid`. A
    /// frame the line takes off the video counts 0 (else a line gains by dropping weak
    /// frames); a line that leaves the video for half the frames or more gets None.
    fn mean(&mut self, speed: f64, at: f64, q: &QueryFrames, r: &RefFrames) -> Option<f32> {
        let (mut sum, mut n) = (0.0, 0);
        for k in 0..self.frames.len() {
            if let Some(m) = self.similarity(k, self.time(k, speed, at, q), q, r) {
                sum += m;
                n += 1;
            }
        }
        (n * 2 > self.frames.len()).then(|| sum / self.frames.len() as f32)
    }
}

/// Moves a reported segment's line, within `refine.speed_steps` steps of its speed and
/// `refine.shifts` shifts of its catalogue time, to the one along which its upload
/// frames resemble the catalogue frame nearest the line best on average. Every frame of
/// the range judges the refined line, by its picture rather than by its neighbour list.
/// The range then grows along the refined line where it can; the score stays as it is.
pub fn refine(s: &mut Segment, judge: &mut LineJudge, q: &QueryFrames, r: &RefFrames, c: &MatchConfig) {
    let p = &c.refine;
    let mid = judge.mid;
    let at = s.line().at(mid);
    let Some(voted) = judge.mean(s.speed, at, q, r) else {
        return;
    };
    let mut best = None;
    let mut beat = voted + p.margin;
    for k in -p.speed_steps..=p.speed_steps {
        let speed = s.speed * (1.0 + p.speed_step * k as f64);
        if !(c.vote.min_speed..=c.vote.max_speed).contains(&speed) {
            continue;
        }
        for d in -p.shifts..=p.shifts {
            let shifted = at + p.shift_s * d as f64;
            if let Some(m) = judge.mean(speed, shifted, q, r).filter(|&m| m > beat) {
                (best, beat) = (Some((speed, shifted)), m);
            }
        }
    }
    let Some((speed, at)) = best else {
        return;
    };
    // The range grew along the voted line: frames past its ends may still resemble the
    // refined one. (`resolve` ran before: a grown end may reach over frames it gave to
    // another line of the video; running it again, or stopping growth at the other
    // segments' evidence, cut true clips of seed 9 short and was left out.)
    (s.speed, s.offset) = (speed, at - speed * mid);
    let (mut start, mut end) = (s.query_start, s.query_end);
    let core: Vec<usize> = q.within(s.core).collect();
    if let (Some(&a), Some(&b)) = (core.first(), core.last()) {
        let (first, last) = grow(a, b, &s.line(), q, r, c);
        let (grown_start, grown_end) = q.range(first, last);
        (start, end) = (start.min(grown_start), end.max(grown_end));
    }
    s.span(start, end, r.duration[s.video as usize]);
}

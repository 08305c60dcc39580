//! Stages 8 and 9, `select` and the judge: the segments reported, out of every pass over
//! one upload.

use crate::matching::config::MatchConfig;
use crate::matching::model::{RefFrames, Segment};

/// The score `s` must reach to be judged: `select.min_score`, and `select.chance_margin`
/// times its video's chance score.
pub fn bar(s: &Segment, r: &RefFrames, c: &MatchConfig) -> f32 {
    let chance = r.chance.get(s.video as usize).copied().unwrap_or(0.0);
    c.select.min_score.max(c.select.chance_margin * chance)
}

/// The judge's probability that `s` is a true clip (`config::JudgeConfig`).
pub fn probability(s: &Segment, c: &MatchConfig) -> f32 {
    let j = &c.judge;
    let (similarity, contrast) = s.evidence.map_or((0.0, 0.0), |e| (e.similarity, e.contrast));
    let slow = if s.speed < j.slow_speed { 1.0 } else { 0.0 };
    let z = j.intercept
        + j.ln_score * s.score.max(1e-3).ln()
        + j.ln_speed * (s.speed as f32).ln().abs()
        + j.slow * slow
        + j.similarity * similarity
        + j.contrast * contrast
        + j.ln_frames * (s.frames.max(1) as f32).ln();
    1.0 / (1.0 + (-z).exp())
}

/// The segments to report out of `candidates` (possibly of several passes over the same
/// upload): those over their video's `bar` that no stronger one makes redundant and
/// that the judge finds likely enough (`judge.min_probability`, or
/// `judge.confirmed_min_probability` once one of them reaches that), most likely first,
/// at most `select.max_segments`, each with its `probability`.
pub fn select(mut out: Vec<Segment>, r: &RefFrames, c: &MatchConfig) -> Vec<Segment> {
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.query_start.total_cmp(&b.query_start)));
    let mut kept: Vec<Segment> = Vec::new();
    for s in out {
        if s.score >= bar(&s, r, c) && !kept.iter().any(|k| shadows(k, &s, c)) {
            kept.push(s);
        }
    }
    let mut judged: Vec<Segment> =
        kept.into_iter().map(|s| Segment { probability: Some(probability(&s, c)), ..s }).collect();
    let p = |s: &Segment| s.probability.unwrap_or(0.0);
    let j = &c.judge;
    let floor = if judged.iter().any(|s| p(s) >= j.min_probability) {
        j.confirmed_min_probability.min(j.min_probability)
    } else {
        j.min_probability
    };
    judged.retain(|s| p(s) >= floor);
    judged.sort_by(|a, b| p(b).total_cmp(&p(a)).then(a.query_start.total_cmp(&b.query_start)));
    judged.truncate(c.select.max_segments);
    judged
}

/// Whether the stronger segment `k` makes `s` redundant: mostly the same stretch of
/// upload, and either the same video (a fragment of the same clip) or much weaker
/// evidence for another video.
fn shadows(k: &Segment, s: &Segment, c: &MatchConfig) -> bool {
    let inter = (k.query_end.min(s.query_end) - k.query_start.max(s.query_start)).max(0.0);
    let shorter = (k.query_end - k.query_start).min(s.query_end - s.query_start).max(1e-9);
    if inter / shorter < c.select.shadow_overlap {
        return false;
    }
    k.video == s.video || s.score < c.select.shadow_share * k.score
}

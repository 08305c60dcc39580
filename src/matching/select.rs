//! Stage 7, `select`: the segments reported, out of every pass over one upload.

use crate::matching::config::MatchConfig;
use crate::matching::model::{RefFrames, Segment};

/// The score `s` must reach to be reported: `select.min_score` (`select.slow_min_score`
/// for a slow segment), and `select.chance_margin` times its video's chance score.
pub fn bar(s: &Segment, r: &RefFrames, c: &MatchConfig) -> f32 {
    let p = &c.select;
    let chance = r.chance.get(s.video as usize).copied().unwrap_or(0.0);
    let least = if s.speed < p.slow_speed { p.slow_min_score.max(p.min_score) } else { p.min_score };
    least.max(p.chance_margin * chance)
}

/// The segments to report out of `candidates` (possibly of several passes over the same
/// upload): those over their video's `bar` that no stronger one makes redundant, best
/// first, at most `select.max_segments`.
pub fn select(mut out: Vec<Segment>, r: &RefFrames, c: &MatchConfig) -> Vec<Segment> {
    let p = &c.select;
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.query_start.total_cmp(&b.query_start)));
    let mut kept: Vec<Segment> = Vec::new();
    for s in out {
        if s.score >= bar(&s, r, c) && !kept.iter().any(|k| shadows(k, &s, c)) {
            kept.push(s);
        }
    }
    kept.truncate(p.max_segments);
    kept
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

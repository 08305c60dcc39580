//! Stage 2, `grow`: a segment's range extended along its line over upload frames that
//! still resemble the catalogue frame the line predicts. Votes come from the top
//! neighbours only, which a hard edit often misses for part of a clip.

use crate::matching::config::MatchConfig;
use crate::matching::model::{Line, QueryFrames, RefFrames, Segment};

/// Grows `s` from the frames that voted for it (its core) along its line.
pub fn grow_segment(s: &mut Segment, q: &QueryFrames, r: &RefFrames, c: &MatchConfig) {
    let core: Vec<usize> = q.within(s.core).collect();
    if let (Some(&a), Some(&b)) = (core.first(), core.last()) {
        let (first, last) = grow(a, b, &s.line(), q, r, c);
        let (start, end) = q.range(first, last);
        s.span(start, end, r.duration[s.video as usize]);
    }
}

/// The upload frames `first..=last` of a segment on `line`, grown on both sides over
/// frames that still resemble the catalogue frame the line predicts, bridging at most
/// `grow.max_gap_s` of frames that do not.
pub fn grow(first: usize, last: usize, line: &Line, q: &QueryFrames, r: &RefFrames, c: &MatchConfig) -> (usize, usize) {
    let p = &c.grow;
    let dur = r.duration[line.video as usize];
    let on_line = |i: usize| {
        q.energy[i] >= c.vote.min_energy
            && (-r.near_s..=dur + r.near_s).contains(&line.at(q.t[i]))
            && line.similarity(i, q, r).is_some_and(|s| s >= p.min_similarity)
    };
    let walk = |from: usize, step: fn(usize) -> Option<usize>| {
        let mut edge = from;
        let mut i = from;
        while let Some(next) = step(i).filter(|&n| n < q.t.len()) {
            if (q.t[next] - q.t[edge]).abs() > p.max_gap_s + p.gap_slack_periods * q.period {
                break;
            }
            if on_line(next) {
                edge = next;
            }
            i = next;
        }
        edge
    };
    (walk(first, |i| i.checked_sub(1)), walk(last, |i| i.checked_add(1)))
}

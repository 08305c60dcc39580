//! Temporal alignment: from an upload's frames and their catalogue neighbours to the
//! segments reported, each mapping an upload time range onto a catalogue time range.
//!
//! Owns the model types (`model`), its settings (`config`) and one file per stage, run
//! in this order by `candidates` below: `vote` -> `grow` -> `resolve` (per video and
//! orientation) -> `refine` -> `still` -> `cuts` (then each segment's `still::evidence`),
//! then `select` over every pass of an upload. `find` runs the two passes of an upload:
//! the whole picture's views, then the parts of the frame (halves, picture-in-picture
//! windows) with their votes weighted.
//!
//! Uses `kernels` (descriptors, neighbour lists); never `frame`, `ingest`, `store` or
//! `job`. No stage uses a later one.

pub mod config;
pub mod cuts;
pub mod grow;
pub mod model;
pub mod refine;
pub mod resolve;
pub mod select;
pub mod still;
pub mod vote;

use crate::kernels::descriptor::{Descriptor, WORDS};
use crate::kernels::search::{Neighbours, union};
use config::MatchConfig;
use model::{QueryFrames, RefFrames, Segment};
use std::collections::BTreeMap;
use std::ops::Range;

/// Segments of one pass over an upload, best first.
pub fn align(q: &QueryFrames, r: &RefFrames, c: &MatchConfig) -> Vec<Segment> {
    select::select(candidates(q, r, c, 1.0), r, c)
}

/// Every segment found in one pass over an upload's votes, each vote counting `weight`,
/// unsorted and unfiltered: the stages up to `select`, in order.
fn candidates(q: &QueryFrames, r: &RefFrames, c: &MatchConfig, weight: f32) -> Vec<Segment> {
    // The videos that could score highest are searched first, so that the search cap
    // (`vote::Strongest`) drops the weakest lines of the whole catalogue, not the
    // videos listed last.
    let mut groups: Vec<_> =
        vote::groups(q, r, c).into_iter().map(|(key, v)| (vote::ceiling(&v, q.t.len()), key, v)).collect();
    groups.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut strong = vote::Strongest::new(c);
    let mut by_key = BTreeMap::new();
    for (_, key, votes) in groups {
        let mut segs = vote::lines(votes, key, q, r, c, weight, &mut strong);
        segs.iter_mut().for_each(|s| grow::grow_segment(s, q, r, c));
        resolve::resolve(&mut segs, q, r, c);
        by_key.insert(key, segs);
    }
    let mut out: Vec<Segment> = by_key.into_values().flatten().collect();
    for s in out.iter_mut().filter(|s| s.score >= c.select.min_score) {
        let Some(mut judge) = refine::LineJudge::new(s, q, c) else {
            continue;
        };
        refine::refine(s, &mut judge, q, r, c);
        // Not evidence: dropped.
        if still::still(s, &mut judge, q, r, c) {
            s.score = 0.0;
        }
    }
    let mut out: Vec<Segment> = out
        .into_iter()
        .flat_map(|s| if s.score >= c.select.min_score { cuts::cut(&s, q, r, c) } else { vec![s] })
        .collect();
    for s in out.iter_mut().filter(|s| s.score >= c.select.min_score) {
        s.evidence = still::evidence(s, q, r, c);
    }
    out
}

/// One upload as the kernels left it: every view's descriptor and neighbours, and for
/// each sampled frame the range of its views, of which the last `parts[i]` show a part
/// of the frame.
pub struct Upload<'a> {
    pub times: &'a [f64],
    pub descriptors: &'a [Descriptor],
    pub neighbours: &'a [Neighbours],
    pub ranges: &'a [Range<usize>],
    pub parts: &'a [u8],
    /// How many of each frame's parts search the strips
    /// (`ingest::sample::Decoded::strip_parts`).
    pub strip_parts: &'a [u8],
    /// Sampling period and length, seconds.
    pub period: f64,
    pub duration: f64,
}

/// The segments reported for one upload: the whole picture's views and the parts of the
/// frame are aligned apart (a part holding unrelated footage would crowd the picture's
/// true neighbours out of a merged list), the parts' votes weighted by
/// `score.part_weight`, and one selection made over both.
pub fn find(u: &Upload, r: &RefFrames, c: &MatchConfig) -> Vec<Segment> {
    let words: Vec<[u32; WORDS]> = u.descriptors.iter().map(|d| d.words).collect();
    // A frame's energy is that of its detected picture, its first view.
    let energy: Vec<u32> = u.ranges.iter().map(|v| u.descriptors[v.start].energy).collect();
    let split: Vec<usize> = u.ranges.iter().zip(u.parts).map(|(v, &p)| v.end - p as usize).collect();
    let picture: Vec<_> = u.ranges.iter().zip(&split).map(|(v, &s)| v.start..s).collect();
    let parts: Vec<_> = u.ranges.iter().zip(&split).map(|(v, &s)| s..v.end).collect();
    let mut segments = Vec::new();
    // Some parts searched the strips, the last: compared with them there.
    let whole = vec![0; u.ranges.len()];
    // Each list is scored over its own background (`vote::relative`): the picture's
    // views together, as they frame one picture (each over its own, the bands of a
    // portrait canvas made false matches: dev 1 -> 2 false uploads, recap31 1 -> 5); the
    // parts each apart, as they show different pictures, and a part of unrelated footage
    // whose neighbours are all alike crowded out the right frame another part found
    // (hidden41 0.705 -> 0.734, recap34 0.573 -> 0.617).
    for (views, strip_parts, weight, apart) in
        [(&picture, &whole[..], 1.0, false), (&parts, u.strip_parts, c.score.part_weight, true)]
    {
        let neighbours: Vec<_> = views
            .iter()
            .map(|v| {
                let lists = &u.neighbours[v.clone()];
                if apart {
                    union(&lists.iter().map(|l| vote::relative(l, c)).collect::<Vec<_>>())
                } else {
                    vote::relative(&union(lists), c)
                }
            })
            .collect();
        let q = QueryFrames {
            t: u.times,
            words: &words,
            views,
            strip_parts,
            energy: &energy,
            neighbours: &neighbours,
            period: u.period,
            duration: u.duration,
        };
        segments.extend(candidates(&q, r, c, weight));
    }
    select::select(segments, r, c)
}

#[cfg(test)]
mod tests;

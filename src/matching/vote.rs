//! Stage 1, `vote`: the neighbours of an upload's frames vote on (catalogue video,
//! orientation, speed, offset); the strongest line of votes is refitted, its inliers
//! split at gaps into segments, their votes removed, and the search repeated, so that
//! several clips of several videos come out of one upload.

use crate::kernels::descriptor::DOT_ONE;
use crate::kernels::search::Neighbours;
use crate::matching::config::MatchConfig;
use crate::matching::model::{QueryFrames, RefFrames, Segment, speed_prior};
use std::collections::BTreeMap;

/// One usable neighbour of one upload frame.
#[derive(Clone, Copy, Debug)]
pub struct Vote {
    qi: usize,
    tq: f64,
    tr: f64,
    w: f32,
}

/// A catalogue video and orientation: votes are counted within one.
pub type Key = (u32, bool);

/// A list of neighbours, each scored less `vote.background_weight` times the list's 16th
/// best similarity (its background: high for generic pictures that resemble much of the
/// catalogue; none where the list is not full).
pub fn relative(list: &Neighbours, c: &MatchConfig) -> Neighbours {
    let background = list.last().filter(|h| !h.is_empty()).map_or(0, |h| h.score);
    let less = (c.vote.background_weight * background as f32).round() as i32;
    let mut out = *list;
    out.iter_mut().filter(|h| !h.is_empty()).for_each(|h| h.score -= less);
    out
}

/// Every usable neighbour of the upload's frames, by (video, mirrored): its score over
/// its background (`relative`) less `vote.min_similarity` is its vote.
pub fn groups(q: &QueryFrames, r: &RefFrames, c: &MatchConfig) -> BTreeMap<Key, Vec<Vote>> {
    let p = &c.vote;
    let mut groups: BTreeMap<Key, Vec<Vote>> = BTreeMap::new();
    for (qi, hits) in q.neighbours.iter().enumerate() {
        if q.energy[qi] < p.min_energy {
            continue;
        }
        for h in hits.iter().filter(|h| !h.is_empty()) {
            let w = h.score as f32 / DOT_ONE - p.min_similarity;
            if w <= 0.0 {
                continue;
            }
            // A compacted frame votes for every sample it stands for, as the repeats it
            // replaced would have.
            for f in r.samples(h.frame()) {
                if r.energy[f] < p.min_energy {
                    continue;
                }
                groups.entry((r.video[f], h.mirrored())).or_default().push(Vote { qi, tq: q.t[qi], tr: r.t[f], w });
            }
        }
    }
    groups
}

/// The highest score any segment of `votes` could reach: each upload frame's best vote.
pub fn ceiling(votes: &[Vote], frames: usize) -> f32 {
    let mut best = vec![0f32; frames];
    for v in votes {
        best[v.qi] = best[v.qi].max(v.w);
    }
    best.iter().sum()
}

/// The strongest segments found so far in one upload, at most `cap` of them: a line is
/// searched only if it could beat the weakest.
pub struct Strongest {
    cap: usize,
    min_score: f32,
    scores: Vec<f32>,
}

impl Strongest {
    pub fn new(c: &MatchConfig) -> Self {
        Strongest {
            cap: (c.select.max_segments * c.vote.search_cap).max(1),
            min_score: c.select.min_score,
            scores: Vec::new(),
        }
    }

    /// The score a segment must reach to count: `min_score`, or once `cap` segments
    /// reached it, the weakest of them.
    pub fn bar(&self) -> f32 {
        if self.scores.len() < self.cap { self.min_score } else { self.scores[self.cap - 1].max(self.min_score) }
    }

    fn add(&mut self, score: f32) {
        if score >= self.bar() {
            let at = self.scores.partition_point(|&s| s >= score);
            self.scores.insert(at, score);
            self.scores.truncate(self.cap);
        }
    }
}

/// The segments of one (video, orientation): lines searched strongest first while what
/// is left of the votes could still reach `strong.bar()`; each vote's score times
/// `weight`. Ranges are the inliers' own (`grow` extends them).
pub fn lines(
    mut votes: Vec<Vote>,
    key: Key,
    q: &QueryFrames,
    r: &RefFrames,
    c: &MatchConfig,
    weight: f32,
    strong: &mut Strongest,
) -> Vec<Segment> {
    let speeds = speeds(c);
    let mut out = Vec::new();
    // A segment scores at most the best vote of each upload frame it spans: groups (and
    // what is left of them) that cannot reach the bar are not searched, which on a large
    // catalogue skips nearly all of them.
    while ceiling(&votes, q.t.len()) * weight >= strong.bar() {
        let Some((speed, offset)) = best_line(&votes, &speeds, c) else {
            break;
        };
        let (segs, used) = extract(&votes, speed, offset, key, q, r, c, weight);
        if used.is_empty() {
            break;
        }
        segs.iter().for_each(|s| strong.add(s.score));
        out.extend(segs);
        votes.retain(|v| !used.contains(&v.qi));
    }
    out
}

/// The speeds searched: geometric steps from `min_speed` to `max_speed`.
fn speeds(c: &MatchConfig) -> Vec<f64> {
    let p = &c.vote;
    let mut v = Vec::new();
    let mut s = p.min_speed;
    while s <= p.max_speed * 1.0001 {
        v.push(s);
        s *= p.speed_step;
    }
    v
}

/// The (speed, offset) bin with the most vote weight, counting each upload frame once
/// per bin (its best neighbour there).
fn best_line(votes: &[Vote], speeds: &[f64], c: &MatchConfig) -> Option<(f64, f64)> {
    let p = &c.vote;
    let mut best: Option<(f32, f64, f64)> = None;
    // (offset bin, upload frame, weight), sorted so that each bin's votes, and within
    // it each frame's, are adjacent: cheaper than hashing bins for every speed.
    let mut entries: Vec<(i64, usize, f32)> = Vec::with_capacity(votes.len() * 2);
    for &s in speeds {
        let prior = speed_prior(s, p.bin_speed_penalty, p.bin_speed_penalty);
        entries.clear();
        for v in votes {
            let off = v.tr - s * v.tq;
            let b = (off / p.offset_bin_s).floor() as i64;
            // Each vote also counts for the neighbouring bin it is closest to, so a line
            // straddling a bin edge is not split in two.
            let frac = off / p.offset_bin_s - b as f64;
            let other = if frac < 0.5 { b - 1 } else { b + 1 };
            entries.push((b, v.qi, v.w));
            entries.push((other, v.qi, v.w));
        }
        entries.sort_unstable_by_key(|a| (a.0, a.1));
        let mut i = 0;
        while i < entries.len() {
            let bin = entries[i].0;
            let mut total = 0f32;
            // Each upload frame counts once per bin, with its best neighbour there.
            while i < entries.len() && entries[i].0 == bin {
                let (qi, mut w) = (entries[i].1, entries[i].2);
                i += 1;
                while i < entries.len() && entries[i].0 == bin && entries[i].1 == qi {
                    w = w.max(entries[i].2);
                    i += 1;
                }
                total += w;
            }
            let total = total * prior;
            let off = (bin as f64 + 0.5) * p.offset_bin_s;
            let better = match best {
                None => true,
                Some((bt, bs, bo)) => total > bt || (total == bt && (s, off) < (bs, bo)),
            };
            if better {
                best = Some((total, s, off));
            }
        }
    }
    best.filter(|b| b.0 > 0.0).map(|(_, s, o)| (s, o))
}

/// Best vote per upload frame within `tol` of the line.
fn inliers(votes: &[Vote], speed: f64, offset: f64, tol: f64) -> Vec<Vote> {
    let mut by_q: Vec<Vote> = Vec::new();
    for v in votes {
        if (v.tr - (speed * v.tq + offset)).abs() > tol {
            continue;
        }
        match by_q.iter_mut().find(|b| b.qi == v.qi) {
            Some(b) if v.w > b.w => *b = *v,
            Some(_) => {}
            None => by_q.push(*v),
        }
    }
    by_q.sort_by_key(|v| v.qi);
    by_q
}

/// Weighted least-squares line through the inliers, kept only if plausible.
fn refit(ins: &[Vote], speed: f64, offset: f64, c: &MatchConfig) -> (f64, f64) {
    let p = &c.vote;
    let sw: f64 = ins.iter().map(|v| v.w as f64).sum();
    if ins.len() < p.fit_min_inliers || sw <= 0.0 {
        return (speed, offset);
    }
    let mq = ins.iter().map(|v| v.w as f64 * v.tq).sum::<f64>() / sw;
    let mr = ins.iter().map(|v| v.w as f64 * v.tr).sum::<f64>() / sw;
    let sqq: f64 = ins.iter().map(|v| v.w as f64 * (v.tq - mq).powi(2)).sum();
    let sqr: f64 = ins.iter().map(|v| v.w as f64 * (v.tq - mq) * (v.tr - mr)).sum();
    if sqq / sw < p.fit_min_variance_s2 {
        return (speed, mr - speed * mq);
    }
    let s = sqr / sqq;
    if s < p.min_speed * p.fit_speed_slack.0 || s > p.max_speed * p.fit_speed_slack.1 {
        return (speed, offset);
    }
    (s, mr - s * mq)
}

/// The segments along the line `speed, offset` of `key` (refitted where that explains
/// more), and the upload frames whose votes they used.
#[allow(clippy::too_many_arguments)]
fn extract(
    votes: &[Vote],
    speed: f64,
    offset: f64,
    key: Key,
    q: &QueryFrames,
    r: &RefFrames,
    c: &MatchConfig,
    weight: f32,
) -> (Vec<Segment>, Vec<usize>) {
    let p = &c.vote;
    let grid = inliers(votes, speed, offset, p.inlier_s);
    let first = inliers(votes, speed, offset, p.inlier_s * p.fit_reach);
    let (fit_speed, fit_offset) = refit(&first, speed, offset, c);
    let fitted = inliers(votes, fit_speed, fit_offset, p.inlier_s);
    // The fit is kept only if it explains at least as much as the grid line did: on
    // static scenes least squares chases noise.
    let total = |v: &[Vote]| v.iter().map(|x| x.w).sum::<f32>();
    let (speed, offset, ins) =
        if total(&fitted) >= total(&grid) { (fit_speed, fit_offset, fitted) } else { (speed, offset, grid) };
    let dur = r.duration[key.0 as usize];
    let mut segs = Vec::new();
    let mut used = Vec::new();
    let mut run: Vec<Vote> = Vec::new();
    let mut flush = |run: &mut Vec<Vote>| {
        used.extend(run.iter().map(|v| v.qi));
        if run.len() >= p.min_frames {
            let (first, last) = (run[0], run[run.len() - 1]);
            let mut s = Segment {
                video: key.0,
                mirrored: key.1,
                query_start: 0.0,
                query_end: 0.0,
                ref_start: 0.0,
                ref_end: 0.0,
                speed,
                offset,
                // A static upload stretch matched to a static catalogue stretch packs its
                // votes tightest on a slow line: unrelated footage matches hub videos at
                // 0.5x-0.65x far more often than true clips play that slow.
                score: run.iter().map(|v| v.w).sum::<f32>()
                    * speed_prior(speed, c.score.slow_penalty, c.score.fast_penalty)
                    * weight,
                frames: run.len() as u32,
                core: (first.tq, last.tq),
                evidence: None,
                probability: None,
            };
            let (qs, qe) = q.range(first.qi, last.qi);
            s.span(qs, qe, dur);
            segs.push(s);
        }
        run.clear();
    };
    for v in ins {
        if let Some(last) = run.last()
            && v.tq - last.tq > p.max_gap_s
        {
            flush(&mut run);
        }
        run.push(v);
    }
    if !run.is_empty() {
        flush(&mut run);
    }
    (segs, used)
}

//! Stage 3, `resolve`: segments of one video and orientation whose grown ranges reach
//! over another's evidence. A static scene lets one clip's line grow over the next clip
//! of the same video, at another offset.

use crate::matching::config::MatchConfig;
use crate::matching::model::{Line, QueryFrames, RefFrames, Segment};

/// Over the frames in dispute the line the pictures resemble better wins: the loser's
/// range stops at the winner's evidence if it was only grown there, else it is left
/// whole for `select` to drop as shadowed. `segs` are of one video and orientation.
pub fn resolve(segs: &mut [Segment], q: &QueryFrames, r: &RefFrames, c: &MatchConfig) {
    let p = &c.resolve;
    for a in 0..segs.len() {
        for b in 0..segs.len() {
            let (sa, sb) = (&segs[a], &segs[b]);
            // Only comparable evidence contests a range.
            if a == b || sa.score < c.select.min_score || sb.score < p.min_share * sa.score {
                continue;
            }
            let after = sb.core.0 >= sa.core.1 && sa.query_end > sb.core.0;
            let before = sb.core.1 <= sa.core.0 && sa.query_start < sb.core.1;
            if !(after || before) {
                continue;
            }
            let disputed = (sb.core.0.max(sa.query_start), sb.core.1.min(sa.query_end));
            let mean_similarity = |line: &Line| {
                let sims: Vec<f32> = q.within(disputed).filter_map(|i| line.similarity(i, q, r)).collect();
                sims.iter().sum::<f32>() / sims.len().max(1) as f32
            };
            // In a static scene every line resembles the pictures about as well: a contest
            // is won by a clear margin only.
            if mean_similarity(&sb.line()) < mean_similarity(&sa.line()) + p.margin {
                continue;
            }
            // The boundary falls half a sampling period outside the winner's evidence.
            let half = 0.5 * q.period;
            let (start, end) =
                if after { (sa.query_start, sb.core.0 - half) } else { (sb.core.1 + half, sa.query_end) };
            segs[a].span(start, end, r.duration[segs[a].video as usize]);
        }
    }
}

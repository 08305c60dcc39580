//! What every stage of `matching` works on: the upload's frames with their neighbours,
//! the catalogue's frames, lines through them, and the segments the stages pass on.

use crate::kernels::descriptor::{DOT_ONE, WORDS, oriented_dot};
use crate::kernels::ivf::Descriptors;
use crate::kernels::search::Neighbours;

/// What alignment needs of the catalogue, sample by sample. A compacted catalogue
/// stores a frame that repeats its predecessors once, standing for every sample of its
/// time range (`Timeline`): the search's keys name stored frames, alignment's samples.
pub struct RefFrames<'a> {
    pub video: &'a [u32],
    pub t: &'a [f64],
    pub energy: &'a [u32],
    /// Each sample's stored frame, and each stored frame's first sample (one more entry
    /// at the end): stored frame `s` stands for samples `first[s]..first[s + 1]`.
    pub stored: &'a [u32],
    pub first: &'a [u32],
    /// Duration of each video.
    pub duration: &'a [f64],
    /// Each video's chance score (`store::background`; 0 where unknown).
    pub chance: &'a [f32],
    /// Each stored frame's view descriptors.
    pub descriptors: Descriptors<'a>,
    /// Each stored frame's strips (portrait strips, bands, halves), where held: compared
    /// with the upload parts that searched them only, as the search does.
    pub strips: Option<Descriptors<'a>>,
    /// Each video's samples in time order (`frames_by_video`).
    pub by_video: &'a [Vec<u32>],
    /// Catalogue frames within this many seconds of a time are near it
    /// (`GrowConfig::near_s`).
    pub near_s: f64,
}

/// The frames of each of `videos` videos in time order.
pub fn frames_by_video(video: &[u32], t: &[f64], videos: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); videos];
    for (f, &v) in video.iter().enumerate() {
        out[v as usize].push(f as u32);
    }
    for frames in &mut out {
        frames.sort_by(|&a, &b| t[a as usize].total_cmp(&t[b as usize]));
    }
    out
}

/// The catalogue's samples, a compacted frame's repeats restored: stored frame `s` at
/// time `t[s]` standing for `samples[s]` samples until `t_end[s]` is that many samples
/// spread evenly over the range, each with its descriptors and picture. An uncompacted
/// catalogue's samples are its stored frames.
pub struct Timeline {
    pub video: Vec<u32>,
    pub t: Vec<f64>,
    pub energy: Vec<u32>,
    pub stored: Vec<u32>,
    pub first: Vec<u32>,
    pub by_video: Vec<Vec<u32>>,
}

impl Timeline {
    pub fn new(
        video: &[u32],
        (t, t_end, samples): (&[f64], &[f64], &[u32]),
        energy: &[u32],
        videos: usize,
    ) -> Timeline {
        let mut out = Timeline {
            video: Vec::with_capacity(video.len()),
            t: Vec::with_capacity(video.len()),
            energy: Vec::with_capacity(video.len()),
            stored: Vec::with_capacity(video.len()),
            first: Vec::with_capacity(video.len() + 1),
            by_video: Vec::new(),
        };
        for s in 0..video.len() {
            out.first.push(out.t.len() as u32);
            let n = samples[s].max(1);
            let step = (t_end[s] - t[s]).max(0.0) / f64::from((n - 1).max(1));
            for k in 0..n {
                out.video.push(video[s]);
                out.t.push(t[s] + f64::from(k) * step);
                out.energy.push(energy[s]);
                out.stored.push(s as u32);
            }
        }
        out.first.push(out.t.len() as u32);
        out.by_video = frames_by_video(&out.video, &out.t, videos);
        out
    }
}

impl RefFrames<'_> {
    /// The samples stored frame `s` stands for.
    pub fn samples(&self, s: usize) -> std::ops::Range<usize> {
        self.first[s] as usize..self.first[s + 1] as usize
    }

    /// The frame of `video` nearest to time `tr`, if one lies near it.
    pub fn nearest(&self, video: u32, tr: f64) -> Option<usize> {
        let frames = &self.by_video[video as usize];
        let i = frames.partition_point(|&f| self.t[f as usize] < tr);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|k| frames.get(k).map(|&f| f as usize))
            .filter(|&f| (self.t[f] - tr).abs() <= self.near_s)
            .min_by(|&a, &b| (self.t[a] - tr).abs().total_cmp(&(self.t[b] - tr).abs()))
    }

    /// Best similarity of upload frame `p` to any view of the frames of `video` near time
    /// `tr`, the query mirrored or not.
    pub fn similarity_near(&self, p: Probe, video: u32, mirrored: bool, tr: f64) -> Option<f32> {
        let frames = &self.by_video[video as usize];
        let first = frames.partition_point(|&f| self.t[f as usize] < tr - self.near_s);
        frames[first..]
            .iter()
            .take_while(|&&f| self.t[f as usize] <= tr + self.near_s)
            .filter_map(|&f| self.frame_similarity(p, f as usize, mirrored))
            .reduce(f32::max)
    }

    /// Best similarity of any of the views of `p` to any view of sample `f`, and of its
    /// strip probes to any of its strips; None when there is none to compare.
    pub fn frame_similarity(&self, p: Probe, f: usize, mirrored: bool) -> Option<f32> {
        let stored = self.stored[f] as usize;
        let views = self.descriptors.of(stored);
        let dots = views.flat_map(|v| p.views.iter().map(move |q| oriented_dot(q, v, mirrored)));
        let strip_dots = self.strips.into_iter().flat_map(|strips| {
            strips.of(stored).flat_map(move |s| p.strips.iter().map(move |q| oriented_dot(q, s, mirrored)))
        });
        dots.chain(strip_dots).max().map(|b| b as f32 / DOT_ONE)
    }
}

/// What of one upload frame is compared with catalogue frames: its views with their
/// views, and its parts that searched the strips (`frame::FrameViews::strip_parts`)
/// with their strips.
#[derive(Clone, Copy)]
pub struct Probe<'q> {
    pub views: &'q [[u32; WORDS]],
    pub strips: &'q [[u32; WORDS]],
}

/// Upload frames: sample times, descriptors, energies and neighbours.
pub struct QueryFrames<'a> {
    pub t: &'a [f64],
    /// Descriptors of every view of every frame; `views[i]` are those of frame `i`.
    pub words: &'a [[u32; WORDS]],
    pub views: &'a [std::ops::Range<usize>],
    /// How many of each frame's last views are compared with the catalogue's strips
    /// instead of its views (`frame::FrameViews::strip_parts`; the parts only).
    pub strip_parts: &'a [u8],
    pub energy: &'a [u32],
    /// Each frame's neighbours, scored over their background (`vote::relative`).
    pub neighbours: &'a [Neighbours],
    /// Sampling period, seconds.
    pub period: f64,
    pub duration: f64,
}

impl QueryFrames<'_> {
    /// The upload time range that frames `first..=last` stand for: half a sampling period
    /// beyond each, within the upload.
    pub fn range(&self, first: usize, last: usize) -> (f64, f64) {
        let half = 0.5 * self.period;
        ((self.t[first] - half).max(0.0), (self.t[last] + half).min(self.duration.max(self.t[last])))
    }

    /// What of frame `i` is compared with catalogue frames: the parts that searched the
    /// strips with the strips only, as they searched them.
    pub fn probe(&self, i: usize) -> Probe<'_> {
        let views = &self.words[self.views[i].clone()];
        let (views, strips) = views.split_at(views.len().saturating_sub(self.strip_parts[i] as usize));
        Probe { views, strips }
    }

    /// The frames sampled within upload times `a..=b`.
    pub fn within(&self, (a, b): (f64, f64)) -> impl Iterator<Item = usize> + '_ {
        (0..self.t.len()).filter(move |&i| (a..=b).contains(&self.t[i]))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub video: u32,
    pub mirrored: bool,
    pub query_start: f64,
    pub query_end: f64,
    /// The catalogue range: the line over the upload range, clamped to the video.
    pub ref_start: f64,
    pub ref_end: f64,
    /// The line: catalogue time `speed * t + offset` at upload time `t`. A clip at the
    /// head of a video has its line start before the video, its `ref_start` at 0.
    pub speed: f64,
    pub offset: f64,
    pub score: f32,
    pub frames: u32,
    /// Upload times of the first and last frame whose votes made the segment, before it
    /// grew (`grow`): its evidence, where the rest of the range is extrapolation.
    pub core: (f64, f64),
    /// How well its line explains its frames (`still::evidence`), once it is found.
    pub evidence: Option<LineEvidence>,
    /// The judge's probability that it is a true clip (`select::probability`), once
    /// `select` has judged it.
    pub probability: Option<f32>,
}

/// What a reported segment's pictures show, for the people who act on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineEvidence {
    /// Mean similarity of its upload frames to the catalogue frames its line maps them to.
    pub similarity: f32,
    /// By how much that beats the same line `still.shift_s` earlier or later: near 0 for
    /// a still shot matched to a still stretch, where the line's time is no evidence.
    pub contrast: f32,
}

impl Segment {
    /// Catalogue time at upload time `tq` on the segment's line.
    pub fn ref_time(&self, tq: f64) -> f64 {
        self.speed * tq + self.offset
    }

    pub fn line(&self) -> Line {
        Line { video: self.video, mirrored: self.mirrored, speed: self.speed, offset: self.offset }
    }

    /// Sets the upload range to `[start, end]` and the catalogue range to the line over
    /// it, within the video (`dur` long).
    pub fn span(&mut self, start: f64, end: f64, dur: f64) {
        self.query_start = start;
        self.query_end = end;
        self.ref_start = self.ref_time(start).clamp(0.0, dur);
        self.ref_end = self.ref_time(end).clamp(0.0, dur);
    }
}

/// Catalogue time `speed * upload time + offset` of one video in one orientation.
pub struct Line {
    pub video: u32,
    pub mirrored: bool,
    pub speed: f64,
    pub offset: f64,
}

impl Line {
    /// Catalogue time at upload time `tq`.
    pub fn at(&self, tq: f64) -> f64 {
        self.speed * tq + self.offset
    }

    /// How well upload frame `i` resembles the catalogue frames the line predicts for it.
    pub fn similarity(&self, i: usize, q: &QueryFrames, r: &RefFrames) -> Option<f32> {
        r.similarity_near(q.probe(i), self.video, self.mirrored, self.at(q.t[i]))
    }
}

/// 1 at normal speed, falling by `slow` per halving and by `fast` per doubling.
pub fn speed_prior(speed: f64, slow: f32, fast: f32) -> f32 {
    let octaves = speed.log2() as f32;
    (1.0 - if octaves < 0.0 { -slow * octaves } else { fast * octaves }).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_at_the_head_of_a_video_keeps_its_line_where_its_range_is_clamped() {
        // Upload seconds 0-10 show catalogue seconds -2 to 8: the clip starts 2 s into the
        // upload, which opens on something else that the segment grew over.
        let mut s = Segment {
            video: 0,
            mirrored: false,
            query_start: 0.0,
            query_end: 10.0,
            ref_start: 0.0,
            ref_end: 8.0,
            speed: 1.0,
            offset: -2.0,
            score: 1.0,
            frames: 16,
            core: (2.0, 9.5),
            evidence: None,
            probability: None,
        };
        s.span(1.0, 6.0, 100.0);
        assert_eq!((s.ref_start, s.ref_end), (0.0, 4.0));
        s.span(1.0, 6.0, 3.5);
        assert_eq!((s.ref_start, s.ref_end), (0.0, 3.5));
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    use crate::kernels::descriptor::{Tables, describe};
    use crate::testkit::random_image;

    #[test]
    fn a_strip_probe_is_compared_with_the_strips_and_views_with_the_views() {
        let t = Tables::new();
        let (view, strip) = (describe(&random_image(1), &t).words, describe(&random_image(2), &t).words);
        let r = RefFrames {
            video: &[0],
            t: &[0.0],
            energy: &[1000],
            stored: &[0],
            first: &[0, 1],
            duration: &[1.0],
            chance: &[0.0],
            descriptors: Descriptors::Frames(&view, 1),
            strips: Some(Descriptors::Frames(&strip, 1)),
            by_video: &[vec![0]],
            near_s: 0.5,
        };
        let sim = |p: Probe| r.frame_similarity(p, 0, false);
        assert!(sim(Probe { views: &[], strips: &[strip] }).unwrap() > 0.99);
        assert!(sim(Probe { views: &[strip], strips: &[] }).unwrap() < 0.5, "a view is not compared with the strips");
        assert!(sim(Probe { views: &[view], strips: &[] }).unwrap() > 0.99);
        assert!(sim(Probe { views: &[], strips: &[view] }).unwrap() < 0.5, "a probe is not compared with the views");
        // A run that holds no strips (through the index) has nothing to compare a probe with.
        let unheld = RefFrames { strips: None, ..r };
        assert_eq!(unheld.frame_similarity(Probe { views: &[], strips: &[strip] }, 0, false), None);
    }
}

#[cfg(test)]
mod timeline_tests {
    use super::*;

    #[test]
    fn a_compacted_frame_stands_for_its_samples_spread_over_its_range() {
        // Video 0: frame 0 alone at 0 s, frame 1 standing for 3 samples from 0.5 s to
        // 1.5 s; video 1: frame 2 alone.
        let video = [0, 0, 1];
        let (t, t_end, samples) = ([0.0, 0.5, 0.0], [0.0, 1.5, 0.0], [1, 3, 1]);
        let line = Timeline::new(&video, (&t, &t_end, &samples), &[7, 8, 9], 2);
        assert_eq!(line.t, [0.0, 0.5, 1.0, 1.5, 0.0]);
        assert_eq!(line.video, [0, 0, 0, 0, 1]);
        assert_eq!(line.energy, [7, 8, 8, 8, 9]);
        assert_eq!(line.stored, [0, 1, 1, 1, 2]);
        assert_eq!(line.first, [0, 1, 4, 5]);
        assert_eq!(line.by_video, [vec![0, 1, 2, 3], vec![4]]);
    }
}

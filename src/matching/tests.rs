//! Tests of the stages together, on catalogues and uploads of `testkit`.

use crate::kernels::descriptor::{Tables, describe, pack_image};
use crate::kernels::search::{Hit, TOPK};
use crate::matching::config::{JudgeConfig, MatchConfig};
use crate::matching::model::{Probe, RefFrames, Segment};
use crate::matching::{align, select};
use crate::testkit::{BACKGROUND, Catalogue, Upload, mix, random_pixels};

/// The segments of an upload made by `Upload::new` (video 0 of a two-video catalogue).
fn align_upload(
    n: usize,
    clip: std::ops::Range<usize>,
    found: std::ops::Range<usize>,
    speed: f64,
    start: f64,
    c: &MatchConfig,
) -> Vec<Segment> {
    let tables = Tables::new();
    let cat = Catalogue::new(2, &tables, 0.0);
    let up = Upload::new(&cat, &tables, n, 0, clip, found, speed, start);
    align(&up.frames(), &cat.refs(), c)
}

#[test]
fn two_clips_of_a_static_shot_stay_apart() {
    // Frames 0..20 show video 0 from 10 s, frames 20..40 from 60 s. The shot is
    // static, so each clip's line resembles the other clip's frames enough to grow
    // over them; the frames resemble their own line better.
    let tables = Tables::new();
    let cat = Catalogue::new(2, &tables, 0.6);
    let first = Upload::new(&cat, &tables, 40, 0, 0..20, 0..20, 1.0, 10.0);
    let mut up = Upload::new(&cat, &tables, 40, 0, 20..40, 20..40, 1.0, 60.0);
    up.words[..20].copy_from_slice(&first.words[..20]);
    up.neighbours[..20].copy_from_slice(&first.neighbours[..20]);
    let refs = cat.refs();
    let c = MatchConfig::default();
    let grows =
        RefFrames::similarity_near(&refs, Probe { views: &up.words[25..26], strips: &[] }, 0, false, 10.0 + 12.5);
    assert!(grows.is_some_and(|s| s >= c.grow.min_similarity), "{grows:?}");
    let mut segs = align(&up.frames(), &refs, &c);
    segs.sort_by(|a, b| a.query_start.total_cmp(&b.query_start));
    assert_eq!(segs.len(), 2, "{segs:?}");
    for (s, (qs, qe, rs)) in segs.iter().zip([(0.0, 9.75, 10.0), (9.75, 20.0, 60.0)]) {
        assert_eq!(s.video, 0);
        assert!((s.query_start - qs).abs() < 0.3 && (s.query_end - qe).abs() < 0.3, "{s:?}");
        assert!((s.ref_start - rs).abs() < 0.5, "{s:?}");
    }
}

#[test]
fn finds_a_sped_up_clip_between_unrelated_footage() {
    let segs = align_upload(60, 10..40, 10..40, 1.25, 30.0, &MatchConfig::default());
    let s = &segs[0];
    assert_eq!(s.video, 0);
    assert!((s.query_start - 4.75).abs() < 0.3 && (s.query_end - 19.75).abs() < 0.3, "{s:?}");
    assert!((s.speed - 1.25).abs() < 0.03, "{s:?}");
    assert!((s.ref_start - 29.7).abs() < 0.5, "{s:?}");
    assert!(segs.iter().all(|x| x.video == 0 || x.score < s.score * 0.2), "{segs:?}");
}

#[test]
fn a_found_segment_says_how_alike_its_pictures_are_and_whether_their_time_matters() {
    // The clip copies moving footage frame for frame: its pictures are the catalogue's,
    // and 4 s away the footage has moved on.
    let segs = align_upload(60, 10..40, 10..40, 1.0, 30.0, &MatchConfig::default());
    let e = segs[0].evidence.expect("a found segment is judged");
    assert!(e.similarity > 0.95, "{e:?}");
    assert!(e.contrast > 0.3 && e.contrast <= e.similarity, "{e:?}");
}

#[test]
fn the_pictures_correct_a_line_the_neighbours_put_at_the_wrong_speed() {
    // Frames 10..40 show video 0 at 1.2x from 30 s; the neighbours of frames 18..32
    // lie on the 1x line that crosses it mid-clip (12.5 s upload, 39 s catalogue).
    let tables = Tables::new();
    let cat = Catalogue::new(2, &tables, 0.0);
    let mut up = Upload::new(&cat, &tables, 60, 0, 10..40, 10..40, 1.2, 30.0);
    up.neighbours = Upload::new(&cat, &tables, 60, 0, 10..40, 18..32, 1.0, 31.5).neighbours;
    let segs = align(&up.frames(), &cat.refs(), &MatchConfig::default());
    let s = &segs[0];
    assert!((s.speed - 1.2).abs() < 0.03, "{s:?}");
    // Off the 1x line the clip's first and last frames resemble nothing: the range
    // grows over them along the corrected one.
    assert!((s.query_start - 4.75).abs() < 0.3 && (s.query_end - 19.75).abs() < 0.3, "{s:?}");
    let truth = |tq: f64| 30.0 + 1.2 * (tq - 5.0);
    assert!((s.ref_start - truth(s.query_start)).abs() < 0.3, "{s:?}");
    assert!((s.ref_end - truth(s.query_end)).abs() < 0.3, "{s:?}");
}

#[test]
fn a_slowed_down_clip_pays_more_for_its_speed_than_a_sped_up_one() {
    // The same evidence, 30 frames at similarity 0.9, at 2x and at 0.5x.
    let score = |speed| align_upload(60, 10..40, 10..40, speed, 30.0, &MatchConfig::default())[0].score;
    let (fast, slow) = (score(2.0), score(0.5));
    assert!(fast > 1.1 * slow, "2x {fast}, 0.5x {slow}");
}

#[test]
fn a_segment_grows_over_frames_that_match_below_the_top_neighbours() {
    // Frames 10..40 show the clip, but only 18..32 found it among their neighbours.
    let segs = align_upload(60, 10..40, 18..32, 1.0, 30.0, &MatchConfig::default());
    let s = &segs[0];
    assert!((s.query_start - 4.75).abs() < 0.3 && (s.query_end - 19.75).abs() < 0.3, "{s:?}");
    assert!((s.ref_start - 29.75).abs() < 0.5 && (s.ref_end - 44.75).abs() < 0.5, "{s:?}");
    // Growth off: the segment stays where the neighbours put it.
    let mut c = MatchConfig::default();
    c.grow.min_similarity = 2.0;
    let s = &align_upload(60, 10..40, 18..32, 1.0, 30.0, &c)[0];
    assert!((s.query_start - 8.75).abs() < 0.3 && (s.query_end - 15.75).abs() < 0.3, "{s:?}");
}

#[test]
fn nothing_from_unrelated_footage_alone() {
    assert!(align_upload(40, 0..0, 0..0, 1.0, 0.0, &MatchConfig::default()).is_empty());
}

#[test]
fn a_still_upload_that_faintly_resembles_a_still_shot_is_no_match() {
    // Frames 10..40 find video 0 from 30 s among their neighbours, and the shot is
    // static. A copy of it is a match; frames that only share a faint trace of its
    // background resemble every catalogue time alike, and faintly: no evidence.
    let tables = Tables::new();
    let cat = Catalogue::new(2, &tables, 0.6);
    let mut up = Upload::new(&cat, &tables, 60, 0, 10..40, 10..40, 1.0, 30.0);
    let c = MatchConfig::default();
    assert!(align(&up.frames(), &cat.refs(), &c).iter().any(|s| s.video == 0), "the copy");
    for i in 10..40 {
        up.words[i] = describe(&pack_image(&mix(&random_pixels(20_000 + i as u64), BACKGROUND, 0.3)), &tables).words;
    }
    // Their similarity to the shot, about 0.41 at every catalogue time.
    let sim = RefFrames::similarity_near(&cat.refs(), Probe { views: &up.words[20..21], strips: &[] }, 0, false, 35.0);
    assert!(sim.is_some_and(|s| (0.3..0.46).contains(&s)), "{sim:?}");
    let segs = align(&up.frames(), &cat.refs(), &c);
    assert!(segs.iter().all(|s| s.video != 0), "{segs:?}");
    // Frames that faintly resemble their own catalogue pictures of a moving shot: the
    // line's time is evidence.
    let cat = Catalogue::new(2, &tables, 0.0);
    let mut up = Upload::new(&cat, &tables, 60, 0, 10..40, 10..40, 1.0, 30.0);
    for i in 10..40 {
        let own = random_pixels((30.0 * 4.0) as u64 + 2 * (i as u64 - 10));
        up.words[i] = describe(&pack_image(&mix(&own, 20_000 + i as u64, 0.7)), &tables).words;
    }
    let sim = RefFrames::similarity_near(&cat.refs(), Probe { views: &up.words[20..21], strips: &[] }, 0, false, 35.0);
    assert!(sim.is_some_and(|s| (0.3..0.46).contains(&s)), "{sim:?}");
    let segs = align(&up.frames(), &cat.refs(), &c);
    assert!(segs.iter().any(|s| s.video == 0), "{segs:?}");
}

#[test]
fn the_search_cap_drops_the_weakest_lines_not_the_videos_listed_last() {
    // Eight videos; the upload holds a weak clip of each of videos 0..7 (one after the
    // other, 6 frames each) and a strong one of video 7, the last listed. With room for
    // four strong segments, the strongest must be among them.
    let tables = Tables::new();
    let cat = Catalogue::new(8, &tables, 0.0);
    let mut c = MatchConfig::default();
    c.select.max_segments = 1;
    c.vote.search_cap = 4;
    c.select.min_score = 0.3;
    let n = 8 * 6 + 30;
    let mut up = Upload::new(&cat, &tables, n, 7, 48..n, 48..n, 1.0, 20.0);
    for v in 0..7usize {
        let weak = Upload::new(&cat, &tables, n, v, v * 6..v * 6 + 6, v * 6..v * 6 + 6, 1.0, 10.0);
        for i in v * 6..v * 6 + 6 {
            up.words[i] = weak.words[i];
            up.neighbours[i] = [Hit::EMPTY; TOPK];
            up.neighbours[i][0] = Hit { score: weak.neighbours[i][0].score * 2 / 3, ..weak.neighbours[i][0] };
        }
    }
    let segs = align(&up.frames(), &cat.refs(), &c);
    assert_eq!(segs.first().map(|s| s.video), Some(7), "{segs:?}");
}

/// A judge of the score, the frames and slowness alone, to see each weight act; and
/// segments of 10 s of one video each.
fn plain_judge(confirmed_min_probability: f32) -> (MatchConfig, impl Fn(u32, f64, f64, f32, u32) -> Segment) {
    let judge = JudgeConfig {
        intercept: -1.0,
        ln_score: 1.0,
        ln_speed: 0.0,
        slow: -2.0,
        slow_speed: 0.8,
        similarity: 0.0,
        contrast: 0.0,
        ln_frames: 0.5,
        min_probability: 0.5,
        confirmed_min_probability,
    };
    let seg = |video: u32, start: f64, speed: f64, score: f32, frames: u32| Segment {
        video,
        mirrored: false,
        query_start: start,
        query_end: start + 10.0,
        ref_start: 0.0,
        ref_end: 10.0 * speed,
        speed,
        offset: 0.0,
        score,
        frames,
        core: (start, start + 9.5),
        evidence: None,
        probability: None,
    };
    (MatchConfig { judge, ..MatchConfig::default() }, seg)
}

#[test]
fn the_judge_weighs_a_segments_evidence_and_reports_the_likely_ones_most_likely_first() {
    let tables = Tables::new();
    let cat = Catalogue::new(3, &tables, 0.0);
    let (c, seg) = plain_judge(0.5);
    // z = -1 + ln 2 + 0.5 ln 20 = 1.19: reported; slowed down, z = -0.81: not.
    let (fast, slow) = (seg(0, 0.0, 1.0, 2.0, 20), seg(1, 20.0, 0.7, 2.0, 20));
    // A weaker score over more frames: z = -1 + ln 1.5 + 0.5 ln 100 = 1.71, more likely.
    let long = seg(2, 40.0, 1.0, 1.5, 100);
    let kept = select::select(vec![fast, slow, long], &cat.refs(), &c);
    assert_eq!(kept.iter().map(|s| s.video).collect::<Vec<_>>(), [2, 0]);
    let p = |z: f32| 1.0 / (1.0 + (-z).exp());
    let expected = [p(-1.0 + 1.5f32.ln() + 0.5 * 100f32.ln()), p(-1.0 + 2f32.ln() + 0.5 * 20f32.ln())];
    for (s, e) in kept.iter().zip(expected) {
        assert!((s.probability.unwrap() - e).abs() < 1e-5, "{:?} against {e}", s.probability);
    }
}

#[test]
fn an_upload_with_a_likely_clip_reports_its_weaker_ones_from_the_lower_floor() {
    let tables = Tables::new();
    let cat = Catalogue::new(3, &tables, 0.0);
    let (c, seg) = plain_judge(0.25);
    // The slowed-down segment (p 0.31) is under `min_probability` (0.5) but over the
    // confirmed floor (0.25): reported beside a likely one (p 0.77), not alone.
    let (fast, slow) = (seg(0, 0.0, 1.0, 2.0, 20), seg(1, 20.0, 0.7, 2.0, 20));
    let videos = |kept: Vec<Segment>| kept.iter().map(|s| s.video).collect::<Vec<_>>();
    assert_eq!(videos(select::select(vec![fast, slow.clone()], &cat.refs(), &c)), [0, 1]);
    assert_eq!(videos(select::select(vec![slow.clone()], &cat.refs(), &c)), [] as [u32; 0]);
    // A confirmed floor over `min_probability` changes nothing.
    let (high, _) = plain_judge(0.9);
    assert_eq!(videos(select::select(vec![seg(0, 0.0, 1.0, 2.0, 20)], &cat.refs(), &high)), [0]);
}

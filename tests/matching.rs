//! The job's two passes over an upload through the public API: descriptors of every
//! view, the real exact search, then `matching::find`, which aligns the whole picture's
//! views and the parts of the frame apart and selects over both.

use clipmatch::kernels::descriptor::{Descriptor, PackedImage, Tables, WORDS, describe};
use clipmatch::kernels::search::{Matrix, Neighbours, cpu_search, union};
use clipmatch::matching::config::MatchConfig;
use clipmatch::matching::model::Segment;
use clipmatch::matching::{Upload, find};
use clipmatch::testkit::{Catalogue, hit, random_image};

/// 40 frames at 2/s, each with a picture view and one part view; frames 10..30 show
/// video 1 of `cat` from 20 s in the picture (`in_part` false) or in the part.
fn upload(cat: &Catalogue, tables: &Tables, in_part: bool, c: &MatchConfig) -> Vec<Segment> {
    let clip = |i: usize| cat.pictures[cat.per_video + 80 + 2 * (i - 10)];
    let images: Vec<PackedImage> = (0..40)
        .flat_map(|i| {
            let noise = [random_image(50_000 + 2 * i as u64), random_image(50_001 + 2 * i as u64)];
            if !(10..30).contains(&i) {
                noise
            } else if in_part {
                [noise[0], clip(i)]
            } else {
                [clip(i), noise[1]]
            }
        })
        .collect();
    let descriptors: Vec<Descriptor> = images.iter().map(|p| describe(p, tables)).collect();
    let queries: Vec<[u32; WORDS]> = descriptors.iter().map(|d| d.words).collect();
    let neighbours = cpu_search(&queries, &Matrix { words: &cat.words, views: 1 });
    align(cat, c, &descriptors, &neighbours, 2)
}

/// `matching::find` over 40 frames at 2/s, each with `views` views (`descriptors`, and
/// their `neighbours`): the picture, then `views - 1` parts.
fn align(
    cat: &Catalogue,
    c: &MatchConfig,
    descriptors: &[Descriptor],
    neighbours: &[Neighbours],
    views: usize,
) -> Vec<Segment> {
    let times: Vec<f64> = (0..40).map(|i| i as f64 * 0.5).collect();
    let ranges: Vec<_> = (0..40).map(|i| views * i..views * (i + 1)).collect();
    let u = Upload {
        times: &times,
        descriptors,
        neighbours,
        ranges: &ranges,
        parts: &[views as u8 - 1; 40],
        strip_parts: &[0; 40],
        period: 0.5,
        duration: 20.0,
    };
    find(&u, &cat.refs(), c)
}

#[test]
fn a_clip_is_found_in_the_picture_or_in_a_part_of_the_frame_and_a_part_counts_less() {
    let tables = Tables::new();
    let cat = Catalogue::new(3, &tables, 0.0);
    let c = MatchConfig::default();
    let whole = upload(&cat, &tables, false, &c);
    let part = upload(&cat, &tables, true, &c);
    for segs in [&whole, &part] {
        assert_eq!(segs.len(), 1, "{segs:?}");
        let s = &segs[0];
        assert_eq!((s.video, s.mirrored), (1, false), "{s:?}");
        assert!((s.query_start - 4.75).abs() < 0.3 && (s.query_end - 14.75).abs() < 0.3, "{s:?}");
        assert!((s.ref_start - 19.75).abs() < 0.3 && (s.ref_end - 29.75).abs() < 0.3, "{s:?}");
    }
    // The same evidence, its votes weighted as a part's.
    let ratio = part[0].score / whole[0].score;
    assert!((ratio - c.score.part_weight).abs() < 0.02, "{} vs {}", part[0].score, whole[0].score);
}

#[test]
fn a_part_whose_neighbours_are_all_alike_does_not_crowd_out_another_part() {
    // Frames 10..30 show video 1 from 20 s in one part (its right frame found at 0.58
    // among neighbours at 0.3); another part holds footage that resembles 16 frames of
    // video 2 at 0.6-0.62 alike. By similarity alone those 16 fill the frame's list;
    // over each part's own background the right frame leads it.
    let tables = Tables::new();
    let cat = Catalogue::new(3, &tables, 0.0);
    let c = MatchConfig::default();
    let truth = |i: usize| cat.per_video + 80 + 2 * (i - 10);
    let images: Vec<PackedImage> = (0..40)
        .flat_map(|i| {
            let noise = |k: u64| random_image(60_000 + 3 * i as u64 + k);
            [noise(0), noise(1), if (10..30).contains(&i) { cat.pictures[truth(i)] } else { noise(2) }]
        })
        .collect();
    let descriptors: Vec<Descriptor> = images.iter().map(|p| describe(p, &tables)).collect();
    let queries: Vec<[u32; WORDS]> = descriptors.iter().map(|d| d.words).collect();
    let mut neighbours = cpu_search(&queries, &Matrix { words: &cat.words, views: 1 });
    for i in 10..30 {
        let alike = &mut neighbours[3 * i + 1];
        for (k, slot) in alike.iter_mut().enumerate() {
            *slot = hit(2 * cat.per_video + (i * 53 + k * 131) % cat.per_video, 0.62 - 0.001 * k as f32, false);
        }
        let clip = &mut neighbours[3 * i + 2];
        for (k, slot) in clip.iter_mut().enumerate() {
            *slot = if k == 0 { hit(truth(i), 0.58, false) } else { hit((i * 29 + k * 7) % cat.per_video, 0.3, false) };
        }
    }
    let key = |i: usize| hit(truth(i), 0.0, false).key;
    assert!(
        (10..30).all(|i| !union(&neighbours[3 * i + 1..3 * i + 3]).iter().any(|h| h.key == key(i))),
        "by similarity alone the right frames would lead"
    );
    let segs = align(&cat, &c, &descriptors, &neighbours, 3);
    assert!(
        segs.iter().any(|s| s.video == 1 && (s.query_start - 4.75).abs() < 0.5 && (s.ref_start - 19.75).abs() < 0.5),
        "{segs:?}"
    );
}

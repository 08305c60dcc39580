//! `clipmatch recall` on the bundled sample: the frames inside its true segments, and
//! whether the search finds their catalogue frames.

mod common;

use common::*;

/// `clipmatch recall --json` of the sample's uploads against `truth`.
fn recall(dir: &std::path::Path, truth: &str) -> serde_json::Value {
    let csv = dir.join("truth.csv");
    std::fs::write(&csv, truth).unwrap();
    let cat = dir.join("cat");
    let uploads = sample().join("uploads.tar.gz");
    let args =
        ["recall", "--device", "cpu", "--json", "--catalog", cat.to_str().unwrap(), "--truth", csv.to_str().unwrap()];
    let (code, out, err) = clipmatch(&[&args[..], &[uploads.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_search_finds_the_sample_clips_frames_and_not_a_wrong_episode() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    let head = "query_id,query_start,query_end,ref_id,ref_start,ref_end\n";
    let r = recall(dir.path(), &format!("{head}up1,3.0,11.0,ep1,5.0,13.0\nup2,0.0,6.4,ep2,2.0,10.0\n"));
    let all = &r["all"];
    // 8 s and 6.4 s of clip at 2 frames/s.
    let frames = all["frames"].as_u64().unwrap();
    assert!((28..=30).contains(&frames), "{r}");
    assert!(all["any_view_at_5"].as_f64().unwrap() >= 0.9, "{r}");
    assert!(all["any_view_at_5"].as_f64() >= all["picture_at_5"].as_f64(), "{r}");
    // Some one view's own five hold the right frame wherever all views' five together do.
    let some = all["some_view_at_5"].as_f64().unwrap();
    assert!(some >= all["any_view_at_5"].as_f64().unwrap() && some >= all["some_view_at_1"].as_f64().unwrap(), "{r}");
    // A list alignment reads joins fewer views than all of them, and each is a union of
    // views' own lists: between the two.
    let aligned = all["aligned_at_5"].as_f64().unwrap();
    assert!(aligned >= all["any_view_at_5"].as_f64().unwrap() && aligned <= some, "{r}");
    assert!(aligned >= all["aligned_at_1"].as_f64().unwrap() && aligned >= 0.9, "{r}");
    // The same frames said to show another episode: the right frame is never found.
    let r = recall(dir.path(), &format!("{head}up1,3.0,11.0,ep3,5.0,13.0\nup2,0.0,6.4,ep3,2.0,10.0\n"));
    assert_eq!(r["all"]["frames"].as_u64(), Some(frames));
    assert_eq!(r["all"]["any_view_at_5"].as_f64(), Some(0.0), "{r}");
    // Some one view, among the dozen of a frame, may list a frame of the small
    // catalogue's third episode by chance; rarely.
    assert!(r["all"]["some_view_at_5"].as_f64().unwrap() < 0.1, "{r}");
    assert!(r["all"]["aligned_at_5"].as_f64() <= r["all"]["some_view_at_5"].as_f64(), "{r}");
}

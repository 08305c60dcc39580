//! `clipmatch review` on the sample run, rendered in a real browser (Debian's headless
//! Chromium): the DOM holds one section per matched upload, the right number of
//! thumbnails and the Parquet's counts, no script error, and a screenshot is saved
//! under target/tmp for a person to look at.

mod common;

use clipmatch::config::{SearchConfig, SearchMode};
use clipmatch::store::catalog;
use common::*;
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Chromium, headless and quiet, on `page` with `args`; returns (stdout, stderr).
fn browse(browser: &str, profile: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `clipmatch review` of the run in `out` against `cat`, written to `report`.
fn review(cat: &Path, out: &Path, report: &Path, extra: &[&str]) -> (i32, String, String) {
    let (c, o, r) = (cat.to_str().unwrap(), out.to_str().unwrap(), report.to_str().unwrap());
    let mut args = vec!["review", "--catalog", c, "--out", o, "--run-date", "2026-11-24", "--report", r];
    args.extend_from_slice(extra);
    clipmatch(&args)
}

#[test]
fn the_sample_review_renders_in_a_browser() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let Some(browser) = chromium() else {
        require(false, "Debian's chromium");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cat = sample_catalogue(dir.path());
    let out = dir.path().join("out");
    let (code, stdout, err) = match_sample(&cat, &out, &[]);
    assert_eq!(code, 3, "{stdout}{err}");
    let report = dir.path().join("report");
    let (code, stdout, err) = review(&cat, &out, &report, &[]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("review of 2 uploads (2 segments, 24 frames)"), "{stdout}");

    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = browse(browser, profile.path(), &report.join("index.html"), &["--dump-dom"]);
    assert_eq!(dom.matches("<section class=\"upload\"").count(), 2, "one section per matched upload: {dom}");
    // The counts are the Parquet's.
    let rows = |t: &str| {
        let part = out.join(format!("{t}/run_date=2026-11-24/part-00000.parquet"));
        clipmatch::store::table::read_all(&part).unwrap()
    };
    let count = |t: &str| rows(t).iter().map(|b| b.num_rows()).sum::<usize>();
    let failed = rows("uploads")
        .iter()
        .map(|b| {
            let s = b.column_by_name("status").unwrap();
            let s = s.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
            s.iter().filter(|v| *v != Some("ok")).count()
        })
        .sum::<usize>();
    for (id, n) in [("uploads", count("uploads")), ("failed", failed), ("matches", count("matches"))] {
        assert!(dom.contains(&format!("<span id=\"{id}\">{n}</span>")), "{id} = {n}: {dom}");
    }
    assert!(dom.contains("<span id=\"matched-uploads\">2</span>"), "{dom}");
    assert!(dom.contains("Palace of Fractals") && dom.contains("broken.mp4"), "{dom}");
    assert!(!dom.contains("data-error") && !log.contains("Uncaught"), "script errors: {log}");
    for page in ["uploads/00001.html", "uploads/00002.html"] {
        let (dom, log) = browse(browser, profile.path(), &report.join(page), &["--dump-dom"]);
        assert_eq!(dom.matches("<img class=\"thumb\"").count(), 12, "6 frame pairs: {page}");
        assert!(!dom.contains("data-error") && !log.contains("Uncaught"), "{page}: {log}");
    }
    // The mirrored clip (up2, ep2 flipped) shows its episode frames mirrored.
    let up2 = std::fs::read_to_string(report.join("uploads/00002.html")).unwrap();
    let up1 = std::fs::read_to_string(report.join("uploads/00001.html")).unwrap();
    assert_eq!([&up1, &up2].iter().filter(|p| p.contains("class=mirrored")).count(), 1);

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-sample.png");
    let _ = std::fs::remove_file(&shot);
    let size = "--window-size=1280,1100";
    browse(
        browser,
        profile.path(),
        &report.join("uploads/00001.html"),
        &[&format!("--screenshot={}", shot.display()), size],
    );
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000), "a screenshot at {}", shot.display());
}

#[test]
fn a_catalogue_source_that_is_gone_shows_its_stored_pictures() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Catalogues of a copy of the sample's episodes, with their pictures stored and
    // without (the default); the copy is deleted after the runs.
    let eps = dir.path().join("episodes");
    std::fs::create_dir_all(&eps).unwrap();
    for e in ["ep1.mp4", "ep2.mp4", "ep3.mp4"] {
        std::fs::copy(sample().join("catalogue").join(e), eps.join(e)).unwrap();
    }
    let config = dir.path().join("pictures.toml");
    std::fs::write(&config, "[decode]\ncatalogue_pictures = true\n").unwrap();
    let mut runs = Vec::new();
    for (name, extra) in [("stored", vec!["--config", config.to_str().unwrap()]), ("default", vec![])] {
        let (cat, out) = (dir.path().join(format!("cat-{name}")), dir.path().join(format!("out-{name}")));
        let (code, _, err) = build_catalogue(&cat, &extra, &[&eps]);
        assert_eq!(code, 0, "{err}");
        let pictures = cat.join("index/pictures-00000.bin");
        assert_eq!(pictures.exists(), name == "stored", "{}", pictures.display());
        if name == "stored" {
            // A run searches and never shows: it holds the frames without their pictures,
            // exhaustively and through the index alike.
            let all = catalog::open(&cat, catalog::Hold::ALL).unwrap();
            assert_eq!(all.pictures.len(), all.frame_t.len());
            for mode in [SearchMode::Exact, SearchMode::Index] {
                let search = SearchConfig { mode, ..Default::default() };
                let searched = catalog::open(&cat, search.hold(&cat).unwrap()).unwrap();
                assert_eq!(searched.frame_t, all.frame_t);
                assert!(searched.pictures.is_empty());
            }
        }
        let (code, _, err) = match_sample(&cat, &out, &[]);
        assert_eq!(code, 3, "{err}");
        runs.push((cat, out, dir.path().join(format!("report-{name}"))));
    }
    std::fs::remove_dir_all(&eps).unwrap();
    let mut pages = Vec::new();
    for (cat, out, report) in &runs {
        let (code, stdout, err) = review(cat, out, report, &["--frames", "4"]);
        assert_eq!(code, 0, "{stdout}{err}");
        pages.push((stdout, std::fs::read_to_string(report.join("uploads/00001.html")).unwrap()));
    }
    let (stdout, page) = &pages[0];
    assert!(stdout.contains("16 frames, 8 from stored pictures)"), "{stdout}");
    assert!(page.contains("source video is gone") && page.matches("<img class=thumb").count() == 8, "{page}");
    // Without stored pictures the upload's frames are still shown, the catalogue's not.
    let (stdout, page) = &pages[1];
    assert!(stdout.contains("16 frames, 8 not available)"), "{stdout}");
    // The page's segment: 4 pairs of frames.
    assert!(!page.contains("source video is gone") && page.matches("<img class=thumb").count() == 4, "{page}");
    assert_eq!(page.matches("catalogue frame not available").count(), 4, "{page}");
}

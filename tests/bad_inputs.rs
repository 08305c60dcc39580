//! Every bad input becomes a failed `uploads` row with an error kind and a message naming
//! the archive and member, and everything else in the archive is still processed. The
//! inputs are made by tests/make_bad_inputs.py.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// (archive file name, member) -> (status, error kind, error message) of a run's uploads.
type Rows = BTreeMap<(String, String), (String, String, String)>;

fn uploads(out: &Path) -> Rows {
    let text = python(&format!(
        r#"
import pyarrow.dataset as ds, os
for r in ds.dataset("{}/uploads", format="parquet", partitioning="hive").to_table().to_pylist():
    print("\t".join([os.path.basename(r["archive"]), r["query_id"], r["status"], r["error_kind"] or "", (r["error"] or "").replace("\n", " ")]))
"#,
        out.display()
    ));
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].into(), f[1].into()), (f[2].into(), f[3].into(), f[4].into()))
        })
        .collect()
}

fn setup() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !require(has_ffmpeg(), "the ffmpeg CLI") || !require(has_python_modules("pyarrow"), "python3 with pyarrow") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    let st = std::process::Command::new("python3")
        .arg(repo().join("tests/make_bad_inputs.py"))
        .arg(&inputs)
        .status()
        .unwrap();
    assert!(st.success());
    sample_catalogue(dir.path());
    Some((dir, inputs))
}

fn run(dir: &Path, name: &str, inputs: &[&Path], extra: &[&str]) -> (i32, Rows) {
    run_env(dir, name, inputs, extra, None)
}

fn run_env(dir: &Path, name: &str, inputs: &[&Path], extra: &[&str], fault: Option<&str>) -> (i32, Rows) {
    let out = dir.join(name);
    let mut args = vec!["match", "--device", "cpu", "--run-date", "2026-11-25", "--catalog"];
    let cat = dir.join("cat");
    args.push(cat.to_str().unwrap());
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clipmatch"));
    cmd.args(&args).env("RUST_LOG", "warn").env_remove(clipmatch::ingest::worker::FAULT_ENV);
    if let Some(f) = fault {
        cmd.env(clipmatch::ingest::worker::FAULT_ENV, f);
    }
    let o = cmd.output().unwrap();
    let code = o.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 3, "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (code, uploads(&out))
}

#[test]
fn every_bad_member_is_a_failed_row_and_the_rest_is_processed() {
    let Some((dir, inputs)) = setup() else { return };
    let (code, rows) = run(dir.path(), "bad", &[&inputs.join("bad.tar")], &[]);
    assert_eq!(code, 3, "a finished run with failed uploads exits 3");
    let expected = std::fs::read_to_string(inputs.join("expected.tsv")).unwrap();
    let mut n = 0;
    for line in expected.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (member, status, kind) = (f[0], f[1], f[2]);
        let Some((got_status, got_kind, error)) = rows.get(&("bad.tar".to_string(), member.to_string())) else {
            panic!("no row for {member}: {rows:?}");
        };
        assert_eq!((got_status.as_str(), got_kind.as_str()), (status, kind), "{member}: {error}");
        if status == "failed" {
            assert!(error.contains(&format!("bad.tar:{member}")), "{member}: the message names it: {error}");
        }
        n += 1;
    }
    assert_eq!(rows.len(), n, "one row per member, nothing else: {rows:?}");
}

#[test]
fn a_damaged_archive_keeps_what_came_before_the_damage() {
    let Some((dir, inputs)) = setup() else { return };
    let (_, rows) = run(dir.path(), "damaged", &[&inputs.join("damaged.tar.gz"), &inputs.join("good.mp4")], &[]);
    let get = |a: &str, m: &str| rows.get(&(a.to_string(), m.to_string())).cloned().unwrap_or_default();
    assert_eq!(get("damaged.tar.gz", "a.mp4").0, "ok");
    assert_eq!(get("damaged.tar.gz", "b.mp4").0, "ok");
    let c = get("damaged.tar.gz", "c.mp4");
    assert_eq!((c.0.as_str(), c.1.as_str()), ("failed", "archive"), "{c:?}");
    let archive = get("damaged.tar.gz", "");
    assert_eq!((archive.0.as_str(), archive.1.as_str()), ("failed", "archive"), "{rows:?}");
    assert!(archive.2.contains("damaged.tar.gz is damaged"), "{archive:?}");
    assert_eq!(get("good.mp4", "good.mp4").0, "ok", "the next input is processed");
}

#[test]
fn limits_on_member_size_archive_size_and_decode_time() {
    let Some((dir, inputs)) = setup() else { return };
    let bomb = inputs.join("bomb.tar.gz");
    let (_, rows) = run(dir.path(), "bomb", &[&bomb], &["--max-member-bytes", "16M"]);
    let zeros = &rows[&("bomb.tar.gz".to_string(), "zeros.mp4".to_string())];
    assert_eq!((zeros.0.as_str(), zeros.1.as_str()), ("failed", "limit"), "{zeros:?}");
    assert!(zeros.2.contains("larger than the limit"), "{zeros:?}");
    assert_eq!(rows[&("bomb.tar.gz".to_string(), "after.mp4".to_string())].0, "ok");

    // The archive total: bad.tar's first member (104039 bytes) fits in 150000, the rest
    // of its regular members do not.
    let (_, rows) = run(dir.path(), "total", &[&inputs.join("bad.tar")], &["--max-archive-bytes", "150000"]);
    assert_eq!(rows[&("bad.tar".to_string(), "ok/first.mp4".to_string())].0, "ok");
    let last = &rows[&("bad.tar".to_string(), "ok/last.mp4".to_string())];
    assert_eq!((last.0.as_str(), last.1.as_str()), ("failed", "limit"), "{last:?}");
    assert!(last.2.contains("archive expands past the limit"), "{last:?}");

    // The decode worker's address space: far too small for FFmpeg to open and decode the
    // file (where the first allocation fails varies; each is reported as the limit).
    let (_, rows) = run(dir.path(), "memory", &[&inputs.join("good.mp4")], &["--max-decode-memory", "64M"]);
    let good = &rows[&("good.mp4".to_string(), "good.mp4".to_string())];
    assert_eq!((good.0.as_str(), good.1.as_str()), ("failed", "limit"), "{good:?}");
    assert!(good.2.contains("decode memory limit"), "{good:?}");

    // good.mp4 has 75 frames (3 s at 25 frames/s), 38 of them never skipped.
    let (_, rows) = run(dir.path(), "frames", &[&inputs.join("good.mp4")], &["--max-frames", "20"]);
    let good = &rows[&("good.mp4".to_string(), "good.mp4".to_string())];
    assert_eq!((good.0.as_str(), good.1.as_str()), ("failed", "limit"), "{good:?}");
    assert!(good.2.contains("limit of 20 decoded frames"), "{good:?}");

    let (_, rows) = run(dir.path(), "slow", &[&inputs.join("good.mp4")], &["--max-decode-s", "0"]);
    let good = &rows[&("good.mp4".to_string(), "good.mp4".to_string())];
    assert_eq!((good.0.as_str(), good.1.as_str()), ("failed", "limit"), "{good:?}");
    assert!(good.2.contains("decoding took longer"), "{good:?}");
}

#[test]
fn a_crash_or_hang_in_the_decoder_costs_one_upload() {
    let Some((dir, inputs)) = setup() else { return };
    let bad = inputs.join("bad.tar");
    let (_, rows) = run_env(dir.path(), "segv", &[&bad], &[], Some("segv:ok/first.mp4"));
    let first = &rows[&("bad.tar".to_string(), "ok/first.mp4".to_string())];
    assert_eq!((first.0.as_str(), first.1.as_str()), ("failed", "decode"), "{first:?}");
    assert!(first.2.contains("decode worker died (killed by signal 11"), "{first:?}");
    // A new worker takes the next uploads: everything after is as without the crash.
    assert_eq!(rows[&("bad.tar".to_string(), "ok/last.mp4".to_string())].0, "ok");
    assert_eq!(rows[&("bad.tar".to_string(), "still.png".to_string())].0, "ok");
    assert_eq!(rows.len(), 16, "{rows:?}");

    let (_, rows) = run_env(dir.path(), "hang", &[&bad], &["--max-decode-s", "1"], Some("hang:still.png"));
    let still = &rows[&("bad.tar".to_string(), "still.png".to_string())];
    assert_eq!((still.0.as_str(), still.1.as_str()), ("failed", "limit"), "{still:?}");
    assert!(still.2.contains("the decode worker was killed"), "{still:?}");
    assert_eq!(rows[&("bad.tar".to_string(), "ok/last.mp4".to_string())].0, "ok");

    // A worker that announces an answer larger than memory costs its upload, not the run.
    let (_, rows) = run_env(dir.path(), "garble", &[&bad], &[], Some("garble:ok/first.mp4"));
    let first = &rows[&("bad.tar".to_string(), "ok/first.mp4".to_string())];
    assert_eq!((first.0.as_str(), first.1.as_str()), ("failed", "decode"), "{first:?}");
    assert!(first.2.contains("answer is invalid: a header of"), "{first:?}");
    assert_eq!(rows[&("bad.tar".to_string(), "ok/last.mp4".to_string())].0, "ok");
    assert_eq!(rows.len(), 16, "{rows:?}");
}

#[test]
fn fatal_errors_exit_1_with_a_clear_message() {
    let Some((dir, inputs)) = setup() else { return };
    let good = inputs.join("good.mp4");
    let missing = dir.path().join("no-such-catalogue");
    let (code, _, err) = clipmatch(&[
        "match",
        "--catalog",
        missing.to_str().unwrap(),
        "--out",
        dir.path().join("o1").to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no-such-catalogue"), "the message names the catalogue: {err}");

    // The output folder is a regular file: nothing can be written under it.
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"x").unwrap();
    let cat = dir.path().join("cat");
    let (code, _, err) = clipmatch(&[
        "match",
        "--device",
        "cpu",
        "--catalog",
        cat.to_str().unwrap(),
        "--out",
        blocked.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not-a-folder"), "the message names the output: {err}");
}

//! A run killed with SIGKILL and started again with the same arguments resumes from its
//! checkpoints and ends with exactly the rows of an uninterrupted run; no table file is
//! visible before the run has finished.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn match_cmd(cat: &Path, out: &Path, input: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clipmatch"));
    c.args(["match", "--device", "cpu", "--workers", "1", "--checkpoint-uploads", "2", "--run-date", "2026-11-25"])
        .arg("--catalog")
        .arg(cat)
        .arg("--out")
        .arg(out)
        .arg(input)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Starts the run and kills it with SIGKILL once its checkpoint `n` exists.
fn kill_after_checkpoint(cat: &Path, out: &Path, input: &Path, n: usize) {
    let staging = out.join("_shards/run_date=2026-11-25/shard-00000-of-00001/checkpoint");
    let marker = staging.join(format!("uploads-{n:05}.parquet"));
    let mut child = match_cmd(cat, out, input).spawn().unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before checkpoint {n}");
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint {n}");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for t in ["matches", "uploads", "manifest"] {
        assert!(!out.join(t).exists(), "{t} visible after a killed run");
    }
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_rows() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") || !require(has_python_modules("pyarrow"), "python3 with pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = sample_catalogue(d);
    // 24 uploads: the sample's four (one broken) six times over, under new names.
    let input = d.join("night.tar");
    python(&format!(
        r#"
import tarfile, io
with tarfile.open("{}") as src, tarfile.open("{}", "w") as dst:
    members = [(m, src.extractfile(m).read()) for m in src.getmembers() if m.isfile()]
    for k in range(6):
        for m, data in members:
            info = tarfile.TarInfo(f"user{{k}}/{{m.name}}")
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
"#,
        sample().join("uploads.tar.gz").display(),
        input.display()
    ));

    let full = d.join("full");
    let st = match_cmd(&cat, &full, &input).status().unwrap();
    assert_eq!(st.code(), Some(3));

    let resumed = d.join("resumed");
    kill_after_checkpoint(&cat, &resumed, &input, 1);
    kill_after_checkpoint(&cat, &resumed, &input, 4);
    let last = match_cmd(&cat, &resumed, &input).output().unwrap();
    let stderr = String::from_utf8_lossy(&last.stderr);
    assert_eq!(last.status.code(), Some(3), "{stderr}");
    // Checkpoint 4 holds uploads 9 and 10; the killed run may have written one more.
    let resumed_uploads: usize = stderr
        .split("resuming: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume message: {stderr}"));
    assert!((10..24).contains(&resumed_uploads), "{stderr}");
    assert!(!resumed.join("_shards").exists(), "checkpoints and staging are gone");

    let cmp = Command::new("python3")
        .arg(repo().join("scripts/compare_runs.py"))
        .args([&full, &resumed])
        .arg("1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&cmp.stdout);
    assert!(cmp.status.success(), "{report}{}", String::from_utf8_lossy(&cmp.stderr));
    assert!(report.contains("uploads 24"), "{report}");
}

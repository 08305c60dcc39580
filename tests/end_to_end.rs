//! The whole job on the bundled sample: real FFmpeg decoding, real wgpu dispatches,
//! real Parquet read back by pyarrow, DuckDB, polars and pandas.

mod common;

use common::*;
use std::path::Path;

fn run_match(dir: &Path, out: &str, device: &str) -> i32 {
    let (code, stdout, stderr) = clipmatch(&[
        "match",
        "--catalog",
        dir.join("cat").to_str().unwrap(),
        "--out",
        dir.join(out).to_str().unwrap(),
        "--device",
        device,
        "--run-date",
        "2026-11-24",
        sample().join("uploads.tar.gz").to_str().unwrap(),
    ]);
    assert!(stdout.contains("4 uploads (3 ok, 1 failed"), "{stdout}{stderr}");
    // The broken upload's warning is there, without colour codes: stderr is no terminal.
    assert!(stderr.contains("broken.mp4") && !stderr.contains('\x1b'), "{stderr:?}");
    code
}

#[test]
fn sample_job_finds_the_clips_and_parquet_reads_back() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    // A finished run with a failed upload exits with the distinct status 3.
    assert_eq!(run_match(dir.path(), "cpu", "cpu"), 3);

    let files = ["matches", "uploads", "manifest"]
        .map(|t| dir.path().join(format!("cpu/{t}/run_date=2026-11-24/part-00000.parquet")));
    for f in &files {
        assert!(f.exists(), "{}", f.display());
        assert!(f.with_file_name("_SUCCESS").exists());
    }

    let matches = clipmatch::eval::read_predictions(&dir.path().join("cpu")).unwrap();
    let truth = clipmatch::eval::read_truth(&sample().join("ground_truth.csv")).unwrap();
    let s = clipmatch::eval::score(&truth, &matches);
    assert_eq!(s.false_positive_queries, 0, "{s:?} {matches:?}");
    assert_eq!(s.pair_recall, 1.0, "{s:?}");
    assert!(s.segment_recall > 0.7, "{s:?}");

    if !require(has_python_modules("pyarrow, duckdb, polars, pandas"), "python3 with pyarrow, duckdb, polars, pandas") {
        return;
    }
    let out = dir.path().join("cpu");
    let py = python(&format!(
        r#"
import pyarrow.dataset as ds, duckdb, json, polars as pl
m = ds.dataset("{o}/matches", format="parquet", partitioning="hive").to_table().to_pylist()
print(sorted((r["query_id"], r["ref_id"], r["flipped"]) for r in m))
u = duckdb.sql("select query_id, status, error_kind from read_parquet('{o}/uploads/*/*.parquet', hive_partitioning=true) order by query_id").fetchall()
print(u)
d = duckdb.sql("select distinct run_date::varchar from read_parquet('{o}/matches/*/*.parquet', hive_partitioning=true)").fetchall()
print(d)
man = duckdb.sql("select device, catalogue_version, decoder from read_parquet('{o}/manifest/*/*.parquet')").fetchall()
print(man)
pm = pl.read_parquet("{o}/matches/*/*.parquet", hive_partitioning=True).sort("query_id")
print(pm.select("query_id", "ref_id").rows())
print(pm.select("series", "episode", "title", "licensor").rows())
params = json.loads(pl.read_parquet("{o}/manifest/*/*.parquet")["parameters"][0])
print(sorted(params), params["matching"]["judge"]["min_probability"])
import pandas as pd
pdm = pd.read_parquet("{o}/matches", filters=[("run_date", "=", "2026-11-24")])
print(len(pdm), sorted(pdm.licensor.dropna().unique()))
print(duckdb.sql("select typeof(started_ts), started_ts <= finished_ts, strftime(started_ts, '%Y-%m-%dT%H:%M:%SZ') = started_at from read_parquet('{o}/manifest/*/*.parquet')").fetchall())
"#,
        o = out.display()
    ));
    let lines: Vec<&str> = py.lines().collect();
    assert_eq!(lines[0], "[('up1.mp4', 'ep1.mp4', False), ('up2.mp4', 'ep2.mp4', True)]", "{py}");
    assert_eq!(
        lines[1],
        "[('broken.mp4', 'failed', 'unreadable'), ('up1.mp4', 'ok', None), ('up2.mp4', 'ok', None), ('up3.mp4', 'ok', None)]"
    );
    assert_eq!(lines[2], "[('2026-11-24',)]");
    assert_eq!(lines[3], "[('cpu', 1, 'cpu')]");
    assert_eq!(lines[4], "[('up1.mp4', 'ep1.mp4'), ('up2.mp4', 'ep2.mp4')]", "{py}");
    // Each match carries its episode's metadata.
    assert_eq!(
        lines[5],
        "[('Palace of Fractals', '1', 'The Zoom, Part 1', 'Mandel Films'), ('Palace of Fractals', '2', 'The Mirror', 'Mandel Films')]",
        "{py}"
    );
    // The whole configuration is in the manifest.
    assert_eq!(lines[6], "['decode', 'index', 'layout', 'limits', 'matching', 'search'] 0.6", "{py}");
    // Start and end as timestamps, beside their text.
    assert_eq!(lines[7], "2 ['Mandel Films']", "{py}");
    assert_eq!(lines[8], "[('TIMESTAMP WITH TIME ZONE', True, True)]", "{py}");
}

#[test]
fn gpu_and_cpu_give_the_same_rows_and_reruns_replace() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    if !require(clipmatch::kernels::gpu::Gpu::open(false).ok().flatten().is_some(), "a wgpu adapter") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    run_match(dir.path(), "cpu", "cpu");
    run_match(dir.path(), "gpu", "gpu");
    let read = |o: &str| {
        let b = clipmatch::store::table::read_all(
            &dir.path().join(format!("{o}/matches/run_date=2026-11-24/part-00000.parquet")),
        )
        .unwrap();
        b.iter().map(|b| format!("{b:?}")).collect::<Vec<_>>()
    };
    assert_eq!(read("cpu"), read("gpu"));
    // Running again into the same folder replaces the part instead of adding one.
    run_match(dir.path(), "gpu", "gpu");
    let parts = std::fs::read_dir(dir.path().join("gpu/matches/run_date=2026-11-24")).unwrap().count();
    assert_eq!(parts, 2, "one part file and _SUCCESS");
    assert_eq!(read("cpu"), read("gpu"));
}

#[test]
fn a_progress_line_on_a_terminal_only() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let has_script = std::process::Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    if !require(has_script, "script (util-linux), for a pseudo-terminal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    let args = |out: &str| {
        format!(
            "{} match --device cpu --run-date 2026-11-24 --catalog {} --out {} {}",
            env!("CARGO_BIN_EXE_clipmatch"),
            dir.path().join("cat").display(),
            dir.path().join(out).display(),
            sample().join("uploads.tar.gz").display()
        )
    };
    // `script` runs the command on a pseudo-terminal and copies what it printed.
    let tty = std::process::Command::new("script").args(["-qec", &args("tty"), "/dev/null"]).output().unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("4 uploads, 1 failed, 2 matches"), "{shown}");
    let (_, out, err) = clipmatch(&args("pipe").split(' ').skip(1).collect::<Vec<_>>());
    assert!(!err.contains("uploads/s") && !out.contains("uploads/s"), "no progress line into a pipe: {err}");
    // With JSON logs (a cluster), progress comes as events, every line a JSON object.
    let json = format!("--log-format json {}", args("json").split_once(' ').unwrap().1);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_clipmatch"))
        .args(json.split(' '))
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().all(|l| l.starts_with('{')), "{err}");
    assert!(err.contains("progress: 4 uploads, 1 failed, 2 matches"), "{err}");
}

#[test]
fn listing_adapters_prints_no_driver_noise() {
    // Without XDG_RUNTIME_DIR (a batch node), Mesa's drivers would complain on stderr.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clipmatch"))
        .arg("devices")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
}

#[test]
fn decoding_on_nvdec_without_a_cuda_device_is_refused_with_the_reason() {
    use clipmatch::ingest::hw::{DecodeChoice, resolve};
    if !require(has_ffmpeg(), "the ffmpeg CLI") || !require(resolve(DecodeChoice::Nvdec).is_err(), "no CUDA device") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    let out = dir.path().join("out");
    let uploads = sample().join("uploads.tar.gz");
    let args = |decode| {
        vec![
            "match".to_string(),
            "--catalog".into(),
            dir.path().join("cat").to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--decode".into(),
            decode,
            uploads.to_str().unwrap().into(),
        ]
    };
    let run = |decode: &str| {
        let a = args(decode.to_string());
        clipmatch(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, stdout, stderr) = run("nvdec");
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("--decode nvdec: FFmpeg cannot open a CUDA device"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    // `auto` falls back to the CPU and runs (one upload of the sample is broken).
    let (_, stdout, stderr) = run("auto");
    assert!(stdout.contains("4 uploads (3 ok, 1 failed"), "{stdout}{stderr}");
}

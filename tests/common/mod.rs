//! Helpers shared by the integration tests: inputs the tests make themselves.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when running under CI, where every tool must be present and a skip is a failure.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// Skips the test (returns false) with a message, or fails under CI.
pub fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(!in_ci(), "{what} is required under CI");
        eprintln!("skipped: {what} is not available");
    }
    ok
}

pub fn has_ffmpeg() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success())
}

pub fn has_python_modules(modules: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {modules}")]).output().is_ok_and(|o| o.status.success())
}

/// The bundled sample (scripts/make_sample.sh), generated once per test binary.
pub fn sample() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("bash").arg(repo().join("scripts/make_sample.sh")).arg(dir.path()).status().unwrap();
        assert!(st.success(), "make_sample.sh failed");
        dir
    })
    .path()
}

/// `clipmatch catalog build` of `inputs` into `cat` on the CPU twins, with `extra`
/// arguments; returns (status code, stdout, stderr).
pub fn build_catalogue(cat: &Path, extra: &[&str], inputs: &[&Path]) -> (i32, String, String) {
    let mut args = vec!["catalog", "build", "--device", "cpu", "--catalog", cat.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    clipmatch(&args)
}

/// A catalogue of the sample's episodes at `dir/cat`, with their metadata (ep1 and ep2
/// have rows, ep3 none), built on the CPU twins.
pub fn sample_catalogue(dir: &Path) -> PathBuf {
    let cat = dir.join("cat");
    let metadata = sample().join("metadata.csv");
    let (code, out, err) =
        build_catalogue(&cat, &["--metadata", metadata.to_str().unwrap()], &[&sample().join("catalogue")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added 3 videos"), "{out}");
    cat
}

/// The job on the sample's uploads on the CPU twins, run date 2026-11-24, against the
/// catalogue `cat`, into `out`, with `extra` arguments; returns what `clipmatch` does.
pub fn match_sample(cat: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    match_uploads(cat, out, &sample().join("uploads.tar.gz"), extra)
}

/// The job on `uploads` on the CPU twins, run date 2026-11-24, against the catalogue
/// `cat`, into `out`, with `extra` arguments; returns what `clipmatch` does.
pub fn match_uploads(cat: &Path, out: &Path, uploads: &Path, extra: &[&str]) -> (i32, String, String) {
    let (cat, out) = (cat.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["match", "--device", "cpu", "--run-date", "2026-11-24", "--catalog", cat, "--out", out];
    args.extend_from_slice(extra);
    args.push(uploads.to_str().unwrap());
    clipmatch(&args)
}

/// Runs the clipmatch binary; returns (status code, stdout, stderr).
pub fn clipmatch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clipmatch")).args(args).env("RUST_LOG", "warn").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A short synthetic video from an FFmpeg lavfi source.
pub fn lavfi_video(path: &Path, source: &str, seconds: f64) {
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            &seconds.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg failed for {source}");
}

/// The lavfi source of `two_videos`' one.mp4, which uploads crop and reframe.
pub const LIFE: &str = "life=size=320x180:rate=25:seed=3:ratio=0.3";

/// Under `d`: `videos/` holding two 8 s catalogue videos, one.mp4 (`LIFE`) and two.mp4.
pub fn two_videos(d: &Path) -> PathBuf {
    let videos = d.join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    lavfi_video(&videos.join("one.mp4"), LIFE, 8.0);
    lavfi_video(&videos.join("two.mp4"), "mandelbrot=size=320x180:rate=25", 8.0);
    videos
}

/// Under `d`: `two_videos`, and `uploads/` holding fill.mp4, a third of one.mp4's width
/// panning across it, filling a 9:16 canvas (found only through the catalogue's portrait
/// strips).
pub fn portrait_fill(d: &Path) -> (PathBuf, PathBuf) {
    let (videos, uploads) = (two_videos(d), d.join("uploads"));
    std::fs::create_dir_all(&uploads).unwrap();
    let fill = format!("{LIFE},crop=100:180:x='(iw-ow)*(0.5+0.45*sin(t*0.8))':y=0,scale=180:320");
    lavfi_video(&uploads.join("fill.mp4"), &fill, 8.0);
    (videos, uploads)
}

/// Runs a Python snippet; returns its stdout.
pub fn python(code: &str) -> String {
    let out = Command::new("python3").args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

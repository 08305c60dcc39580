//! `clipmatch config` and `match --config`: the settings file, the flags over it, and a
//! run id that changes with the settings.

mod common;

use common::*;
use std::path::Path;

/// Runs the sample's uploads with `extra` arguments; returns (exit code, stdout, stderr).
fn run(dir: &Path, out: &str, extra: &[&str]) -> (i32, String, String) {
    match_sample(&dir.join("cat"), &dir.join(out), extra)
}

/// "N matches" of a run's summary line, and its run id.
fn summary(stdout: &str) -> (u32, String) {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "matches").expect("a summary line");
    (words[at - 1].parse().unwrap(), words[1].trim_end_matches(':').to_string())
}

#[test]
fn a_settings_file_and_the_flags_over_it() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sample_catalogue(dir.path());
    // Every setting is printed, and the printout is itself a valid settings file.
    let (code, defaults, _) = clipmatch(&["config"]);
    assert_eq!(code, 0);
    assert!(defaults.contains("[matching.judge]") && defaults.contains("min_probability = 0.6"), "{defaults}");
    let all = dir.path().join("all.toml");
    std::fs::write(&all, &defaults).unwrap();
    let (code, _, err) = run(dir.path(), "defaults", &["--config", all.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");

    let (_, plain, _) = run(dir.path(), "plain", &[]);
    let (found, plain_id) = summary(&plain);
    assert!(found > 0, "{plain}");
    // A file that asks for a probability no segment reaches: nothing is reported, and
    // the run is another run.
    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, "[matching.judge]\nmin_probability = 1.5\n").unwrap();
    let (_, out, _) = run(dir.path(), "strict", &["--config", strict.to_str().unwrap()]);
    let (none, strict_id) = summary(&out);
    assert_eq!(none, 0, "{out}");
    assert_ne!(strict_id, plain_id);
    // A flag overrides the file, and sets the one floor of every row: the same rows as a
    // file of both floors, under the same run id.
    let floor = dir.path().join("floor.toml");
    std::fs::write(&floor, "[matching.judge]\nmin_probability = 0.6\nconfirmed_min_probability = 0.6\n").unwrap();
    let (_, out, _) = run(dir.path(), "file", &["--config", floor.to_str().unwrap()]);
    let (floored, floor_id) = summary(&out);
    assert!(floored > 0 && floored <= found, "{out}");
    let (_, out, _) = run(dir.path(), "flag", &["--config", strict.to_str().unwrap(), "--min-score", "0.6"]);
    assert_eq!(summary(&out), (floored, floor_id));
    // A misspelt key is refused, naming the file and the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[matching.select]\nmin_scor = 1.0\n").unwrap();
    let (code, _, err) = run(dir.path(), "bad", &["--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.toml") && err.contains("min_scor"), "{err}");
}

#[test]
fn a_reader_that_closed_the_pipe_ends_the_command_quietly() {
    // The read end is closed before the command starts, so its first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_clipmatch")).arg("config").stdout(writer).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{:?}: {err}", out.status);
}

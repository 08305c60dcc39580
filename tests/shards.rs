//! Sharded runs: N `match` processes with their shard from a flag, a Kubernetes index or
//! a Slurm array id, then `merge`, give the rows of one unsharded run.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command};

const DATE: &str = "2026-11-25";

fn spawn_match(out: &Path, cat: &Path, inputs: &[&Path], shard: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clipmatch"));
    cmd.args(["match", "--device", "cpu", "--workers", "1", "--run-date", DATE, "--catalog"])
        .arg(cat)
        .arg("--out")
        .arg(out)
        .args(shard)
        .args(inputs)
        .env("RUST_LOG", "warn")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null());
    cmd.spawn().unwrap()
}

/// `scripts/compare_runs.py`'s report that the `shards`-way run `sharded` holds the
/// rows of the unsharded `full` (it fails the test where they differ).
fn compare_runs(full: &Path, sharded: &Path, shards: u32) -> String {
    let report = Command::new("python3")
        .arg(repo().join("scripts/compare_runs.py"))
        .args([full, sharded])
        .arg(shards.to_string())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&report.stdout), String::from_utf8_lossy(&report.stderr));
    assert!(report.status.success(), "{stdout}{stderr}");
    stdout.into_owned()
}

fn finished(mut c: Child) -> i32 {
    c.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn shards_as_separate_processes_merge_into_the_unsharded_rows() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") || !require(has_python_modules("pyarrow"), "python3 with pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = sample_catalogue(d);
    // Two inputs of different kinds, so that members of both archives are split.
    let zip = d.join("again.zip");
    python(&format!(
        r#"
import tarfile, zipfile
with tarfile.open("{}") as t, zipfile.ZipFile("{}", "w") as z:
    for m in t.getmembers():
        if m.isfile():
            z.writestr("again/" + m.name, t.extractfile(m).read())
"#,
        sample().join("uploads.tar.gz").display(),
        zip.display()
    ));
    let tar = sample().join("uploads.tar.gz");
    let inputs = [tar.as_path(), zip.as_path()];
    let (full, sharded) = (d.join("full"), d.join("sharded"));

    assert_eq!(finished(spawn_match(&full, &cat, &inputs, &[], &[])), 3, "a failed upload gives exit 3");

    let merge = |extra: &[&str]| {
        let mut args = vec!["merge", "--out", sharded.to_str().unwrap(), "--run-date", DATE];
        args.extend_from_slice(extra);
        clipmatch(&args)
    };
    let (code, _, err) = merge(&[]);
    assert_eq!(code, 1, "nothing staged yet: {err}");
    assert!(err.contains("nothing to merge"), "{err}");

    // Shard 0 by flag and shard 1 by a Kubernetes completion index, run side by side.
    let a = spawn_match(&sharded, &cat, &inputs, &["--shard", "0/3"], &[]);
    let b = spawn_match(&sharded, &cat, &inputs, &["--shards", "3"], &[("JOB_COMPLETION_INDEX", "1")]);
    let codes = [finished(a), finished(b)];
    assert!(codes.iter().all(|c| *c == 0 || *c == 3), "{codes:?}");

    let (code, _, err) = merge(&[]);
    assert_eq!(code, 1, "shard 2 has not run: {err}");
    assert!(err.contains("2/3") && err.contains("not finished"), "{err}");
    assert!(!sharded.join("matches").exists(), "a refused merge writes nothing");

    // Shard 2 as the third task of a Slurm array submitted with --array=1-3.
    let slurm = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")];
    let c = finished(spawn_match(&sharded, &cat, &inputs, &["--shards", "3"], &slurm));
    assert!(c == 0 || c == 3, "{c}");

    let (code, out, err) = merge(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("merged run") && out.contains("3 shards, 8 uploads"), "{out}");
    assert!(!sharded.join("_shards").exists(), "staging is removed after the merge");
    let (code, out, err) = merge(&[]);
    assert_eq!(code, 0, "a second merge is harmless: {out}{err}");
    assert!(out.contains("already merged"), "{out}");

    let report = compare_runs(&full, &sharded, 3);
    assert!(report.contains("uploads 8"), "{report}");
    assert!(!report.contains("matches 0"), "{report}");
    // The episodes' metadata came through the shards and the merge.
    let titles = python(&format!(
        "import pyarrow.dataset as ds\n\
         t = ds.dataset('{}/matches', format='parquet', partitioning='hive').to_table()\n\
         print(sorted(set(t.column('title').to_pylist())))",
        sharded.display()
    ));
    assert_eq!(titles.trim(), "['The Mirror', 'The Zoom, Part 1']");
}

#[test]
fn shards_of_different_runs_are_not_merged() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = sample_catalogue(d);
    let out = d.join("out");
    let tar = sample().join("uploads.tar.gz");
    let other = sample().join("catalogue");
    finished(spawn_match(&out, &cat, &[tar.as_path()], &["--shard", "0/2"], &[]));
    finished(spawn_match(&out, &cat, &[tar.as_path(), other.as_path()], &["--shard", "1/2"], &[]));
    let (code, _, err) = clipmatch(&["merge", "--out", out.to_str().unwrap(), "--run-date", DATE]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("belongs to run"), "{err}");
}

#[test]
fn a_grid_of_upload_and_catalogue_shards_joins_into_the_rows_of_one_run() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") || !require(has_python_modules("pyarrow"), "python3 with pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = sample_catalogue(d);
    let tar = sample().join("uploads.tar.gz");
    // A chance score out of reach for one video: the join, like one run, drops its
    // matches (the rows compared below still hold the other videos').
    let chance = clipmatch::store::background::Chance { video_id: "ep2.mp4".into(), score: 100.0, segments: 1 };
    clipmatch::store::background::write(&cat, &[chance]).unwrap();
    // The index with fewer probes than clusters (each shard searches its own frames of
    // the same probed clusters; the join maps the catalogue), then the exhaustive search
    // without an index (the join loads the videos the neighbours name).
    for search in [["--search", "index"], ["--search", "exact"]] {
        let (full, grid) = (d.join(format!("full-{}", search[1])), d.join(format!("grid-{}", search[1])));
        let extra = [search[0], search[1], "--probes", "2"];
        let c = finished(spawn_match(&full, &cat, &[tar.as_path()], &extra, &[]));
        assert_eq!(c, 3, "a failed upload gives exit 3");
        let join = |catalog: Option<&Path>| {
            let mut args = vec!["merge", "--out", grid.to_str().unwrap(), "--run-date", DATE];
            if let Some(c) = catalog {
                args.extend(["--catalog", c.to_str().unwrap()]);
            }
            clipmatch(&args)
        };
        // Two tasks by flag, two as cells of a Kubernetes Indexed Job of 2 x 2.
        let task = |flags: &[&str], env: &[(&str, &str)]| {
            let args: Vec<&str> = extra.iter().chain(flags).copied().collect();
            let c = finished(spawn_match(&grid, &cat, &[tar.as_path()], &args, env));
            assert!(c == 0 || c == 3, "{c}");
        };
        task(&["--shard", "0/2", "--catalog-shard", "0/2"], &[]);
        task(&["--shard", "0/2", "--catalog-shard", "1/2"], &[]);
        task(&["--shards", "2", "--catalog-shards", "2"], &[("JOB_COMPLETION_INDEX", "2")]);
        let (code, _, err) = join(Some(&cat));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("catalogue shard 1/2 has not finished"), "{err}");
        task(&["--shards", "2", "--catalog-shards", "2"], &[("JOB_COMPLETION_INDEX", "3")]);
        let (code, _, err) = join(None);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("--catalog"), "{err}");
        let (code, out, err) = join(Some(&cat));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("joined 2 upload shard(s) searched in 2 catalogue shards"), "{out}");

        let report = compare_runs(&full, &grid, 2);
        assert!(report.contains("uploads 4") && !report.contains("matches 0"), "{search:?}: {report}");
        let refs = clipmatch::eval::read_predictions(&grid).unwrap();
        assert!(
            refs.iter().all(|p| clipmatch::eval::norm_id(&p.reference) != "ep2"),
            "{search:?}: ep2 is over its bar"
        );
        let counts = python(&format!(
            "import pyarrow.dataset as ds, json\n\
             t = ds.dataset('{}/manifest', format='parquet', partitioning='hive').to_table()\n\
             print(sorted({{json.loads(c)['search'] + '/' + str(json.loads(c)['catalog_shards']) \
             for c in t.column('counts').to_pylist()}}))",
            grid.display()
        ));
        assert_eq!(counts.trim(), format!("['{}/2']", search[1]));
        // Then a catalogue without an index: its lists, one per part, still hold the
        // descriptors, which the join reads for the videos the neighbours name.
        let manifest = cat.join("manifest.json");
        let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        json["index"] = serde_json::Value::Null;
        std::fs::write(&manifest, json.to_string()).unwrap();
    }
}

//! The catalogue's search index: built with the catalogue, joined by an add, retrained
//! by `catalog index`, and searched by `match --search index` with the rows of the
//! exhaustive search when every cluster is probed.

mod common;

use arrow::record_batch::RecordBatch;
use clipmatch::store::catalog;
use common::*;
use std::path::Path;

/// The `matches` rows of a run without the run id (which names the settings).
fn rows(out: &Path) -> Vec<RecordBatch> {
    let mut files = clipmatch::store::table::parquet_files(&out.join("matches")).unwrap();
    files.sort();
    let mut rows = Vec::new();
    for f in files {
        for b in clipmatch::store::table::read_all(&f).unwrap() {
            let keep: Vec<usize> = (0..b.num_columns()).filter(|&i| b.schema().field(i).name() != "run_id").collect();
            rows.push(b.project(&keep).unwrap());
        }
    }
    rows
}

/// The run manifest's `counts`.
fn counts(out: &Path) -> String {
    let files = clipmatch::store::table::parquet_files(&out.join("manifest")).unwrap();
    let b = &clipmatch::store::table::read_all(&files[0]).unwrap()[0];
    let c = b.column_by_name("counts").unwrap().as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
    c.value(0).to_string()
}

#[test]
fn the_index_is_built_joined_retrained_and_searched_like_the_exhaustive_search() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cat = sample_catalogue(dir.path());
    let c = cat.to_str().unwrap();
    let m = catalog::read_manifest(&cat).unwrap();
    let ix = m.index.clone().expect("a build trains an index");
    assert_eq!(ix.parts, m.parts);
    assert!(ix.centroids >= 16, "{ix:?}");
    assert!(cat.join("index/centroids.bin").exists() && cat.join("index/lists-00000.bin").exists());
    // A descriptor's cluster is the list that holds it: no file of assignments beside.
    assert!(!cat.join("index/assign-00000.bin").exists());

    // Every cluster probed: the index scores every descriptor, so the rows are the
    // exhaustive search's, row for row.
    let (exact, index) = (dir.path().join("exact"), dir.path().join("index"));
    // (The sample holds one broken upload: status 3, its row `failed`.)
    let (code, out, err) = match_sample(&cat, &exact, &["--search", "exact"]);
    assert_eq!(code, 3, "{out}{err}");
    let (code, out, err) = match_sample(&cat, &index, &["--search", "index", "--probes", "100000"]);
    assert_eq!(code, 3, "{out}{err}");
    let expected = rows(&exact);
    assert!(expected.iter().map(|b| b.num_rows()).sum::<usize>() > 0);
    assert_eq!(rows(&index), expected);
    assert!(counts(&exact).contains(r#""search":"exact""#) && counts(&index).contains(r#""search":"index""#));

    // An add assigns its part to the centroids there are.
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    lavfi_video(&extra.join("four.mp4"), "mandelbrot=size=320x180:rate=25", 3.0);
    let (code, out, err) = clipmatch(&["catalog", "add", "--device", "cpu", "--catalog", c, extra.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let m = catalog::read_manifest(&cat).unwrap();
    assert_eq!(m.index.as_ref().unwrap().parts, 2);
    assert_eq!(m.index.as_ref().unwrap().centroids, ix.centroids);
    assert!(catalog::open(&cat, catalog::Hold::ALL).unwrap().index.is_some());

    // Two parts, each searched from its mapped lists (no pictures by default): still the
    // exhaustive search's rows with every cluster probed.
    for part in ["00000", "00001"] {
        assert!(
            cat.join(format!("index/lists-{part}.bin")).exists()
                && !cat.join(format!("index/pictures-{part}.bin")).exists()
        );
    }
    let all = ["--search", "index", "--probes", "100000"];
    let (exact2, mapped) = (dir.path().join("exact2"), dir.path().join("mapped"));
    assert_eq!(match_sample(&cat, &exact2, &["--search", "exact"]).0, 3);
    assert_eq!(match_sample(&cat, &mapped, &all).0, 3);
    assert_eq!(rows(&mapped), rows(&exact2));

    // Damaged lists are refused with the file and the way out named, where the catalogue
    // is loaded and where it is mapped: they held the only copy of the part's
    // descriptors (build again).
    let lists = cat.join("index/lists-00001.bin");
    let kept = std::fs::read(&lists).unwrap();
    std::fs::write(&lists, &kept[..kept.len() - 64]).unwrap();
    let hold = catalog::Hold { frames: true, ..catalog::Hold::ALL };
    let err = catalog::open(&cat, hold).err().unwrap().to_string();
    assert!(err.contains("lists-00001.bin") && err.contains("catalog build"), "{err}");
    let (code, _, err) = match_sample(&cat, &dir.path().join("broken"), &["--search", "index"]);
    assert_eq!(code, 1);
    assert!(err.contains("lists-00001.bin") && err.contains("catalog build"), "{err}");
    std::fs::write(&lists, &kept).unwrap();

    // `catalog index` trains again over every part and assigns them all.
    let (code, out, err) = clipmatch(&["catalog", "index", "--device", "cpu", "--catalog", c]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("centroids"), "{out}");
    let m = catalog::read_manifest(&cat).unwrap();
    assert_eq!((m.index.as_ref().unwrap().parts, m.index.as_ref().unwrap().trained_frames), (2, m.frames));
    let (code, out, err) = match_sample(&cat, &dir.path().join("again"), &["--search", "index"]);
    assert_eq!(code, 3, "{out}{err}");

    // Without an index, `index` is refused and `auto` searches every frame.
    let manifest = cat.join("manifest.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    json["index"] = serde_json::Value::Null;
    std::fs::write(&manifest, json.to_string()).unwrap();
    let (code, _, err) = match_sample(&cat, &dir.path().join("none"), &["--search", "index"]);
    assert_eq!(code, 1);
    assert!(err.contains("no index") && err.contains("catalog index"), "{err}");
    let (code, out, err) = match_sample(&cat, &dir.path().join("auto"), &["--search", "auto"]);
    assert_eq!(code, 3, "{out}{err}");
}

#[test]
fn portrait_strips_are_searched_through_the_index_as_exhaustively() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An upload found through the strips alone (tests/catalog.rs).
    let (videos, uploads) = portrait_fill(d);
    let cat = d.join("cat");
    let (code, out, err) = build_catalogue(&cat, &[], &[&videos]);
    assert_eq!(code, 0, "{out}{err}");
    let c = cat.to_str().unwrap();
    let ix = catalog::read_manifest(&cat).unwrap().index.expect("a build trains an index");
    assert!(ix.strips && cat.join("index/strips-lists-00000.bin").exists(), "{ix:?}");

    let run = |name: &str, args: &[&str]| {
        let out_dir = d.join(name);
        let (code, out, err) = match_uploads(&cat, &out_dir, &uploads, args);
        assert_eq!(code, 0, "{out}{err}");
        rows(&out_dir)
    };
    let all = ["--search", "index", "--probes", "100000"];
    // Every cluster probed: the strips' lists hold every strip, so the rows are the
    // exhaustive search's; and they find the clip.
    let exact = run("exact", &["--search", "exact"]);
    assert!(exact.iter().map(|b| b.num_rows()).sum::<usize>() > 0, "the clip is found");
    assert_eq!(run("mapped", &all), exact);
    // The lists are the only copy of the descriptors: without them the run fails and
    // names the file, whatever the search.
    let lists = cat.join("index/lists-00000.bin");
    let kept = std::fs::read(&lists).unwrap();
    std::fs::remove_file(&lists).unwrap();
    for (name, search) in [("lost", &all[..]), ("lost-exact", &["--search", "exact"][..])] {
        let (code, out, err) = match_uploads(&cat, &d.join(name), &uploads, search);
        assert_ne!(code, 0, "{out}{err}");
        assert!(err.contains("lists-00000.bin"), "{err}");
    }
    std::fs::write(&lists, kept).unwrap();
    assert_eq!(run("restored", &all), exact);

    // An index of an older build assigns no strips: a search through it does not search
    // them, and says so; `catalog info` says how to assign them, `catalog index` does.
    let manifest = cat.join("manifest.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    json["index"].as_object_mut().unwrap().remove("strips");
    std::fs::write(&manifest, json.to_string()).unwrap();
    let out_dir = d.join("older");
    let (code, out, err) = match_uploads(&cat, &out_dir, &uploads, &all);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("does not assign its strips"), "{err}");
    assert_ne!(rows(&out_dir), exact);
    let (code, out, _) = clipmatch(&["catalog", "info", "--catalog", c]);
    assert_eq!(code, 0);
    assert!(out.contains("the index does not assign them"), "{out}");
    let (code, out, err) = clipmatch(&["catalog", "index", "--device", "cpu", "--catalog", c]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(catalog::read_manifest(&cat).unwrap().index.unwrap().strips);
    assert_eq!(run("reindexed", &all), exact);
}

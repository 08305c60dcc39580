//! Catalogue build, incremental add and version refusal.

mod common;

use clipmatch::config::Config;
use clipmatch::eval::norm_id;
use clipmatch::store::catalog::{Catalogue, Hold, open};
use common::*;
use std::path::{Path, PathBuf};

/// Folders `a` (one.mp4) and `b` (one clip, `b.0` made by the lavfi source `b.1`) under
/// `dir`, each clip two seconds long.
fn two_folders(dir: &Path, b: (&str, &str)) -> (PathBuf, PathBuf) {
    let (da, db) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    lavfi_video(&da.join("one.mp4"), "mandelbrot=size=320x180:rate=25", 2.0);
    lavfi_video(&db.join(b.0), b.1, 2.0);
    (da, db)
}

/// The times of video `id`'s frames in `cat`, and the words of each one's first `views`
/// views.
fn frames_of(cat: &Catalogue, id: &str, views: usize) -> (Vec<f64>, Vec<u32>) {
    let v = cat.videos.iter().position(|v| v.id == id).unwrap() as u32;
    let (words, per) = (clipmatch::kernels::descriptor::WORDS, cat.manifest.views);
    let frames: Vec<usize> = (0..cat.frame_video.len()).filter(|&f| cat.frame_video[f] == v).collect();
    let t = frames.iter().map(|&f| cat.frame_t[f]).collect();
    (t, frames.iter().flat_map(|&f| cat.words[f * per * words..][..views * words].to_vec()).collect())
}

#[test]
fn add_appends_without_touching_old_parts_and_refuses_other_versions() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    lavfi_video(&a.join("one.mp4"), "mandelbrot=size=320x180:rate=25", 3.0);
    lavfi_video(&b.join("two.mp4"), "life=size=320x180:rate=25:seed=3:ratio=0.3", 3.0);
    let cat = dir.path().join("cat");
    let c = cat.to_str().unwrap();

    let (code, out, err) = clipmatch(&["catalog", "build", "--catalog", c, "--device", "cpu", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let part0 = cat.join("frames/part-00000.parquet");
    let before = std::fs::read(&part0).unwrap();
    let modified = std::fs::metadata(&part0).unwrap().modified().unwrap();

    // Building over an existing catalogue is refused.
    let (code, _, err) = clipmatch(&["catalog", "build", "--catalog", c, a.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");

    let (code, out, err) =
        clipmatch(&["catalog", "add", "--catalog", c, "--device", "cpu", b.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added 1 videos") && out.contains("skipped 1"), "{out}");
    assert_eq!(std::fs::read(&part0).unwrap(), before);
    assert_eq!(std::fs::metadata(&part0).unwrap().modified().unwrap(), modified);
    assert!(cat.join("frames/part-00001.parquet").exists());

    let loaded = open(&cat, Hold::ALL).unwrap();
    let ids: Vec<&str> = loaded.videos.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["one.mp4", "two.mp4"]);
    assert_eq!(loaded.manifest.version, 2);
    assert_eq!(loaded.frame_t.len() as u64, loaded.manifest.frames);
    assert_eq!(
        loaded.words.len(),
        loaded.frame_t.len() * loaded.manifest.views * clipmatch::kernels::descriptor::WORDS
    );
    // By default no pictures are stored (matching never reads them).
    assert!(loaded.pictures.is_empty() && !cat.join("index/pictures-00000.bin").exists());

    let (code, out, _) = clipmatch(&["catalog", "info", "--catalog", c]);
    assert_eq!(code, 0);
    assert!(out.contains("two.mp4"), "{out}");
    // Its size on disk: every file of the folder, the parts and the index's files.
    let files = ["", "frames", "index"].iter().flat_map(|s| std::fs::read_dir(cat.join(s)).unwrap());
    let total: u64 = files.map(|e| e.unwrap().metadata().unwrap()).filter(|m| m.is_file()).map(|m| m.len()).sum();
    let views = Config::default().decode.catalogue_views;
    let line = format!("on disk: {:.1} MB for 0.00 hours of video, {views} views per frame", total as f64 / 1e6);
    assert!(out.contains(&line) && out.contains("per hour of video: "), "{line}\n{out}");

    // A catalogue of another descriptor version is refused with a clear message.
    let manifest = cat.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let v = clipmatch::kernels::descriptor::DESCRIPTOR_VERSION;
    std::fs::write(&manifest, text.replace(&format!("\"descriptor_version\": {v}"), "\"descriptor_version\": 999"))
        .unwrap();
    let out_dir = dir.path().join("out");
    let (code, _, err) = clipmatch(&["match", "--catalog", c, "--out", out_dir.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("descriptor version 999") && err.contains("rebuild"), "{err}");
    assert!(!out_dir.exists(), "nothing is written for a refused catalogue");
}

#[test]
fn an_add_cuts_frames_with_the_layout_the_catalogue_was_built_with() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A picture between black bars: where the borders are found changes its descriptors.
    let (a, b) = two_folders(dir.path(), ("bars.mp4", "mandelbrot=size=320x120:rate=25,pad=320:240:0:60"));
    // Borders never looked for: the whole frame is the picture.
    let config = dir.path().join("whole.toml");
    std::fs::write(&config, "[layout.borders]\nmin_side = 100000\n").unwrap();
    let build = |name: &str, config: Option<&Path>, inputs: &[&Path]| {
        let cat = dir.path().join(name);
        let extra = config.map(|c| vec!["--config", c.to_str().unwrap()]).unwrap_or_default();
        let (code, out, err) = build_catalogue(&cat, &extra, inputs);
        assert_eq!(code, 0, "{out}{err}");
        cat
    };
    let added = build("added", Some(&config), &[&a]);
    let (code, out, err) =
        clipmatch(&["catalog", "add", "--device", "cpu", "--catalog", added.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let together = build("together", Some(&config), &[&a, &b]);
    let defaults = build("defaults", None, &[&b]);
    let words = |cat: &Path| {
        let c = open(cat, Hold::ALL).unwrap();
        frames_of(&c, "bars.mp4", c.manifest.views).1
    };
    assert_eq!(words(&added), words(&together), "the add used the build's layout");
    assert_ne!(words(&together), words(&defaults), "the layout matters for this video");
}

#[test]
fn a_catalogue_of_fewer_views_stores_the_first_ones_and_its_adds_store_as_many() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_folders(dir.path(), ("two.mp4", "testsrc2=size=320x180:rate=25"));
    let three = dir.path().join("three.toml");
    std::fs::write(&three, "[decode]\ncatalogue_views = 3\n").unwrap();
    let (few, all) = (dir.path().join("few"), dir.path().join("all"));
    let (code, out, err) = build_catalogue(&few, &["--config", three.to_str().unwrap()], &[&a]);
    assert_eq!(code, 0, "{out}{err}");
    // The add runs with the default settings: the catalogue's own count decides.
    let (code, out, err) =
        clipmatch(&["catalog", "add", "--device", "cpu", "--catalog", few.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = build_catalogue(&all, &[], &[&a, &b]);
    assert_eq!(code, 0, "{out}{err}");
    let (few, all) = (open(&few, Hold::ALL).unwrap(), open(&all, Hold::ALL).unwrap());
    assert_eq!((few.manifest.views, all.manifest.views), (3, Config::default().decode.catalogue_views));
    for id in ["one.mp4", "two.mp4"] {
        let (t, w) = frames_of(&few, id, 3);
        assert!(!t.is_empty() && w.len() == t.len() * 3 * clipmatch::kernels::descriptor::WORDS);
        assert_eq!((t, w), frames_of(&all, id, 3), "{id}: built or added, the first three views are stored");
    }

    // More views than there are, or none, are refused before anything is decoded.
    for views in [0, 13] {
        std::fs::write(&three, format!("[decode]\ncatalogue_views = {views}\n")).unwrap();
        let cat = dir.path().join(format!("refused-{views}"));
        let (code, _, err) = build_catalogue(&cat, &["--config", three.to_str().unwrap()], &[&a]);
        assert_ne!(code, 0);
        assert!(err.contains("decode.catalogue_views"), "{err}");
        assert!(!cat.exists(), "{err}");
    }
}

#[test]
fn metadata_is_kept_set_without_recomputing_and_survives_an_add() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cat = sample_catalogue(dir.path());
    let c = cat.to_str().unwrap();
    let (code, out, _) = clipmatch(&["catalog", "info", "--catalog", c]);
    assert_eq!(code, 0);
    assert!(out.contains("Palace of Fractals") && out.contains("The Mirror"), "{out}");
    let videos = || clipmatch::store::catalog::read_videos(&cat).unwrap();
    let title = |id: &str| videos().into_iter().find(|v| v.id == id).unwrap().meta.title;
    assert_eq!(title("ep3.mp4"), None, "a video without a row is allowed");
    let part0 = cat.join("frames/part-00000.parquet");
    let frames = std::fs::read(&part0).unwrap();
    let version = clipmatch::store::catalog::read_manifest(&cat).unwrap().version;

    // New metadata for ep3 and a new title for ep1; a row for no video is reported.
    let csv = dir.path().join("more.csv");
    std::fs::write(&csv, "video_id,title,network\nep3.mp4,Life,Channel 9\nep1,The Zoom,\nnope,x,\n").unwrap();
    let (code, out, err) = clipmatch(&["catalog", "set-metadata", "--catalog", c, csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no video: nope"), "{out}");
    assert_eq!(title("ep3.mp4").as_deref(), Some("Life"));
    assert_eq!(title("ep1.mp4").as_deref(), Some("The Zoom"));
    let ep3 = videos().into_iter().find(|v| v.id == "ep3.mp4").unwrap();
    assert_eq!(ep3.meta.extra.as_deref(), Some(r#"{"network":"Channel 9"}"#));
    assert_eq!(std::fs::read(&part0).unwrap(), frames, "no descriptor recomputed");
    assert_eq!(clipmatch::store::catalog::read_manifest(&cat).unwrap().version, version + 1);

    // An add keeps what the catalogue knew.
    let more = dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    lavfi_video(&more.join("ep4.mp4"), "mandelbrot=size=320x180:rate=25:start_scale=1", 2.0);
    let (code, out, err) = clipmatch(&["catalog", "add", "--device", "cpu", "--catalog", c, more.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(title("ep3.mp4").as_deref(), Some("Life"));
    assert_eq!(videos().len(), 4);

    // Metadata as Parquet, its number columns read as text.
    if require(has_python_modules("pyarrow"), "python3 with pyarrow") {
        let pq = dir.path().join("m.parquet");
        python(&format!(
            "import pyarrow as pa, pyarrow.parquet as q\n\
             q.write_table(pa.table({{'video_id': ['ep4.mp4'], 'series': ['Zooms'], 'episode': [4]}}), '{}')",
            pq.display()
        ));
        let (code, out, err) = clipmatch(&["catalog", "set-metadata", "--catalog", c, pq.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        let ep4 = videos().into_iter().find(|v| v.id == "ep4.mp4").unwrap();
        assert_eq!((ep4.meta.series.as_deref(), ep4.meta.episode.as_deref()), (Some("Zooms"), Some("4")));
    }
}

#[test]
fn a_catalogue_follows_links_and_an_upload_folder_refuses_them() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    // A media store, and a catalogue folder assembled from it by links: one to a file,
    // one to a folder, one dangling, and one that loops back.
    let dir = tempfile::tempdir().unwrap();
    let (store, linked) = (dir.path().join("store"), dir.path().join("linked"));
    std::fs::create_dir_all(store.join("season2")).unwrap();
    std::fs::create_dir_all(&linked).unwrap();
    lavfi_video(&store.join("one.mp4"), "mandelbrot=size=320x180:rate=25", 2.0);
    lavfi_video(&store.join("season2/two.mp4"), "life=size=320x180:rate=25:seed=3:ratio=0.3", 2.0);
    let link = |to: &Path, name: &str| std::os::unix::fs::symlink(to, linked.join(name)).unwrap();
    link(&store.join("one.mp4"), "one.mp4");
    link(&store.join("season2"), "season2");
    link(&store.join("gone.mp4"), "gone.mp4");
    link(&linked, "loop");
    let cat = dir.path().join("cat");
    let (code, out, err) = build_catalogue(&cat, &[], &[&linked]);
    assert_eq!(code, 3, "the dangling link fails, the rest is added: {out}{err}");
    assert!(out.contains("added 2 videos") && out.contains("failed: gone.mp4"), "{out}");
    let ids: Vec<String> = clipmatch::store::catalog::read_videos(&cat).unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(ids, ["one.mp4", "season2/two.mp4"]);

    // Given to `match`, the same folder's links are refused: an upload is a file.
    let outdir = dir.path().join("out");
    let (code, _, err) = match_uploads(&cat, &outdir, &linked, &[]);
    assert_eq!(code, 3, "{err}");
    let rows =
        clipmatch::store::table::read_all(&outdir.join("uploads/run_date=2026-11-24/part-00000.parquet")).unwrap();
    let kinds = rows[0].column_by_name("error_kind").unwrap();
    let kinds = kinds.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
    assert_eq!(kinds.iter().flatten().filter(|k| *k == "not_a_file").count(), 4, "every link: {kinds:?}");
}

#[test]
fn a_compacted_catalogue_stores_a_still_shot_once_and_still_finds_its_clips() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (videos, more) = (d.join("videos"), d.join("more"));
    std::fs::create_dir_all(&videos).unwrap();
    std::fs::create_dir_all(&more).unwrap();
    // A still shot of 4 s, then 4 s of motion; and a second video, all motion.
    let still = "smptehdbars=size=320x180:rate=25,trim=duration=4[a];life=size=320x180:rate=25:seed=5:ratio=0.3,\
                 trim=duration=4[b];[a][b]concat=n=2:v=1";
    lavfi_video(&videos.join("shot.mp4"), still, 8.0);
    lavfi_video(&more.join("moving.mp4"), "life=size=320x180:rate=25:seed=9:ratio=0.3", 4.0);
    lavfi_video(&more.join("still.mp4"), "smptebars=size=320x180:rate=25", 4.0);
    let config = d.join("compact.toml");
    std::fs::write(&config, "[decode]\ncatalogue_repeat_similarity = 0.95\n").unwrap();
    let cat = d.join("cat");
    let (code, out, err) = build_catalogue(&cat, &["--config", config.to_str().unwrap()], &[&videos]);
    assert_eq!(code, 0, "{out}{err}");
    let (sampled, stored) = counts(&out);
    assert!(stored < sampled && stored + 10 <= sampled, "the still shot's repeats are not stored: {out}");
    // An add compacts as the build did.
    let add = |cat: &Path| {
        let (code, out, err) = clipmatch(&[
            "catalog",
            "add",
            "--device",
            "cpu",
            "--catalog",
            cat.to_str().unwrap(),
            more.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        counts(&out)
    };
    let (sampled, stored) = add(&cat);
    assert!(stored + 10 <= sampled, "the still video's repeats are not stored: {sampled} sampled, {stored} stored");

    let loaded = open(&cat, Hold::ALL).unwrap();
    assert_eq!(loaded.manifest.repeat_similarity, Some(0.95));
    assert_eq!(loaded.frame_t.len() as u64, loaded.manifest.frames);
    let samples: u32 = loaded.frame_samples.iter().sum();
    let listed: u64 = loaded.videos.iter().map(|v| v.frames).sum();
    assert_eq!(u64::from(samples), listed, "every sample is stood for by one stored frame");
    for f in 0..loaded.frame_t.len() {
        assert!(loaded.frame_t_end[f] >= loaded.frame_t[f]);
        assert_eq!(loaded.frame_samples[f] == 1, loaded.frame_t_end[f] == loaded.frame_t[f], "frame {f}");
    }

    // The video itself as an upload is found, its still shot included.
    let out_dir = d.join("out");
    let (code, out, err) = match_uploads(&cat, &out_dir, &videos, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("stores every frame"), "{err}");
    let found = python(&format!(
        "import pyarrow.dataset as ds\n\
         t = ds.dataset('{}/matches', format='parquet', partitioning='hive').to_table().to_pylist()\n\
         print([(r['ref_id'], round(r['query_start_s']), round(r['query_end_s'])) for r in t][:1])",
        out_dir.display()
    ));
    let (start, end): (f64, f64) = {
        let t: Vec<&str> = found.trim().trim_matches(|c| "[]()".contains(c)).split(", ").collect();
        assert_eq!(t[0], "'shot.mp4'", "{found}");
        (t[1].parse().unwrap(), t[2].parse().unwrap())
    };
    assert!(start <= 1.0 && end >= 7.0, "the clip spans the still shot and the motion: {found}");

    // A catalogue that stores every frame keeps doing so in an add, whatever the
    // defaults, and is matched with a warning: the judge is fitted on compacted ones.
    let every = d.join("every.toml");
    std::fs::write(&every, "[decode]\ncatalogue_repeat_similarity = 2.0\n").unwrap();
    let full = d.join("full");
    let (code, out, err) = build_catalogue(&full, &["--config", every.to_str().unwrap()], &[&videos]);
    assert_eq!(code, 0, "{out}{err}");
    let (sampled, stored) = counts(&out);
    assert_eq!(sampled, stored, "{out}");
    let (sampled, stored) = add(&full);
    assert_eq!(sampled, stored, "the defaults compact, the catalogue does not");
    // `catalog info` says which.
    let info = |cat: &Path| clipmatch(&["catalog", "info", "--catalog", cat.to_str().unwrap()]).1;
    let (compacted, every) = (info(&cat), info(&full));
    assert!(compacted.contains("frames stored of") && compacted.contains("0.95 similar"), "{compacted}");
    assert!(every.contains("every frame stored"), "{every}");
    let (code, out, err) = match_uploads(&full, &d.join("out-full"), &videos, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("stores every frame"), "{err}");
}

/// Frames sampled and stored, from `catalog build`'s summary line.
fn counts(out: &str) -> (u64, u64) {
    let inner = out.split('(').nth(1).and_then(|s| s.split(')').next()).expect("a summary line");
    let n: Vec<u64> = inner.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
    (n[0], n[1])
}

#[test]
fn a_background_raises_the_bar_of_the_videos_it_matched_by_chance() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cat = sample_catalogue(dir.path());
    let c = cat.to_str().unwrap();
    let uploads = sample().join("uploads.tar.gz");
    let matched = |out: &str, extra: &[&str]| {
        let (code, o, e) = match_sample(&cat, &dir.path().join(out), extra);
        assert!(code == 0 || code == 3, "{o}{e}");
        // (upload, video, vote score): chance scores are measured in votes, not in the
        // judge's probabilities.
        let rows = clipmatch::review::read_matches(&dir.path().join(out).join("matches")).unwrap();
        let mut rows: Vec<_> = rows.into_iter().map(|m| (m.query_id, m.ref_id, m.vote_score)).collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        rows
    };
    let before = matched("before", &[]);
    assert!(!before.is_empty());

    // Footage that cannot be decoded measures nothing and writes nothing.
    let junk = dir.path().join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("x.mp4"), b"not a video").unwrap();
    let (code, out, err) =
        clipmatch(&["catalog", "background", "--device", "cpu", "--catalog", c, junk.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("none of the 1 background videos could be decoded"), "{err}");
    assert!(!cat.join("background.parquet").exists());

    // The sample's own uploads as a stand-in background: every video they match gets
    // its match score as its chance score.
    let (code, out, err) =
        clipmatch(&["catalog", "background", "--device", "cpu", "--catalog", c, uploads.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let chance = clipmatch::store::background::read(&cat).unwrap();
    for (_, video, score) in &before {
        let c = chance.iter().find(|c| norm_id(&c.video_id) == norm_id(video)).expect("a chance score");
        assert!(c.score >= *score - 1e-6, "{video}: chance {} under its match {score}", c.score);
    }
    assert!(!cat.join(".background-run").exists(), "the measurement's run is cleared");
    let manifest = clipmatch::store::catalog::read_manifest(&cat).unwrap();
    assert_eq!(manifest.background.as_ref().map(|b| b.catalogue_version), Some(manifest.version));
    let (_, info, _) = clipmatch(&["catalog", "info", "--catalog", c]);
    assert!(info.contains("background: 4 videos of unrelated footage measured"), "{info}");

    // At a margin of 1 a match equal to its video's chance score still counts; over 1,
    // none of these does.
    assert_eq!(matched("at_one", &[]), before);
    let config = dir.path().join("margin.toml");
    std::fs::write(&config, "[matching.select]\nchance_margin = 1.5\n").unwrap();
    assert!(matched("over_one", &["--config", config.to_str().unwrap()]).is_empty());

    // An add leaves the new video without a chance score, and says so.
    let more = dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    lavfi_video(&more.join("ep4.mp4"), "mandelbrot=size=320x180:rate=25:start_scale=1", 2.0);
    let (code, out, err) = clipmatch(&["catalog", "add", "--device", "cpu", "--catalog", c, more.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, info, _) = clipmatch(&["catalog", "info", "--catalog", c]);
    assert!(info.contains("videos added since have no chance score"), "{info}");
}

/// The rows `uploads` get from a catalogue of `videos` built in `d/name` with `extra`
/// arguments, sorted (video, start, end); the manifest's `key` (strips or bands), and
/// whether the strips' lists are written.
fn rows_through_strips(
    d: &Path,
    (videos, uploads): (&Path, &Path),
    name: &str,
    extra: &[&str],
    key: &str,
) -> (i64, bool, String) {
    let cat = d.join(name);
    let (code, out, err) = build_catalogue(&cat, extra, &[videos]);
    assert_eq!(code, 0, "{out}{err}");
    let (c, out_dir) = (cat.to_str().unwrap(), d.join(format!("out-{name}")));
    let (code, out, err) = match_uploads(&cat, &out_dir, uploads, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let rows = python(&format!(
        "import pyarrow.dataset as ds, json, os\n\
         t = ds.dataset('{}/matches', format='parquet', partitioning='hive').to_table().to_pylist()\n\
         n = json.load(open('{c}/manifest.json'))['{key}']\n\
         print(n, int(os.path.exists('{c}/index/strips-lists-00000.bin')))\n\
         print(sorted((r['ref_id'], round(r['query_start_s']), round(r['query_end_s'])) for r in t))",
        out_dir.display()
    ));
    let (head, rows) = rows.trim().split_once('\n').unwrap();
    let (n, lists) = head.split_once(' ').unwrap();
    (n.parse().unwrap(), lists == "1", rows.to_string())
}

/// `--config` and a config file in `d` that gives the `decode` settings these values.
fn decode_settings(d: &Path, settings: &[(&str, usize)]) -> [String; 2] {
    let lines: String = settings.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    let path = d.join(format!("decode-{:016x}.toml", clipmatch::stable_hash(&[&lines])));
    std::fs::write(&path, format!("[decode]\n{lines}")).unwrap();
    ["--config".into(), path.display().to_string()]
}

/// The upload span of the one row `rows` holds, of `one.mp4` and of no other video.
fn one_span(rows: &str) -> Vec<f64> {
    assert!(rows.starts_with("[('one.mp4', ") && !rows.contains("two.mp4"), "{rows}");
    rows.trim_matches(|c| "[]()".contains(c)).split(", ").skip(1).take(2).map(|x| x.parse().unwrap()).collect()
}

#[test]
fn a_landscape_clip_cropped_to_fill_a_portrait_canvas_is_found_through_the_strips() {
    if !require(has_ffmpeg() && has_python_modules("pyarrow"), "the ffmpeg CLI and pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (videos, uploads) = portrait_fill(d);
    let found = |name: &str, extra: &[&str]| rows_through_strips(d, (&videos, &uploads), name, extra, "strips");
    // By default every catalogue frame stores 11 strips, in lists of their own; the
    // portrait picture searches them and is found over most of its length.
    let (strips, lists, rows) = found("cat", &[]);
    assert_eq!((strips, lists), (11, true));
    let span = one_span(&rows);
    assert!(span[0] <= 2.0 && span[1] >= 6.0, "{rows}");
    // Without strips (as catalogues of older builds), none of the frame's views shows
    // what the upload shows.
    let plain = decode_settings(d, &[("catalogue_strips", 0), ("catalogue_bands", 0), ("catalogue_halves", 0)]);
    let (strips, lists, rows) = found("plain", &[&plain[0], &plain[1]]);
    assert_eq!((strips, lists, rows.as_str()), (0, false, "[]"));
}

#[test]
fn a_clip_stacked_with_other_footage_is_found_through_the_bands_or_halves() {
    if !require(has_ffmpeg() && has_python_modules("pyarrow"), "the ffmpeg CLI and pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let videos = two_videos(d);
    // The clip fills the top half of the canvas, other moving footage the bottom one: on
    // a 16:9 canvas the clip's middle half of rows (a band), on a 9:16 one the middle of
    // its width (a half). The centred square view resembles a half too, so there the
    // catalogues store the whole picture's view alone.
    let cases = [
        ("bands", "crop=320:90:0:45", "320x90", 12, ("1 landscape band per frame", "no landscape bands")),
        (
            "halves",
            "scale=284:160,crop=180:160",
            "180x160",
            1,
            ("1 portrait half crop per frame", "no portrait half crops"),
        ),
    ];
    for (key, fill, size, views, (one, none)) in cases {
        let uploads = d.join(format!("uploads-{key}"));
        std::fs::create_dir_all(&uploads).unwrap();
        let stack = format!("{LIFE},{fill}[a];cellauto=size={size}:rate=25:rule=110[b];[a][b]vstack[out0]");
        lavfi_video(&uploads.join("stack.mp4"), &stack, 8.0);
        let found = |name: &str, settings: &[(&str, usize)]| {
            let config = decode_settings(d, settings);
            rows_through_strips(d, (&videos, &uploads), name, &[&config[0], &config[1]], key)
        };
        let setting = format!("catalogue_{key}");
        // By default every catalogue frame stores one; the top half searches the strips
        // and the clip is found over most of its length.
        let (n, lists, rows) = found(&format!("cat-{key}"), &[("catalogue_views", views)]);
        assert_eq!((n, lists), (1, true), "{key}");
        let span = one_span(&rows);
        assert!(span[0] <= 2.0 && span[1] >= 6.0, "{key}: {rows}");
        // Without them, neither half resembles a view.
        let (n, _, rows) = found(&format!("plain-{key}"), &[("catalogue_views", views), (&setting, 0)]);
        assert_eq!((n, rows.as_str()), (0, "[]"), "{key}");
        // `catalog info` says which.
        let info = |name: String| clipmatch(&["catalog", "info", "--catalog", d.join(name).to_str().unwrap()]).1;
        assert!(info(format!("cat-{key}")).contains(one), "{}", info(format!("cat-{key}")));
        assert!(info(format!("plain-{key}")).contains(none), "{}", info(format!("plain-{key}")));
    }
    // A catalogue of an older build, without halves but with every view: a portrait
    // frame's halves search the views as they did, and the centred square finds the clip.
    let uploads = d.join("uploads-halves");
    let config = decode_settings(d, &[("catalogue_halves", 0)]);
    let (n, _, rows) = rows_through_strips(d, (&videos, &uploads), "older", &[&config[0], &config[1]], "halves");
    assert_eq!(n, 0);
    let span = one_span(&rows);
    assert!(span[0] <= 2.0 && span[1] >= 6.0, "{rows}");
}

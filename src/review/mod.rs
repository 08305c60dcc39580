//! `clipmatch review`: a static, self-contained HTML report of one run for the people
//! who act on its rows. For each matched upload, frames of the upload beside the
//! catalogue frames its segments' lines map them to, decoded again from the archives
//! (only the members shown are spooled) and from the catalogue's source videos, in the
//! job's decode workers; where a source is gone, the catalogue's stored 32x32 picture.
//!
//! `gather` reads the run's tables and decodes the frames; `html` writes the pages.
//! Orchestration of `store` (tables, catalogue) and `ingest` (archives, workers).

mod html;

use crate::error::{Error, Result};
use crate::ingest::archive::{self, Limits, Source, WalkOptions};
use crate::ingest::decode::DecodeOptions;
use crate::ingest::grab::Picture;
use crate::ingest::worker::Worker;
use crate::progress::{self, Progress};
use crate::store::catalog::{self, Catalogue};
use crate::store::merge;
use crate::store::table::{self, MatchRow};
use arrow::array::{Array, BooleanArray, Float32Array, Float64Array, StringArray, UInt32Array};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What to show, and how.
pub struct ReviewOptions {
    pub catalog: PathBuf,
    /// The run's `--out` folder and run date.
    pub out: PathBuf,
    pub run_date: String,
    /// The report's folder: `index.html`, and one page per upload under `uploads/`.
    pub report: PathBuf,
    /// Only the uploads whose id contains this.
    pub upload: Option<String>,
    /// Most uploads shown, the best scoring first.
    pub limit: usize,
    /// Segments scoring under this are left out.
    pub min_score: f32,
    /// Frames shown per segment, and the longer side of a thumbnail in pixels.
    pub frames: usize,
    pub side: u32,
    pub decode: DecodeOptions,
    pub limits: Limits,
    pub workers: usize,
    pub progress: progress::Mode,
}

/// What a review wrote.
#[derive(Debug, Default)]
pub struct ReviewSummary {
    pub uploads: usize,
    pub segments: usize,
    pub thumbnails: usize,
    /// Frames shown from the stored 32x32 pictures, their source gone.
    pub stored_pictures: usize,
    /// Frames not shown: their source gone, and no stored picture.
    pub missing: usize,
    pub index: PathBuf,
}

/// One row of the `uploads` table.
pub struct UploadEntry {
    pub archive: String,
    pub query_id: String,
    pub status: String,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub duration_s: Option<f64>,
}

/// A frame to show: decoded again, or the stored picture where the source is gone.
pub enum Shown {
    Frame(Picture),
    Stored { t: f64, gray: Vec<u8> },
    Missing,
}

/// One segment with its frame pairs: (upload time, catalogue time, upload frame,
/// catalogue frame).
pub struct SegmentView {
    pub row: MatchRow,
    pub pairs: Vec<(f64, f64, Shown, Shown)>,
}

/// One matched upload and its segments, best first.
pub struct UploadView {
    pub archive: String,
    pub query_id: String,
    pub duration_s: f64,
    pub segments: Vec<SegmentView>,
}

/// Writes the report of run date `o.run_date` under `o.report`.
pub fn review(o: &ReviewOptions) -> Result<ReviewSummary> {
    // The refusal of another descriptor version, then only the videos: the frames and
    // their stored pictures are loaded only where a source is gone.
    catalog::read_manifest(&o.catalog)?;
    let videos = catalog::read_videos(&o.catalog)?;
    let mut full: Option<Catalogue> = None;
    let matches = read_matches(&merge::partition(&o.out, "matches", &o.run_date))?;
    let uploads = read_uploads(&merge::partition(&o.out, "uploads", &o.run_date))?;
    let durations: HashMap<(String, String), f64> =
        uploads.iter().filter_map(|u| u.duration_s.map(|d| ((u.archive.clone(), u.query_id.clone()), d))).collect();
    let mut views = select(&matches, &durations, o);
    // The frames to decode: per upload member and per catalogue video, their times.
    let mut upload_times: BTreeMap<(String, String), BTreeSet<Ms>> = BTreeMap::new();
    let mut ref_times: BTreeMap<String, BTreeSet<Ms>> = BTreeMap::new();
    for u in &views {
        for s in &u.segments {
            for &(tq, tr, ..) in &s.pairs {
                upload_times.entry((u.archive.clone(), u.query_id.clone())).or_default().insert(Ms::of(tq));
                ref_times.entry(s.row.ref_id.clone()).or_default().insert(Ms::of(tr));
            }
        }
    }
    let spool = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut tasks = Vec::new();
    let mut kept = Vec::new();
    // Uploads: each archive read once, spooling only the members shown.
    let mut by_archive: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, id) in upload_times.keys() {
        by_archive.entry(a).or_default().insert(id);
    }
    for (a, ids) in by_archive {
        for (id, path, held) in members(Path::new(a), &ids, &o.limits, spool.path()) {
            let times = upload_times[&(a.to_string(), id.clone())].iter().map(|m| m.secs()).collect();
            tasks.push(Task { key: Key::Upload(a.to_string(), id), path, times });
            kept.extend(held);
        }
    }
    // Catalogue videos: from their sources, as the catalogue recorded them.
    for v in videos.iter().filter(|v| ref_times.contains_key(&v.id)) {
        let ids = BTreeSet::from([v.id.as_str()]);
        for (id, path, held) in members(Path::new(&v.source), &ids, &o.limits, spool.path()) {
            let times = ref_times[&id].iter().map(|m| m.secs()).collect();
            tasks.push(Task { key: Key::Ref(id), path, times });
            kept.extend(held);
        }
    }
    let grabbed = grab_all(&tasks, o);
    drop(kept);
    let mut summary = ReviewSummary { uploads: views.len(), ..Default::default() };
    for u in &mut views {
        let up = grabbed.get(&Key::Upload(u.archive.clone(), u.query_id.clone()));
        for s in &mut u.segments {
            summary.segments += 1;
            let video = videos.iter().position(|v| v.id == s.row.ref_id);
            let cf = grabbed.get(&Key::Ref(s.row.ref_id.clone()));
            for (tq, tr, shown_q, shown_r) in &mut s.pairs {
                *shown_q = up.and_then(|p| frame_at(p, *tq)).map_or(Shown::Missing, Shown::Frame);
                *shown_r = match (cf.and_then(|p| frame_at(p, *tr)), video) {
                    (Some(p), _) => Shown::Frame(p),
                    (None, Some(v)) => {
                        let cat = match &full {
                            Some(cat) => cat,
                            None => full.insert(catalog::open(
                                &o.catalog,
                                // Mapped, where the index covers the catalogue: the pictures alone.
                                catalog::Hold {
                                    frames: false,
                                    index: true,
                                    videos: None,
                                    strips: false,
                                    pictures: true,
                                },
                            )?),
                        };
                        stored(cat, v as u32, *tr)
                    }
                    (None, None) => Shown::Missing,
                };
                summary.thumbnails += 2;
                summary.stored_pictures += usize::from(matches!(shown_r, Shown::Stored { .. }));
                summary.missing += [&shown_q, &shown_r].iter().filter(|s| matches!(s, Shown::Missing)).count();
            }
        }
    }
    let report =
        html::Report { run_date: &o.run_date, uploads: &uploads, matches: &matches, views: &views, side: o.side };
    summary.index = html::write(&o.report, &report)?;
    Ok(summary)
}

/// A time in whole milliseconds: a key for sets of times.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ms(i64);

impl Ms {
    fn of(s: f64) -> Ms {
        Ms((s * 1000.0).round() as i64)
    }
    fn secs(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Upload(String, String),
    Ref(String),
}

struct Task {
    key: Key,
    path: PathBuf,
    times: Vec<f64>,
}

/// The uploads to show and their segments' frame times: uploads with a segment at
/// `min_score` or more (and whose id contains `upload`), the best first, at most
/// `limit`; each segment's `frames` times spread over it and the catalogue times its
/// line gives them.
fn select(matches: &[MatchRow], durations: &HashMap<(String, String), f64>, o: &ReviewOptions) -> Vec<UploadView> {
    let mut by_upload: BTreeMap<(String, String), Vec<&MatchRow>> = BTreeMap::new();
    for m in matches.iter().filter(|m| m.score >= o.min_score) {
        if o.upload.as_ref().is_none_or(|u| m.query_id.contains(u.as_str())) {
            by_upload.entry((m.archive.clone(), m.query_id.clone())).or_default().push(m);
        }
    }
    let mut views: Vec<UploadView> = by_upload
        .into_iter()
        .map(|((archive, query_id), mut rows)| {
            rows.sort_by(|a, b| b.score.total_cmp(&a.score));
            let last = rows.iter().map(|r| r.query_end_s).fold(0.0, f64::max);
            let duration_s = durations.get(&(archive.clone(), query_id.clone())).copied().unwrap_or(last).max(last);
            let segments =
                rows.into_iter().map(|r| SegmentView { row: r.clone(), pairs: pairs(r, o.frames) }).collect();
            UploadView { archive, query_id, duration_s, segments }
        })
        .collect();
    views.sort_by(|a, b| best(b).total_cmp(&best(a)).then_with(|| a.query_id.cmp(&b.query_id)));
    views.truncate(o.limit);
    views
}

fn best(u: &UploadView) -> f32 {
    u.segments.first().map_or(0.0, |s| s.row.score)
}

/// `n` upload times spread over a segment and the catalogue times its line maps them to.
/// The line is anchored at the end of the catalogue range where the start was clamped to
/// the head of the video.
fn pairs(r: &MatchRow, n: usize) -> Vec<(f64, f64, Shown, Shown)> {
    let span = r.query_end_s - r.query_start_s;
    let speed = r.speed as f64;
    (0..n)
        .map(|i| {
            let tq = r.query_start_s + span * (i as f64 + 0.5) / n as f64;
            let tr = if r.ref_start_s <= 0.0 && r.ref_end_s > 0.0 {
                r.ref_end_s - speed * (r.query_end_s - tq)
            } else {
                r.ref_start_s + speed * (tq - r.query_start_s)
            };
            (tq, tr.max(0.0), Shown::Missing, Shown::Missing)
        })
        .collect()
}

/// The frame of `pictures` asked for at time `t`.
fn frame_at(pictures: &[Picture], t: f64) -> Option<Picture> {
    pictures.iter().find(|p| Ms::of(p.asked) == Ms::of(t)).cloned()
}

/// The catalogue's stored picture of video `v` nearest time `t` (a compacted frame is
/// at every time of its range); none where the catalogue stores no pictures.
fn stored(cat: &Catalogue, v: u32, t: f64) -> Shown {
    if cat.pictures.is_empty() {
        return Shown::Missing;
    }
    let at = |f: usize| t.clamp(cat.frame_t[f], cat.frame_t_end[f].max(cat.frame_t[f]));
    let nearest = (0..cat.frame_t.len())
        .filter(|&f| cat.frame_video[f] == v)
        .min_by(|&a, &b| (at(a) - t).abs().total_cmp(&(at(b) - t).abs()));
    match nearest {
        Some(f) => Shown::Stored { t: at(f), gray: bytemuck::cast_slice::<u32, u8>(&cat.pictures[f]).to_vec() },
        None => Shown::Missing,
    }
}

/// The members `ids` of `input` (a folder, a video or an archive), each with a path to
/// read it from and, for an archive's, the spooled copy to keep until it is read. An
/// input that is gone yields nothing.
fn members(
    input: &Path,
    ids: &BTreeSet<&str>,
    limits: &Limits,
    tmp: &Path,
) -> Vec<(String, PathBuf, Option<tempfile::TempPath>)> {
    let mut out = Vec::new();
    let wanted = |_: &str, id: &str| ids.contains(id);
    let walk = WalkOptions { limits, wanted: &wanted, follow_links: true, tmp };
    let found = archive::walk(input, &walk, &mut |m| {
        match m.source {
            Source::InPlace(p) => out.push((m.id, p, None)),
            Source::Spooled(t) => out.push((m.id, t.to_path_buf(), Some(t))),
            Source::Refused(e) => tracing::warn!(member = %m.id, "cannot be shown: {e}"),
        }
        out.len() < ids.len()
    });
    if let Err(e) = found {
        tracing::warn!(input = %input.display(), "cannot be read again, its frames are not shown: {e}");
    }
    out
}

/// Runs every task in the decode workers, `workers` at a time.
fn grab_all(tasks: &[Task], o: &ReviewOptions) -> HashMap<Key, Vec<Picture>> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(HashMap::new());
    let progress = Mutex::new(Progress::new(o.progress, "videos", "frames", 0));
    std::thread::scope(|s| {
        for _ in 0..o.workers.max(1) {
            s.spawn(|| {
                let mut worker = o.decode.worker.as_ref().map(|exe| Worker::new(exe, &o.decode));
                while let Some(t) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let name = format!("{:?}", t.key);
                    let got = match &mut worker {
                        Some(w) => w.grab(&t.path, &name, &t.times, o.side, &o.decode),
                        None => crate::ingest::grab::grab(&t.path, &t.times, o.side, &o.decode),
                    };
                    let frames = got.as_ref().map_or(0, |p| p.len() as u64);
                    progress.lock().expect("no panic holds it").update(got.is_err(), frames);
                    match got {
                        Ok(p) => {
                            done.lock().expect("no panic holds it").insert(t.key.clone(), p);
                        }
                        Err(e) => tracing::warn!(video = %t.path.display(), "its frames are not shown: {e}"),
                    }
                }
            });
        }
    });
    progress.into_inner().expect("no panic holds it").finish();
    done.into_inner().expect("no panic holds it")
}

/// The Parquet files of a run's partition folder.
fn partition_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::Invalid(format!("{}: no such run partition (check --out and --run-date)", dir.display())));
    }
    table::parquet_files(dir)
}

/// The `matches` rows of one partition folder (or of every partition below a run's
/// `matches` folder).
pub fn read_matches(dir: &Path) -> Result<Vec<MatchRow>> {
    let mut out = Vec::new();
    for path in partition_files(dir)? {
        for b in table::read_all(&path)? {
            let s = |n: &str| table::column::<StringArray>(&b, n, &path);
            let f = |n: &str| table::column::<Float64Array>(&b, n, &path);
            let (q, a, r) = (s("query_id")?, s("archive")?, s("ref_id")?);
            let (qs, qe, rs, re) = (f("query_start_s")?, f("query_end_s")?, f("ref_start_s")?, f("ref_end_s")?);
            let score = table::column::<Float32Array>(&b, "score", &path)?;
            // Runs written before the judge have no vote score: their score was it.
            let votes = table::column::<Float32Array>(&b, "vote_score", &path).unwrap_or(score);
            let speed = table::column::<Float32Array>(&b, "speed", &path)?;
            let frames = table::column::<UInt32Array>(&b, "matched_frames", &path)?;
            let flipped = table::column::<BooleanArray>(&b, "flipped", &path)?;
            // Absent from runs written before the evidence was reported.
            let evidence = |n: &str| table::column::<Float32Array>(&b, n, &path).ok();
            let (similarity, contrast) = (evidence("line_similarity"), evidence("line_contrast"));
            let at = |c: Option<&Float32Array>, i: usize| c.filter(|c| c.is_valid(i)).map(|c| c.value(i));
            let meta = |n: &str, i: usize| s(n).ok().and_then(|c| table::nullable(c, i));
            for i in 0..b.num_rows() {
                out.push(MatchRow {
                    query_id: q.value(i).into(),
                    archive: a.value(i).into(),
                    query_start_s: qs.value(i),
                    query_end_s: qe.value(i),
                    ref_id: r.value(i).into(),
                    ref_start_s: rs.value(i),
                    ref_end_s: re.value(i),
                    score: score.value(i),
                    vote_score: votes.value(i),
                    matched_frames: frames.value(i),
                    speed: speed.value(i),
                    flipped: flipped.value(i),
                    line_similarity: at(similarity, i),
                    line_contrast: at(contrast, i),
                    series: meta("series", i),
                    episode: meta("episode", i),
                    title: meta("title", i),
                    licensor: meta("licensor", i),
                });
            }
        }
    }
    Ok(out)
}

/// The `uploads` rows of one partition folder.
fn read_uploads(dir: &Path) -> Result<Vec<UploadEntry>> {
    let mut out = Vec::new();
    for path in partition_files(dir)? {
        for b in table::read_all(&path)? {
            let s = |n: &str| table::column::<StringArray>(&b, n, &path);
            let (a, q, status, kind, error) =
                (s("archive")?, s("query_id")?, s("status")?, s("error_kind")?, s("error")?);
            let duration = table::column::<Float64Array>(&b, "duration_s", &path)?;
            for i in 0..b.num_rows() {
                out.push(UploadEntry {
                    archive: a.value(i).into(),
                    query_id: q.value(i).into(),
                    status: status.value(i).into(),
                    error_kind: table::nullable(kind, i),
                    error: table::nullable(error, i),
                    duration_s: duration.is_valid(i).then(|| duration.value(i)),
                });
            }
        }
    }
    Ok(out)
}

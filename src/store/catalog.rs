//! The catalogue: a folder of Parquet tables and a manifest.
//!
//! ```text
//! CATALOG/manifest.json            format, descriptor version, id, version, parameters
//! CATALOG/videos.parquet           one row per video (id, source, duration, fps, ...)
//! CATALOG/frames/part-00000.parquet  the frames of the videos added by one build/add
//! CATALOG/index/                   their descriptors and pictures, in the search
//!                                  index's mapped files (`served`), and the index (`index`)
//! ```
//! `catalog add` writes a new frames part and rewrites the small videos table and the
//! manifest; the parts already there are never touched. The manifest is written last,
//! so a crash mid-add leaves the previous catalogue intact.

use crate::error::{Error, Result};
use crate::frame::views::Strips;
use crate::kernels::descriptor::{DESCRIPTOR_VERSION, WORDS};
use crate::kernels::engine::Searchable;
use crate::kernels::ivf::{Descriptors, Lists, ListsBuilder};
use crate::kernels::mapped::Pictures;
use crate::kernels::search::Matrix;
use crate::store::index::{self, CatalogueIndex, IndexManifest};
use crate::store::parts::{PartData, Times, part_path};
use crate::store::served;
use crate::store::served::Of;
use crate::store::table::{self, VideoMeta, VideoRow, VideosBuilder, column};
use arrow::array::{Array, Float64Array, StringArray, UInt32Array, UInt64Array};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the folder layout. 2: frames carry their picture as 32x32 luma. 3: a
/// frame's descriptors and picture are held once, in the part's files under `index/`,
/// not also in its Parquet part (a third of the catalogue's bytes).
pub const FORMAT: u32 = 3;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub descriptor_version: u32,
    /// Fixed at build time; names this catalogue in every run manifest.
    pub catalogue_id: String,
    /// Incremented by every add.
    pub version: u64,
    /// Frames sampled per second of catalogue video.
    pub rate: f64,
    /// Descriptors (crops) stored per frame, searched by every upload picture.
    pub views: usize,
    /// Portrait strips stored per frame beside them (`frame::views`); 0 in catalogues of
    /// older builds. The strips, bands and halves make one list per frame, searched only
    /// by the upload parts that can show nothing but such a crop (portrait pictures, the
    /// top and bottom halves of frames that are not square), never by a picture's views.
    #[serde(default)]
    pub strips: usize,
    /// Landscape bands, then portrait halves, stored per frame after the strips
    /// (`frame::views`); 0 in catalogues of older builds.
    #[serde(default)]
    pub bands: usize,
    #[serde(default)]
    pub halves: usize,
    /// Whether each frame's picture is stored (`decode.catalogue_pictures`); catalogues
    /// of older builds store them.
    #[serde(default = "stored")]
    pub pictures: bool,
    pub parts: u32,
    pub videos: u64,
    pub frames: u64,
    pub created_at: String,
    pub updated_at: String,
    pub crate_version: String,
    /// The frame layout settings (`layout` of the configuration) its frames were cut
    /// with: every add cuts its frames the same way. Absent in catalogues of older
    /// builds, which used the defaults.
    #[serde(default)]
    pub layout: Option<serde_json::Value>,
    /// The search index, where one was built (see `store::index`).
    #[serde(default)]
    pub index: Option<IndexManifest>,
    /// Compaction: the similarity over which a frame repeating the last stored one is not
    /// stored (`decode.catalogue_repeat_similarity`); absent where every frame is.
    #[serde(default)]
    pub repeat_similarity: Option<f32>,
    /// The background measured by `catalog background` (`store::background`), if any.
    #[serde(default)]
    pub background: Option<crate::store::background::BackgroundManifest>,
}

fn stored() -> bool {
    true
}

impl Manifest {
    /// The crops of other shapes stored per frame after the views.
    pub fn stored_strips(&self) -> Strips {
        Strips { portrait: self.strips, bands: self.bands, halves: self.halves }
    }

    /// Descriptors stored per frame after the views: its strips, bands and halves.
    pub fn strip_count(&self) -> usize {
        self.stored_strips().count()
    }

    /// Whether videos were added since the background was measured (they have no
    /// chance score).
    pub fn background_stale(&self) -> bool {
        self.background.as_ref().is_some_and(|b| b.videos != self.videos)
    }
}

/// A catalogue loaded for matching: frames in catalogue order.
pub struct Catalogue {
    pub manifest: Manifest,
    pub videos: Vec<VideoRow>,
    /// Per stored frame: index into `videos`, time in seconds, the end of the time range
    /// it stands for and the samples in it (compaction; its time and 1 where it stands
    /// for itself alone), energy of its full view.
    pub frame_video: Vec<u32>,
    pub frame_t: Vec<f64>,
    pub frame_t_end: Vec<f64>,
    pub frame_samples: Vec<u32>,
    pub frame_energy: Vec<u32>,
    /// `views * WORDS` descriptor words per frame.
    pub words: Vec<u32>,
    /// Each held frame's strips, bands and halves (`Manifest::strip_count` descriptors of
    /// `WORDS` words), in frame order, where `Hold::strips` asked for them; else empty.
    pub strips: Vec<u32>,
    /// Each frame's picture, packed 32x32, where `Hold::pictures` asked for them and the
    /// catalogue stores them; else empty. Shown by the review page, the scale bench's filler.
    pub pictures: Pictures,
    /// The search index, where it covers every part.
    pub index: Option<CatalogueIndex>,
    /// Where only some videos are held (`Hold::videos`): each held frame's index among
    /// all the catalogue's frames, rising. None where every frame is held.
    pub global: Option<Vec<u32>>,
}

fn err(dir: &Path, reason: impl Into<String>) -> Error {
    Error::Catalogue { path: dir.to_path_buf(), reason: reason.into() }
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}

/// The manifest of a new catalogue in `dir`, `views` descriptors and `strips` per
/// frame (and its picture where `pictures` says) sampled at `rate` and cut with the
/// frame `layout` settings; refused where a catalogue already is.
/// Its frames are compacted with `repeat_similarity` where that is given.
pub fn create(
    dir: &Path,
    rate: f64,
    (views, strips, pictures): (usize, Strips, bool),
    layout: serde_json::Value,
    repeat_similarity: Option<f32>,
) -> Result<Manifest> {
    if manifest_path(dir).exists() {
        return Err(err(dir, "a catalogue already exists here; use `clipmatch catalog add` to extend it"));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let now = now_rfc3339();
    Ok(Manifest {
        format: FORMAT,
        descriptor_version: DESCRIPTOR_VERSION,
        catalogue_id: format!(
            "{:016x}",
            crate::stable_hash(&[&now, &dir.display().to_string(), &std::process::id().to_string()])
        ),
        version: 0,
        rate,
        views,
        strips: strips.portrait,
        bands: strips.bands,
        halves: strips.halves,
        pictures,
        parts: 0,
        videos: 0,
        frames: 0,
        created_at: now.clone(),
        updated_at: now,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        layout: Some(layout),
        index: None,
        repeat_similarity,
        background: None,
    })
}

/// Writes one build or add: its `frames` as a new part, then the whole `videos` table,
/// then, last, the manifest, so that a crash midway leaves the previous catalogue (the
/// new part unreferenced).
pub fn commit(dir: &Path, manifest: &mut Manifest, frames: RecordBatch, videos: &[VideoRow]) -> Result<()> {
    let added = frames.num_rows() as u64;
    table::write_atomic(
        &part_path(dir, manifest.parts),
        table::frames_schema(),
        &[frames],
        &[("clipmatch.descriptor_version".to_string(), DESCRIPTOR_VERSION.to_string())],
    )?;
    manifest.parts += 1;
    manifest.frames += added;
    write_videos(dir, manifest, videos)
}

/// Rewrites the `videos` table (its metadata changed, or videos were added) and then the
/// manifest, one version on; the frames parts are not touched.
pub fn write_videos(dir: &Path, manifest: &mut Manifest, videos: &[VideoRow]) -> Result<()> {
    let mut vb = VideosBuilder::default();
    videos.iter().for_each(|v| vb.push(v));
    table::write_atomic(&dir.join("videos.parquet"), table::videos_schema(), &[vb.finish()?], &[])?;
    manifest.version += 1;
    manifest.videos = videos.len() as u64;
    manifest.updated_at = now_rfc3339();
    write_manifest(dir, manifest)
}

pub fn now_rfc3339() -> String {
    rfc3339(chrono::Utc::now())
}

/// An instant as the tables write it: RFC 3339, seconds, UTC.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads and checks the manifest: the layout and descriptor version must be this build's.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = manifest_path(dir);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| err(dir, format!("no readable manifest.json ({e}); is this a catalogue folder?")))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| err(dir, format!("manifest.json is not valid: {e}")))?;
    if m.format != FORMAT {
        return Err(err(
            dir,
            format!(
                "layout format {} is not the supported format {FORMAT}; rebuild it with `clipmatch catalog build`",
                m.format
            ),
        ));
    }
    if m.descriptor_version != DESCRIPTOR_VERSION {
        return Err(err(
            dir,
            format!(
                "built with descriptor version {}, this clipmatch computes version {DESCRIPTOR_VERSION}; rebuild it with `clipmatch catalog build`",
                m.descriptor_version
            ),
        ));
    }
    Ok(m)
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = manifest_path(dir);
    let tmp = dir.join(".manifest.json.tmp");
    let text = serde_json::to_string_pretty(m).map_err(|e| err(dir, e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// The videos of the catalogue in `dir` (none before its first build).
pub fn read_videos(dir: &Path) -> Result<Vec<VideoRow>> {
    let path = dir.join("videos.parquet");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::new();
    for b in table::read_all(&path)? {
        let id = column::<StringArray>(&b, "id", &path)?;
        let source = column::<StringArray>(&b, "source", &path)?;
        let duration = column::<Float64Array>(&b, "duration_s", &path)?;
        let fps = column::<Float64Array>(&b, "fps", &path)?;
        let frames = column::<UInt64Array>(&b, "frames", &path)?;
        let width = column::<UInt32Array>(&b, "width", &path)?;
        let height = column::<UInt32Array>(&b, "height", &path)?;
        let part = column::<UInt32Array>(&b, "part", &path)?;
        // Metadata columns are absent from catalogues built before them: unknown.
        let text = |name: &str| column::<StringArray>(&b, name, &path).ok();
        let (series, season, episode, title) = (text("series"), text("season"), text("episode"), text("title"));
        let (licensor, licence_id, extra) = (text("licensor"), text("licence_id"), text("extra"));
        let listed = column::<Float64Array>(&b, "listed_duration_s", &path).ok();
        let at = |c: Option<&StringArray>, i: usize| c.and_then(|c| table::nullable(c, i));
        for i in 0..b.num_rows() {
            rows.push(VideoRow {
                id: id.value(i).to_string(),
                source: source.value(i).to_string(),
                duration_s: duration.value(i),
                fps: fps.value(i),
                frames: frames.value(i),
                width: width.value(i),
                height: height.value(i),
                part: part.value(i),
                meta: VideoMeta {
                    series: at(series, i),
                    season: at(season, i),
                    episode: at(episode, i),
                    title: at(title, i),
                    licensor: at(licensor, i),
                    licence_id: at(licence_id, i),
                    listed_duration_s: listed.filter(|c| c.is_valid(i)).map(|c| c.value(i)),
                    extra: at(extra, i),
                },
            });
        }
    }
    Ok(rows)
}

/// What of the catalogue a reader holds in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold<'a> {
    /// The descriptors in frame order (the exhaustive search reads them).
    pub frames: bool,
    /// The index (its lists hold the descriptors too).
    pub index: bool,
    /// The videos whose frames are held, by index into the videos table (`None`: all):
    /// a catalogue shard's, or those an upload's neighbours name.
    pub videos: Option<&'a [bool]>,
    /// The strips (and bands and halves), where the catalogue stores any: beside the
    /// descriptors in frame order for an exhaustive search, in their lists for a search
    /// through the index where it assigns them.
    pub strips: bool,
    /// Each frame's picture (for the review page and the scale bench's filler; matching
    /// never reads them, and at 1 KB a frame they weigh a quarter of the catalogue).
    pub pictures: bool,
}

impl Hold<'_> {
    pub const ALL: Hold<'static> = Hold { frames: true, index: true, videos: None, strips: true, pictures: true };
}

/// Loads every part for matching: descriptors, index or both, of the videos `hold`
/// says. Without an index covering every part, the descriptors are held in frame order
/// whatever `hold` says.
pub fn open(dir: &Path, hold: Hold) -> Result<Catalogue> {
    let manifest = read_manifest(dir)?;
    // Pictures only where the catalogue stores them.
    let hold = Hold { pictures: hold.pictures && manifest.pictures, ..hold };
    let videos = read_videos(dir)?;
    let ids: std::collections::HashMap<&str, u32> =
        videos.iter().enumerate().map(|(i, v)| (v.id.as_str(), i as u32)).collect();
    let views = manifest.views;
    // Searched through the index, every video: served from its mapped files.
    if let Some(m) = &manifest.index
        && hold.index
        && !hold.frames
        && hold.videos.is_none()
        && m.parts == manifest.parts
    {
        let centroids = index::read_centroids(dir, m)?;
        return open_mapped(dir, &manifest, videos, centroids, hold);
    }
    let plan = match &manifest.index {
        Some(m) if hold.index => {
            let plan = index::read(dir, m, manifest.parts)?;
            if plan.is_none() {
                tracing::warn!(
                    catalog = %dir.display(),
                    "the index covers {} of {} parts; run `clipmatch catalog index` to search through it",
                    m.parts,
                    manifest.parts
                );
            }
            plan
        }
        _ => None,
    };
    if let Some(keep) = hold.videos.filter(|k| k.len() != videos.len()) {
        return Err(err(dir, format!("{} videos selected of a catalogue of {}", keep.len(), videos.len())));
    }
    let held = |v: u32| hold.videos.is_none_or(|keep| keep[v as usize]);
    let frames = hold.frames || plan.is_none();
    // The strips' assignments where they are held through the index.
    let strip_plan = plan.as_ref().filter(|p| hold.strips && !p.strips.is_empty()).map(|p| &p.strips);
    let mut kept_strips = Vec::new();
    let mut cat = Catalogue::empty(&manifest, hold.videos.map(|_| Vec::new()));
    if frames {
        cat.words.reserve(manifest.frames as usize * views * WORDS);
    }
    // Held only in the index: each descriptor (and strip) goes straight to its list.
    // Held both ways: the lists are made from the frames at the end, of the clusters
    // kept here.
    let clusters = plan.as_ref().map_or(0, |p| p.centroids.len() / WORDS);
    let index_only = plan.as_ref().filter(|_| !frames);
    // Where only some videos are held, which rows of each part those are, read first
    // from the frames' video column alone: the lists have room for theirs only.
    let mut held_rows: Option<Vec<Vec<bool>>> = None;
    if index_only.is_some() && hold.videos.is_some() {
        let mut rows = Vec::new();
        for part in 0..manifest.parts {
            let path = part_path(dir, part);
            let mut of_part = Vec::new();
            for b in table::read_columns(&path, &["video_id"])? {
                let vid = column::<StringArray>(&b, "video_id", &path)?;
                of_part.extend((0..b.num_rows()).map(|i| ids.get(vid.value(i)).is_some_and(|&v| held(v))));
            }
            rows.push(of_part);
        }
        held_rows = Some(rows);
    }
    let builder = |assigned: &[Vec<u32>], per_row: usize| {
        let room: Vec<u32> = match &held_rows {
            Some(rows) => assigned
                .iter()
                .zip(rows)
                .flat_map(|(a, rows)| {
                    let held = rows.iter().enumerate().filter(|(_, h)| **h);
                    held.flat_map(move |(row, _)| a.get(row * per_row..(row + 1) * per_row).unwrap_or_default())
                })
                .copied()
                .collect(),
            None => assigned.iter().flatten().copied().collect(),
        };
        ListsBuilder::new(per_row, clusters, room)
    };
    let mut lists = index_only.map(|p| builder(&p.assigned, views));
    let mut strip_lists = strip_plan.filter(|_| !frames).map(|s| builder(s, manifest.strip_count()));
    let mut kept_clusters = Vec::new();
    let mut pictures =
        Vec::with_capacity(if hold.videos.is_none() && hold.pictures { manifest.frames as usize } else { 0 });
    // Frames of every video seen so far, held or not: the next frame's global index.
    let mut seen = 0u32;
    let hold_strips = (frames || strip_plan.is_some()) && hold.strips && manifest.strip_count() > 0;
    for part in 0..manifest.parts {
        let path = part_path(dir, part);
        let assigned = plan.as_ref().map(|p| &p.assigned[part as usize]);
        let strip_assigned = strip_plan.map(|p| &p[part as usize]);
        // The part's descriptors and pictures, row by row, from its files under `index/`.
        // (From the lists the index already mapped where it did.)
        let mapped = plan.as_ref().and_then(|p| p.lists.get(part as usize));
        let strips_mapped = plan.as_ref().and_then(|p| p.strip_lists.get(part as usize));
        let strips = hold_strips.then_some((manifest.strip_count(), strips_mapped));
        let data = PartData::read(dir, part, (views, mapped), strips, hold.pictures)?;
        let batches = table::read_all(&path)?;
        data.check_rows(dir, part, batches.iter().map(RecordBatch::num_rows).sum())?;
        let mut rows = 0;
        for b in batches {
            let vid = column::<StringArray>(&b, "video_id", &path)?;
            let times = Times::of(&b, &path)?;
            let energy = column::<UInt32Array>(&b, "energy", &path)?;
            let need = rows + b.num_rows();
            if let Some(a) = assigned.filter(|a| a.len() < need * views) {
                index::check_rows(dir, part, Of::Views, a.len(), need, views)?;
            }
            if let Some(a) = strip_assigned.filter(|a| a.len() < need * manifest.strip_count()) {
                index::check_rows(dir, part, Of::Strips, a.len(), need, manifest.strip_count())?;
            }
            for i in 0..b.num_rows() {
                let row = rows + i;
                // Frames of a video that a later, crashed add left unreferenced are skipped.
                let Some(&v) = ids.get(vid.value(i)) else {
                    continue;
                };
                seen += 1;
                if !held(v) {
                    continue;
                }
                if let Some(g) = cat.global.as_mut() {
                    g.push(seen - 1);
                }
                let frame = cat.frame_video.len() as u32;
                cat.push_frame(v, times.row(dir, &path, i, manifest.rate)?, energy.value(i));
                let words = data.views(row);
                index_row(lists.as_mut(), &mut kept_clusters, assigned, (row, frame), words);
                if frames {
                    cat.words.extend_from_slice(words);
                }
                if let Some(words) = data.strips(row) {
                    index_row(strip_lists.as_mut(), &mut kept_strips, strip_assigned, (row, frame), words);
                    if frames {
                        cat.strips.extend_from_slice(words);
                    }
                }
                pictures.extend(data.pictures.as_ref().map(|p| p[row]));
            }
            rows += b.num_rows();
        }
        if let Some(a) = assigned {
            index::check_rows(dir, part, Of::Views, a.len(), rows, views)?;
        }
        if let Some(a) = strip_assigned {
            index::check_rows(dir, part, Of::Strips, a.len(), rows, manifest.strip_count())?;
        }
    }
    let n = cat.frame_video.len();
    let strips = match (strip_lists, strip_plan) {
        (Some(l), _) => vec![l.finish(n)],
        (None, Some(_)) => {
            vec![Lists::new(&Matrix { words: &cat.strips, views: manifest.strip_count() }, &kept_strips, clusters)]
        }
        (None, None) => Vec::new(),
    };
    if let Some(index::Stored { centroids, .. }) = plan {
        let lists = match lists {
            Some(l) => l.finish(n),
            None => Lists::new(&Matrix { words: &cat.words, views }, &kept_clusters, clusters),
        };
        cat.index = Some(CatalogueIndex { centroids, lists: vec![lists], strips });
    }
    cat.pictures = Pictures::owned(pictures);
    cat.videos = videos;
    Ok(cat)
}

/// Row `row`'s descriptors `words` (of its views or its strips), held as frame `frame`,
/// where the index assigns them (`assigned`, the part's clusters): placed in their lists
/// where the index alone holds them, else their clusters kept for the lists made at the
/// end from the frames.
fn index_row(
    lists: Option<&mut ListsBuilder>,
    kept: &mut Vec<u32>,
    assigned: Option<&Vec<u32>>,
    (row, frame): (usize, u32),
    words: &[u32],
) {
    let Some(a) = assigned else {
        return;
    };
    let per_row = words.len() / WORDS;
    let clusters = &a[row * per_row..(row + 1) * per_row];
    match lists {
        Some(l) => {
            for (view, (w, &c)) in words.chunks_exact(WORDS).zip(clusters).enumerate() {
                l.place(c, frame, view, w);
            }
        }
        None => kept.extend_from_slice(clusters),
    }
}

/// Whether the catalogue `manifest` describes has an index over every part: then `open`
/// maps its files when it holds the index alone.
pub fn indexed(manifest: &Manifest) -> bool {
    manifest.index.as_ref().is_some_and(|m| m.parts == manifest.parts)
}

/// `open` of a catalogue searched through its index from its mapped files: the frames'
/// small columns are read, the lists and pictures mapped part by part.
/// The strips' lists are mapped where `hold` asks for them and the index assigns them,
/// the pictures where it asks for them (and `open` found them stored).
fn open_mapped(
    dir: &Path,
    manifest: &Manifest,
    videos: Vec<VideoRow>,
    centroids: Vec<u32>,
    hold: Hold,
) -> Result<Catalogue> {
    let ids: std::collections::HashMap<&str, u32> =
        videos.iter().enumerate().map(|(i, v)| (v.id.as_str(), i as u32)).collect();
    let made_for = served::centroids_hash(&centroids);
    let mut cat = Catalogue::empty(manifest, None);
    let (mut lists, mut pictures, mut strip_lists) = (Vec::new(), Vec::new(), Vec::new());
    let strips = hold.strips && manifest.index.as_ref().is_some_and(|m| m.strips);
    for part in 0..manifest.parts {
        let path = part_path(dir, part);
        let first = cat.frame_video.len();
        for b in table::read_columns(&path, &["video_id", "t", "t_end", "samples", "energy"])? {
            let vid = column::<StringArray>(&b, "video_id", &path)?;
            let times = Times::of(&b, &path)?;
            let energy = column::<UInt32Array>(&b, "energy", &path)?;
            for i in 0..b.num_rows() {
                // The mapped lists number a part's rows: each must be a frame held.
                let v = *ids.get(vid.value(i)).ok_or_else(|| {
                    let why = format!(
                        "{}: row {i} is of video {}, which the catalogue does not list",
                        path.display(),
                        vid.value(i)
                    );
                    err(dir, why)
                })?;
                cat.push_frame(v, times.row(dir, &path, i, manifest.rate)?, energy.value(i));
            }
        }
        let rows = cat.frame_video.len() - first;
        let l = served::map_lists(dir, part, Of::Views, first as u32, made_for)?;
        let p = match hold.pictures {
            true => Some(served::map_pictures(dir, part)?),
            false => None,
        };
        let s = match strips {
            true => Some(served::map_lists(dir, part, Of::Strips, first as u32, made_for)?),
            false => None,
        };
        let pictures_n = p.as_ref().map_or(rows, |p| p.len());
        if l.frame_count() != rows || pictures_n != rows || s.as_ref().is_some_and(|s| s.frame_count() != rows) {
            return Err(err(
                dir,
                format!(
                    "part {part} has {rows} rows, its mapped lists {} and pictures {}: the part is damaged, build the catalogue again",
                    l.frame_count(),
                    pictures_n
                ),
            ));
        }
        lists.push(l);
        pictures.extend(p);
        strip_lists.extend(s);
    }
    cat.pictures = Pictures::of_parts(pictures);
    cat.index = Some(CatalogueIndex { centroids, lists, strips: strip_lists });
    cat.videos = videos;
    Ok(cat)
}

impl Catalogue {
    /// No frames yet, of the catalogue `manifest` describes; `global` as `Catalogue::global`.
    fn empty(manifest: &Manifest, global: Option<Vec<u32>>) -> Catalogue {
        Catalogue {
            manifest: manifest.clone(),
            videos: Vec::new(),
            frame_video: Vec::new(),
            frame_t: Vec::new(),
            frame_t_end: Vec::new(),
            frame_samples: Vec::new(),
            frame_energy: Vec::new(),
            words: Vec::new(),
            strips: Vec::new(),
            pictures: Pictures::owned(Vec::new()),
            index: None,
            global,
        }
    }

    /// Appends a stored frame's small columns: its video, (time, end, samples), energy.
    fn push_frame(&mut self, video: u32, (t, t_end, samples): (f64, f64, u32), energy: u32) {
        self.frame_video.push(video);
        self.frame_t.push(t);
        self.frame_t_end.push(t_end);
        self.frame_samples.push(samples);
        self.frame_energy.push(energy);
    }

    /// The key of a neighbour among every frame of the catalogue, from its key among the
    /// frames held (`search::Hit::key`: frame and orientation).
    pub fn global_key(&self, key: u32) -> u32 {
        match &self.global {
            Some(g) => g[(key >> 1) as usize] << 1 | (key & 1),
            None => key,
        }
    }

    /// The key among the frames held of a neighbour keyed among every frame; None where
    /// its frame is not held.
    pub fn held_key(&self, key: u32) -> Option<u32> {
        match &self.global {
            Some(g) => Some((g.binary_search(&(key >> 1)).ok()? as u32) << 1 | (key & 1)),
            None => ((key >> 1) < self.frame_video.len() as u32).then_some(key),
        }
    }

    /// The crops of other shapes a search `prepared` holds: those stored where it holds
    /// the strips, else none; they decide where upload halves search (`query_views`).
    pub fn searched_strips(&self, prepared: &Searchable) -> Strips {
        if prepared.strips.is_some() { self.manifest.stored_strips() } else { Strips::default() }
    }

    /// The strips held in frame order, as the exhaustive search reads them; None where
    /// none are.
    pub fn held_strips(&self) -> Option<Matrix<'_>> {
        (!self.strips.is_empty()).then_some(Matrix { words: &self.strips, views: self.manifest.strip_count() })
    }

    /// The strips as alignment reads them: in frame order where held so, else from the
    /// index's lists; None where neither holds them.
    pub fn strip_descriptors(&self) -> Option<Descriptors<'_>> {
        match (self.held_strips(), &self.index) {
            (Some(m), _) => Some(Descriptors::Frames(m.words, m.views)),
            (None, Some(ix)) if !ix.strips.is_empty() => Some(Descriptors::Lists(&ix.strips)),
            _ => None,
        }
    }

    /// The descriptors as alignment reads them: in frame order where held so, else
    /// from the index's lists.
    pub fn descriptors(&self) -> Descriptors<'_> {
        match &self.index {
            Some(ix) if self.words.is_empty() && !self.frame_video.is_empty() => Descriptors::Lists(&ix.lists),
            _ => Descriptors::Frames(&self.words, self.manifest.views),
        }
    }
}

/// Writes the manifest alone, one version on: the index changed, so searches through it
/// may find other neighbours; the tables did not.
pub fn save_manifest(dir: &Path, manifest: &mut Manifest) -> Result<()> {
    manifest.version += 1;
    manifest.updated_at = now_rfc3339();
    write_manifest(dir, manifest)
}

//! Catalogue shards: a catalogue too large for one machine is split by video into M
//! parts, and a night's work into a grid of N upload shards x M catalogue shards.
//!
//! Task (I, J) decodes the uploads of upload shard I, searches them against the videos
//! of catalogue shard J only (video index mod M = J), and stages, per upload, its frames
//! and every view's neighbour list keyed among all the catalogue's frames (`stage`,
//! `store::staged`). The join (`join`, run by `merge`) then makes, per upload shard,
//! the rows one machine would write:
//!
//! - The lists join exactly. Each catalogue frame lives in one shard, the per-shard
//!   search keeps the best `TOPK` of its frames in the order (score, then global key),
//!   and so the best `TOPK` of the M lists in that order is the list of one search over
//!   the whole catalogue. Through the index too: its centroids, so each query's probes,
//!   are the same in every shard, and each shard's lists hold its own frames.
//! - Everything global is computed after the join, once, by the code an unsharded run
//!   runs: the background a vote is measured against (a list's last entry), the
//!   competition of videos for an upload range (`resolve`, `select`).
//!   The join maps the catalogue where its index's files are there, or else holds the
//!   frames of the videos the lists name, in catalogue order: either way alignment sees
//!   the frames an unsharded run would reach, in the same order.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::archive::Member;
use crate::ingest::sample::{self, Decoded};
use crate::ingest::shard::Shard;
use crate::job::stages::Searched;
use crate::kernels::search::{Neighbours, fold};
use crate::matching::model::RefFrames;
use crate::matching::{self, Upload};
use crate::store::catalog::{self, Catalogue, Hold};
use crate::store::merge;
use crate::store::staged::{self, Staged};
use crate::store::table::{self, MatchRow, MatchesBuilder, column};
use arrow::array::{Array, ArrayRef, Float64Array, StringArray, UInt32Array};
use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Which of a catalogue's `videos` videos catalogue shard `cat` holds; None for the
/// whole catalogue.
pub fn videos_of(cat: Shard, videos: u64) -> Option<Vec<bool>> {
    (cat.count > 1).then(|| (0..videos).map(|v| v % u64::from(cat.count) == u64::from(cat.index)).collect())
}

/// What the join needs of one decoded upload searched in the catalogue shard held.
pub(crate) fn stage(m: &Member, d: &Decoded, searched: Searched, cat: &Catalogue, config: &Config) -> Staged {
    // A shard without frames (more shards than videos) gives empty lists.
    let Searched { descriptors, mut neighbours, .. } = searched;
    let mut frame_videos = Vec::new();
    for hit in neighbours.iter_mut().flatten().filter(|h| !h.is_empty()) {
        let video = cat.frame_video[hit.frame()];
        hit.key = cat.global_key(hit.key);
        frame_videos.push([hit.key >> 1, video]);
    }
    frame_videos.sort_unstable();
    frame_videos.dedup();
    Staged {
        archive: m.archive.clone(),
        query_id: m.id.clone(),
        period: 1.0 / config.decode.rate,
        duration: d.info.duration_s,
        times: d.times.clone(),
        views: d.views.clone(),
        parts: d.parts.clone(),
        strip_parts: d.strip_parts.clone(),
        descriptors,
        neighbours,
        frame_videos,
    }
}

/// What `join` did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct JoinSummary {
    /// Upload shards joined, and the catalogue shards each was searched in.
    pub shards: u32,
    pub catalog_shards: u32,
    pub uploads: u64,
    pub matches: u64,
}

/// Joins every upload shard of `run_date` under `out` that was searched in catalogue
/// shards into the rows its one task would have written (then `merge::merge` merges
/// the upload shards as ever). `catalog` must be the catalogue the tasks searched.
pub fn join(out: &Path, run_date: &str, catalog: Option<&Path>) -> Result<JoinSummary> {
    let staged = merge::staged_catalogue_shards(out, run_date)?;
    // Every task of every upload shard must have finished before any is joined: a night
    // with a task missing is refused before anything is written. (An upload shard refused
    // later, for its own reasons, leaves the ones joined before it joined; a merge run
    // again joins the rest.)
    let mut grid = Vec::new();
    for &(shard, count) in &staged {
        grid.push((shard, count, finished_tasks(out, run_date, shard, count)?));
    }
    let mut summary = JoinSummary::default();
    for (shard, count, (dirs, run_id)) in grid {
        let catalog = catalog.ok_or_else(|| {
            Error::Invalid(format!(
                "upload shard {shard} of {run_date} was searched in {count} catalogue shards: pass --catalog, \
                 the catalogue they searched, to join them"
            ))
        })?;
        let (uploads, matches) = join_shard(out, run_date, shard, count, &dirs, &run_id, catalog)?;
        summary.shards += 1;
        summary.catalog_shards = count;
        summary.uploads += uploads;
        summary.matches += matches;
    }
    Ok(summary)
}

/// The staging folders of the `count` catalogue shards of upload shard `shard`, and the
/// run they all finished; refused where one has not finished or another run's is there.
fn finished_tasks(out: &Path, run_date: &str, shard: Shard, count: u32) -> Result<(Vec<PathBuf>, String)> {
    let cats: Vec<Shard> = (0..count).map(|j| Shard::new(j, count)).collect::<Result<_>>()?;
    let dirs: Vec<_> = cats.iter().map(|&c| merge::catalogue_shard_dir(out, run_date, shard, c)).collect();
    let mut run_ids = Vec::new();
    for (c, dir) in cats.iter().zip(&dirs) {
        run_ids.push(merge::finished_run(dir).ok_or_else(|| {
            Error::Invalid(format!(
                "cannot join upload shard {shard} of {run_date}: catalogue shard {c} has not finished (nothing \
                 finished under {}); run it again, then merge",
                dir.display()
            ))
        })?);
    }
    let run_id = run_ids[0].clone();
    if let Some((c, other)) = cats.iter().zip(&run_ids).find(|(_, id)| **id != run_id) {
        return Err(Error::Invalid(format!(
            "cannot join upload shard {shard} of {run_date}: catalogue shard {c} belongs to run {other}, catalogue \
             shard {} to run {run_id}; run every task with the same arguments",
            cats[0]
        )));
    }
    Ok((dirs, run_id))
}

/// A staged table of every catalogue shard folder in `dirs`.
fn read_table(dirs: &[PathBuf], name: &str) -> Result<Vec<(Vec<RecordBatch>, PathBuf)>> {
    dirs.iter()
        .map(|d| {
            let path = d.join(format!("{name}.parquet"));
            Ok((table::read_all(&path)?, path))
        })
        .collect()
}

fn join_shard(
    out: &Path,
    run_date: &str,
    shard: Shard,
    count: u32,
    dirs: &[PathBuf],
    run_id: &str,
    catalog: &Path,
) -> Result<(u64, u64)> {
    let started = Instant::now();
    // The run's settings and catalogue, as the first task recorded them.
    let manifest_path = dirs[0].join("manifest.parquet");
    let (manifest, metadata) = table::read_with_metadata(&manifest_path)?;
    let manifest = concat_batches(&table::manifest_schema(), &manifest)?;
    let text = |name: &str| -> Result<String> {
        let c = column::<StringArray>(&manifest, name, &manifest_path)?;
        (!c.is_empty())
            .then(|| c.value(0).to_string())
            .ok_or_else(|| Error::Invalid(format!("{}: no manifest row", manifest_path.display())))
    };
    let config: Config = serde_json::from_str(&text("parameters")?)
        .map_err(|e| Error::Invalid(format!("{}: the run's parameters do not read: {e}", manifest_path.display())))?;
    let found = catalog::read_manifest(catalog)?;
    let version = column::<arrow::array::UInt64Array>(&manifest, "catalogue_version", &manifest_path)?.value(0);
    if found.catalogue_id != text("catalogue_id")? || found.version != version {
        return Err(Error::Invalid(format!(
            "cannot join upload shard {shard} of {run_date}: its tasks searched catalogue {} version {version}, {} \
             holds catalogue {} version {}",
            text("catalogue_id")?,
            catalog.display(),
            found.catalogue_id,
            found.version
        )));
    }

    // Every upload's lists joined, and how many tasks staged it.
    let mut joined: BTreeMap<(String, String), (Staged, u32)> = BTreeMap::new();
    for (batches, path) in read_table(dirs, staged::TABLE)? {
        for b in &batches {
            for s in staged::rows(b, &path)? {
                let key = (s.archive.clone(), s.query_id.clone());
                let Some((first, n)) = joined.get_mut(&key) else {
                    joined.insert(key, (s, 1));
                    continue;
                };
                if first.times != s.times || first.views != s.views {
                    return Err(Error::Invalid(format!(
                        "{}: upload {}:{} was sampled otherwise by another catalogue shard (another decode or input)",
                        path.display(),
                        key.0,
                        key.1
                    )));
                }
                for (acc, list) in first.neighbours.iter_mut().zip(&s.neighbours) {
                    fold(acc, list);
                }
                first.frame_videos.extend(s.frame_videos);
                *n += 1;
            }
        }
    }
    // Each upload's frames of every shard, in order, for looking up below.
    joined.values_mut().for_each(|(s, _)| s.frame_videos.sort_unstable());
    // Each upload's row: the first task's, or that of a task which failed it (a decode
    // limit hit in one task only), with the time every task spent on it added up.
    let mut all = Vec::new();
    for (batches, _) in read_table(dirs, "uploads")? {
        all.extend(batches);
    }
    let all = concat_batches(&table::uploads_schema(), &all)?;
    let path = dirs[0].join("uploads.parquet");
    let (archive, id) =
        (column::<StringArray>(&all, "archive", &path)?, column::<StringArray>(&all, "query_id", &path)?);
    let (status, ms) =
        (column::<StringArray>(&all, "status", &path)?, column::<Float64Array>(&all, "match_ms", &path)?);
    let mut chosen: BTreeMap<(String, String), (u32, f64)> = BTreeMap::new();
    let mut order = Vec::new();
    for i in 0..all.num_rows() {
        let key = (archive.value(i).to_string(), id.value(i).to_string());
        let (row, spent) = chosen.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (i as u32, 0.0)
        });
        *spent += ms.value(i);
        if status.value(i) != "ok" && status.value(*row as usize) == "ok" {
            *row = i as u32;
        }
    }
    let take: Vec<u32> = order.iter().map(|k| chosen[k].0).collect();
    let uploads = arrow::compute::take_record_batch(&all, &UInt32Array::from(take))?;
    let ok = |k: &(String, String)| status.value(chosen[k].0 as usize) == "ok";
    if let Some(k) = order.iter().find(|k| ok(k) && joined.get(*k).is_none_or(|(_, n)| *n != count)) {
        return Err(Error::Invalid(format!(
            "cannot join upload shard {shard} of {run_date}: upload {}:{} was decoded by every catalogue shard but \
             not staged by all {count}; run the shard's tasks again",
            k.0, k.1
        )));
    }

    // The frames of the videos the lists name, in catalogue order: mapped, the pages of
    // those videos read, where the index's files are there; else those videos loaded.
    let videos = found.videos as usize;
    let mut named = vec![false; videos];
    for (s, _) in joined.values() {
        for h in s.neighbours.iter().flatten().filter(|h| !h.is_empty()) {
            let at = s.frame_videos.binary_search_by_key(&(h.key >> 1), |fv| fv[0]);
            let v = at.ok().and_then(|i| named.get_mut(s.frame_videos[i][1] as usize));
            *v.ok_or_else(|| stale(catalog, &s.archive, &s.query_id))? = true;
        }
    }
    // The strips where the tasks searched them: exhaustively, or through an index that
    // assigns them.
    let strips = !config.search.use_index(found.frames) || found.index.as_ref().is_some_and(|ix| ix.strips);
    let hold = match catalog::indexed(&found) {
        true => Hold { frames: false, index: true, videos: None, strips, pictures: false },
        false => Hold { frames: true, index: false, videos: Some(&named), strips, pictures: false },
    };
    let cat = catalog::open(catalog, hold)?;
    let facts = super::VideoFacts::of(catalog, &cat)?;
    let line = super::timeline(&cat);
    let refs = super::ref_frames(&cat, &line, &facts, &config);

    // Each upload aligned as an unsharded run aligns it, in the uploads table's order.
    let mut counts = Vec::with_capacity(order.len());
    let mut match_ms = Vec::with_capacity(order.len());
    let mut mb = MatchesBuilder::default();
    let mut matches = 0u64;
    for key in &order {
        let t0 = Instant::now();
        let mut found = 0;
        if let Some((s, _)) = joined.get_mut(key).filter(|_| ok(key)) {
            for h in s.neighbours.iter_mut().flatten().filter(|h| !h.is_empty()) {
                h.key = cat.held_key(h.key).ok_or_else(|| stale(catalog, &key.0, &key.1))?;
            }
            for row in align(s, &cat, &refs, &config) {
                mb.push(run_id, &MatchRow { query_id: key.1.clone(), archive: key.0.clone(), ..row });
                found += 1;
            }
        }
        matches += u64::from(found);
        counts.push(found);
        match_ms.push(chosen[key].1 + t0.elapsed().as_secs_f64() * 1e3);
    }
    let uploads = with_column(&uploads, "matches", Arc::new(UInt32Array::from(counts)))?;
    let uploads = with_column(&uploads, "match_ms", Arc::new(Float64Array::from(match_ms)))?;
    // The shard's manifest row: the first task's, its counts those of the joined rows.
    let mut counts: serde_json::Value = serde_json::from_str(&text("counts")?).unwrap_or_default();
    counts["matches"] = matches.into();
    counts["join_s"] = started.elapsed().as_secs_f64().into();
    let manifest = with_column(&manifest, "counts", Arc::new(StringArray::from(vec![counts.to_string()])))?;
    merge::write_shard(out, run_date, shard, run_id, [mb.finish()?, uploads.clone(), manifest], &metadata)?;
    for dir in dirs {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok((uploads.num_rows() as u64, matches))
}

fn stale(catalog: &Path, archive: &str, id: &str) -> Error {
    Error::Invalid(format!(
        "upload {archive}:{id} names a catalogue frame that {} does not hold: was the catalogue changed since the \
         tasks ran?",
        catalog.display()
    ))
}

/// The segments of one joined upload, as `match_one` finds them in an unsharded run.
fn align(s: &Staged, cat: &Catalogue, refs: &RefFrames, config: &Config) -> Vec<MatchRow> {
    let neighbours: &[Neighbours] = &s.neighbours;
    let upload = Upload {
        times: &s.times,
        descriptors: &s.descriptors,
        neighbours,
        ranges: &sample::ranges(&s.views),
        parts: &s.parts,
        strip_parts: &s.strip_parts,
        period: s.period,
        duration: s.duration,
    };
    super::rows_of(matching::find(&upload, refs, &config.matching), cat)
}

/// `batch` with its column `name` replaced by `values`.
fn with_column(batch: &RecordBatch, name: &str, values: ArrayRef) -> Result<RecordBatch> {
    let i = batch.schema().index_of(name)?;
    let mut columns = batch.columns().to_vec();
    columns[i] = values;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

//! `clipmatch match`: the nightly job. Decodes every upload, describes and searches its
//! frames against the catalogue, aligns the matches in time and writes the `matches`,
//! `uploads` and `manifest` tables, Hive-partitioned by run date. A sharded run writes
//! its shard's rows to a staging folder for `merge` (see `merge.rs`); a run over one
//! catalogue shard stages neighbours for the join instead (see `grid.rs`).

pub mod background;
pub mod grid;
mod stages;

use crate::config::Config;
use crate::error::Result;
use crate::ingest::archive::Member;
use crate::ingest::hw::Decoder;
use crate::ingest::pipeline::{self, Outcome, Selection};
use crate::ingest::sample::{Decoded, Views};
use crate::ingest::shard::Shard;
use crate::kernels::descriptor::DESCRIPTOR_VERSION;
use crate::kernels::engine::{Engine, Prepared};
use crate::matching::model::{RefFrames, Segment, Timeline};
use crate::matching::{self, Upload};
use crate::progress::{self, Progress};
use crate::store::catalog::{self, Catalogue, Hold};
use crate::store::checkpoint::Checkpoints;
use crate::store::merge;
use crate::store::staged::{self, Staged, StagedBuilder};
use crate::store::table::{self, ManifestRow, MatchRow, MatchesBuilder, UploadRow, UploadsBuilder};
use arrow::array::{Array, StringArray};
use arrow::compute::concat_batches;
use stages::{Ready, Searched};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct MatchOptions {
    pub catalog: PathBuf,
    pub out: PathBuf,
    pub run_date: String,
    /// Every tuning number of the run.
    pub config: Config,
    /// The executable serving decode workers (None: decode in this process).
    pub worker: Option<PathBuf>,
    /// Where uploads are decoded: the CPU or NVDEC.
    pub decoder: Decoder,
    pub workers: usize,
    /// Which of the run's uploads this process handles.
    pub shard: Shard,
    /// Which of the catalogue's videos it searches (`Shard::ALL`: all, and it aligns).
    pub catalog_shard: Shard,
    /// Uploads between two checkpoints (see `checkpoint.rs`).
    pub checkpoint_uploads: usize,
    /// How progress is shown.
    pub progress: progress::Mode,
}

/// Counts of a finished run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub uploads: u64,
    pub ok: u64,
    pub failed: u64,
    pub matches: u64,
    pub wall_s: f64,
    /// How the catalogue was searched: `exact` (every frame) or `index`.
    pub search: &'static str,
    /// The catalogue shards its uploads were searched in (1: the whole catalogue at once).
    pub catalog_shards: u32,
}

#[derive(serde::Serialize)]
struct InputFact {
    path: String,
    bytes: u64,
}

/// Runs the job over `inputs` with `engine` and writes its tables under `opts.out`.
pub fn run(inputs: &[PathBuf], opts: &MatchOptions, engine: &Engine) -> Result<RunSummary> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let keep = grid::videos_of(opts.catalog_shard, catalog::read_manifest(&opts.catalog)?.videos);
    let staging = keep.is_some();
    let cat =
        catalog::open(&opts.catalog, Hold { videos: keep.as_deref(), ..opts.config.search.hold(&opts.catalog)? })?;
    let params = serde_json::to_string(&opts.config).map_err(|e| crate::Error::Invalid(e.to_string()))?;
    let inputs_fact: Vec<InputFact> = inputs
        .iter()
        .map(|p| InputFact { path: p.display().to_string(), bytes: p.metadata().map(|m| m.len()).unwrap_or(0) })
        .collect();
    let mut key: Vec<String> = vec![
        opts.run_date.clone(),
        cat.manifest.catalogue_id.clone(),
        cat.manifest.version.to_string(),
        // The configuration with the crate and descriptor versions: another build or
        // setting is another run, whose checkpoints are never resumed.
        opts.config.fingerprint(),
        // The tables' layout: checkpoints of a build that wrote other columns are not
        // resumed.
        format!("{:?}{:?}", table::matches_schema(), table::uploads_schema()),
    ];
    key.extend(inputs.iter().map(|p| p.display().to_string()));
    let key_refs: Vec<&str> = key.iter().map(String::as_str).collect();
    let run_id = format!("{}-{:08x}", opts.run_date.replace('-', ""), crate::stable_hash(&key_refs) as u32);

    let prepared = opts.config.search.prepare(engine, &cat)?;
    // What alignment reads of the catalogue; a catalogue shard's run stages neighbours
    // for the join instead of aligning.
    let facts = VideoFacts::of(&opts.catalog, &cat)?;
    if cat.manifest.background_stale() {
        tracing::warn!(
            "videos were added to the catalogue since its background was measured: they have no chance score \
             (`clipmatch catalog background` measures them)"
        );
    }
    if cat.manifest.repeat_similarity.is_none() && opts.config.decode.catalogue_compaction().is_some() {
        tracing::warn!(
            "the catalogue stores every frame, and the judge (`matching.judge`) is fitted on runs against \
             compacted catalogues: a catalogue built again at the defaults stores fewer frames and finds more \
             clips (docs/COMPACTION.md)"
        );
    }
    let line = (!staging).then(|| timeline(&cat));
    let decode = opts.config.decode_options(false, opts.worker.clone(), opts.decoder);

    let (stage, table, schema) = match staging {
        true => (
            merge::catalogue_shard_dir(&opts.out, &opts.run_date, opts.shard, opts.catalog_shard),
            staged::TABLE,
            staged::schema(),
        ),
        false => (merge::shard_dir(&opts.out, &opts.run_date, opts.shard), "matches", table::matches_schema()),
    };
    let mut checkpoints = Checkpoints::open(&stage, &run_id, table, schema.clone())?;
    let done = std::mem::take(&mut checkpoints.done);
    let resumed: usize = done.values().sum();
    if resumed > 0 {
        tracing::warn!(run = %run_id, "resuming: {resumed} uploads were done before an interruption");
    }
    let mut uploads: Vec<UploadRow> = Vec::new();
    let mut pending = match &line {
        Some(line) => Pending::Matches(ref_frames(&cat, line, &facts, &opts.config), Vec::new()),
        None => Pending::Staged(Vec::new()),
    };
    let mut last_save = Instant::now();
    let mut progress = Progress::new(opts.progress, "uploads", "matches", resumed as u64);
    let mut align = |m: Member, out: Ready| -> Result<()> {
        let t0 = Instant::now();
        let mut row = UploadRow {
            query_id: m.id.clone(),
            archive: m.archive.clone(),
            status: "ok",
            size_bytes: m.size,
            decode_ms: out.decode_ms,
            ..Default::default()
        };
        let mut search_ms = 0.0;
        match out.result {
            Err(e) => {
                row.status = "failed";
                row.error_kind = Some(e.kind.as_str());
                let name = if m.id.is_empty() { m.archive.clone() } else { format!("{}:{}", m.archive, m.id) };
                row.error = Some(format!("{name}: {e}"));
                tracing::warn!(upload = %name, kind = e.kind.as_str(), "{e}");
            }
            Ok((d, searched)) => {
                search_ms = searched.search_ms;
                row.duration_s = Some(d.info.duration_s);
                row.frames_sampled = d.info.frames_sampled;
                row.width = Some(d.info.width);
                row.height = Some(d.info.height);
                row.codec = Some(d.info.codec.clone());
                match &mut pending {
                    Pending::Matches(refs, matches) => {
                        let found = match_one(&d, &searched, &cat, refs, opts);
                        row.matches = found.len() as u32;
                        for s in found {
                            matches.push(MatchRow { query_id: m.id.clone(), archive: m.archive.clone(), ..s });
                        }
                    }
                    Pending::Staged(staged) => staged.push(grid::stage(&m, &d, searched, &cat, &opts.config)),
                }
            }
        }
        row.match_ms = search_ms + t0.elapsed().as_secs_f64() * 1e3;
        progress.update(row.status != "ok", u64::from(row.matches));
        uploads.push(row);
        if uploads.len() >= opts.checkpoint_uploads || last_save.elapsed().as_secs_f64() >= CHECKPOINT_S {
            save(&mut checkpoints, &run_id, &mut uploads, &mut pending)?;
            last_save = Instant::now();
        }
        Ok(())
    };
    // Links in upload folders are refused, as links in archives are: an upload is a file.
    let select = Selection { shard: opts.shard, done: Some(&done), follow_links: false };
    let limits = opts.config.archive_limits();
    let searched = cat.searched_strips(&prepared);
    let decode_all = |sink: &mut dyn FnMut(Member, Outcome) -> Result<()>| {
        pipeline::run(inputs, &limits, &select, &decode, Views::Query { searched }, opts.workers, sink)
    };
    let batch = opts.config.search.batch_images;
    stages::run(decode_all, engine, &prepared, !cat.frame_video.is_empty(), batch, &mut align)?;
    progress.finish();
    save(&mut checkpoints, &run_id, &mut uploads, &mut pending)?;

    let all_uploads = concat_batches(&table::uploads_schema(), &checkpoints.uploads)?;
    let all_rows = concat_batches(&schema, &checkpoints.rows)?;
    let mut summary = RunSummary {
        run_id: run_id.clone(),
        uploads: all_uploads.num_rows() as u64,
        matches: if staging { 0 } else { all_rows.num_rows() as u64 },
        search: if matches!(prepared.views, Prepared::Index(_)) { "index" } else { "exact" },
        catalog_shards: opts.catalog_shard.count,
        ..Default::default()
    };
    let status = table::column::<StringArray>(&all_uploads, "status", &opts.out)?;
    for i in 0..status.len() {
        match status.value(i) {
            "ok" => summary.ok += 1,
            _ => summary.failed += 1,
        }
    }
    let device = engine.summary();
    let provenance = [
        ("clipmatch.run_id", run_id.clone()),
        ("clipmatch.catalogue_id", cat.manifest.catalogue_id.clone()),
        ("clipmatch.descriptor_version", DESCRIPTOR_VERSION.to_string()),
        ("clipmatch.version", env!("CARGO_PKG_VERSION").to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    summary.wall_s = started.elapsed().as_secs_f64();
    let finished_at = chrono::Utc::now();
    let manifest = ManifestRow {
        run_id: run_id.clone(),
        run_date: opts.run_date.clone(),
        shard: opts.shard.to_string(),
        started_at: catalog::rfc3339(started_at),
        finished_at: catalog::rfc3339(finished_at),
        started_ms: started_at.timestamp_millis(),
        finished_ms: finished_at.timestamp_millis(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        descriptor_version: DESCRIPTOR_VERSION,
        catalogue_id: cat.manifest.catalogue_id.clone(),
        catalogue_version: cat.manifest.version,
        device: device.kind.into(),
        adapter: device.adapter.clone(),
        backend: device.backend.clone(),
        decoder: opts.decoder.name().into(),
        inputs: serde_json::to_string(&inputs_fact).unwrap_or_default(),
        parameters: params,
        counts: serde_json::to_string(&summary).unwrap_or_default(),
    };
    if staging {
        let tables = [
            ("uploads", table::uploads_schema(), all_uploads),
            (staged::TABLE, schema, all_rows),
            ("manifest", table::manifest_schema(), manifest.finish()?),
        ];
        merge::write_tables(&stage, &run_id, tables, &provenance)?;
        checkpoints.finish()?;
        return Ok(summary);
    }
    let tables = [all_rows, all_uploads, manifest.finish()?];
    merge::write_shard(&opts.out, &opts.run_date, opts.shard, &run_id, tables, &provenance)?;
    checkpoints.finish()?;
    if opts.shard.count == 1 {
        merge::merge(&opts.out, &opts.run_date, Some(1))?;
    }
    Ok(summary)
}

/// The catalogue's samples, a compacted frame's repeats restored (`Timeline`).
fn timeline(c: &Catalogue) -> Timeline {
    Timeline::new(&c.frame_video, (&c.frame_t, &c.frame_t_end, &c.frame_samples), &c.frame_energy, c.videos.len())
}

/// What alignment reads of each catalogue video beside its frames.
struct VideoFacts {
    duration: Vec<f64>,
    chance: Vec<f32>,
}

impl VideoFacts {
    /// Those of `cat`, opened from `dir`.
    fn of(dir: &Path, cat: &Catalogue) -> Result<VideoFacts> {
        Ok(VideoFacts {
            duration: cat.videos.iter().map(|v| v.duration_s).collect(),
            chance: crate::store::background::scores(dir, &cat.videos)?,
        })
    }
}

/// What alignment reads of `cat`, over its samples `line`.
fn ref_frames<'a>(cat: &'a Catalogue, line: &'a Timeline, facts: &'a VideoFacts, config: &Config) -> RefFrames<'a> {
    RefFrames {
        video: &line.video,
        t: &line.t,
        energy: &line.energy,
        stored: &line.stored,
        first: &line.first,
        duration: &facts.duration,
        chance: &facts.chance,
        descriptors: cat.descriptors(),
        strips: cat.strip_descriptors(),
        by_video: &line.by_video,
        near_s: config.matching.grow.near_s,
    }
}

/// Longest time between two checkpoints of a running shard.
const CHECKPOINT_S: f64 = 30.0;

/// The rows gathered since the last checkpoint beside the uploads: the matches, with
/// what alignment reads of the catalogue; or, where the run searches a catalogue shard,
/// the neighbours it stages for the join.
enum Pending<'a> {
    Matches(RefFrames<'a>, Vec<MatchRow>),
    Staged(Vec<Staged>),
}

/// Writes the rows gathered since the last checkpoint as a new one.
fn save(cp: &mut Checkpoints, run_id: &str, uploads: &mut Vec<UploadRow>, pending: &mut Pending) -> Result<()> {
    if uploads.is_empty() {
        return Ok(());
    }
    let mut ub = UploadsBuilder::default();
    uploads.drain(..).for_each(|r| ub.push(run_id, &r));
    let rows = match pending {
        Pending::Staged(staged) => {
            let mut sb = StagedBuilder::default();
            staged.drain(..).for_each(|s| sb.push(&s));
            sb.finish()?
        }
        Pending::Matches(_, matches) => {
            let mut mb = MatchesBuilder::default();
            matches.drain(..).for_each(|r| mb.push(run_id, &r));
            mb.finish()?
        }
    };
    cp.save(ub.finish()?, rows)
}

/// Aligns one decoded and searched upload.
fn match_one(
    d: &Decoded,
    searched: &Searched,
    cat: &Catalogue,
    refs: &RefFrames,
    opts: &MatchOptions,
) -> Vec<MatchRow> {
    let upload = Upload {
        times: &d.times,
        descriptors: &searched.descriptors,
        neighbours: &searched.neighbours,
        ranges: &d.ranges(),
        parts: &d.parts,
        strip_parts: &d.strip_parts,
        period: 1.0 / opts.config.decode.rate,
        duration: d.info.duration_s,
    };
    rows_of(matching::find(&upload, refs, &opts.config.matching), cat)
}

/// The `matches` rows of an upload's segments, its ids left for the caller to fill.
fn rows_of(found: Vec<Segment>, cat: &Catalogue) -> Vec<MatchRow> {
    found
        .into_iter()
        .map(|s| {
            let video = &cat.videos[s.video as usize];
            MatchRow {
                query_id: String::new(),
                archive: String::new(),
                query_start_s: s.query_start,
                query_end_s: s.query_end,
                ref_id: video.id.clone(),
                ref_start_s: s.ref_start,
                ref_end_s: s.ref_end,
                // `select` judged every segment it returns.
                score: s.probability.unwrap_or(0.0),
                vote_score: s.score,
                matched_frames: s.frames,
                speed: s.speed as f32,
                flipped: s.mirrored,
                line_similarity: s.evidence.map(|e| e.similarity),
                line_contrast: s.evidence.map(|e| e.contrast),
                series: video.meta.series.clone(),
                episode: video.meta.episode.clone(),
                title: video.meta.title.clone(),
                licensor: video.meta.licensor.clone(),
            }
        })
        .collect()
}

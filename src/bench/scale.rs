//! `clipmatch bench --catalog-hours`: what the catalogue costs as it grows. For each
//! size, a real catalogue folder (one `match` opens like any other): the real catalogue
//! plus filler that follows real footage (`filler`), with its index. Measured per size:
//! bytes on disk and in memory, the time to write it and to train and assign its index,
//! the search time per upload (queries of real uploads) exhaustively and through the
//! index at each probe count, and the index's recall of the exhaustive top 16.

use crate::bench::filler::{self, FillerModel};
use crate::build;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::frame::views::Strips;
use crate::ingest::hw::Decoder;
use crate::ingest::pipeline::{self, Selection};
use crate::ingest::sample::Views;
use crate::ingest::shard::Shard;
use crate::kernels::descriptor::WORDS;
use crate::kernels::engine::Engine;
use crate::kernels::ivf::Lists;
use crate::kernels::search::{Matrix, Neighbours};
use crate::store::catalog::{self, Catalogue, Hold};
use crate::store::table::{FramesBuilder, VideoMeta, VideoRow};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct ScaleOptions {
    /// Catalogue sizes, hours of video at the real catalogue's sampling rate.
    pub hours: Vec<f64>,
    /// The real catalogue every size starts from.
    pub real: PathBuf,
    /// A catalogue of footage no upload shows, which the filler is made from.
    pub donor: PathBuf,
    /// Uploads whose query descriptors are searched.
    pub uploads: Vec<PathBuf>,
    /// Where the catalogues are written (`h{hours}` each; replaced when there).
    pub work: PathBuf,
    pub probes: Vec<usize>,
    /// Query descriptors searched exhaustively, for recall and the exhaustive time.
    pub sample_queries: usize,
    /// Catalogues up to this many hours are also searched by the exhaustive scan over
    /// descriptors held in memory; larger ones do not fit, and their exhaustive top 16
    /// comes from the index with every cluster probed, its lists read from the mapped
    /// files.
    pub exact_max_hours: f64,
    pub seed: u64,
    pub model: FillerModel,
    pub config: Config,
    pub worker: Option<PathBuf>,
    pub decoder: Decoder,
    pub workers: usize,
}

/// The index at one probe count.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProbeRow {
    pub probes: usize,
    /// Every upload's queries searched through the index, mean per upload.
    pub search_ms_per_upload: f64,
    /// Share of the exhaustive top 16 (non-empty hits) that the index returns, and of the
    /// exhaustive best hit, over the sampled queries.
    pub recall_at_16: f64,
    pub recall_at_1: f64,
    /// Catalogue frames the fine stage scores per query, mean over the sampled queries.
    pub frames_scored_per_query: f64,
}

/// One catalogue size.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScaleRow {
    pub hours: f64,
    pub path: String,
    pub videos: usize,
    pub frames: u64,
    pub disk_bytes: u64,
    /// What `match` holds of the catalogue searching every frame (descriptors in frame
    /// order), and searching through the index (the lists hold the descriptors):
    /// descriptors and per-frame columns.
    pub memory_exact_bytes: u64,
    pub memory_index_bytes: u64,
    pub index_bytes: u64,
    pub centroids: usize,
    pub write_s: f64,
    /// Training the centroids and assigning every part, reading the parts included.
    pub index_s: f64,
    pub open_s: f64,
    /// The exhaustive search, from the sampled queries, scaled to a mean upload (none
    /// above `exact_max_hours`).
    pub exact_ms_per_upload: Option<f64>,
    pub index: Vec<ProbeRow>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ScaleReport {
    pub clipmatch_version: &'static str,
    pub device: String,
    pub adapter: String,
    pub cpu_threads: usize,
    pub uploads: usize,
    pub queries: usize,
    pub mean_queries_per_upload: f64,
    /// Decoding and sampling an upload (the decode workers' own time), mean.
    pub decode_ms_per_upload: f64,
    pub sample_queries: usize,
    pub exact_max_hours: f64,
    pub seed: u64,
    pub model: FillerModel,
    pub rows: Vec<ScaleRow>,
}

/// Filler frames written per part: bounds the memory of writing (about 440 MB).
const PART_FRAMES: usize = 172_800;

pub fn run(engine: &Engine, o: &ScaleOptions) -> Result<ScaleReport> {
    let real = catalog::open(&o.real, Hold::ALL)?;
    let donor = catalog::open(&o.donor, Hold::ALL)?;
    if donor.manifest.views != real.manifest.views || donor.frame_video.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: the donor catalogue must hold frames of {} views, as {} does",
            o.donor.display(),
            real.manifest.views,
            o.real.display()
        )));
    }
    let (uploads, decode_ms) = queries_of(engine, o)?;
    let all: Vec<[u32; WORDS]> = uploads.iter().flatten().copied().collect();
    if all.is_empty() {
        return Err(Error::Invalid("no upload could be decoded: nothing to search".into()));
    }
    let step = (all.len() / o.sample_queries.max(1)).max(1);
    let sample: Vec<[u32; WORDS]> = all.iter().step_by(step).copied().collect();
    let mean_queries = all.len() as f64 / uploads.len() as f64;
    let mut rows = Vec::new();
    for &hours in &o.hours {
        let dir = o.work.join(format!("h{hours}"));
        tracing::info!(hours, dir = %dir.display(), "writing the catalogue");
        let start = Instant::now();
        write(&dir, hours, &real, &donor, o)?;
        let write_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let centroids = build::reindex(&dir, engine, &o.config.index)?;
        let index_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        // Searched, never shown: no pictures.
        let mapped = Hold { frames: false, index: true, videos: None, strips: false, pictures: false };
        let held = Hold { pictures: false, ..Hold::ALL };
        let cat = catalog::open(&dir, if hours <= o.exact_max_hours { held } else { mapped })?;
        let open_s = start.elapsed().as_secs_f64();
        rows.push(measure(
            engine,
            &cat,
            &dir,
            o,
            &uploads,
            &sample,
            mean_queries,
            (write_s, index_s, open_s, centroids),
        )?);
        tracing::info!(hours, "measured");
    }
    let s = engine.summary();
    Ok(ScaleReport {
        clipmatch_version: env!("CARGO_PKG_VERSION"),
        device: s.kind.into(),
        adapter: s.adapter,
        cpu_threads: rayon::current_num_threads(),
        uploads: uploads.len(),
        queries: all.len(),
        mean_queries_per_upload: mean_queries,
        decode_ms_per_upload: decode_ms,
        sample_queries: sample.len(),
        exact_max_hours: o.exact_max_hours,
        seed: o.seed,
        model: o.model.clone(),
        rows,
    })
}

/// Every decodable upload's query descriptors (all views, as `match` searches them),
/// and the mean decode time.
fn queries_of(engine: &Engine, o: &ScaleOptions) -> Result<(Vec<Vec<[u32; WORDS]>>, f64)> {
    let decode = o.config.decode_options(false, o.worker.clone(), o.decoder);
    let select = Selection { shard: Shard::ALL, done: None, follow_links: false };
    let mut uploads = Vec::new();
    let mut decode_ms = 0.0;
    pipeline::run(
        &o.uploads,
        &o.config.archive_limits(),
        &select,
        &decode,
        Views::Query { searched: Strips::default() },
        o.workers,
        &mut |_, out| {
            if let Ok(d) = out.result {
                uploads.push(engine.describe(&d.images)?.iter().map(|x| x.words).collect());
                decode_ms += out.decode_ms;
            }
            Ok(())
        },
    )?;
    let n = uploads.len().max(1) as f64;
    Ok((uploads, decode_ms / n))
}

/// Writes a catalogue of `hours` into `dir`: the real catalogue as part 0, filler videos
/// in parts after it.
fn write(dir: &Path, hours: f64, real: &Catalogue, donor: &Catalogue, o: &ScaleOptions) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let (views, rate) = (real.manifest.views, real.manifest.rate);
    let layout = real.manifest.layout.clone().unwrap_or_default();
    // No strips: the index, which this bench measures, does not search them. Pictures
    // where both catalogues store them (the filler's are the donor's).
    let with_pictures = !real.pictures.is_empty() && !donor.pictures.is_empty();
    let shape = (views, Strips::default(), with_pictures);
    let mut manifest = catalog::create(dir, rate, shape, layout, real.manifest.repeat_similarity)?;
    let mut frames = FramesBuilder::default();
    for f in 0..real.frame_video.len() {
        let id = &real.videos[real.frame_video[f] as usize].id;
        let range = (real.frame_t[f], real.frame_t_end[f], real.frame_samples[f]);
        frames.push(id, range, real.frame_energy[f]);
    }
    // Stored as a part that no index covers yet: the index is trained over every part
    // once they are all written.
    let m = Matrix { words: &real.words, views };
    let pictures = with_pictures.then(|| (0..real.frame_video.len()).map(|f| real.pictures[f]).collect::<Vec<_>>());
    build::store_part(dir, 0, (&m, None), None, pictures.as_deref())?;
    let mut videos: Vec<VideoRow> = real.videos.iter().cloned().map(|v| VideoRow { part: 0, ..v }).collect();
    catalog::commit(dir, &mut manifest, frames.finish()?, &videos)?;

    let target = (hours * 3600.0 * rate).round() as usize;
    let per_video = (o.model.video_s * rate).round().max(1.0) as usize;
    let mut have = real.frame_video.len();
    let mut next = 0u64;
    while have < target {
        // The videos of one part: whole ones, the last cut to the size asked for.
        let mut batch = Vec::new();
        let mut in_part = 0;
        while have < target && in_part < PART_FRAMES {
            let n = per_video.min(target - have);
            batch.push((next, n));
            next += 1;
            have += n;
            in_part += n;
        }
        let made: Vec<Vec<filler::FillerFrame>> =
            batch.par_iter().map(|&(i, n)| filler::video(donor, &o.model, o.seed, i, n)).collect();
        let mut frames = FramesBuilder::default();
        let (mut words, mut pictures) = (Vec::new(), Vec::new());
        for (&(i, n), video) in batch.iter().zip(&made) {
            let id = format!("filler-{i:06}");
            for (k, f) in video.iter().enumerate() {
                frames.push(&id, (k as f64 / rate, k as f64 / rate, 1), f.energy);
                words.extend_from_slice(&f.words);
                pictures.extend(f.picture.filter(|_| with_pictures));
            }
            videos.push(VideoRow {
                id,
                source: format!("filler:seed={}:video={i}", o.seed),
                duration_s: n as f64 / rate,
                fps: rate,
                frames: n as u64,
                width: 0,
                height: 0,
                part: manifest.parts,
                meta: VideoMeta::default(),
            });
        }
        drop(made);
        let pictures = with_pictures.then_some(&pictures[..]);
        build::store_part(dir, manifest.parts, (&Matrix { words: &words, views }, None), None, pictures)?;
        catalog::commit(dir, &mut manifest, frames.finish()?, &videos)?;
    }
    Ok(())
}

/// Share of `exact`'s non-empty hits found in `got`: (at 16, at 1).
fn recall(exact: &[Neighbours], got: &[Neighbours]) -> (f64, f64) {
    let (mut found, mut total, mut first) = (0usize, 0usize, 0usize);
    for (e, g) in exact.iter().zip(got) {
        let keys: HashSet<u32> = g.iter().filter(|h| !h.is_empty()).map(|h| h.key).collect();
        let hits: Vec<_> = e.iter().filter(|h| !h.is_empty()).collect();
        total += hits.len();
        found += hits.iter().filter(|h| keys.contains(&h.key)).count();
        first += usize::from(hits.first().is_some_and(|h| keys.contains(&h.key)));
    }
    (found as f64 / total.max(1) as f64, first as f64 / exact.len().max(1) as f64)
}

#[allow(clippy::too_many_arguments)]
fn measure(
    engine: &Engine,
    cat: &Catalogue,
    dir: &Path,
    o: &ScaleOptions,
    uploads: &[Vec<[u32; WORDS]>],
    sample: &[[u32; WORDS]],
    mean_queries: f64,
    (write_s, index_s, open_s, centroids): (f64, f64, f64, usize),
) -> Result<ScaleRow> {
    let ix = cat.index.as_ref().ok_or_else(|| Error::Invalid(format!("{}: no index was built", dir.display())))?;
    let matrix = || Matrix { words: &cat.words, views: cat.manifest.views };
    let index_bytes = (ix.lists.iter().map(Lists::bytes).sum::<usize>() + ix.centroids.len() * 4) as u64;
    let frames = cat.frame_video.len() as u64;
    // Each frame's video, time, end, samples and energy (a run holds no pictures).
    let columns = frames * (4 + 8 + 8 + 4 + 4);
    let (memory_exact_bytes, memory_index_bytes) = ((cat.words.len() * 4) as u64 + columns, columns + index_bytes);

    let (exact, exact_ms_per_upload) = if cat.words.is_empty() {
        let every = engine.prepare_indexed(&ix.centroids, &ix.lists, ix.centroids.len() / WORDS)?;
        (engine.search_indexed(&every, sample)?, None)
    } else {
        let prepared = engine.prepare(matrix())?;
        let start = Instant::now();
        let exact = engine.search(&prepared, sample)?;
        (exact, Some(start.elapsed().as_secs_f64() * 1e3 / sample.len() as f64 * mean_queries))
    };

    let mut index = Vec::new();
    for &probes in &o.probes {
        let indexed = engine.prepare_indexed(&ix.centroids, &ix.lists, probes)?;
        let start = Instant::now();
        for q in uploads {
            engine.search_indexed(&indexed, q)?;
        }
        let search_ms_per_upload = start.elapsed().as_secs_f64() * 1e3 / uploads.len() as f64;
        let got = engine.search_indexed(&indexed, sample)?;
        let (recall_at_16, recall_at_1) = recall(&exact, &got);
        let probed = engine.probed(&indexed, sample)?;
        let entries = |c: u32| ix.lists.iter().map(|l| l.entries_of(c as usize)).sum::<usize>();
        let scored: usize = probed.iter().flatten().map(|&c| entries(c)).sum();
        index.push(ProbeRow {
            probes,
            search_ms_per_upload,
            recall_at_16,
            recall_at_1,
            frames_scored_per_query: scored as f64 / sample.len() as f64,
        });
    }
    Ok(ScaleRow {
        hours: frames as f64 / cat.manifest.rate / 3600.0,
        path: dir.display().to_string(),
        videos: cat.videos.len(),
        frames,
        disk_bytes: crate::store::usage::bytes(dir)?.iter().sum(),
        memory_exact_bytes,
        memory_index_bytes,
        index_bytes,
        centroids,
        write_s,
        index_s,
        open_s,
        exact_ms_per_upload,
        index,
    })
}

/// The report as a table.
pub fn table(r: &ScaleReport) -> String {
    let mut out = format!(
        "device {} | {} | {} CPU threads | {} uploads, {:.0} query descriptors each, decode {:.0} ms each | recall over {} queries | held: what match holds through the index\n",
        r.device,
        r.adapter,
        r.cpu_threads,
        r.uploads,
        r.mean_queries_per_upload,
        r.decode_ms_per_upload,
        r.sample_queries
    );
    out += &format!(
        "{:>8} {:>10} {:>9} {:>9} {:>8} {:>8} {:>10} {:>6} {:>10} {:>8} {:>8} {:>10}\n",
        "hours",
        "frames",
        "disk GB",
        "held GB",
        "index s",
        "clusters",
        "exact ms",
        "probes",
        "index ms",
        "rec@16",
        "rec@1",
        "scored/q"
    );
    for row in &r.rows {
        for (i, p) in row.index.iter().enumerate() {
            let head = if i == 0 {
                format!(
                    "{:>8.1} {:>10} {:>9.2} {:>9.2} {:>8.1} {:>8} {:>10}",
                    row.hours,
                    row.frames,
                    row.disk_bytes as f64 / 1e9,
                    row.memory_index_bytes as f64 / 1e9,
                    row.index_s,
                    row.centroids,
                    row.exact_ms_per_upload.map_or("-".into(), |ms| format!("{ms:.1}"))
                )
            } else {
                format!("{:>8} {:>10} {:>9} {:>9} {:>8} {:>8} {:>10}", "", "", "", "", "", "", "")
            };
            out += &format!(
                "{head} {:>6} {:>10.1} {:>8.3} {:>8.3} {:>10.0}\n",
                p.probes, p.search_ms_per_upload, p.recall_at_16, p.recall_at_1, p.frames_scored_per_query
            );
        }
    }
    out
}

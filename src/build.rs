//! `clipmatch catalog build` and `catalog add`: the catalogue's videos decoded
//! (`ingest`), their frames described (`kernels`) and stored as a new part (`store`).
//! Orchestration only.

use crate::config::IndexConfig;
use crate::error::{Error, Result};
use crate::frame::views::CATALOGUE_VIEWS;
use crate::ingest::archive::Limits;
use crate::ingest::decode::DecodeOptions;
use crate::ingest::pipeline::{self, Selection};
use crate::ingest::sample::Views;
use crate::kernels::cluster;
use crate::kernels::descriptor::WORDS;
use crate::kernels::engine::Engine;
use crate::kernels::search::Matrix;
use crate::progress::{self, Progress};
use crate::store::index::{self, IndexManifest};
use crate::store::table::{FramesBuilder, VideoMeta, VideoRow};
use crate::store::{catalog, metadata};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What a build or add did.
#[derive(Debug, Default)]
pub struct AddSummary {
    pub added: Vec<String>,
    pub skipped: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub frames: u64,
    /// Rows of the metadata that matched no video of the catalogue.
    pub unmatched_metadata: Vec<String>,
}

/// Settings of a build or add.
pub struct BuildOptions {
    pub decode: DecodeOptions,
    pub limits: Limits,
    pub workers: usize,
    /// Metadata for the catalogue's videos (`store::metadata::read`), old and new.
    pub metadata: Option<BTreeMap<String, VideoMeta>>,
    pub progress: progress::Mode,
    /// How a build trains its search index.
    pub index: IndexConfig,
}

/// `catalog build` (`create`) or `catalog add`: decodes `inputs`, describes their frames
/// and writes them as a new part. Videos whose id is already present are skipped.
pub fn add(dir: &Path, inputs: &[PathBuf], engine: &Engine, opts: &BuildOptions, create: bool) -> Result<AddSummary> {
    // Sources are recorded absolute: a review reads them again from wherever it runs.
    let inputs: Vec<PathBuf> = inputs.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect();
    let inputs = inputs.as_slice();
    let mut manifest = if create {
        let layout = serde_json::to_value(&opts.decode.layout).map_err(|e| Error::Invalid(e.to_string()))?;
        catalog::create(dir, opts.decode.rate, CATALOGUE_VIEWS, layout)?
    } else {
        catalog::read_manifest(dir)?
    };
    // An add samples and cuts frames as the build did, whatever its own settings.
    let mut decode = opts.decode.clone();
    decode.rate = manifest.rate;
    if let Some(layout) = &manifest.layout {
        decode.layout = serde_json::from_value(layout.clone()).map_err(|e| Error::Catalogue {
            path: dir.to_path_buf(),
            reason: format!("manifest.json: the layout settings are not this clipmatch's: {e}"),
        })?;
    }
    let mut videos = catalog::read_videos(dir)?;
    let mut known: HashSet<String> = videos.iter().map(|v| v.id.clone()).collect();
    let part = manifest.parts;
    let mut frames = FramesBuilder::new(manifest.views);
    // The new part's descriptors, for the index.
    let mut part_words: Vec<u32> = Vec::new();
    let mut summary = AddSummary::default();
    let mut progress = Progress::new(opts.progress, "videos", "frames", 0);

    pipeline::run(
        inputs,
        &opts.limits,
        &Selection::CATALOGUE,
        &decode,
        Views::Catalogue,
        opts.workers,
        &mut |m, out| {
            let name = if m.id.is_empty() { m.archive.clone() } else { m.id.clone() };
            if known.contains(&m.id) {
                tracing::warn!(video = %name, "already in the catalogue; skipped");
                summary.skipped.push(name);
                progress.update(false, 0);
                return Ok(());
            }
            let d = match out.result {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(video = %name, "cannot be added: {e}");
                    summary.failed.push((name, e.to_string()));
                    progress.update(true, 0);
                    return Ok(());
                }
            };
            let descriptors = engine.describe(&d.images)?;
            let views = manifest.views;
            for (f, &t) in d.times.iter().enumerate() {
                let ds = &descriptors[f * views..(f + 1) * views];
                let words: Vec<u32> = ds.iter().flat_map(|x| x.words).collect();
                frames.push(&m.id, t, ds[0].energy, &words, &d.images[f * views])?;
                part_words.extend_from_slice(&words);
            }
            tracing::info!(video = %m.id, frames = d.times.len(), duration_s = d.info.duration_s, "added");
            summary.frames += d.times.len() as u64;
            progress.update(false, d.times.len() as u64);
            known.insert(m.id.clone());
            summary.added.push(m.id.clone());
            videos.push(VideoRow {
                id: m.id,
                source: m.archive,
                duration_s: d.info.duration_s,
                fps: d.info.fps,
                frames: d.times.len() as u64,
                width: d.info.width,
                height: d.info.height,
                part,
                meta: VideoMeta::default(),
            });
            Ok(())
        },
    )?;
    progress.finish();

    if let Some(m) = &opts.metadata {
        summary.unmatched_metadata = metadata::apply(&mut videos, m);
        for id in &summary.unmatched_metadata {
            tracing::warn!(video_id = %id, "a metadata row matches no video of the catalogue");
        }
    }
    if summary.added.is_empty() && !create {
        if opts.metadata.is_some() {
            catalog::write_videos(dir, &mut manifest, &videos)?;
        }
        return Ok(summary);
    }
    // The index first: the manifest that names it is written last, by `commit`.
    let m = Matrix { words: &part_words, views: manifest.views };
    match &manifest.index {
        None if create && !part_words.is_empty() => {
            let centroids = cluster::train(engine, &[&part_words], &opts.index.train_params(part_words.len() / WORDS))?;
            index::write_centroids(dir, &centroids)?;
            index::write_assignments(dir, part, &cluster::assign(engine, &m, &centroids)?)?;
            manifest.index =
                Some(IndexManifest { centroids: centroids.len() / WORDS, parts: 1, trained_frames: summary.frames });
        }
        // An add joins the centroids there are (retrained by `catalog index`).
        Some(ix) if ix.parts == part => {
            let centroids = index::read_centroids(dir, ix)?;
            index::write_assignments(dir, part, &cluster::assign(engine, &m, &centroids)?)?;
            let trained = ix.trained_frames;
            manifest.index.as_mut().expect("matched Some").parts += 1;
            // Centroids trained on a small catalogue serve a large one poorly (as `catalog
            // info` says too).
            if manifest.frames + summary.frames > 4 * trained {
                tracing::warn!(
                    "the search index was trained on {trained} frames, the catalogue now holds {}: `clipmatch catalog index` retrains it",
                    manifest.frames + summary.frames
                );
            }
        }
        Some(_) => tracing::warn!("the search index does not cover every part: `clipmatch catalog index` rebuilds it"),
        None => {}
    }
    catalog::commit(dir, &mut manifest, frames.finish()?, &videos)?;
    Ok(summary)
}

/// `catalog index`: trains the index on every frame of the catalogue in `dir` and
/// assigns every part, replacing the index there was. Returns the centroids trained.
pub fn reindex(dir: &Path, engine: &Engine, config: &IndexConfig) -> Result<usize> {
    let mut manifest = catalog::read_manifest(dir)?;
    let views = manifest.views;
    let parts: Vec<Vec<u32>> =
        (0..manifest.parts).map(|p| catalog::part_descriptors(dir, p, views)).collect::<Result<_>>()?;
    let pieces: Vec<&[u32]> = parts.iter().map(Vec::as_slice).collect();
    let vectors: usize = parts.iter().map(|w| w.len() / WORDS).sum();
    if vectors == 0 {
        return Err(Error::Catalogue { path: dir.to_path_buf(), reason: "no frames to index".into() });
    }
    let centroids = cluster::train(engine, &pieces, &config.train_params(vectors))?;
    index::write_centroids(dir, &centroids)?;
    for (p, words) in parts.iter().enumerate() {
        index::write_assignments(dir, p as u32, &cluster::assign(engine, &Matrix { words, views }, &centroids)?)?;
    }
    let k = centroids.len() / WORDS;
    manifest.index = Some(IndexManifest { centroids: k, parts: manifest.parts, trained_frames: manifest.frames });
    catalog::save_manifest(dir, &mut manifest)?;
    Ok(k)
}

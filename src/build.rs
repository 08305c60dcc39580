//! `clipmatch catalog build` and `catalog add`: the catalogue's videos decoded
//! (`ingest`), their frames described (`kernels`) and stored as a new part (`store`).
//! Orchestration only.

use crate::config::IndexConfig;
use crate::error::{Error, Result};
use crate::frame::views::Strips;
use crate::ingest::archive::Limits;
use crate::ingest::decode::DecodeOptions;
use crate::ingest::pipeline::{self, Selection};
use crate::ingest::sample::Views;
use crate::kernels::cluster;
use crate::kernels::descriptor::{DOT_ONE, Descriptor, PackedImage, WORDS, split_dot};
use crate::kernels::engine::Engine;
use crate::kernels::ivf::Lists;
use crate::kernels::search::Matrix;
use crate::progress::{self, Progress};
use crate::store::index::{self, IndexManifest};
use crate::store::served::Of;
use crate::store::table::{FramesBuilder, VideoMeta, VideoRow};
use crate::store::{catalog, metadata, parts, served};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What a build or add did.
#[derive(Debug, Default)]
pub struct AddSummary {
    pub added: Vec<String>,
    pub skipped: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Frames sampled, and of those stored (the others repeat a stored one).
    pub frames: u64,
    pub stored: u64,
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
    /// Compaction of a new catalogue (`DecodeConfig::catalogue_compaction`).
    pub repeat_similarity: Option<f32>,
    /// Views, and strips, bands and halves, per frame of a new catalogue
    /// (`decode.catalogue_views`, `decode.catalogue_strips`, `_bands`, `_halves`).
    pub views: usize,
    pub strips: Strips,
    /// Whether a new catalogue stores each frame's picture (`decode.catalogue_pictures`).
    pub pictures: bool,
}

/// The frames of one video (`views` descriptors each, in time order) that are stored,
/// each with the last of the frames it stands for: a frame whose every view is at least
/// `repeat_similarity` similar to the last stored frame's is not stored (None: all are).
/// Compared with the last stored frame, not the previous one, so a slow drift ends the
/// run once it has drifted that far.
pub fn runs(descriptors: &[Descriptor], views: usize, repeat_similarity: Option<f32>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for f in 0..descriptors.len() / views {
        if let (Some(min), Some(last)) = (repeat_similarity, out.last_mut()) {
            let (a, b) = (&descriptors[f * views..(f + 1) * views], &descriptors[last.0 * views..(last.0 + 1) * views]);
            let dot = |(x, y): (&Descriptor, &Descriptor)| {
                let (even, odd) = split_dot(&x.words, &y.words);
                (even + odd) as f32 / DOT_ONE
            };
            if a.iter().zip(b).all(|p| dot(p) >= min) {
                last.1 = f;
                continue;
            }
        }
        out.push((f, f));
    }
    out
}

/// `catalog build` (`create`) or `catalog add`: decodes `inputs`, describes their frames
/// and writes them as a new part. Videos whose id is already present are skipped.
pub fn add(dir: &Path, inputs: &[PathBuf], engine: &Engine, opts: &BuildOptions, create: bool) -> Result<AddSummary> {
    // Sources are recorded absolute: a review reads them again from wherever it runs.
    let inputs: Vec<PathBuf> = inputs.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect();
    let inputs = inputs.as_slice();
    let mut manifest = if create {
        let layout = serde_json::to_value(&opts.decode.layout).map_err(|e| Error::Invalid(e.to_string()))?;
        catalog::create(
            dir,
            opts.decode.rate,
            (opts.views, opts.strips, opts.pictures),
            layout,
            opts.repeat_similarity,
        )?
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
    let mut frames = FramesBuilder::default();
    // The new part's descriptors, strips and pictures, for the index and its mapped files.
    let mut part_words: Vec<u32> = Vec::new();
    let mut part_strips: Vec<u32> = Vec::new();
    let mut part_pictures: Vec<PackedImage> = Vec::new();
    let mut summary = AddSummary::default();
    let mut progress = Progress::new(opts.progress, "videos", "frames", 0);

    pipeline::run(
        inputs,
        &opts.limits,
        &Selection::CATALOGUE,
        &decode,
        Views::Catalogue { views: manifest.views, strips: manifest.stored_strips() },
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
            let described = engine.describe(&d.images)?;
            // Each sample's views, then its strips: compaction compares the views.
            let (views, cut) = (manifest.views, manifest.views + manifest.strip_count());
            let descriptors: Vec<Descriptor> =
                described.chunks(cut).flat_map(|c| c[..views.min(c.len())].iter().copied()).collect();
            let kept = runs(&descriptors, views, manifest.repeat_similarity);
            for &(f, last) in &kept {
                let words: Vec<u32> = described[f * cut..(f + 1) * cut].iter().flat_map(|x| x.words).collect();
                let range = (d.times[f], d.times[last], (last - f + 1) as u32);
                frames.push(&m.id, range, described[f * cut].energy);
                part_words.extend_from_slice(&words[..views * WORDS]);
                part_strips.extend_from_slice(&words[views * WORDS..]);
                if manifest.pictures {
                    part_pictures.push(d.images[f * cut]);
                }
            }
            let n = d.times.len();
            tracing::info!(video = %m.id, frames = n, stored = kept.len(), duration_s = d.info.duration_s, "added");
            summary.frames += n as u64;
            summary.stored += kept.len() as u64;
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
    // The part's descriptors and pictures first, in the index where there is one: the
    // manifest that names them is written last, by `commit`.
    let m = Matrix { words: &part_words, views: manifest.views };
    let strips = Matrix { words: &part_strips, views: manifest.strip_count() };
    let strips = (manifest.strip_count() > 0).then_some(&strips);
    let pictures = manifest.pictures.then_some(&part_pictures[..]);
    match &manifest.index {
        None if create && !part_words.is_empty() => {
            let centroids = cluster::train(engine, &[&part_words], &opts.index.train_params(part_words.len() / WORDS))?;
            index::write_centroids(dir, &centroids)?;
            let assigner = cluster::Assigner::new(engine, &centroids, &opts.index.assign_params())?;
            store_part(dir, part, (&m, strips), Some((engine, &assigner)), pictures)?;
            manifest.index = Some(IndexManifest {
                centroids: centroids.len() / WORDS,
                parts: 1,
                trained_frames: summary.stored,
                centroids_hash: Some(served::centroids_hash(&centroids)),
                strips: strips.is_some(),
            });
        }
        // An add joins the centroids there are (retrained by `catalog index`).
        Some(ix) if ix.parts == part => {
            let centroids = index::read_centroids(dir, ix)?;
            let assigner = cluster::Assigner::new(engine, &centroids, &opts.index.assign_params())?;
            store_part(dir, part, (&m, strips), Some((engine, &assigner)), pictures)?;
            let trained = ix.trained_frames;
            manifest.index.as_mut().expect("matched Some").parts += 1;
            // Centroids trained on a small catalogue serve a large one poorly (as `catalog
            // info` says too).
            if manifest.frames + summary.stored > 4 * trained {
                tracing::warn!(
                    "the search index was trained on {trained} frames, the catalogue now holds {}: `clipmatch catalog index` retrains it",
                    manifest.frames + summary.stored
                );
            }
        }
        _ => {
            store_part(dir, part, (&m, strips), None, pictures)?;
            if manifest.index.is_some() {
                tracing::warn!("the search index does not cover every part: `clipmatch catalog index` rebuilds it");
            }
        }
    }
    catalog::commit(dir, &mut manifest, frames.finish()?, &videos)?;
    Ok(summary)
}

/// Writes part `part`'s descriptors (its views, and its strips where given) and its
/// pictures where given (a retraining leaves them as they are): the files a search
/// through the index maps, and the only copy of them. With the engine and `centroids`
/// of an index, each descriptor is in the list of its nearest centroid (the list is
/// its assignment); without (no index yet), the lists are one list in row order until
/// `catalog index` trains one.
pub fn store_part(
    dir: &Path,
    part: u32,
    (views, strips): (&Matrix, Option<&Matrix>),
    index: Option<(&Engine, &cluster::Assigner)>,
    pictures: Option<&[PackedImage]>,
) -> Result<()> {
    for (of, m) in [(Of::Views, Some(views)), (Of::Strips, strips)] {
        let Some(m) = m else { continue };
        match index {
            Some((engine, assigner)) => {
                let assigned = assigner.assign(engine, m)?;
                let centroids = assigner.centroids();
                let lists = Lists::new(m, &assigned, centroids.len() / WORDS);
                served::write_lists(dir, part, of, &lists, served::centroids_hash(centroids))?;
            }
            None => {
                let lists = Lists::new(m, &vec![0; m.words.len() / WORDS], 1);
                served::write_lists(dir, part, of, &lists, served::UNINDEXED)?;
            }
        }
    }
    pictures.map_or(Ok(()), |p| served::write_pictures(dir, part, p))
}

/// `catalog index`: trains the index on every frame of the catalogue in `dir` and
/// assigns every part, replacing the index there was. Returns the centroids trained.
pub fn reindex(dir: &Path, engine: &Engine, config: &IndexConfig) -> Result<usize> {
    let mut manifest = catalog::read_manifest(dir)?;
    let (views, strips) = (manifest.views, manifest.strip_count());
    // One part at a time, twice (sampled for training, then assigned): a catalogue of
    // many hours does not fit in memory, one part does. The sample takes its rows from
    // the mapped lists, with no copy of a part.
    let mapped = (0..manifest.parts).map(|p| parts::part_rows(dir, p, Of::Views, views)).collect::<Result<Vec<_>>>()?;
    let vectors: usize = mapped.iter().map(|l| l.entry.len()).sum();
    if vectors == 0 {
        return Err(Error::Catalogue { path: dir.to_path_buf(), reason: "no frames to index".into() });
    }
    let params = config.train_params(vectors);
    let mut sample = cluster::Sample::new(vectors, &params);
    for lists in mapped {
        // The rows of a stride sample lie on pages in no order: read one page at a time
        // (at 1,000 hours, a page in seven) they took longer than the whole part's file
        // asked for ahead and read front to back.
        lists.words.advise(memmap2::Advice::WillNeed, 0..lists.words.len());
        sample.take_rows(lists.entry.len(), |r| lists.row(r));
    }
    let centroids = cluster::train_on(engine, sample, &params)?;
    index::write_centroids(dir, &centroids)?;
    let assigner = cluster::Assigner::new(engine, &centroids, &config.assign_params())?;
    for p in 0..manifest.parts {
        let words = parts::part_descriptors(dir, p, Of::Views, views)?;
        let strip_words = match strips {
            0 => Vec::new(),
            _ => parts::part_descriptors(dir, p, Of::Strips, strips)?,
        };
        let strip_matrix = Matrix { words: &strip_words, views: strips };
        let of = (&Matrix { words: &words, views }, (strips > 0).then_some(&strip_matrix));
        store_part(dir, p, of, Some((engine, &assigner)), None)?;
    }
    let k = centroids.len() / WORDS;
    manifest.index = Some(IndexManifest {
        centroids: k,
        parts: manifest.parts,
        trained_frames: manifest.frames,
        centroids_hash: Some(served::centroids_hash(&centroids)),
        strips: strips > 0,
    });
    catalog::save_manifest(dir, &mut manifest)?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(seed: u32) -> Descriptor {
        let mut words = [0u32; WORDS];
        for (i, w) in words.iter_mut().enumerate() {
            // Bytes of ±40 whose signs follow the seed: unrelated seeds score near 0.
            let bits = (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32)) & 0xf;
            *w = u32::from_le_bytes(std::array::from_fn(|b| if bits >> b & 1 == 1 { 40 } else { (-40i8) as u8 }));
        }
        Descriptor { words, energy: 100, pad: [0; 3] }
    }

    #[test]
    fn repeats_of_the_last_stored_frame_are_not_stored() {
        // Two views per frame: frames 0-2 alike, 3 other, 4 like 3, 5 other in view 1 only.
        let (a, b, c) = (descriptor(1), descriptor(2), descriptor(3));
        let frames = [[a, b], [a, b], [a, b], [c, a], [c, a], [c, b]];
        let flat: Vec<Descriptor> = frames.iter().flatten().copied().collect();
        assert_eq!(runs(&flat, 2, Some(0.95)), [(0, 2), (3, 4), (5, 5)]);
        assert_eq!(runs(&flat, 2, None), (0..6).map(|f| (f, f)).collect::<Vec<_>>());
    }
}

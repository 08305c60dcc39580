//! The one configuration of a run: every tuning number of decoding, limits, frame
//! layout and matching, with its default, in one struct tree. `clipmatch config` prints
//! it as TOML; `match --config FILE` reads a TOML file of any part of it (the rest keeps
//! its defaults) and flags override both. The whole tree is written into the run
//! manifest's `parameters` and, with the crate and descriptor versions, names the run
//! (`fingerprint`): checkpoints and shards of another build or configuration are never
//! merged with this one's.
//!
//! Each part is owned by the module that reads it (`frame::config`, `matching::config`);
//! decoding and limits are declared here and handed to `ingest` as its own options.

use crate::error::{Error, Result};
use crate::frame::config::LayoutConfig;
use crate::frame::views::CATALOGUE_VIEWS;
use crate::ingest::archive::Limits;
use crate::ingest::decode::DecodeOptions;
use crate::ingest::hw::Decoder;
use crate::kernels::cluster::{AssignParams, TrainParams};
use crate::kernels::descriptor::DESCRIPTOR_VERSION;
use crate::kernels::engine::{Engine, Prepared, Searchable};
use crate::kernels::search::Matrix;
use crate::matching::config::MatchConfig;
use crate::store::catalog::{self, Catalogue, Hold};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The settings of a `match` run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub decode: DecodeConfig,
    pub limits: LimitConfig,
    pub layout: LayoutConfig,
    pub matching: MatchConfig,
    pub search: SearchConfig,
    pub index: IndexConfig,
}

/// How `match` searches the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Every catalogue frame scored (the neighbours are exact).
    Exact,
    /// The frames listed under each query's nearest clusters scored (`kernels::ivf`).
    Index,
    /// The index from `auto_index_frames` catalogue frames on, where the catalogue has
    /// one; exact below.
    Auto,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    pub mode: SearchMode,
    /// Catalogue frames from which `auto` searches through the index: about where the
    /// exhaustive search of an upload starts to cost more than decoding it on a 2-core
    /// CPU (docs/SCALE.md).
    pub auto_index_frames: u64,
    /// Clusters whose view descriptors each query descriptor scores. Chosen on dev
    /// against 1 h and 10 h catalogues (segment µAP within 0.005 of the exhaustive
    /// search), checked at 100 h and on other sets (docs/SCALE.md).
    pub probes: usize,
    /// Upload images a run searches together (about 50 uploads of 30 s). Through the
    /// index, each batch reads every probed cluster's lists once, from disk where they
    /// outgrow the page cache: a larger batch reads them fewer times. Chosen on dev
    /// against the 100 h scale catalogue, in memory and with less memory than it holds
    /// (docs/PAGING.md, which also gives the memory it takes); a GPU dispatch fills the
    /// device from about 4,096.
    pub batch_images: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { mode: SearchMode::Auto, auto_index_frames: 20_000, probes: 128, batch_images: 16_384 }
    }
}

impl SearchConfig {
    /// Whether a catalogue of `frames` frames is searched through its index.
    pub fn use_index(&self, frames: u64) -> bool {
        match self.mode {
            SearchMode::Exact => false,
            SearchMode::Index => true,
            SearchMode::Auto => frames >= self.auto_index_frames,
        }
    }

    /// What a run holds of the catalogue in `dir`: its index alone when it is searched
    /// through it (the lists hold the descriptors and strips), else the descriptors and
    /// strips in frame order.
    pub fn hold(&self, dir: &Path) -> Result<Hold<'static>> {
        let index = self.use_index(catalog::read_manifest(dir)?.frames);
        Ok(Hold { frames: !index, index, videos: None, strips: true, pictures: false })
    }

    /// `cat` made ready for `engine`: its views searched exactly or through its index,
    /// and its strips the same way where the catalogue holds them so.
    pub fn prepare<'a>(&self, engine: &Engine, cat: &'a Catalogue) -> Result<Searchable<'a>> {
        let views = self.prepare_views(engine, cat)?;
        let strips = match (&views, &cat.index) {
            (Prepared::Index(_), Some(ix)) if !ix.strips.is_empty() => {
                Some(Prepared::Index(Box::new(engine.prepare_indexed(&ix.centroids, &ix.strips, self.probes)?)))
            }
            (Prepared::Index(_), _) => None,
            _ => cat.held_strips().map(|m| engine.prepare(m)).transpose()?,
        };
        if strips.is_none() && cat.manifest.strip_count() > 0 {
            tracing::warn!(
                "the catalogue's index does not assign its strips (built by an older clipmatch): they are not \
                 searched; `clipmatch catalog index` assigns them"
            );
        }
        Ok(Searchable { views, strips })
    }

    fn prepare_views<'a>(&self, engine: &Engine, cat: &'a Catalogue) -> Result<Prepared<'a>> {
        let matrix = Matrix { words: &cat.words, views: cat.manifest.views };
        if !self.use_index(cat.manifest.frames) {
            return engine.prepare(matrix);
        }
        match &cat.index {
            Some(ix) => Ok(Prepared::Index(Box::new(engine.prepare_indexed(&ix.centroids, &ix.lists, self.probes)?))),
            None if self.mode == SearchMode::Index => Err(Error::Invalid(format!(
                "search.mode = index, but catalogue {} has no index covering all its parts; build one with `clipmatch catalog index`",
                cat.manifest.catalogue_id
            ))),
            None => {
                tracing::warn!("the catalogue has no index covering all its parts: every frame is searched");
                engine.prepare(matrix)
            }
        }
    }
}

/// How `catalog build` and `catalog index` train the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Centroids per square root of the catalogue's view descriptors, before the bounds.
    pub centroids_per_sqrt: f64,
    pub min_centroids: usize,
    pub max_centroids: usize,
    /// Training vectors per centroid.
    pub sample_per_centroid: usize,
    /// Rounds of k-means.
    pub iterations: usize,
    /// Up to this many centroids, each descriptor's cluster is found among all of them;
    /// beyond, among the centroids of the `assign_probes` nearest groups of centroids
    /// (`kernels::cluster::Assigner`).
    pub assign_exact_max_centroids: usize,
    pub assign_probes: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            centroids_per_sqrt: 1.0,
            min_centroids: 16,
            max_centroids: 65_536,
            sample_per_centroid: 64,
            iterations: 8,
            assign_exact_max_centroids: 2048,
            assign_probes: 8,
        }
    }
}

impl IndexConfig {
    /// Training settings for a catalogue of `vectors` view descriptors.
    pub fn train_params(&self, vectors: usize) -> TrainParams {
        let k = (self.centroids_per_sqrt * (vectors as f64).sqrt()).round() as usize;
        TrainParams {
            centroids: k.clamp(self.min_centroids, self.max_centroids.max(self.min_centroids)),
            sample_per_centroid: self.sample_per_centroid,
            iterations: self.iterations,
        }
    }

    pub fn assign_params(&self) -> AssignParams {
        AssignParams {
            exact_max_centroids: self.assign_exact_max_centroids,
            probes: self.assign_probes,
            iterations: self.iterations,
        }
    }
}

/// How uploads are decoded and sampled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// Frames sampled per second of upload.
    pub rate: f64,
    /// Frames sampled per second of catalogue video, for `catalog build`.
    pub catalogue_rate: f64,
    /// Catalogue compaction, for `catalog build`: a sampled frame whose every view is at
    /// least this similar to the video's last stored frame (the plain orientation) is not
    /// stored; that frame stands for it, over a time range. Above 1: every frame is
    /// stored. Recorded in the catalogue, so that `catalog add` compacts alike. The
    /// neighbour lists of a compacted catalogue hold more distinct frames, which finds
    /// more clips (docs/COMPACTION.md, docs/JUDGE.md).
    pub catalogue_repeat_similarity: f32,
    /// Whether `catalog build` stores each frame's 32x32 picture (1 KB a frame, a quarter
    /// of the catalogue's bytes). Matching never reads them; the review page shows them
    /// only for a catalogue video whose source is gone, and otherwise decodes its frames
    /// from the source in colour. Recorded in the catalogue, so that `catalog add` stores
    /// alike.
    pub catalogue_pictures: bool,
    /// Views stored per catalogue frame, for `catalog build`: the first this many of
    /// `frame::views`' crops, at most 12, each 128 bytes a frame and a scan of the
    /// catalogue per upload descriptor. Recorded in the catalogue, so that `catalog add`
    /// stores alike.
    pub catalogue_views: usize,
    /// Portrait strips stored per catalogue frame, for `catalog build` (`frame::views`):
    /// more find a panning fill closer to where it is, and cost 128 bytes a frame each.
    /// Recorded in the catalogue, so that `catalog add` cuts alike; 0: none.
    pub catalogue_strips: usize,
    /// Landscape bands stored per catalogue frame, for `catalog build` (`frame::views`):
    /// the full width at 32:9, spread from top to bottom, found by uploads that stack a
    /// clip with other footage on a landscape canvas; 128 bytes a frame each. Recorded in
    /// the catalogue, so that `catalog add` cuts alike; 0: none.
    pub catalogue_bands: usize,
    /// Portrait halves stored per catalogue frame, for `catalog build` (`frame::views`):
    /// the full height at 9:8, spread from left to right, found by uploads that stack a
    /// clip with other footage on a portrait canvas; 128 bytes a frame each. Recorded in
    /// the catalogue, so that `catalog add` cuts alike; 0: none.
    pub catalogue_halves: usize,
    /// Longest side of the luma frames the picture is scaled down to, pixels.
    pub max_side: u32,
    /// FFmpeg's own decoding threads per video (0: FFmpeg chooses). Uploads decode one
    /// per core already: frame threads only add contention.
    pub threads: usize,
    /// Frames no other frame references (most B-frames) are not decoded: the sampler
    /// takes the next decoded frame instead (dev figures unchanged, much less decoding).
    pub skip_nonref: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            rate: 2.0,
            catalogue_rate: 4.0,
            catalogue_repeat_similarity: 0.99,
            catalogue_pictures: false,
            catalogue_views: 12,
            catalogue_strips: 11,
            catalogue_bands: 1,
            catalogue_halves: 1,
            max_side: 256,
            threads: 1,
            skip_nonref: true,
        }
    }
}

impl DecodeConfig {
    /// The similarity a new catalogue is compacted at (`catalogue_repeat_similarity`);
    /// None where every frame is stored.
    pub fn catalogue_compaction(&self) -> Option<f32> {
        Some(self.catalogue_repeat_similarity).filter(|&s| s <= 1.0)
    }
}

/// What an upload or archive may cost before it is refused (status `failed`, kind
/// `limit`), so that one hostile input cannot take the night.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitConfig {
    /// Largest archive member accepted, bytes.
    pub max_member_bytes: u64,
    /// Most bytes one archive may expand to.
    pub max_archive_bytes: u64,
    /// Largest coded picture accepted, pixels.
    pub max_pixels: u64,
    /// Longest upload decoded, seconds of video.
    pub max_duration_s: f64,
    /// Longest time spent decoding one upload, seconds.
    pub max_decode_s: f64,
    /// Most frames decoded from one upload (timestamps can lie; a frame count cannot).
    pub max_frames: u64,
    /// Address space of each decode worker process, bytes.
    pub max_decode_memory: u64,
    /// Seconds past `max_decode_s` before a stuck worker is killed: the worker checks
    /// the budget itself between packets, and is killed only when stuck inside FFmpeg.
    pub kill_grace_s: f64,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            max_member_bytes: 8 << 30,
            max_archive_bytes: 1 << 40,
            max_pixels: 8192 * 8192,
            max_duration_s: 4.0 * 3600.0,
            max_decode_s: 600.0,
            max_frames: 2_000_000,
            max_decode_memory: 4 << 30,
            kill_grace_s: 5.0,
        }
    }
}

impl Config {
    /// Reads a TOML file of any part of the configuration; the rest keeps its defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let c: Config = toml::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: not a clipmatch configuration: {e}", path.display())))?;
        c.check().map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        Ok(c)
    }

    /// The configuration as TOML, every setting written out. Through JSON text, whose
    /// writer gives an `f32` its shortest decimal (0.9, where TOML's would write the
    /// `f64` 0.8999999761581421); it reads back to the same bits.
    pub fn to_toml(&self) -> String {
        let text = serde_json::to_string(self).expect("the configuration is plain data");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON it wrote");
        toml::to_string(&json).expect("JSON of plain data is TOML")
    }

    /// Refuses settings the stages cannot run with.
    pub fn check(&self) -> std::result::Result<(), String> {
        let (d, m) = (&self.decode, &self.matching);
        let positive = [
            ("decode.rate", d.rate),
            ("decode.catalogue_rate", d.catalogue_rate),
            ("matching.vote.min_speed", m.vote.min_speed),
            ("matching.vote.offset_bin_s", m.vote.offset_bin_s),
            ("matching.cuts.step_s", m.cuts.step_s),
            ("index.centroids_per_sqrt", self.index.centroids_per_sqrt),
        ];
        if let Some((name, v)) = positive.iter().find(|(_, v)| !(*v > 0.0 && v.is_finite())) {
            return Err(format!("{name} = {v} must be a positive number"));
        }
        if !(1..=CATALOGUE_VIEWS).contains(&d.catalogue_views) {
            return Err(format!("decode.catalogue_views = {} must be 1 to {CATALOGUE_VIEWS}", d.catalogue_views));
        }
        // A frame's images are counted in a byte (`ingest::sample::Decoded::views`).
        let crops = d.catalogue_strips.saturating_add(d.catalogue_bands).saturating_add(d.catalogue_halves);
        if crops > 64 {
            return Err(format!("decode.catalogue_strips, _bands and _halves add up to {crops}, over 64"));
        }
        if d.rate > 30.0 {
            return Err(format!("decode.rate = {} is over 30 frames per second", d.rate));
        }
        if m.vote.speed_step.is_nan() || m.vote.speed_step <= 1.0 || m.vote.max_speed < m.vote.min_speed {
            return Err("matching.vote: speed_step must exceed 1 and max_speed reach min_speed".into());
        }
        let cuts = &m.cuts;
        if cuts.min_frames == 0 || !(0.0..=1000.0).contains(&(cuts.window_s / cuts.step_s)) {
            return Err("matching.cuts: min_frames must be positive and window_s at most 1000 steps".into());
        }
        if self.search.probes == 0 || self.search.batch_images == 0 {
            return Err("search: probes and batch_images must be positive".into());
        }
        if self.index.min_centroids == 0 || self.index.sample_per_centroid == 0 {
            return Err("index: min_centroids and sample_per_centroid must be positive".into());
        }
        let w = &self.layout.windows;
        if m.refine.max_frames == 0 || w.min_side_divisor == 0 || w.reach_divisor == 0 {
            return Err(
                "matching.refine.max_frames, layout.windows.min_side_divisor and reach_divisor must be positive".into(),
            );
        }
        Ok(())
    }

    /// The decode stage's options for uploads (`catalogue`: for catalogue videos);
    /// `worker`: the executable serving decode workers; `decoder`: the CPU or NVDEC.
    pub fn decode_options(&self, catalogue: bool, worker: Option<PathBuf>, decoder: Decoder) -> DecodeOptions {
        let (d, l) = (&self.decode, &self.limits);
        DecodeOptions {
            rate: if catalogue { d.catalogue_rate } else { d.rate },
            max_side: d.max_side,
            max_pixels: l.max_pixels,
            max_duration_s: l.max_duration_s,
            max_wall_s: l.max_decode_s,
            max_frames: l.max_frames,
            threads: d.threads,
            skip_nonref: d.skip_nonref,
            max_memory_bytes: l.max_decode_memory,
            kill_grace_s: l.kill_grace_s,
            layout: self.layout.clone(),
            decoder,
            worker,
        }
    }

    /// What one archive may expand to.
    pub fn archive_limits(&self) -> Limits {
        Limits { max_member_bytes: self.limits.max_member_bytes, max_total_bytes: self.limits.max_archive_bytes }
    }

    /// A name for everything that decides a run's rows: this configuration, the crate
    /// version and the descriptor version.
    pub fn fingerprint(&self) -> String {
        // How many images a search batch holds decides no row (`job::stages` tests it),
        // so machines of a grid may set it each to their memory.
        let mut decides = self.clone();
        decides.search.batch_images = SearchConfig::default().batch_images;
        let json = serde_json::to_string(&decides).expect("the configuration is plain data");
        let h = crate::stable_hash(&[env!("CARGO_PKG_VERSION"), &DESCRIPTOR_VERSION.to_string(), &json]);
        format!("{h:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_round_trip_through_toml() {
        let c = Config::default();
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        c.check().unwrap();
    }

    #[test]
    fn a_file_sets_what_it_names_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[matching.select]\nmin_score = 0.8\n[layout.windows]\nedge_step = 20\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.matching.select.min_score, 0.8);
        assert_eq!(c.layout.windows.edge_step, 20);
        assert_eq!(c.matching.vote, MatchConfig::default().vote);
        assert_ne!(c.fingerprint(), Config::default().fingerprint());
        // A misspelt setting is an error, not a silent default.
        std::fs::write(&path, "[matching.select]\nmin_scor = 0.8\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("min_scor") && e.contains("c.toml"), "{e}");
        std::fs::write(&path, "[decode]\nrate = 0\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("decode.rate"));
        std::fs::write(&path, "[matching.cuts]\nstep_s = 0.0\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("matching.cuts.step_s"));
        std::fs::write(&path, "[matching.cuts]\nwindow_s = 1e9\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("matching.cuts"));
        std::fs::write(&path, "[search]\nbatch_images = 100\n").unwrap();
        assert_eq!(Config::load(&path).unwrap().fingerprint(), Config::default().fingerprint());
        std::fs::write(&path, "[search]\nbatch_images = 0\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("batch_images"));
    }
}

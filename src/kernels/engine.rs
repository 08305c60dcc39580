//! The compute engine: the WGSL kernels on a wgpu adapter, or their CPU twins.

use crate::error::{Error, Result};
use crate::kernels::descriptor::{Descriptor, PackedImage, Tables, WORDS, describe};
use crate::kernels::fine;
use crate::kernels::gpu::{DeviceChoice, Gpu, Resident, ResidentCentroids, Timing};
use crate::kernels::ivf::{self, Lists, coarse_scores};
use crate::kernels::search::{Hit, Matrix, Neighbours, TOPK, cpu_search};
use rayon::prelude::*;

/// A catalogue ready to search: its frames' views, and their strips (portrait strips,
/// bands and halves) where the catalogue stores them and the run holds them
/// (`store::catalog::Hold::strips`).
pub struct Searchable<'a> {
    pub views: Prepared<'a>,
    pub strips: Option<Prepared<'a>>,
}

pub enum Engine {
    Cpu(Box<Tables>),
    Gpu(Box<Gpu>),
}

/// A catalogue made ready for `Engine::search`.
pub enum Prepared<'a> {
    Cpu(Matrix<'a>),
    Gpu(Resident),
    /// Searched through its index: the coarse stage where the search runs, the fine
    /// stage on the CPU over the catalogue in memory (the catalogue is not uploaded).
    Index(Box<Indexed<'a>>),
}

/// Index centroids made ready for `Engine::coarse`.
pub enum Coarse<'a> {
    Cpu(&'a [u32]),
    Gpu(ResidentCentroids),
}

/// A catalogue with its inverted-file index (see `ivf`).
pub struct Indexed<'a> {
    pub coarse: Coarse<'a>,
    /// Clusters, and the lists of each frames part.
    pub clusters: usize,
    pub lists: &'a [Lists],
    /// Clusters whose frames each query scores.
    pub probes: usize,
}

/// What ran, for the manifest and the logs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EngineSummary {
    pub kind: &'static str,
    pub adapter: String,
    pub backend: String,
    pub driver: String,
}

impl Engine {
    /// The engine `choice` asks for; `adapter` (part of an adapter's name) picks one
    /// adapter among several for `gpu` and `auto`.
    pub fn open(choice: DeviceChoice, adapter: Option<&str>) -> Result<Engine> {
        if let (Some(name), DeviceChoice::Gpu | DeviceChoice::Auto) = (adapter, choice) {
            return Ok(Engine::Gpu(Box::new(Gpu::open_named(name)?)));
        }
        match choice {
            DeviceChoice::Cpu => Ok(Engine::Cpu(Box::default())),
            DeviceChoice::Gpu => Gpu::open(false)?.map(|g| Engine::Gpu(Box::new(g))).ok_or(Error::NoAdapter),
            DeviceChoice::Auto => match Gpu::open(true) {
                Ok(Some(g)) => Ok(Engine::Gpu(Box::new(g))),
                Ok(None) => Ok(Engine::Cpu(Box::default())),
                Err(e) => {
                    tracing::warn!("GPU unusable, falling back to the CPU twins: {e}");
                    Ok(Engine::Cpu(Box::default()))
                }
            },
        }
    }

    pub fn summary(&self) -> EngineSummary {
        match self {
            Engine::Cpu(_) => {
                EngineSummary { kind: "cpu", adapter: "cpu twins".into(), backend: "cpu".into(), driver: String::new() }
            }
            Engine::Gpu(g) => EngineSummary {
                kind: "gpu",
                adapter: g.adapter.name.clone(),
                backend: g.adapter.backend.clone(),
                driver: g.adapter.driver.clone(),
            },
        }
    }

    pub fn describe(&self, images: &[PackedImage]) -> Result<Vec<Descriptor>> {
        Ok(self.describe_timed(images)?.0)
    }

    /// As `describe`, with the kernel's device time where the engine measures one.
    pub fn describe_timed(&self, images: &[PackedImage]) -> Result<(Vec<Descriptor>, Timing)> {
        match self {
            Engine::Cpu(t) => Ok((images.par_iter().map(|i| describe(i, t)).collect(), Timing::default())),
            Engine::Gpu(g) => g.describe_timed(images),
        }
    }

    pub fn prepare<'a>(&self, m: Matrix<'a>) -> Result<Prepared<'a>> {
        match self {
            Engine::Cpu(_) => Ok(Prepared::Cpu(m)),
            Engine::Gpu(g) => g.upload(&m).map(Prepared::Gpu),
        }
    }

    /// A catalogue made ready to be searched through its index: `centroids` (rows of
    /// `WORDS` words) and their `lists` (one per frames part), which hold the descriptors.
    pub fn prepare_indexed<'a>(&self, centroids: &'a [u32], lists: &'a [Lists], probes: usize) -> Result<Indexed<'a>> {
        let clusters = centroids.len() / WORDS;
        if let Some(l) = lists.iter().find(|l| l.clusters() != clusters) {
            return Err(Error::Invalid(format!("lists of {} clusters for {clusters} centroids", l.clusters())));
        }
        Ok(Indexed { coarse: self.prepare_centroids(centroids)?, clusters, lists, probes })
    }

    pub fn prepare_centroids<'a>(&self, centroids: &'a [u32]) -> Result<Coarse<'a>> {
        match self {
            Engine::Cpu(_) => Ok(Coarse::Cpu(centroids)),
            Engine::Gpu(g) => Ok(Coarse::Gpu(g.upload_centroids(centroids))),
        }
    }

    /// Every query's score against every centroid, query-major (`ivf::coarse_scores`).
    pub fn coarse(&self, c: &Coarse, queries: &[[u32; WORDS]]) -> Result<Vec<i32>> {
        match (self, c) {
            (_, Coarse::Cpu(centroids)) => Ok(coarse_scores(queries, centroids)),
            (Engine::Gpu(g), Coarse::Gpu(r)) => g.coarse(queries, r),
            (Engine::Cpu(_), Coarse::Gpu(_)) => Err(Error::Invalid("centroids prepared for another engine".into())),
        }
    }

    /// Each query's nearest centroid and its score (`ivf::coarse_best`).
    pub fn nearest_centroids(&self, c: &Coarse, queries: &[[u32; WORDS]]) -> Result<Vec<(u32, i32)>> {
        match (self, c) {
            (_, Coarse::Cpu(centroids)) => Ok(ivf::coarse_best(queries, centroids)),
            (Engine::Gpu(_), Coarse::Gpu(r)) if r.count == 0 => Ok(Vec::new()),
            (Engine::Gpu(g), Coarse::Gpu(r)) => {
                let k = r.count as usize;
                let mut out = Vec::with_capacity(queries.len());
                for batch in queries.chunks(ivf::batch_for(k)) {
                    out.par_extend(g.coarse(batch, r)?.par_chunks(k).map(ivf::row_best));
                }
                Ok(out)
            }
            (Engine::Cpu(_), Coarse::Gpu(_)) => Err(Error::Invalid("centroids prepared for another engine".into())),
        }
    }

    /// The descriptors of `images` and each one's neighbours in `cat`.
    pub fn describe_and_search(
        &self,
        cat: &Prepared,
        images: &[PackedImage],
    ) -> Result<(Vec<Descriptor>, Vec<Neighbours>)> {
        if let (Engine::Gpu(g), Prepared::Gpu(r)) = (self, cat) {
            return g.describe_and_search(images, r);
        }
        let descriptors = self.describe(images)?;
        let queries: Vec<[u32; WORDS]> = descriptors.iter().map(|d| d.words).collect();
        let neighbours = self.search(cat, &queries)?;
        Ok((descriptors, neighbours))
    }

    /// The descriptors of `images` and each one's neighbours in `cat`: among its views,
    /// but for the images `probes` (indices into `images`), among its strips (none
    /// where it holds none).
    pub fn describe_and_search_all(
        &self,
        cat: &Searchable,
        images: &[PackedImage],
        probes: &[usize],
    ) -> Result<(Vec<Descriptor>, Vec<Neighbours>)> {
        let (descriptors, mut neighbours) = self.describe_and_search(&cat.views, images)?;
        let queries: Vec<[u32; WORDS]> = probes.iter().map(|&i| descriptors[i].words).collect();
        let found = match &cat.strips {
            Some(strips) if !queries.is_empty() => self.search(strips, &queries)?,
            _ => vec![[Hit::EMPTY; TOPK]; queries.len()],
        };
        for (&i, list) in probes.iter().zip(found) {
            neighbours[i] = list;
        }
        Ok((descriptors, neighbours))
    }

    /// The coarse stage on this engine: each query's `probes` best clusters.
    pub fn probed(&self, ix: &Indexed, queries: &[[u32; WORDS]]) -> Result<Vec<Vec<u32>>> {
        let k = ix.clusters;
        if k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let mut out = Vec::with_capacity(queries.len());
        for batch in queries.chunks(ivf::batch_for(k)) {
            let scores = self.coarse(&ix.coarse, batch)?;
            out.par_extend(scores.par_chunks(k).map(|row| ivf::probe(row, ix.probes)));
        }
        Ok(out)
    }

    /// Top-k of every query through the index: the coarse stage (in batches of the scores
    /// they hold), then the fine stage over the `probes` best clusters of each, all the
    /// queries in one call: it reads each probed cluster once per call and scores it
    /// against every query of the call that probes it, in groups of 8 or 16, so cutting
    /// the queries would read the clusters again, with part-filled groups. The caller bounds
    /// the queries (a job's search batch, `search.batch_images`).
    pub fn search_indexed(&self, ix: &Indexed, queries: &[[u32; WORDS]]) -> Result<Vec<Neighbours>> {
        Ok(fine::rerank(queries, &self.probed(ix, queries)?, ix.lists))
    }

    /// As `search`, with the kernels' device time where the engine measures one.
    pub fn search_timed(&self, cat: &Prepared, queries: &[[u32; WORDS]]) -> Result<(Vec<Neighbours>, Timing)> {
        match (self, cat) {
            (Engine::Gpu(g), Prepared::Gpu(r)) => g.search_timed(queries, r),
            _ => Ok((self.search(cat, queries)?, Timing::default())),
        }
    }

    pub fn search(&self, cat: &Prepared, queries: &[[u32; WORDS]]) -> Result<Vec<Neighbours>> {
        match (self, cat) {
            (_, Prepared::Index(ix)) => self.search_indexed(ix, queries),
            (Engine::Gpu(g), Prepared::Gpu(r)) => g.search(queries, r),
            (_, Prepared::Cpu(m)) => Ok(cpu_search(queries, m)),
            (Engine::Cpu(_), Prepared::Gpu(_)) => Err(Error::Invalid("catalogue prepared for another engine".into())),
        }
    }
}

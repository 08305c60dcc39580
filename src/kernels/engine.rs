//! The compute engine: the WGSL kernels on a wgpu adapter, or their CPU twins.

use crate::error::{Error, Result};
use crate::kernels::descriptor::{Descriptor, PackedImage, Tables, WORDS, describe};
use crate::kernels::gpu::{DeviceChoice, Gpu, Resident};
use crate::kernels::search::{Matrix, Neighbours, cpu_search};
use rayon::prelude::*;

pub enum Engine {
    Cpu(Box<Tables>),
    Gpu(Box<Gpu>),
}

/// A catalogue made ready for `Engine::search`.
pub enum Prepared<'a> {
    Cpu(Matrix<'a>),
    Gpu(Resident),
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
        match self {
            Engine::Cpu(t) => Ok(images.par_iter().map(|i| describe(i, t)).collect()),
            Engine::Gpu(g) => g.describe(images),
        }
    }

    pub fn prepare<'a>(&self, m: Matrix<'a>) -> Result<Prepared<'a>> {
        match self {
            Engine::Cpu(_) => Ok(Prepared::Cpu(m)),
            Engine::Gpu(g) => g.upload(&m).map(Prepared::Gpu),
        }
    }

    /// The descriptors of `images` and each one's neighbours in `cat`.
    pub fn describe_and_search(
        &self,
        cat: &Prepared,
        images: &[PackedImage],
    ) -> Result<(Vec<Descriptor>, Vec<Neighbours>)> {
        let descriptors = self.describe(images)?;
        let queries: Vec<[u32; WORDS]> = descriptors.iter().map(|d| d.words).collect();
        let neighbours = self.search(cat, &queries)?;
        Ok((descriptors, neighbours))
    }

    pub fn search(&self, cat: &Prepared, queries: &[[u32; WORDS]]) -> Result<Vec<Neighbours>> {
        match (self, cat) {
            (Engine::Gpu(g), Prepared::Gpu(r)) => g.search(queries, r),
            (_, Prepared::Cpu(m)) => Ok(cpu_search(queries, m)),
            (Engine::Cpu(_), Prepared::Gpu(_)) => Err(Error::Invalid("catalogue prepared for another engine".into())),
        }
    }
}

//! The compute kernels and their CPU twins: frame descriptors (`descriptor`, beside
//! `shaders/descriptor.wgsl`) and exact top-k search (`search`, beside
//! `shaders/search.wgsl` and `shaders/merge.wgsl`; its blocked scan on the CPU's vector
//! unit in `lanes`, the lists every search leaves in `neighbours`), the index (`ivf`, beside
//! `shaders/coarse.wgsl`, trained by `cluster`, its fine stage in `fine`), the WGSL sources and their bindings
//! (`shaders`), the adapters wgpu sees (`adapter`), dispatch through wgpu (`gpu`), and
//! the choice between GPU and twins (`engine`).
//!
//! Uses nothing else of the crate but `error`: never `matching`, `ingest`, `store`,
//! `frame` or `job`.

pub mod adapter;
pub mod cluster;
pub mod descriptor;
pub mod engine;
pub mod fine;
pub mod gpu;
pub mod ivf;
pub mod lanes;
pub mod mapped;
pub mod neighbours;
pub mod search;
pub mod shaders;
#[cfg(target_arch = "x86_64")]
pub mod vnni;

//! clipmatch: finds clips of catalogue videos (TV drama episodes) inside uploaded short
//! videos. docs/ARCHITECTURE.md maps the folders and the data flow:
//!
//! `ingest` (archives -> decode workers -> sampled frames and their views, cut by
//! `frame`) -> `kernels` (descriptors, search) -> `matching` (alignment in time) ->
//! `store` (Parquet tables, catalogue, checkpoints, merge). `job` runs a night, `build`
//! a catalogue build, `review` shows a run's evidence to people, `eval` scores a run,
//! `recall` scores the search frame by frame, `bench` times the kernels; `config` holds every tuning number. The binary (`src/bin/clipmatch`) is the only place that knows
//! about the command line.

pub mod bench;
pub mod build;
pub mod config;
pub mod error;
pub mod eval;
pub mod frame;
pub mod ingest;
pub mod job;
pub mod kernels;
pub mod matching;
pub mod progress;
pub mod recall;
pub mod review;
pub mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use error::{Error, Result};

/// A hash that is the same on every machine and in every release, for ids and shards.
pub fn stable_hash(parts: &[&str]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("sha256 has 32 bytes"))
}

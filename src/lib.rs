//! clipmatch: finds clips of catalogue videos (TV drama episodes) inside uploaded short
//! videos. See README.md for the job, DESIGN notes for the data flow:
//!
//! archive reader -> decode workers -> descriptor kernel -> search kernel -> alignment
//! -> Parquet writers.

pub mod align;
pub mod archive;
pub mod bench;
pub mod catalog;
pub mod checkpoint;
pub mod decode;
pub mod descriptor;
pub mod engine;
pub mod error;
pub mod eval;
pub mod frame;
pub mod gpu;
pub mod job;
pub mod merge;
pub mod pipeline;
pub mod search;
pub mod shaders;
pub mod shard;
pub mod table;
pub mod verify;
pub mod worker;

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

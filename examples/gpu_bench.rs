//! `clipmatch bench --device gpu` at the job-like sizes, in a binary that does not link
//! FFmpeg: for a GPU machine without Debian 12's FFmpeg libraries, which the main binary
//! needs (`scripts/gpu_check.sh` runs it there).
//!
//! `cargo run --release --example gpu_bench -- OUT.json [FRAMES [QUERIES]]`

use anyhow::{Context, Result};
use clipmatch::bench::{self, BenchOptions, Roofline};
use clipmatch::kernels::engine::Engine;
use clipmatch::kernels::gpu::DeviceChoice;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let json = args.next().context("usage: gpu_bench OUT.json [FRAMES [QUERIES]]")?;
    let mut number = |default: usize| args.next().map_or(Ok(default), |s| s.parse::<usize>().context("a count"));
    let (frames, queries) = (number(1_000_000)?, number(4096)?);
    let engine = Engine::open(DeviceChoice::Gpu, None)?;
    let roofline = Roofline::known(&engine.summary().adapter);
    let opts = BenchOptions {
        images: 16384,
        frames: vec![frames],
        queries,
        views: vec![12, 1],
        warmup: 1,
        repeats: 5,
        seed: 1,
        roofline,
    };
    let report = bench::run(&engine, &opts)?;
    print!("{}", bench::table(&report));
    std::fs::write(&json, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {json}"))?;
    Ok(())
}

//! `clipmatch bench`: a self-contained benchmark of the two kernels for a GPU benchmark
//! suite. Synthetic, seeded inputs of the sizes asked for; each measurement is a warm-up
//! then the median of repeats, on whatever the engine runs (a wgpu adapter or the CPU
//! twins). Results print as a table and serialise to JSON.

mod filler;
pub mod scale;

pub use filler::FillerModel;

use crate::error::Result;
use crate::kernels::descriptor::{DIM, Descriptor, IMG, PackedImage, WORDS, pack_image};
use crate::kernels::engine::Engine;
use crate::kernels::search::{Matrix, TOPK};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchOptions {
    /// Images per descriptor-kernel call.
    pub images: usize,
    /// Catalogue sizes, in frames, for the search kernel.
    pub frames: Vec<usize>,
    /// Query descriptors per search call.
    pub queries: usize,
    /// Descriptors per catalogue frame (catalogues store `frame::views::CATALOGUE_VIEWS`, 12).
    pub views: usize,
    pub warmup: usize,
    pub repeats: usize,
    pub seed: u64,
}

/// One kernel at one size.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measure {
    pub kernel: &'static str,
    /// Images (descriptor) or catalogue frames (search).
    pub size: usize,
    /// What one call does: images described, or query × catalogue-descriptor comparisons
    /// (each scores both orientations).
    pub work_per_call: u64,
    pub work_unit: &'static str,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// `work_per_call / median_s`.
    pub per_second: f64,
    /// Bytes a call must read and write at least (inputs once, outputs once) per second.
    pub effective_bytes_per_second: f64,
    /// Preparing the catalogue for the kernel (upload to the adapter), not in the timing.
    pub prepare_s: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    pub clipmatch_version: &'static str,
    pub device: String,
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub cpu_threads: usize,
    pub options: BenchOptions,
    pub results: Vec<Measure>,
}

/// A seeded generator: the same inputs on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 32
    }
}

fn images(n: usize, rng: &mut Rng) -> Vec<PackedImage> {
    (0..n).map(|_| pack_image(&(0..IMG * IMG).map(|_| rng.next() as u8).collect::<Vec<u8>>())).collect()
}

/// Descriptor-like rows: every coefficient in -31..=31, so dot products spread as real
/// ones do and the top-k lists keep changing for a while.
fn descriptors(rows: usize, rng: &mut Rng) -> Vec<u32> {
    (0..rows * WORDS)
        .map(|_| (0..4).fold(0u32, |w, k| w | (((rng.next() % 63) as i32 - 31) as u8 as u32) << (8 * k)))
        .collect()
}

/// Runs `f` `warmup` times, then `repeats` times timed; returns the sorted timings.
fn timed(warmup: usize, repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t)
}

fn measure(kernel: &'static str, size: usize, work: u64, unit: &'static str, bytes: u64, t: &[f64]) -> Measure {
    let median = t[t.len() / 2];
    Measure {
        kernel,
        size,
        work_per_call: work,
        work_unit: unit,
        median_s: median,
        min_s: t[0],
        max_s: t[t.len() - 1],
        per_second: work as f64 / median,
        effective_bytes_per_second: bytes as f64 / median,
        prepare_s: 0.0,
    }
}

pub fn run(engine: &Engine, opts: &BenchOptions) -> Result<BenchReport> {
    let mut rng = Rng(opts.seed);
    let mut results = Vec::new();

    let imgs = images(opts.images, &mut rng);
    let t = timed(opts.warmup, opts.repeats, || engine.describe(&imgs).map(drop))?;
    let bytes = opts.images * (std::mem::size_of::<PackedImage>() + std::mem::size_of::<Descriptor>());
    results.push(measure("descriptor", opts.images, opts.images as u64, "images", bytes as u64, &t));

    let queries: Vec<[u32; WORDS]> =
        descriptors(opts.queries, &mut rng).chunks(WORDS).map(|q| q.try_into().expect("WORDS words")).collect();
    for &frames in &opts.frames {
        let words = descriptors(frames * opts.views, &mut rng);
        let start = Instant::now();
        let prepared = engine.prepare(Matrix { words: &words, views: opts.views })?;
        let prepare_s = start.elapsed().as_secs_f64();
        let t = timed(opts.warmup, opts.repeats, || engine.search(&prepared, &queries).map(drop))?;
        let rows = (frames * opts.views) as u64;
        let comparisons = opts.queries as u64 * rows;
        let bytes = (rows + opts.queries as u64) * DIM as u64 + (opts.queries * TOPK * 8) as u64;
        let mut m = measure("search", frames, comparisons, "comparisons", bytes, &t);
        m.prepare_s = prepare_s;
        results.push(m);
    }
    let s = engine.summary();
    Ok(BenchReport {
        clipmatch_version: env!("CARGO_PKG_VERSION"),
        device: s.kind.to_string(),
        adapter: s.adapter,
        backend: s.backend,
        driver: s.driver,
        cpu_threads: rayon::current_num_threads(),
        options: opts.clone(),
        results,
    })
}

/// The report as a table.
pub fn table(r: &BenchReport) -> String {
    let mut out = format!(
        "device {} | adapter {} | backend {} | driver {} | {} CPU threads | median of {} after {} warm-up\n",
        r.device,
        r.adapter,
        r.backend,
        if r.driver.is_empty() { "-" } else { &r.driver },
        r.cpu_threads,
        r.options.repeats,
        r.options.warmup
    );
    out += &format!(
        "{:<11} {:>10} {:>12} {:>10} {:>10} {:>16} {:>12} {:>10}\n",
        "kernel", "size", "work/call", "median ms", "min ms", "work/s", "GB/s", "prepare s"
    );
    for m in &r.results {
        out += &format!(
            "{:<11} {:>10} {:>12} {:>10.3} {:>10.3} {:>16} {:>12.3} {:>10.3}\n",
            m.kernel,
            m.size,
            m.work_per_call,
            m.median_s * 1e3,
            m.min_s * 1e3,
            format!("{:.4e} {}", m.per_second, if m.kernel == "search" { "cmp" } else { "img" }),
            m.effective_bytes_per_second / 1e9,
            m.prepare_s
        );
    }
    out
}

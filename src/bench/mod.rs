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
use crate::kernels::gpu::Timing;
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
    /// Descriptors per catalogue frame, one search per value (catalogues store
    /// `decode.catalogue_views`, 12 by default).
    pub views: Vec<usize>,
    pub warmup: usize,
    pub repeats: usize,
    pub seed: u64,
    /// The adapter's peak figures, where known: percentages of peak are reported.
    pub roofline: Option<Roofline>,
}

/// An adapter's peak integer dot-product rate and memory bandwidth.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Roofline {
    /// Where the figures come from: a known adapter's name, or "flags".
    pub source: String,
    pub sms: u32,
    pub clock_ghz: f64,
    /// 4-byte dot products (`dot4I8Packed`, DP4A) per clock per multiprocessor.
    pub dp4a_per_sm_clock: u32,
    pub bandwidth_gb_s: f64,
}

/// Data-centre adapters by a part of their name (checked in order): multiprocessors,
/// boost clock in GHz, memory bandwidth in GB/s (vendor data sheets).
const KNOWN: [(&str, u32, f64, f64); 3] =
    [("H200", 132, 1.98, 4800.0), ("H100 PCIe", 114, 1.755, 2000.0), ("H100", 132, 1.98, 3350.0)];

/// DP4A per clock per multiprocessor: the integer pipe of the `KNOWN` adapters.
const DP4A_PER_SM_CLOCK: u32 = 64;

impl Roofline {
    /// The figures of a known adapter whose name contains one of `KNOWN`'s.
    pub fn known(adapter: &str) -> Option<Roofline> {
        KNOWN.iter().find(|k| adapter.contains(k.0)).map(|&(name, sms, clock_ghz, bandwidth_gb_s)| Roofline {
            source: name.to_string(),
            sms,
            clock_ghz,
            dp4a_per_sm_clock: DP4A_PER_SM_CLOCK,
            bandwidth_gb_s,
        })
    }

    /// The roofline of `adapter` with any figure given (`--sms`, `--clock-ghz`,
    /// `--bandwidth-gb-s`) in place of the known one; for an adapter not known by name,
    /// all three or none.
    pub fn resolve(
        adapter: &str,
        sms: Option<u32>,
        clock_ghz: Option<f64>,
        bandwidth_gb_s: Option<f64>,
    ) -> std::result::Result<Option<Roofline>, String> {
        let given = sms.is_some() || clock_ghz.is_some() || bandwidth_gb_s.is_some();
        match (Roofline::known(adapter), sms, clock_ghz, bandwidth_gb_s) {
            (Some(k), ..) => Ok(Some(Roofline {
                source: if given { format!("{} with flags", k.source) } else { k.source.clone() },
                sms: sms.unwrap_or(k.sms),
                clock_ghz: clock_ghz.unwrap_or(k.clock_ghz),
                bandwidth_gb_s: bandwidth_gb_s.unwrap_or(k.bandwidth_gb_s),
                ..k
            })),
            (None, Some(sms), Some(clock_ghz), Some(bandwidth_gb_s)) => Ok(Some(Roofline {
                source: "flags".into(),
                sms,
                clock_ghz,
                dp4a_per_sm_clock: DP4A_PER_SM_CLOCK,
                bandwidth_gb_s,
            })),
            (None, ..) if given => {
                Err("--sms, --clock-ghz and --bandwidth-gb-s go together for an adapter not known by name".into())
            }
            (None, ..) => Ok(None),
        }
    }

    pub fn dp4a_per_second(&self) -> f64 {
        f64::from(self.sms) * self.clock_ghz * 1e9 * f64::from(self.dp4a_per_sm_clock)
    }
}

/// One kernel at one size.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measure {
    pub kernel: &'static str,
    /// Images (descriptor) or catalogue frames (search).
    pub size: usize,
    /// Descriptors per catalogue frame (search).
    pub views: Option<usize>,
    /// What one call does: images described, or query × catalogue-descriptor comparisons
    /// (each scores both orientations).
    pub work_per_call: u64,
    pub work_unit: &'static str,
    /// Wall time of a call: kernels, transfers both ways, and the host's share.
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// `work_per_call / median_s`.
    pub per_second: f64,
    /// Bytes a call must read and write at least (inputs once, outputs once) per second.
    pub effective_bytes_per_second: f64,
    /// Preparing the catalogue for the kernel (upload to the adapter), not in the timing.
    pub prepare_s: f64,
    /// Median device time of the kernel, from timestamp queries (an adapter that has
    /// them); for the search, the search pass alone, and the merge of its lists.
    pub kernel_s: Option<f64>,
    pub merge_s: Option<f64>,
    /// Bytes the kernels read and wrote in device memory per call (an adapter).
    pub device_bytes: Option<u64>,
    /// DP4A per second as a percentage of the roofline: over the search and merge
    /// kernels' device time, and over the whole call.
    pub dp4a_percent_kernel: Option<f64>,
    pub dp4a_percent_end_to_end: Option<f64>,
    /// `device_bytes` over the kernels' device time, as a percentage of peak bandwidth.
    pub bandwidth_percent: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    pub clipmatch_version: &'static str,
    pub device: String,
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub cpu_threads: usize,
    /// The adapter was opened with timestamp queries (device times are reported).
    pub timestamps: bool,
    /// The adapter offers subgroup operations.
    pub subgroups: bool,
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

/// Runs `f` `warmup` times, then `repeats` times timed; returns the sorted wall times
/// and each timed run's device timing.
fn timed(warmup: usize, repeats: usize, mut f: impl FnMut() -> Result<Timing>) -> Result<(Vec<f64>, Vec<Timing>)> {
    for _ in 0..warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(repeats);
    let mut device = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        device.push(f()?);
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok((t, device))
}

/// The median over runs of the device time of pass `label`, where every run timed it.
fn median_pass(runs: &[Timing], label: &str) -> Option<f64> {
    let mut t: Vec<f64> = runs.iter().map(|r| r.of(label)).collect::<Option<_>>()?;
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied()
}

fn measure(kernel: &'static str, size: usize, work: u64, unit: &'static str, bytes: u64, t: &[f64]) -> Measure {
    let median = t[t.len() / 2];
    Measure {
        kernel,
        size,
        views: None,
        work_per_call: work,
        work_unit: unit,
        median_s: median,
        min_s: t[0],
        max_s: t[t.len() - 1],
        per_second: work as f64 / median,
        effective_bytes_per_second: bytes as f64 / median,
        prepare_s: 0.0,
        kernel_s: None,
        merge_s: None,
        device_bytes: None,
        dp4a_percent_kernel: None,
        dp4a_percent_end_to_end: None,
        bandwidth_percent: None,
    }
}

pub fn run(engine: &Engine, opts: &BenchOptions) -> Result<BenchReport> {
    let mut rng = Rng(opts.seed);
    let mut results = Vec::new();
    let gpu = match engine {
        Engine::Gpu(g) => Some(g),
        Engine::Cpu(_) => None,
    };
    let device_bytes = |runs: &[Timing]| gpu.map(|_| runs[0].device_bytes);

    let imgs = images(opts.images, &mut rng);
    let (t, runs) = timed(opts.warmup, opts.repeats, || engine.describe_timed(&imgs).map(|r| r.1))?;
    let bytes = opts.images * (std::mem::size_of::<PackedImage>() + std::mem::size_of::<Descriptor>());
    let mut m = measure("descriptor", opts.images, opts.images as u64, "images", bytes as u64, &t);
    m.kernel_s = median_pass(&runs, "descriptor");
    m.device_bytes = device_bytes(&runs);
    m.bandwidth_percent = bandwidth_percent(opts, m.device_bytes, m.kernel_s);
    results.push(m);

    let queries: Vec<[u32; WORDS]> =
        descriptors(opts.queries, &mut rng).chunks(WORDS).map(|q| q.try_into().expect("WORDS words")).collect();
    for &views in &opts.views {
        for &frames in &opts.frames {
            let words = descriptors(frames * views, &mut rng);
            let start = Instant::now();
            let prepared = engine.prepare(Matrix { words: &words, views })?;
            let prepare_s = start.elapsed().as_secs_f64();
            let (t, runs) = timed(opts.warmup, opts.repeats, || engine.search_timed(&prepared, &queries).map(|r| r.1))?;
            let rows = (frames * views) as u64;
            let comparisons = opts.queries as u64 * rows;
            let bytes = (rows + opts.queries as u64) * DIM as u64 + (opts.queries * TOPK * 8) as u64;
            let mut m = measure("search", frames, comparisons, "comparisons", bytes, &t);
            m.views = Some(views);
            m.prepare_s = prepare_s;
            m.kernel_s = median_pass(&runs, "search");
            m.merge_s = median_pass(&runs, "merge");
            m.device_bytes = device_bytes(&runs);
            let device_s = m.kernel_s.zip(m.merge_s).map(|(a, b)| a + b);
            // Both orientations of a comparison come from one pass of WORDS dot products.
            let dp4a = (comparisons * WORDS as u64) as f64;
            if let Some(r) = gpu.and(opts.roofline.as_ref()) {
                m.dp4a_percent_kernel = device_s.map(|s| 100.0 * dp4a / s / r.dp4a_per_second());
                m.dp4a_percent_end_to_end = Some(100.0 * dp4a / m.median_s / r.dp4a_per_second());
            }
            m.bandwidth_percent = bandwidth_percent(opts, m.device_bytes, device_s);
            results.push(m);
        }
    }
    let s = engine.summary();
    Ok(BenchReport {
        clipmatch_version: env!("CARGO_PKG_VERSION"),
        device: s.kind.to_string(),
        adapter: s.adapter,
        backend: s.backend,
        driver: s.driver,
        cpu_threads: rayon::current_num_threads(),
        timestamps: gpu.is_some_and(|g| g.timestamps),
        subgroups: gpu.is_some_and(|g| g.subgroups),
        options: opts.clone(),
        results,
    })
}

fn bandwidth_percent(opts: &BenchOptions, bytes: Option<u64>, device_s: Option<f64>) -> Option<f64> {
    let r = opts.roofline.as_ref()?;
    Some(100.0 * bytes? as f64 / device_s? / (r.bandwidth_gb_s * 1e9))
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
    if r.device == "gpu" {
        out += &format!(
            "timestamp queries {} | subgroups {} | roofline {}\n",
            if r.timestamps { "yes (kernel ms)" } else { "no (kernel ms unknown)" },
            if r.subgroups { "yes" } else { "no" },
            match &r.options.roofline {
                Some(p) => format!(
                    "{} SMs x {} GHz x {} DP4A = {:.3e} DP4A/s, {} GB/s ({})",
                    p.sms,
                    p.clock_ghz,
                    p.dp4a_per_sm_clock,
                    p.dp4a_per_second(),
                    p.bandwidth_gb_s,
                    p.source
                ),
                None => "unknown (--sms, --clock-ghz, --bandwidth-gb-s)".into(),
            }
        );
    }
    out += &format!(
        "{:<11} {:>5} {:>9} {:>12} {:>10} {:>10} {:>9} {:>16} {:>9} {:>7} {:>7} {:>6} {:>9}\n",
        "kernel",
        "views",
        "size",
        "work/call",
        "median ms",
        "kernel ms",
        "merge ms",
        "work/s",
        "GB/s",
        "%DP4A k",
        "%DP4A",
        "%BW",
        "prepare s"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{:.3}", s * 1e3));
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |p| format!("{p:.1}"));
    for m in &r.results {
        out += &format!(
            "{:<11} {:>5} {:>9} {:>12} {:>10.3} {:>10} {:>9} {:>16} {:>9.3} {:>7} {:>7} {:>6} {:>9.3}\n",
            m.kernel,
            m.views.map_or("-".into(), |v| v.to_string()),
            m.size,
            m.work_per_call,
            m.median_s * 1e3,
            ms(m.kernel_s),
            ms(m.merge_s),
            format!("{:.4e} {}", m.per_second, if m.kernel == "search" { "cmp" } else { "img" }),
            m.effective_bytes_per_second / 1e9,
            pct(m.dp4a_percent_kernel),
            pct(m.dp4a_percent_end_to_end),
            pct(m.bandwidth_percent),
            m.prepare_s
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_adapters_are_told_apart_by_name() {
        let sms = |name: &str| Roofline::known(name).map(|r| (r.sms, r.bandwidth_gb_s));
        assert_eq!(sms("NVIDIA H200"), Some((132, 4800.0)));
        assert_eq!(sms("NVIDIA H100 PCIe"), Some((114, 2000.0)));
        assert_eq!(sms("NVIDIA H100 80GB HBM3"), Some((132, 3350.0)));
        assert_eq!(sms("llvmpipe (LLVM 15.0.6, 256 bits)"), None);
        let h200 = Roofline::known("NVIDIA H200").unwrap();
        assert!((h200.dp4a_per_second() - 132.0 * 1.98e9 * 64.0).abs() < 1.0);
    }

    #[test]
    fn flags_fill_or_override_the_roofline() {
        let r = Roofline::resolve("NVIDIA H200", Some(100), None, None).unwrap().unwrap();
        assert_eq!((r.sms, r.clock_ghz, r.bandwidth_gb_s, r.source.as_str()), (100, 1.98, 4800.0, "H200 with flags"));
        let r = Roofline::resolve("llvmpipe", Some(2), Some(1.5), Some(100.0)).unwrap().unwrap();
        assert_eq!((r.sms, r.clock_ghz, r.bandwidth_gb_s, r.source.as_str()), (2, 1.5, 100.0, "flags"));
        assert!(Roofline::resolve("llvmpipe", Some(2), None, None).is_err());
        assert_eq!(Roofline::resolve("llvmpipe", None, None, None), Ok(None));
    }
}

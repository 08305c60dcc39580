//! Fits the descriptor's centring and whitening constants (`MEAN`, `WEIGHT` in
//! src/kernels/descriptor.rs) on a folder of footage: the full-frame view of every frame
//! sampled at 4 frames/s, each also mirrored so that the odd-`u` means are exactly 0
//! and mirroring stays a sign flip. Prints the two arrays as Rust source.
//!
//! `cargo run --release --example fit_descriptor -- ../shared/footage/catalogue`

use anyhow::{Context, Result};
use clipmatch::config::Config;
use clipmatch::ingest::sample::{Views, decode_file};
use clipmatch::kernels::descriptor::{DIM, Tables, raw_coefficients, slot_order};

fn main() -> Result<()> {
    let dir = std::env::args_os().nth(1).context("usage: fit_descriptor FOLDER")?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    let tables = Tables::new();
    let opts = Config::default().decode_options(true, None, clipmatch::ingest::hw::Decoder::Cpu);
    let (mut sum, mut sq, mut n) = ([0f64; DIM], [0f64; DIM], 0f64);
    for f in files {
        let d = decode_file(&f, &opts, Views::Catalogue { views: 1, strips: Default::default() })
            .map_err(|e| anyhow::anyhow!("{}: {}", f.display(), e.message))?;
        for img in &d.images {
            let c = raw_coefficients(img, &tables);
            for (j, &x) in c.iter().enumerate() {
                // The mirror of a frame has the odd half negated: its mean cancels.
                let x = x as f64;
                sum[j] += if j < DIM / 2 { 2.0 * x } else { 0.0 };
                sq[j] += 2.0 * x * x;
            }
            n += 2.0;
        }
        eprintln!("{}: {} frames", f.display(), d.times.len());
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let sd: Vec<f64> = sq.iter().zip(&mean).map(|(q, m)| (q / n - m * m).max(1.0).sqrt()).collect();
    let w: Vec<f64> =
        slot_order().zip(&sd).map(|((v, u), sd)| ((u * u + v * v) as f64).powf(0.125) / sd.sqrt()).collect();
    let wmax = w.iter().cloned().fold(0.0, f64::max);
    let fmt = |v: Vec<i64>| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
    println!("const MEAN: [i32; DIM] = [{}];", fmt(mean.iter().map(|m| m.round() as i64).collect()));
    println!("const WEIGHT: [i32; DIM] = [{}];", fmt(w.iter().map(|x| (1024.0 * x / wmax).round() as i64).collect()));
    Ok(())
}

//! Criterion benches of the hot kernels, GPU (any wgpu adapter) and CPU twin side by
//! side, on seeded synthetic inputs: `cargo bench --bench kernels`.

use clipmatch::descriptor::{PackedImage, Tables, WORDS, describe, pack_image};
use clipmatch::gpu::Gpu;
use clipmatch::search::{Matrix, cpu_search};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn seeded_images(n: usize, seed: u64) -> Vec<PackedImage> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let px: Vec<u8> = (0..1024)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (s >> 56) as u8
                })
                .collect();
            pack_image(&px)
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let gpu = Gpu::open().ok().flatten();
    let tables = Tables::new();

    let imgs = seeded_images(4096, 1);
    let mut g = c.benchmark_group("descriptor");
    g.throughput(Throughput::Elements(imgs.len() as u64));
    g.bench_function("cpu", |b| b.iter(|| imgs.iter().map(|i| describe(i, &tables).energy).sum::<u32>()));
    if let Some(gpu) = &gpu {
        g.bench_function(format!("gpu {}", gpu.adapter.name), |b| b.iter(|| gpu.describe(&imgs).unwrap().len()));
    }
    g.finish();

    let views = 1;
    let base: Vec<u32> = seeded_images(2048, 2).iter().flat_map(|i| describe(i, &tables).words).collect();
    let queries: Vec<[u32; WORDS]> = base.chunks(WORDS).take(256).map(|q| q.try_into().unwrap()).collect();
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    for frames in [10_000usize, 100_000] {
        let words: Vec<u32> = base.iter().copied().cycle().take(frames * WORDS).collect();
        let m = Matrix { words: &words, views };
        g.throughput(Throughput::Elements((frames * queries.len()) as u64));
        g.bench_with_input(BenchmarkId::new("cpu", frames), &m, |b, m| b.iter(|| cpu_search(&queries, m).len()));
        if let Some(gpu) = &gpu {
            let resident = gpu.upload(&m).unwrap();
            g.bench_with_input(BenchmarkId::new("gpu", frames), &resident, |b, r| {
                b.iter(|| gpu.search(&queries, r).unwrap().len())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

//! Criterion benches of the hot kernels, GPU (any wgpu adapter) and CPU twin side by
//! side, and of alignment, on seeded synthetic inputs: `cargo bench --bench kernels`.

use clipmatch::kernels::descriptor::{PackedImage, Tables, WORDS, describe};
use clipmatch::kernels::gpu::Gpu;
use clipmatch::kernels::search::{Hit, Matrix, Neighbours, TOPK, cpu_search};
use clipmatch::matching::align;
use clipmatch::matching::config::MatchConfig;
use clipmatch::matching::model::QueryFrames;
use clipmatch::testkit::{Catalogue, Rng, random_image};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn seeded_images(n: usize, seed: u64) -> Vec<PackedImage> {
    (0..n as u64).map(|i| random_image(seed << 32 | i)).collect()
}

fn kernels(c: &mut Criterion) {
    let gpu = Gpu::open(false).ok().flatten();
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
    for frames in [10_000usize, 100_000, 1_000_000] {
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

/// An upload of 120 frames (60 s at 2 frames/s) whose middle 40 s show a catalogue video
/// at 1.25x from its 100th second, every frame's list filled up with hits on random
/// frames of a catalogue of 40 videos of 10 minutes at 4 frames/s.
fn alignment(c: &mut Criterion) {
    let (videos, per_video, rate) = (40usize, 2400usize, 4.0);
    let tables = Tables::new();
    // Descriptors of random pictures: segments try to grow but find nothing alike.
    let cat = Catalogue::of_pictures(seeded_images(videos * per_video, 3), per_video, &tables);
    let qwords: Vec<[u32; WORDS]> = seeded_images(120, 4).iter().map(|p| describe(p, &tables).words).collect();
    let mut rng = Rng::new(7);
    let qt: Vec<f64> = (0..120).map(|i| i as f64 * 0.5).collect();
    let neighbours: Vec<Neighbours> = qt
        .iter()
        .map(|&tq| {
            let mut list = [Hit::EMPTY; TOPK];
            let mut k = 0;
            if (10.0..50.0).contains(&tq) {
                let f = 7 * per_video + ((100.0 + (tq - 10.0) * 1.25) * rate) as usize;
                list[0] = Hit { score: 13000, key: (f as u32) << 1 };
                k = 1;
            }
            for (j, slot) in list.iter_mut().enumerate().skip(k) {
                *slot = Hit { score: 11000 - 100 * j as i32, key: (rng.below(cat.video.len()) as u32) << 1 };
            }
            list
        })
        .collect();
    let energy = vec![1000u32; qt.len()];
    let views: Vec<_> = (0..qt.len()).map(|i| i..i + 1).collect();
    let q = QueryFrames {
        t: &qt,
        words: &qwords,
        views: &views,
        portrait: &vec![false; qt.len()],
        energy: &energy,
        neighbours: &neighbours,
        period: 0.5,
        duration: 60.0,
    };
    let (refs, p) = (cat.refs(), MatchConfig::default());
    assert!(!align(&q, &refs, &tables, &p).is_empty(), "the planted clip is found");
    let mut g = c.benchmark_group("align");
    g.throughput(Throughput::Elements(qt.len() as u64));
    g.bench_function("120 frames x 16 hits", |b| b.iter(|| align(&q, &refs, &tables, &p).len()));
    g.finish();
}

criterion_group!(benches, kernels, alignment);
criterion_main!(benches);

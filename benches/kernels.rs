//! Criterion benches of the hot kernels, GPU (any wgpu adapter) and CPU twin side by
//! side, of alignment, and of the index's fine stage on each CPU vector unit, on seeded
//! synthetic inputs: `cargo bench --bench kernels`.

use clipmatch::kernels::descriptor::{PackedImage, Tables, WORDS, describe};
use clipmatch::kernels::engine::Engine;
use clipmatch::kernels::fine::{Unit, rerank_on};
use clipmatch::kernels::gpu::Gpu;
use clipmatch::kernels::search::{Hit, Matrix, Neighbours, TOPK, cpu_search};
use clipmatch::matching::align;
use clipmatch::matching::config::MatchConfig;
use clipmatch::matching::model::QueryFrames;
use clipmatch::testkit::{Catalogue, Rng, indexed, random_image, shot_descriptors};
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
    // Descriptors of random pictures: segments try to grow but find nothing alike, but
    // for the planted clip, whose frames show the catalogue's pictures.
    let pictures = seeded_images(videos * per_video, 3);
    let cat = Catalogue::of_pictures(pictures.clone(), per_video, &tables);
    let mut rng = Rng::new(7);
    let qt: Vec<f64> = (0..120).map(|i| i as f64 * 0.5).collect();
    let planted =
        |tq: f64| (10.0..50.0).contains(&tq).then(|| 7 * per_video + ((100.0 + (tq - 10.0) * 1.25) * rate) as usize);
    let mut qpictures = seeded_images(120, 4);
    for (p, &tq) in qpictures.iter_mut().zip(&qt) {
        if let Some(f) = planted(tq) {
            *p = pictures[f];
        }
    }
    let qwords: Vec<[u32; WORDS]> = qpictures.iter().map(|p| describe(p, &tables).words).collect();
    let neighbours: Vec<Neighbours> = qt
        .iter()
        .map(|&tq| {
            let mut list = [Hit::EMPTY; TOPK];
            let mut k = 0;
            if let Some(f) = planted(tq) {
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
        strip_parts: &vec![0; qt.len()],
        energy: &energy,
        neighbours: &neighbours,
        period: 0.5,
        duration: 60.0,
    };
    let (refs, p) = (cat.refs(), MatchConfig::default());
    assert!(!align(&q, &refs, &p).is_empty(), "the planted clip is found");
    let mut g = c.benchmark_group("align");
    g.throughput(Throughput::Elements(qt.len() as u64));
    g.bench_function("120 frames x 16 hits", |b| b.iter(|| align(&q, &refs, &p).len()));
    g.finish();
}

/// The index's fine stage on each vector unit this CPU has: 4,096 query descriptors,
/// each probing 32 of 256 clusters of 80,000 view descriptors of shot-like pictures (about
/// a tenth of the catalogue per query, as at 100 h with 128 probes).
fn fine_stage(c: &mut Criterion) {
    let engine = Engine::Cpu(Box::default());
    let words = shot_descriptors(20_000, 4);
    let m = Matrix { words: &words, views: 4 };
    let (centroids, lists) = indexed(&engine, &m, 256);
    let parts = std::slice::from_ref(&lists);
    // Pictures the catalogue does not hold, as most of an upload's are: few of their
    // scores enter the lists once these are full.
    let tables = Tables::new();
    let queries: Vec<[u32; WORDS]> = seeded_images(4096, 5).iter().map(|i| describe(i, &tables).words).collect();
    let ix = engine.prepare_indexed(&centroids, parts, 32).unwrap();
    let clusters = engine.probed(&ix, &queries).unwrap();
    let scored: usize = clusters.iter().flatten().map(|&c| lists.entries_of(c as usize)).sum();
    let mut g = c.benchmark_group("fine stage");
    g.sample_size(10);
    g.throughput(Throughput::Elements(scored as u64));
    for unit in Unit::available() {
        g.bench_function(format!("{unit:?}"), |b| b.iter(|| rerank_on(unit, &queries, &clusters, parts).len()));
    }
    g.finish();
}

criterion_group!(benches, kernels, alignment, fine_stage);
criterion_main!(benches);

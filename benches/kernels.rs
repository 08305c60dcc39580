//! Criterion benches of the hot kernels, GPU (any wgpu adapter) and CPU twin side by
//! side, and of alignment, on seeded synthetic inputs: `cargo bench --bench kernels`.

use clipmatch::align::{AlignParams, QueryFrames, RefFrames, align, frames_by_video};
use clipmatch::descriptor::{IMG, PackedImage, Tables, WORDS, describe, pack_image};
use clipmatch::gpu::Gpu;
use clipmatch::search::{Hit, Matrix, Neighbours, TOPK, cpu_search};
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
    let (videos, per_video, rate) = (40u32, 2400usize, 4.0);
    let video: Vec<u32> = (0..videos).flat_map(|v| std::iter::repeat_n(v, per_video)).collect();
    let t: Vec<f64> = (0..video.len()).map(|i| (i % per_video) as f64 / rate).collect();
    let energy = vec![1000u32; video.len()];
    let duration = vec![per_video as f64 / rate; videos as usize];
    let mut s = 7u64;
    let mut rand = |n: usize| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as usize % n
    };
    // Descriptors of random pictures: segments try to grow but find nothing alike.
    let tables = Tables::new();
    let mut picture = |_| pack_image(&(0..IMG * IMG).map(|_| rand(256) as u8).collect::<Vec<_>>());
    let pictures: Vec<_> = (0..video.len()).map(&mut picture).collect();
    let words: Vec<u32> = pictures.iter().flat_map(|p| describe(p, &tables).words).collect();
    let qwords: Vec<[u32; WORDS]> = (0..120).map(|i| describe(&picture(i), &tables).words).collect();
    let by_video = frames_by_video(&video, &t, videos as usize);
    let refs = RefFrames {
        video: &video,
        t: &t,
        energy: &energy,
        duration: &duration,
        words: &words,
        views: 1,
        by_video: &by_video,
        pictures: &pictures,
    };
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
                *slot = Hit { score: 11000 - 100 * j as i32, key: (rand(video.len()) as u32) << 1 };
            }
            list
        })
        .collect();
    let qe = vec![1000u32; qt.len()];
    let views: Vec<_> = (0..qt.len()).map(|i| i..i + 1).collect();
    let q = QueryFrames {
        t: &qt,
        words: &qwords,
        views: &views,
        energy: &qe,
        neighbours: &neighbours,
        period: 0.5,
        duration: 60.0,
    };
    let p = AlignParams::default();
    assert!(!align(&q, &refs, &p).is_empty(), "the planted clip is found");
    let mut g = c.benchmark_group("align");
    g.throughput(Throughput::Elements(qt.len() as u64));
    g.bench_function("120 frames x 16 hits", |b| b.iter(|| align(&q, &refs, &p).len()));
    g.finish();
}

criterion_group!(benches, kernels, alignment);
criterion_main!(benches);

//! The WGSL kernels against their CPU twins on random inputs, on whatever adapter wgpu
//! finds (lavapipe under CI). Equality is exact: both sides are integer arithmetic.

mod common;

use clipmatch::kernels::descriptor::{Tables, WORDS, describe, pack_image};
use clipmatch::kernels::engine::{Engine, Searchable};
use clipmatch::kernels::gpu::Gpu;
use clipmatch::kernels::search::{Matrix, Neighbours, cpu_chunk_topk, cpu_search};
use clipmatch::kernels::{cluster, ivf};
use clipmatch::testkit::Rng;

fn gpu() -> Option<Gpu> {
    let g = Gpu::open(false).expect("adapter present but unusable");
    common::require(g.is_some(), "a wgpu adapter (mesa-vulkan-drivers)");
    g
}

/// Images of several kinds: noise, smooth gradients, flat (black, white and grey),
/// extreme contrast.
fn images(n: usize, rng: &mut Rng) -> Vec<[u32; 256]> {
    (0..n)
        .map(|i| {
            let px: Vec<u8> = (0..1024)
                .map(|p| match i % 6 {
                    0 => (rng.next_u64() >> 32) as u8,
                    1 => ((p % 32) * 7 + (p / 32) * 3 + i) as u8,
                    2 => (i * 37) as u8,
                    3 => 0,
                    4 => 255,
                    _ => {
                        if ((rng.next_u64() >> 32) & 1) == 1 {
                            255
                        } else {
                            0
                        }
                    }
                })
                .collect();
            pack_image(&px)
        })
        .collect()
}

#[test]
fn descriptor_kernel_equals_cpu_twin() {
    let Some(g) = gpu() else { return };
    let imgs = images(300, &mut Rng::new(1));
    let t = Tables::new();
    let cpu: Vec<_> = imgs.iter().map(|i| describe(i, &t)).collect();
    let gpu = g.describe(&imgs).unwrap();
    assert_eq!(cpu.len(), gpu.len());
    for (i, (c, d)) in cpu.iter().zip(&gpu).enumerate() {
        assert_eq!(c, d, "image {i} (kind {})", i % 6);
    }
}

#[test]
fn search_kernel_equals_cpu_twin_across_tiles() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(5);
    let t = Tables::new();
    let views = 3;
    // Real descriptors, with duplicates so that ties occur and their order is tested.
    let mut words: Vec<u32> = images(700 * views, &mut rng).iter().flat_map(|i| describe(i, &t).words).collect();
    let dup: Vec<u32> = words[..views * WORDS * 10].to_vec();
    words.extend_from_slice(&dup);
    let m = Matrix { words: &words, views };
    // Two workgroups of queries (two per invocation), the second partly filled.
    let queries: Vec<[u32; WORDS]> =
        (0..200).map(|i| words[(i * 31 % m.frames()) * views * WORDS..][..WORDS].try_into().unwrap()).collect();
    let expected = cpu_search(&queries, &m);
    // Tiles of 97 frames: several tiles, each with several chunks and a ragged end.
    for per_tile in [97, 100_000] {
        let resident = g.upload_tiled(&m, per_tile).unwrap();
        let got = g.search(&queries, &resident).unwrap();
        assert_eq!(expected, got, "tile size {per_tile}");
    }
}

/// The reference: one scan of all frames per query.
fn scanned(queries: &[[u32; WORDS]], m: &Matrix) -> Vec<Neighbours> {
    queries.iter().map(|q| cpu_chunk_topk(q, m, 0, m.frames())).collect()
}

/// A word of four equal signed bytes.
fn splat(b: i8) -> u32 {
    u32::from_ne_bytes([b as u8; 4])
}

/// Catalogues that stress the search kernel, as (what, views, words): full-range bytes
/// (-128 included), ties everywhere, scores rising frame by frame (every frame enters
/// every list: the worst case for insertion), all frames equal; views 1, 3, 8, 12 and
/// 17 (a frame wider than one workgroup step), frame counts under 16, off the step, and
/// over several chunks.
fn hard_catalogues(rng: &mut Rng) -> Vec<(String, usize, Vec<u32>)> {
    let mut out = Vec::new();
    for views in [1usize, 3, 8, 12, 17] {
        for frames in [5usize, 301, 1100] {
            let n = frames * views * WORDS;
            let full: Vec<u32> = (0..n).map(|_| rng.next_u64() as u32).collect();
            // Bytes in -1..=1: few distinct scores.
            let ties: Vec<u32> = (0..n)
                .map(|_| {
                    let r = rng.next_u64();
                    u32::from_ne_bytes(std::array::from_fn(|k| [0xffu8, 0, 1][((r >> (8 * k)) % 3) as usize]))
                })
                .collect();
            out.push((format!("full-range, {views} views, {frames} frames"), views, full));
            out.push((format!("ties, {views} views, {frames} frames"), views, ties));
        }
    }
    for views in [1usize, 12] {
        let frames = 700;
        let rising: Vec<u32> = (0..frames * views * WORDS)
            .map(|i| splat(((i / (views * WORDS) * 255 / frames) as i32 - 127) as i8))
            .collect();
        out.push((format!("rising, {views} views"), views, rising));
        out.push((format!("all equal, {views} views"), views, vec![splat(3); frames * views * WORDS]));
    }
    out
}

#[test]
fn search_kernel_equals_cpu_twin_on_hard_catalogues() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(17);
    // 65 queries: one workgroup and one query of the next; -128 everywhere, all ones.
    let mut queries: Vec<[u32; WORDS]> = (0..63).map(|_| std::array::from_fn(|_| rng.next_u64() as u32)).collect();
    queries.push([splat(-128); WORDS]);
    queries.push([splat(1); WORDS]);
    for (what, views, words) in hard_catalogues(&mut rng) {
        let m = Matrix { words: &words, views };
        let expected = scanned(&queries, &m);
        for per_tile in [97, usize::MAX / 4] {
            let got = g.search(&queries, &g.upload_tiled(&m, per_tile).unwrap()).unwrap();
            assert_eq!(expected, got, "{what}, tiles of {per_tile} frames");
        }
        // One query alone: a workgroup of one live invocation.
        assert_eq!(&expected[..1], &g.search(&queries[..1], &g.upload(&m).unwrap()).unwrap()[..], "{what}, 1 query");
    }
}

#[test]
fn search_kernel_finds_nothing_in_an_empty_catalogue() {
    let Some(g) = gpu() else { return };
    let m = Matrix { words: &[], views: 12 };
    let q = [[splat(5); WORDS]; 3];
    assert_eq!(g.search(&q, &g.upload(&m).unwrap()).unwrap(), scanned(&q, &m));
    assert!(g.search(&[], &g.upload(&m).unwrap()).unwrap().is_empty());
}

#[test]
fn describing_and_searching_in_one_submission_equals_the_twins() {
    let Some(g) = gpu() else { return };
    let t = Tables::new();
    let views = 3;
    let mut rng = Rng::new(23);
    let words: Vec<u32> = images(500 * views, &mut rng).iter().flat_map(|i| describe(i, &t).words).collect();
    let m = Matrix { words: &words, views };
    // Uploads' frames: some of the catalogue's own images, some new.
    let imgs = images(130, &mut Rng::new(5));
    let cpu = Engine::Cpu(Box::default());
    let gpu = Engine::Gpu(Box::new(g));
    let plain = cpu.describe_and_search(&cpu.prepare(Matrix { words: &words, views }).unwrap(), &imgs).unwrap();
    let got = gpu.describe_and_search(&gpu.prepare(m).unwrap(), &imgs).unwrap();
    assert_eq!(plain.0, got.0);
    assert_eq!(plain.1, got.1);

    // With strips (2 per frame), searched by every fourth image instead of the views.
    let strips: Vec<u32> = images(500 * 2, &mut rng).iter().flat_map(|i| describe(i, &t).words).collect();
    let probes: Vec<usize> = (0..imgs.len()).step_by(4).collect();
    let ready = |e: &Engine| -> (Vec<_>, Vec<Neighbours>) {
        let cat = Searchable {
            views: e.prepare(Matrix { words: &words, views }).unwrap(),
            strips: Some(e.prepare(Matrix { words: &strips, views: 2 }).unwrap()),
        };
        e.describe_and_search_all(&cat, &imgs, &probes).unwrap()
    };
    let (expected, got) = (ready(&cpu), ready(&gpu));
    assert_eq!(expected, got);
    let strip_lists: Vec<Neighbours> = cpu_search(
        &probes.iter().map(|&i| expected.0[i].words).collect::<Vec<_>>(),
        &Matrix { words: &strips, views: 2 },
    );
    assert!(probes.iter().zip(&strip_lists).all(|(&i, l)| expected.1[i] == *l), "a probe's list is its strips' list");
    assert!((0..imgs.len()).filter(|i| i % 4 != 0).all(|i| expected.1[i] == plain.1[i]), "the others search the views");
    assert!(probes.iter().any(|&i| expected.1[i] != plain.1[i]), "the strips change the probes' lists");
}

#[test]
fn coarse_kernel_equals_cpu_twin() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(9);
    // Full-range bytes, -128 included; centroid and query counts off the workgroup size.
    let mut word = || rng.next_u64() as u32;
    let centroids: Vec<u32> = (0..131 * WORDS).map(|_| word()).collect();
    let mut queries: Vec<[u32; WORDS]> = (0..37).map(|_| std::array::from_fn(|_| word())).collect();
    queries.push([0x8080_8080; WORDS]);
    let expected = ivf::coarse_scores(&queries, &centroids);
    let got = g.coarse(&queries, &g.upload_centroids(&centroids)).unwrap();
    assert_eq!(expected, got);
}

#[test]
fn index_search_on_the_gpu_equals_the_cpu_twins() {
    let Some(g) = gpu() else { return };
    let t = Tables::new();
    let views = 3;
    let words: Vec<u32> = images(400 * views, &mut Rng::new(3)).iter().flat_map(|i| describe(i, &t).words).collect();
    let m = Matrix { words: &words, views };
    let params = cluster::TrainParams { centroids: 21, sample_per_centroid: 16, iterations: 3 };
    let cpu = Engine::Cpu(Box::default());
    let gpu = Engine::Gpu(Box::new(g));
    // Training and assignment run the coarse kernel on the GPU: the same index.
    let centroids = cluster::train(&cpu, &[&words], &params).unwrap();
    assert_eq!(cluster::train(&gpu, &[&words], &params).unwrap(), centroids);
    // Trained on the catalogue in pieces (its parts), the same centroids.
    let (a, b) = words.split_at(137 * views * WORDS);
    assert_eq!(cluster::train(&cpu, &[a, &[], b], &params).unwrap(), centroids);
    let exact = cluster::AssignParams { exact_max_centroids: usize::MAX, probes: 1, iterations: 3 };
    let assign = |e: &Engine, p: &cluster::AssignParams| {
        cluster::Assigner::new(e, &centroids, p).unwrap().assign(e, &m).unwrap()
    };
    let assigned = assign(&cpu, &exact);
    assert_eq!(assign(&gpu, &exact), assigned);
    // Through groups of centroids: the same clusters on both.
    let grouped = cluster::AssignParams { exact_max_centroids: 4, probes: 2, iterations: 3 };
    assert_eq!(assign(&gpu, &grouped), assign(&cpu, &grouped));
    let lists = ivf::Lists::new(&m, &assigned, centroids.len() / WORDS);
    let queries: Vec<[u32; WORDS]> = (0..50).map(|i| words[i * 23 * WORDS..][..WORDS].try_into().unwrap()).collect();
    let search = |e: &Engine| {
        let p = e.prepare_indexed(&centroids, std::slice::from_ref(&lists), 4).unwrap();
        e.search_indexed(&p, &queries).unwrap()
    };
    assert_eq!(search(&cpu), search(&gpu));
}

#[test]
fn clusters_found_through_groups_of_centroids_are_the_nearest_when_every_group_is_probed() {
    let t = Tables::new();
    let views = 2;
    let words: Vec<u32> = images(600 * views, &mut Rng::new(5)).iter().flat_map(|i| describe(i, &t).words).collect();
    let m = Matrix { words: &words, views };
    let cpu = Engine::Cpu(Box::default());
    let params = cluster::TrainParams { centroids: 64, sample_per_centroid: 8, iterations: 3 };
    let centroids = cluster::train(&cpu, &[&words], &params).unwrap();
    let assign = |exact_max_centroids, probes| {
        let p = cluster::AssignParams { exact_max_centroids, probes, iterations: 3 };
        cluster::Assigner::new(&cpu, &centroids, &p).unwrap().assign(&cpu, &m).unwrap()
    };
    let exact = assign(usize::MAX, 1);
    assert_eq!(exact.len(), 600 * views);
    // 64 centroids in 8 groups: probing all 8 compares every centroid.
    assert_eq!(assign(4, 8), exact);
    // One group of 8: most descriptors, not all, find their nearest centroid.
    let one = assign(4, 1);
    let same = one.iter().zip(&exact).filter(|(a, b)| a == b).count();
    assert!(same * 2 > exact.len() && same < exact.len(), "{same} of {}", exact.len());
}

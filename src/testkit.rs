//! Synthetic inputs for tests and benches, written once: a seeded generator, pictures,
//! a catalogue of random pictures and uploads cut from it with their neighbour lists.
//! Compiled for tests and for the `testkit` feature only (benches and integration tests
//! get it through the crate's dev-dependency on itself).

use crate::kernels::cluster::{AssignParams, Assigner, TrainParams, train};
use crate::kernels::descriptor::{DOT_ONE, IMG, PackedImage, Tables, WORDS, describe, pack_image};
use crate::kernels::engine::Engine;
use crate::kernels::ivf::{Descriptors, Lists};
use crate::kernels::search::{Hit, Matrix, Neighbours, TOPK};
use crate::matching::model::{QueryFrames, RefFrames, frames_by_video};
use std::ops::Range;

/// `n` seeded words of four small signed bytes: many ties, which is what a search's
/// order must survive.
pub fn tie_heavy_words(n: usize, seed: u64) -> Vec<u32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| (r.next_u64() as u32) & 0x0303_0303).collect()
}

/// A seeded xorshift generator: the same numbers on every machine.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e3779b97f4a7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A byte from the high bits.
    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() >> 33) as usize % n.max(1)
    }
}

/// 32x32 pixels of noise, different for every seed.
pub fn random_pixels(seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..IMG * IMG).map(|_| r.byte()).collect()
}

/// A packed 32x32 image of noise.
pub fn random_image(seed: u64) -> PackedImage {
    pack_image(&random_pixels(seed))
}

/// The descriptor of a random picture: unrelated pictures are far apart.
pub fn random_words(seed: u64, tables: &Tables) -> [u32; WORDS] {
    describe(&random_image(seed), tables).words
}

/// Real descriptors of random pictures, `views` per frame, several near-copies of each
/// picture (a cluster structure like shots'), frame by frame.
pub fn shot_descriptors(frames: usize, views: usize) -> Vec<u32> {
    let t = Tables::new();
    (0..frames * views)
        .flat_map(|i| {
            let mut img = random_image((i / 7) as u64);
            img[i % img.len()] ^= 0x0101_0101 * (i as u32 % 5);
            describe(&img, &t).words
        })
        .collect()
}

/// An index of up to `centroids` clusters trained on `m` (16 descriptors sampled per
/// centroid, 4 iterations) with `engine`, and `m`'s lists under it: the centroids and
/// the lists.
pub fn indexed(engine: &Engine, m: &Matrix, centroids: usize) -> (Vec<u32>, Lists) {
    let params = TrainParams { centroids, sample_per_centroid: 16, iterations: 4 };
    let trained = train(engine, &[m.words], &params).expect("training on the CPU twins");
    let exact = AssignParams { exact_max_centroids: usize::MAX, probes: 1, iterations: 3 };
    let assigner = Assigner::new(engine, &trained, &exact).expect("grouping on the CPU twins");
    let lists = Lists::new(m, &assigner.assign(engine, m).expect("assigning on the CPU twins"), trained.len() / WORDS);
    (trained, lists)
}

/// Row `r` of packed descriptors.
pub fn row(words: &[u32], r: usize) -> [u32; WORDS] {
    words[r * WORDS..(r + 1) * WORDS].try_into().expect("WORDS words")
}

/// `share` of the noise picture `background` laid over `own`.
pub fn mix(own: &[u8], background: u64, share: f32) -> Vec<u8> {
    own.iter()
        .zip(random_pixels(background))
        .map(|(&o, b)| (share * b as f32 + (1.0 - share) * o as f32) as u8)
        .collect()
}

/// Seed of the picture that makes video 0 of a `Catalogue` a static shot.
pub const BACKGROUND: u64 = u64::MAX;

/// A catalogue of videos sampled at 4 frames/s, one view per frame.
pub struct Catalogue {
    pub video: Vec<u32>,
    pub t: Vec<f64>,
    pub energy: Vec<u32>,
    pub duration: Vec<f64>,
    /// Each video's chance score (`RefFrames::chance`): none measured.
    pub chance: Vec<f32>,
    pub words: Vec<u32>,
    pub by_video: Vec<Vec<u32>>,
    /// Each frame's picture, which tests show in their uploads.
    pub pictures: Vec<PackedImage>,
    /// Frames of each video.
    pub per_video: usize,
    /// Every frame stored (no compaction): frame `f` is sample `f` (`RefFrames::stored`,
    /// `first`).
    pub samples: Vec<u32>,
}

/// Frames per video of `Catalogue::new` (100 s), and the rate of every `Catalogue`.
pub const VIDEO_FRAMES: usize = 400;
pub const CATALOGUE_RATE: f64 = 4.0;

impl Catalogue {
    /// `videos` videos of 100 s, one noise picture per frame (frame `f`'s is
    /// `random_pixels(f)`); with `still` > 0, video 0 is a static shot: every picture is
    /// that share of one background picture and the rest its own.
    pub fn new(videos: usize, tables: &Tables, still: f32) -> Self {
        let share = |f: usize| if f < VIDEO_FRAMES { still } else { 0.0 };
        let pictures =
            (0..videos * VIDEO_FRAMES).map(|f| pack_image(&mix(&random_pixels(f as u64), BACKGROUND, share(f))));
        Catalogue::of_pictures(pictures.collect(), VIDEO_FRAMES, tables)
    }

    /// Videos of `per_video` frames each, showing `pictures` in order.
    pub fn of_pictures(pictures: Vec<PackedImage>, per_video: usize, tables: &Tables) -> Self {
        let n = pictures.len();
        let videos = n.div_ceil(per_video);
        let video: Vec<u32> = (0..n).map(|f| (f / per_video) as u32).collect();
        let t: Vec<f64> = (0..n).map(|f| (f % per_video) as f64 / CATALOGUE_RATE).collect();
        let words = pictures.iter().flat_map(|p| describe(p, tables).words).collect();
        let by_video = frames_by_video(&video, &t, videos);
        let duration = vec![per_video as f64 / CATALOGUE_RATE; videos];
        let samples = (0..=n as u32).collect();
        Catalogue {
            energy: vec![1000; n],
            chance: vec![0.0; videos],
            duration,
            video,
            t,
            words,
            by_video,
            pictures,
            per_video,
            samples,
        }
    }

    pub fn refs(&self) -> RefFrames<'_> {
        RefFrames {
            video: &self.video,
            t: &self.t,
            energy: &self.energy,
            stored: &self.samples[..self.video.len()],
            first: &self.samples,
            duration: &self.duration,
            chance: &self.chance,
            descriptors: Descriptors::Frames(&self.words, 1),
            strips: None,
            by_video: &self.by_video,
            near_s: 0.5,
        }
    }

    pub fn frame_words(&self, f: usize) -> [u32; WORDS] {
        self.words[f * WORDS..(f + 1) * WORDS].try_into().expect("a frame's words")
    }
}

/// A neighbour: catalogue frame `frame` at similarity `sim`.
pub fn hit(frame: usize, sim: f32, mirrored: bool) -> Hit {
    Hit { score: (sim * DOT_ONE) as i32, key: (frame as u32) << 1 | mirrored as u32 }
}

/// An upload of frames at 2/s, one view each.
pub struct Upload {
    pub t: Vec<f64>,
    pub words: Vec<[u32; WORDS]>,
    pub views: Vec<Range<usize>>,
    /// No part searches the strips.
    pub strip_parts: Vec<u8>,
    pub energy: Vec<u32>,
    pub neighbours: Vec<Neighbours>,
}

/// Sampling period of an `Upload`, seconds.
pub const UPLOAD_PERIOD: f64 = 0.5;

impl Upload {
    /// `n` frames: those in `clip` show `video` of `cat` at `speed` from catalogue time
    /// `start` (the same picture), the others noise. Only the clip frames in `found` have
    /// their catalogue frame among their neighbours, at similarity 0.9; every frame also
    /// gets five unrelated neighbours at 0.55 in the videos after `video`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cat: &Catalogue,
        tables: &Tables,
        n: usize,
        video: usize,
        clip: Range<usize>,
        found: Range<usize>,
        speed: f64,
        start: f64,
    ) -> Self {
        let t: Vec<f64> = (0..n).map(|i| i as f64 * UPLOAD_PERIOD).collect();
        let frame_at = |i: usize| {
            video * cat.per_video + ((start + speed * (t[i] - t[clip.start])) * CATALOGUE_RATE).round() as usize
        };
        let words =
            (0..n)
                .map(|i| {
                    if clip.contains(&i) {
                        cat.frame_words(frame_at(i))
                    } else {
                        random_words(10_000 + i as u64, tables)
                    }
                })
                .collect();
        let others = cat.video.len() - (video + 1) * cat.per_video;
        let neighbours = (0..n)
            .map(|i| {
                let mut list = [Hit::EMPTY; TOPK];
                let mut k = 0;
                if clip.contains(&i) && found.contains(&i) {
                    list[0] = hit(frame_at(i), 0.9, false);
                    k = 1;
                }
                if others > 0 {
                    for (j, slot) in list.iter_mut().enumerate().take(6).skip(k) {
                        *slot = hit((video + 1) * cat.per_video + (i * 37 + j * 91) % others, 0.55, false);
                    }
                }
                list
            })
            .collect();
        Upload {
            energy: vec![1000; n],
            views: (0..n).map(|i| i..i + 1).collect(),
            strip_parts: vec![0; n],
            t,
            words,
            neighbours,
        }
    }

    pub fn frames(&self) -> QueryFrames<'_> {
        QueryFrames {
            t: &self.t,
            words: &self.words,
            views: &self.views,
            strip_parts: &self.strip_parts,
            energy: &self.energy,
            neighbours: &self.neighbours,
            period: UPLOAD_PERIOD,
            duration: self.t.len() as f64 * UPLOAD_PERIOD,
        }
    }
}

//! Training and assignment of the index (`ivf`) with the search where it runs: k-means
//! centroids over a sample of the catalogue's view descriptors, and each descriptor's
//! nearest centroid.
//!
//! Vectors are clustered in the space where a descriptor and its mirror image are one
//! point (the score a search gives is the better orientation): a vector joins the
//! centroid it or its mirror image is nearest, and is folded into that orientation
//! before the centroids are averaged. A query then probes the cluster that holds the
//! frame whichever orientation the upload shows.

use crate::error::Result;
use crate::kernels::descriptor::{DIM, WORDS, coefficients, is_odd_half, split_dot};
use crate::kernels::engine::Engine;
use crate::kernels::ivf::{Lists, quantise};
use crate::kernels::search::Matrix;
use rayon::prelude::*;

/// How centroids are trained.
#[derive(Clone, Debug)]
pub struct TrainParams {
    pub centroids: usize,
    /// Training vectors per centroid (a stride sample of the catalogue's vectors).
    pub sample_per_centroid: usize,
    pub iterations: usize,
}

/// Descriptors assigned together through the groups of centroids: bounds the copies
/// gathered for each group (128 bytes per descriptor and probed group).
const BATCH: usize = 1 << 18;

/// The centroid each vector of `vectors` (rows of `WORDS` words) is nearest, mirror
/// images folded: `(centroid, mirrored)`, what the exhaustive search over the centroids
/// finds best (the better orientation, the lower centroid on a tie, then the plain
/// orientation).
fn nearest(engine: &Engine, centroids: &[u32], vectors: &[u32]) -> Result<Vec<(u32, bool)>> {
    let queries: &[[u32; WORDS]] = bytemuck::cast_slice(vectors);
    let best = engine.nearest_centroids(&engine.prepare_centroids(centroids)?, queries)?;
    Ok(best
        .into_par_iter()
        .zip(queries)
        .map(|((c, _), q)| {
            let (even, odd) = split_dot(q, centroids[c as usize * WORDS..][..WORDS].try_into().expect("WORDS words"));
            (c, even - odd > even + odd)
        })
        .collect())
}

/// The stride sample k-means trains on, gathered piece by piece (a catalogue's parts in
/// catalogue order, each read, sampled and dropped in turn): every `stride`th of the
/// catalogue's vectors, so that neither the whole catalogue nor a copy of it is held.
pub struct Sample {
    centroids: usize,
    wanted: usize,
    stride: usize,
    /// Sample members taken so far, and vectors met so far.
    taken: usize,
    seen: usize,
    words: Vec<u32>,
}

impl Sample {
    /// The sample of `vectors` vectors in all for `p`'s centroids.
    pub fn new(vectors: usize, p: &TrainParams) -> Self {
        let centroids = p.centroids.min(vectors).max(1);
        let wanted = (centroids * p.sample_per_centroid.max(1)).min(vectors);
        let stride = vectors / wanted.max(1);
        Sample { centroids, wanted, stride, taken: 0, seen: 0, words: Vec::with_capacity(wanted * WORDS) }
    }

    /// Takes the members among the next piece's vectors (rows of `WORDS` words).
    pub fn take(&mut self, piece: &[u32]) {
        self.take_rows(piece.len() / WORDS, |r| &piece[r * WORDS..(r + 1) * WORDS]);
    }

    /// Takes the members among the next piece's `n` vectors, reading only those: `row(r)`
    /// is the piece's vector `r` (`WORDS` words).
    pub fn take_rows<'w>(&mut self, n: usize, row: impl Fn(usize) -> &'w [u32]) {
        // Rows 0, stride, 2 stride, ... of the whole; each lies below its vector count.
        while self.taken < self.wanted && self.taken * self.stride < self.seen + n {
            self.words.extend_from_slice(row(self.taken * self.stride - self.seen));
            self.taken += 1;
        }
        self.seen += n;
    }
}

/// Spherical k-means over a stride sample of the catalogue's view descriptors (rows of
/// `WORDS` words, in `pieces` such as its parts, in catalogue order, so that no copy of
/// the whole is made), mirror images folded. Deterministic: the sample, the first
/// centroids (evenly spaced sample members) and every update depend on the data alone.
/// Fewer centroids come back when the catalogue holds fewer vectors than asked for.
pub fn train(engine: &Engine, pieces: &[&[u32]], p: &TrainParams) -> Result<Vec<u32>> {
    let vectors: usize = pieces.iter().map(|w| w.len() / WORDS).sum();
    let mut sample = Sample::new(vectors, p);
    pieces.iter().for_each(|w| sample.take(w));
    train_on(engine, sample, p)
}

/// `train` on a sample gathered already (`Sample::take` over every piece); no centroid
/// from an empty one.
pub fn train_on(engine: &Engine, sample: Sample, p: &TrainParams) -> Result<Vec<u32>> {
    let (k, wanted, sample) = (sample.centroids, sample.taken, sample.words);
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let step = wanted / k;
    let mut centroids: Vec<u32> =
        (0..k).flat_map(|c| &sample[c * step * WORDS..(c * step + 1) * WORDS]).copied().collect();
    for _ in 0..p.iterations {
        let near = nearest(engine, &centroids, &sample)?;
        let mut sums = vec![0f64; k * DIM];
        for (v, &(c, mirrored)) in near.iter().enumerate() {
            let sum = &mut sums[c as usize * DIM..(c as usize + 1) * DIM];
            for (d, x) in coefficients(&sample[v * WORDS..(v + 1) * WORDS]).enumerate() {
                let sign = if mirrored && is_odd_half(d) { -1.0 } else { 1.0 };
                sum[d] += sign * f64::from(x);
            }
        }
        // A centroid nothing joined keeps its place; it may win members next round.
        for (c, sum) in sums.chunks(DIM).enumerate() {
            if let Some(words) = quantise(sum) {
                centroids[c * WORDS..(c + 1) * WORDS].copy_from_slice(&words);
            }
        }
    }
    Ok(centroids)
}

/// How descriptors find their cluster (`config::IndexConfig`).
#[derive(Clone, Debug)]
pub struct AssignParams {
    /// Up to this many centroids, every descriptor is compared with every centroid.
    pub exact_max_centroids: usize,
    /// Beyond: groups of centroids searched per descriptor (`Assigner`), and rounds of
    /// the k-means that groups them.
    pub probes: usize,
    pub iterations: usize,
}

/// Finds each descriptor's cluster. A catalogue of many hours has many centroids, and
/// comparing every descriptor with each is most of the time an index takes to build
/// (173 million descriptors by 13,000 centroids at 1,000 hours): beyond
/// `exact_max_centroids`, the centroids are themselves grouped (k-means, the square root
/// of their number of groups) and searched through those groups like a catalogue
/// through its index, the `probes` best groups for each descriptor. A descriptor may then
/// join a centroid a little less similar than its best; the index's recall says what
/// that costs.
pub struct Assigner<'a> {
    centroids: &'a [u32],
    /// The groups' centres and the centroids listed under them.
    groups: Option<(Vec<u32>, Lists)>,
    probes: usize,
}

impl<'a> Assigner<'a> {
    pub fn new(engine: &Engine, centroids: &'a [u32], p: &AssignParams) -> Result<Assigner<'a>> {
        let k = centroids.len() / WORDS;
        if k <= p.exact_max_centroids.max(1) {
            return Ok(Assigner { centroids, groups: None, probes: 0 });
        }
        let g = ((k as f64).sqrt().round() as usize).max(1);
        let centres = train(
            engine,
            &[centroids],
            &TrainParams { centroids: g, sample_per_centroid: k, iterations: p.iterations },
        )?;
        let member = nearest(engine, &centres, centroids)?.into_iter().map(|(c, _)| c).collect::<Vec<_>>();
        let lists = Lists::new(&Matrix { words: centroids, views: 1 }, &member, centres.len() / WORDS);
        Ok(Assigner { centroids, groups: Some((centres, lists)), probes: p.probes.max(1) })
    }

    pub fn centroids(&self) -> &'a [u32] {
        self.centroids
    }

    /// The cluster of every view descriptor of `m`, frame by frame (`views` per frame).
    ///
    /// Through the groups, group by group: each group's centroids are scored (the coarse
    /// stage) against every descriptor that probes the group, and each descriptor keeps
    /// its best centroid over its groups, the lower one on a tie, as the exact search
    /// breaks ties.
    pub fn assign(&self, engine: &Engine, m: &Matrix) -> Result<Vec<u32>> {
        let Some((centres, lists)) = &self.groups else {
            return Ok(nearest(engine, self.centroids, m.words)?.into_iter().map(|(c, _)| c).collect());
        };
        let ix = engine.prepare_indexed(centres, std::slice::from_ref(lists), self.probes)?;
        let members = |g: usize| lists.range(g);
        let groups = (0..lists.clusters())
            .map(|g| engine.prepare_centroids(&lists.words[members(g).start * WORDS..members(g).end * WORDS]))
            .collect::<Result<Vec<_>>>()?;
        // Each descriptor's best centroid so far and its score; none yet: `u32::MAX`.
        let mut best = vec![(u32::MAX, i32::MIN); m.words.len() / WORDS];
        for (batch, best) in m.words.chunks(BATCH * WORDS).zip(best.chunks_mut(BATCH)) {
            let queries: &[[u32; WORDS]] = bytemuck::cast_slice(batch);
            let mut probing: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
            for (i, probed) in engine.probed(&ix, queries)?.into_iter().enumerate() {
                probed.into_iter().for_each(|g| probing[g as usize].push(i as u32));
            }
            for (g, probing) in probing.iter().enumerate() {
                let gathered: Vec<[u32; WORDS]> = probing.iter().map(|&i| queries[i as usize]).collect();
                let found = engine.nearest_centroids(&groups[g], &gathered)?;
                for (&i, (local, score)) in probing.iter().zip(found) {
                    let centroid = lists.frames[members(g).start + local as usize];
                    let old = &mut best[i as usize];
                    if score > old.1 || (score == old.1 && centroid < old.0) {
                        *old = (centroid, score);
                    }
                }
            }
        }
        // Where the probed groups held no centroid at all (groups k-means left empty),
        // every centroid is compared.
        let lost: Vec<usize> = (0..best.len()).filter(|&i| best[i].0 == u32::MAX).collect();
        let again: Vec<u32> = lost.iter().flat_map(|&i| &m.words[i * WORDS..(i + 1) * WORDS]).copied().collect();
        let found = nearest(engine, self.centroids, &again)?;
        let mut clusters: Vec<u32> = best.iter().map(|&(c, _)| c).collect();
        for (&i, (c, _)) in lost.iter().zip(found) {
            clusters[i] = c;
        }
        Ok(clusters)
    }
}

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
use crate::kernels::descriptor::{DIM, WORDS, coefficients, is_odd_half};
use crate::kernels::engine::Engine;
use crate::kernels::ivf::quantise;
use crate::kernels::search::Matrix;

/// How centroids are trained.
#[derive(Clone, Debug)]
pub struct TrainParams {
    pub centroids: usize,
    /// Training vectors per centroid (a stride sample of the catalogue's vectors).
    pub sample_per_centroid: usize,
    pub iterations: usize,
}

/// Vectors searched per call while training and assigning: bounds the neighbour lists
/// held at once (128 bytes per vector).
const BATCH: usize = 1 << 18;

/// The centroid each vector of `vectors` (rows of `WORDS` words) is nearest, mirror
/// images folded: `(centroid, mirrored)`, the best hit of the exact search over the
/// centroids (which scores the better orientation and breaks ties as `probe` does: the
/// lower centroid, then the plain orientation).
fn nearest(engine: &Engine, centroids: &[u32], vectors: &[u32]) -> Result<Vec<(u32, bool)>> {
    let prepared = engine.prepare(Matrix { words: centroids, views: 1 })?;
    let mut out = Vec::with_capacity(vectors.len() / WORDS);
    for batch in vectors.chunks(BATCH * WORDS) {
        let lists = engine.search(&prepared, bytemuck::cast_slice(batch))?;
        out.extend(lists.iter().map(|l| (l[0].frame() as u32, l[0].mirrored())));
    }
    Ok(out)
}

/// Spherical k-means over a stride sample of the catalogue's view descriptors (rows of
/// `WORDS` words, in `pieces` such as its parts, in catalogue order, so that no copy of
/// the whole is made), mirror images folded. Deterministic: the sample, the first
/// centroids (evenly spaced sample members) and every update depend on the data alone.
/// Fewer centroids come back when the catalogue holds fewer vectors than asked for.
pub fn train(engine: &Engine, pieces: &[&[u32]], p: &TrainParams) -> Result<Vec<u32>> {
    let vectors: usize = pieces.iter().map(|w| w.len() / WORDS).sum();
    if vectors == 0 {
        return Ok(Vec::new());
    }
    let k = p.centroids.min(vectors).max(1);
    let wanted = (k * p.sample_per_centroid.max(1)).min(vectors);
    let stride = vectors / wanted.max(1);
    // Rows 0, stride, 2 stride, ... across the pieces; each lies below `vectors`.
    let mut sample: Vec<u32> = Vec::with_capacity(wanted * WORDS);
    let (mut piece, mut first) = (0, 0);
    for i in 0..wanted {
        let r = i * stride;
        while r >= first + pieces[piece].len() / WORDS {
            first += pieces[piece].len() / WORDS;
            piece += 1;
        }
        sample.extend_from_slice(&pieces[piece][(r - first) * WORDS..(r - first + 1) * WORDS]);
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

/// The cluster of every view descriptor of `m`, frame by frame (`views` per frame).
pub fn assign(engine: &Engine, m: &Matrix, centroids: &[u32]) -> Result<Vec<u32>> {
    Ok(nearest(engine, centroids, m.words)?.into_iter().map(|(c, _)| c).collect())
}

//! The catalogue's search index (`kernels::ivf`) on disk, beside the frames parts:
//!
//! ```text
//! CATALOG/index/centroids.bin         K centroids, `WORDS` little-endian u32 each
//! ```
//! The cluster of each view (and of each strip, band and half, where the manifest's
//! `strips` says so) is not stored apart: it is the list that holds it in the part's lists
//! (`store::served`), which `read` gives back row by row. The strips are assigned to the
//! centroids the views were trained on: a strip is a crop of the picture like the views,
//! and a separate list per part keeps the views' lists, which every upload picture
//! scans, as they were. The manifest's `index` names K and how many parts (from the
//! first) are assigned; an add assigns its part to the existing centroids, `catalog
//! index` retrains them and reassigns every part.

use crate::error::{Error, Result};
use crate::kernels::descriptor::WORDS;
use crate::kernels::ivf::Lists;
use crate::store::served::{self, Of};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the manifest says of the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexManifest {
    pub centroids: usize,
    /// Parts `0..parts` have their assignments.
    pub parts: u32,
    /// Catalogue frames when the centroids were trained.
    pub trained_frames: u64,
    /// `served::centroids_hash` of the centroids: a `centroids.bin` that a retraining
    /// wrote but did not finish (its manifest is written last) is refused, not read with
    /// the assignments of other centroids. Absent in catalogues of older builds.
    #[serde(default)]
    pub centroids_hash: Option<u64>,
    /// Whether every assigned part's strips (and bands and halves) are assigned too; false in indexes
    /// of older builds, whose runs then do not search the strips through the index.
    #[serde(default)]
    pub strips: bool,
}

/// The index loaded for searching: the centroids and the lists of each frames part.
pub struct CatalogueIndex {
    pub centroids: Vec<u32>,
    pub lists: Vec<Lists>,
    /// The lists of each part's strips (and bands and halves); empty where they are not held or the
    /// index does not assign them.
    pub strips: Vec<Lists>,
}

fn centroids_path(dir: &Path) -> PathBuf {
    dir.join("index").join("centroids.bin")
}

/// Writes `words` as little-endian bytes, atomically (a new name, then a rename).
fn write_words(path: &Path, words: &[u32]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a file of `expected` little-endian u32 values.
fn read_words(dir: &Path, path: &Path, expected: usize) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() != expected * 4 {
        return Err(Error::Catalogue {
            path: dir.to_path_buf(),
            reason: format!(
                "{} holds {} bytes, the manifest needs {}; rebuild the index with `clipmatch catalog index`",
                path.display(),
                bytes.len(),
                expected * 4
            ),
        });
    }
    Ok(bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub fn write_centroids(dir: &Path, centroids: &[u32]) -> Result<()> {
    write_words(&centroids_path(dir), centroids)
}

pub fn read_centroids(dir: &Path, m: &IndexManifest) -> Result<Vec<u32>> {
    let centroids = read_words(dir, &centroids_path(dir), m.centroids * WORDS)?;
    match m.centroids_hash {
        Some(h) if h != served::centroids_hash(&centroids) => Err(Error::Catalogue {
            path: dir.to_path_buf(),
            reason: format!(
                "{} holds other centroids than the manifest names (an interrupted `catalog index`?); run \
                 `clipmatch catalog index` again",
                centroids_path(dir).display()
            ),
        }),
        _ => Ok(centroids),
    }
}

/// The index as stored: the centroids, and each part's lists with the clusters they
/// give its rows (`views` per row), and the same of its strips where the index assigns
/// them (else no parts). The lists are mapped and checked once: `catalog::open` reads
/// the part's descriptors from them too.
pub struct Stored {
    pub centroids: Vec<u32>,
    pub lists: Vec<Lists>,
    pub assigned: Vec<Vec<u32>>,
    pub strip_lists: Vec<Lists>,
    pub strips: Vec<Vec<u32>>,
}

/// The index read for loading, checked to name only clusters there are. `None` when it
/// does not cover all `parts`.
pub fn read(dir: &Path, m: &IndexManifest, parts: u32) -> Result<Option<Stored>> {
    if m.parts < parts {
        return Ok(None);
    }
    let centroids = read_centroids(dir, m)?;
    let of = |o: Of| (0..parts).map(|part| read_lists(dir, m, part, o)).collect::<Result<Vec<_>>>();
    let strip_lists = if m.strips { of(Of::Strips)? } else { Vec::new() };
    let lists = of(Of::Views)?;
    let clusters = |l: &[Lists]| l.iter().map(Lists::assignments).collect();
    Ok(Some(Stored { centroids, assigned: clusters(&lists), lists, strips: clusters(&strip_lists), strip_lists }))
}

/// Part `part`'s lists of `of`, which must be lists of the index's centroids: each
/// descriptor's cluster is the list that holds it.
fn read_lists(dir: &Path, m: &IndexManifest, part: u32, of: Of) -> Result<Lists> {
    let lists = match m.centroids_hash {
        Some(h) => served::map_lists(dir, part, of, 0, h)?,
        None => served::read_lists(dir, part, of)?,
    };
    if lists.clusters() != m.centroids {
        return Err(Error::Catalogue {
            path: dir.to_path_buf(),
            reason: format!(
                "{} holds {} lists, the index has {} centroids; run `clipmatch catalog index`",
                served::lists_path(dir, part, of).display(),
                lists.clusters(),
                m.centroids
            ),
        });
    }
    Ok(lists)
}

/// Refuses assignments of part `part` (of `of`) that do not hold `rows * views` clusters
/// (its lists were made for fewer rows than the part has).
pub fn check_rows(dir: &Path, part: u32, of: Of, assigned: usize, rows: usize, views: usize) -> Result<()> {
    if assigned == rows * views {
        return Ok(());
    }
    Err(Error::Catalogue {
        path: dir.to_path_buf(),
        reason: format!(
            "{} holds {assigned} descriptors, the part's {rows} rows need {}; rebuild it with `clipmatch catalog build`",
            served::lists_path(dir, part, of).display(),
            rows * views
        ),
    })
}

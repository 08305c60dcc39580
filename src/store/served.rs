//! The catalogue as a search through its index reads it, in files mapped into memory:
//!
//! ```text
//! CATALOG/index/lists-00000.bin     per frames part: its index lists (`ivf::Lists`)
//! CATALOG/index/strips-lists-00000.bin  the same of its strips (portrait strips, bands, halves)
//! CATALOG/index/pictures-00000.bin  per frames part: each row's 32x32 picture, where
//!                                   `decode.catalogue_pictures` stores them
//! ```
//! Written beside the centroids by `catalog build`, `add` and `index`. They are the
//! only copy of the frames' descriptors and pictures (`parts` reads them back in row
//! order; a part not yet indexed has one list in row order, `UNINDEXED`). A run that
//! searches through the index maps them, so that its memory is the frames' small
//! columns plus the pages it reads, which the kernel drops again under pressure: a
//! catalogue larger than RAM is served.
//!
//! Layout: an 8-byte magic, a count and that many u64 facts, a count and that many
//! (byte offset, byte length) arrays, each array 64-byte aligned; all little-endian.
//! A lists file names the centroids it was made for (a hash of `centroids.bin`), so
//! that lists left from before a retraining are never read as today's.

use crate::error::{Error, Result};
use crate::kernels::descriptor::PackedImage;
use crate::kernels::ivf::Lists;
use crate::kernels::mapped::Section;
use bytemuck::Pod;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What of each row a file of the index is about: its views or its strips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Of {
    Views,
    Strips,
}

impl Of {
    /// How the file names of the strips begin.
    pub fn prefix(self) -> &'static str {
        match self {
            Of::Views => "",
            Of::Strips => "strips-",
        }
    }
}

const LISTS: &[u8; 8] = b"CMLISTS1";
const PICTURES: &[u8; 8] = b"CMPICTS1";
const ALIGN: u64 = 64;

/// How the names of the lists and pictures files begin (after `Of::prefix`), also for
/// `store::usage`, which counts them.
pub const LISTS_STEM: &str = "lists-";
pub const PICTURES_STEM: &str = "pictures-";

pub fn lists_path(dir: &Path, part: u32, of: Of) -> PathBuf {
    dir.join("index").join(format!("{}{LISTS_STEM}{part:05}.bin", of.prefix()))
}

pub fn pictures_path(dir: &Path, part: u32) -> PathBuf {
    dir.join("index").join(format!("{PICTURES_STEM}{part:05}.bin"))
}

/// FNV-1a of `words`: which centroids a lists file was made for.
pub fn centroids_hash(words: &[u32]) -> u64 {
    bytemuck::cast_slice::<u32, u8>(words)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Writes a mapped file at `path` (a temporary name, then a rename).
fn write(path: &Path, magic: &[u8; 8], facts: &[u64], arrays: &[&[u8]]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut head: Vec<u64> = vec![facts.len() as u64];
    head.extend_from_slice(facts);
    head.push(arrays.len() as u64);
    let mut at = (8 + 8 * (head.len() + 2 * arrays.len()) as u64).next_multiple_of(ALIGN);
    let mut starts = Vec::with_capacity(arrays.len());
    for a in arrays {
        head.extend([at, a.len() as u64]);
        starts.push(at);
        at = (at + a.len() as u64).next_multiple_of(ALIGN);
    }
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = std::io::BufWriter::new(file);
    let io = |e| Error::io(&tmp, e);
    w.write_all(magic).map_err(io)?;
    w.write_all(bytemuck::cast_slice(&head)).map_err(io)?;
    let mut written = 8 + 8 * head.len() as u64;
    for (a, start) in arrays.iter().zip(starts) {
        w.write_all(&vec![0u8; (start - written) as usize]).map_err(io)?;
        w.write_all(a).map_err(io)?;
        written = start + a.len() as u64;
    }
    w.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A mapped file's facts and arrays.
struct Mapped {
    map: Arc<memmap2::Mmap>,
    facts: Vec<u64>,
    arrays: Vec<(usize, usize)>,
    path: PathBuf,
}

/// A damaged file of the index: it holds the only copy of its part's descriptors or
/// pictures, so the videos of that part must be built again.
fn damaged(path: &Path, reason: &str) -> Error {
    Error::Invalid(format!(
        "{}: {reason}; the catalogue has lost this part's descriptors: build it again with `clipmatch catalog build`",
        path.display()
    ))
}

impl Mapped {
    fn open(path: &Path, magic: &[u8; 8]) -> Result<Mapped> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: catalogue files are written under another name and renamed, never
        // changed in place (see `kernels::mapped`), so the mapped bytes stay as read.
        let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?);
        let word = |i: usize| -> Option<u64> {
            map.get(8 + 8 * i..16 + 8 * i).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        };
        if map.get(..8) != Some(&magic[..]) {
            return Err(damaged(path, "not a file of this kind"));
        }
        let cut = || damaged(path, "cut short");
        let n = word(0).ok_or_else(cut)? as usize;
        if n > map.len() / 8 {
            return Err(cut());
        }
        let facts: Vec<u64> = (1..=n).map(word).collect::<Option<_>>().ok_or_else(cut)?;
        let a = word(n + 1).ok_or_else(cut)? as usize;
        let mut arrays = Vec::new();
        for k in 0..a {
            let (at, len) = (word(n + 2 + 2 * k).ok_or_else(cut)?, word(n + 3 + 2 * k).ok_or_else(cut)?);
            if at.checked_add(len).is_none_or(|end| end > map.len() as u64) {
                return Err(cut());
            }
            arrays.push((at as usize, len as usize));
        }
        Ok(Mapped { map, facts, arrays, path: path.to_path_buf() })
    }

    /// Array `k` as values of `T`.
    fn array<T: Pod>(&self, k: usize) -> Result<Section<T>> {
        let &(at, len) = self.arrays.get(k).ok_or_else(|| damaged(&self.path, "an array is missing"))?;
        if !len.is_multiple_of(size_of::<T>()) {
            return Err(damaged(&self.path, "an array is cut short"));
        }
        Section::mapped(&self.map, at, len / size_of::<T>()).map_err(|e| damaged(&self.path, &e.to_string()))
    }
}

/// Writes part `part`'s lists (of `of`), made for the centroids hashed `centroids`.
pub fn write_lists(dir: &Path, part: u32, of: Of, lists: &Lists, centroids: u64) -> Result<()> {
    let facts = [lists.per_frame as u64, centroids];
    let arrays: [&[u8]; 5] = [
        bytemuck::cast_slice(&lists.offsets[..]),
        bytemuck::cast_slice(&lists.frames[..]),
        &lists.views[..],
        bytemuck::cast_slice(&lists.words[..]),
        bytemuck::cast_slice(&lists.entry[..]),
    ];
    write(&lists_path(dir, part, of), LISTS, &facts, &arrays)
}

/// Maps part `part`'s lists (of `of`), its frames counted from `first_frame`; refused
/// where the file is damaged or was made for other centroids.
pub fn map_lists(dir: &Path, part: u32, of: Of, first_frame: u32, centroids: u64) -> Result<Lists> {
    let lists = map_lists_for(dir, part, of, first_frame, Some(centroids))?;
    // A search reads the descriptors cluster by cluster in the fine stage, which asks for
    // each cluster ahead (`Lists::prefetch`), and frame by frame in alignment, 128 bytes
    // here and there: left to the kernel's read-around, each such read of a page not in
    // memory would read the device's whole read-ahead window (128 KB to megabytes).
    lists.words.advise(memmap2::Advice::Random, 0..lists.words.len());
    Ok(lists)
}

/// Maps part `part`'s lists (of `of`) for their descriptors, whatever centroids they
/// were made for (a retraining reads them to assign them again).
pub fn read_lists(dir: &Path, part: u32, of: Of) -> Result<Lists> {
    map_lists_for(dir, part, of, 0, None)
}

/// What a part's lists are made for where no index is trained yet: one list, in row
/// order (`build::store_part`).
pub const UNINDEXED: u64 = 0;

fn map_lists_for(dir: &Path, part: u32, of: Of, first_frame: u32, centroids: Option<u64>) -> Result<Lists> {
    let path = lists_path(dir, part, of);
    let m = Mapped::open(&path, LISTS)?;
    let [per_frame, made_for] = m.facts[..] else {
        return Err(damaged(&path, "its facts are not those of lists"));
    };
    if centroids.is_some_and(|c| c != made_for) {
        let why = "made for other centroids than the index's (a retraining cut short?): run `clipmatch catalog index`";
        return Err(Error::Invalid(format!("{}: {why}", path.display())));
    }
    let lists = Lists {
        offsets: m.array(0)?,
        frames: m.array(1)?,
        views: m.array(2)?,
        words: m.array(3)?,
        per_frame: per_frame as usize,
        entry: m.array(4)?,
        first_frame,
    };
    lists.checked().map_err(|reason| damaged(&path, &reason))
}

pub fn write_pictures(dir: &Path, part: u32, pictures: &[PackedImage]) -> Result<()> {
    write(&pictures_path(dir, part), PICTURES, &[], &[bytemuck::cast_slice(pictures)])
}

pub fn map_pictures(dir: &Path, part: u32) -> Result<Section<PackedImage>> {
    let pictures: Section<PackedImage> = Mapped::open(&pictures_path(dir, part), PICTURES)?.array(0)?;
    // Read a few frames at a time (the review page), as descriptors by alignment.
    pictures.advise(memmap2::Advice::Random, 0..pictures.len());
    Ok(pictures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::descriptor::{IMG_WORDS, WORDS};
    use crate::kernels::ivf::Descriptors;
    use crate::kernels::search::Matrix;

    #[test]
    fn mapped_files_read_back_as_written_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // 5 frames of 2 views over 3 clusters.
        let words: Vec<u32> = (0..5 * 2 * WORDS as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let assigned = [0, 2, 1, 1, 2, 0, 0, 0, 1, 2];
        let lists = Lists::new(&Matrix { words: &words, views: 2 }, &assigned, 3);
        write_lists(d, 0, Of::Views, &lists, 42).unwrap();
        let mapped = map_lists(d, 0, Of::Views, 7, 42).unwrap();
        assert_eq!((mapped.clusters(), mapped.entries(), mapped.first_frame), (3, 10, 7));
        for f in 0..5 {
            let a: Vec<_> = Descriptors::Lists(std::slice::from_ref(&lists)).of(f).collect();
            let b: Vec<_> = Descriptors::Lists(std::slice::from_ref(&mapped)).of(f + 7).collect();
            assert_eq!(a, b);
        }
        let e = map_lists(d, 0, Of::Views, 0, 43).err().unwrap().to_string();
        assert!(e.contains("lists-00000.bin") && e.contains("other centroids"), "{e}");

        // The strips' lists are a file of their own.
        assert!(map_lists(d, 0, Of::Strips, 0, 42).is_err());
        write_lists(d, 0, Of::Strips, &lists, 42).unwrap();
        assert_eq!(map_lists(d, 0, Of::Strips, 0, 42).unwrap().entries(), 10);
        let path = lists_path(d, 0, Of::Views);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        let e = map_lists(d, 0, Of::Views, 0, 42).err().unwrap().to_string();
        assert!(e.contains("cut short") && e.contains("catalog build"), "{e}");

        let pictures: Vec<PackedImage> = (0..3).map(|i| [i; IMG_WORDS]).collect();
        write_pictures(d, 1, &pictures).unwrap();
        assert_eq!(&*map_pictures(d, 1).unwrap(), &pictures[..]);
    }
}

//! What a catalogue folder occupies on disk, by what it holds: the figure an operator
//! sizes storage with (`catalog info`), per catalogue hour as docs/SCALE.md and
//! docs/COMPACTION.md count it.

use crate::error::{Error, Result};
use crate::store::served::{LISTS_STEM, Of, PICTURES_STEM};
use std::path::Path;

/// The kinds of file a catalogue holds, in the order `catalog info` prints them.
pub const KINDS: [&str; 6] = ["frames parts", "view lists", "strip lists", "pictures", "index centroids", "the rest"];

/// Which of `KINDS` the file at `rel` (relative to the catalogue folder) is.
fn kind(rel: &Path) -> usize {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let strips = name.strip_prefix(Of::Strips.prefix()).unwrap_or("");
    match rel.parent().and_then(|p| p.to_str()) {
        Some("frames") => 0,
        Some("index") if name.starts_with(LISTS_STEM) => 1,
        Some("index") if strips.starts_with(LISTS_STEM) => 2,
        Some("index") if name.starts_with(PICTURES_STEM) => 3,
        Some("index") => 4,
        _ => 5,
    }
}

/// Bytes of each of `KINDS` under `dir`, every file counted once, links not followed.
pub fn bytes(dir: &Path) -> Result<[u64; 6]> {
    let mut out = [0u64; 6];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let path = e.map_err(|e| Error::io(&d, e))?.path();
            // Not followed: a link's target is not the catalogue's to count.
            let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                out[kind(path.strip_prefix(dir).unwrap_or(&path))] += meta.len();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_counts_for_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["frames", "index"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        use crate::store::served::{lists_path, pictures_path};
        let files = [
            (d.join("frames/part-00000.parquet"), 10),
            (d.join("frames/part-00001.parquet"), 5),
            (lists_path(d, 0, Of::Views), 7),
            (lists_path(d, 0, Of::Strips), 3),
            (pictures_path(d, 0), 4),
            (d.join("index/centroids.bin"), 3),
            (d.join("manifest.json"), 6),
        ];
        for (f, n) in files {
            std::fs::write(f, vec![0u8; n]).unwrap();
        }
        assert_eq!(bytes(d).unwrap(), [15, 7, 3, 4, 3, 6]);
        assert!(bytes(&d.join("missing")).is_err());
    }
}

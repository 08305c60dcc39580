//! A frames part's columns read on their own: the descriptors of its views or strips,
//! the pictures, for the index and its mapped files (`build`) and for `catalog::open`.

use crate::error::{Error, Result};
use crate::kernels::descriptor::{DIM, IMG_WORDS, PackedImage};
use crate::store::served::Of;
use crate::store::table::{self, column};
use arrow::array::{FixedSizeBinaryArray, RecordBatch};
use std::path::{Path, PathBuf};

pub fn part_path(dir: &Path, part: u32) -> PathBuf {
    dir.join("frames").join(format!("part-{part:05}.parquet"))
}

/// A stored 32x32 picture from its bytes.
pub fn picture_of(bytes: &[u8]) -> PackedImage {
    let mut img: PackedImage = [0; IMG_WORDS];
    bytemuck::cast_slice_mut::<u32, u8>(&mut img).copy_from_slice(bytes);
    img
}

/// Every row's picture of part `part`, in row order: what the mapped pictures file of
/// the part holds.
pub fn part_pictures(dir: &Path, part: u32) -> Result<Vec<PackedImage>> {
    let path = part_path(dir, part);
    let mut out = Vec::new();
    for b in table::read_columns(&path, &["picture"])? {
        let picture = column::<FixedSizeBinaryArray>(&b, "picture", &path)?;
        for i in 0..b.num_rows() {
            out.push(picture_of(picture.value(i)));
        }
    }
    Ok(out)
}

/// A part's column `name` of descriptors side by side (`descriptors`: the views,
/// `strips`: the strips), checked to hold `count` per row.
pub fn descriptor_column<'b>(
    dir: &Path,
    b: &'b RecordBatch,
    path: &Path,
    name: &str,
    count: usize,
) -> Result<&'b FixedSizeBinaryArray> {
    let desc = column::<FixedSizeBinaryArray>(b, name, path)?;
    if desc.value_length() as usize != count * DIM {
        let reason = format!("{}: {name} do not hold {count} descriptors", path.display());
        return Err(Error::Catalogue { path: dir.to_path_buf(), reason });
    }
    Ok(desc)
}

pub fn words_of(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Every row's descriptors of part `part` (of its views, or of its strips), loaded or not
/// (`count * WORDS` words per row): what the index assigns.
pub fn part_descriptors(dir: &Path, part: u32, of: Of, count: usize) -> Result<Vec<u32>> {
    let path = part_path(dir, part);
    let name = match of {
        Of::Views => "descriptors",
        Of::Strips => "strips",
    };
    let mut words = Vec::new();
    for b in table::read_columns(&path, &[name])? {
        let desc = descriptor_column(dir, &b, &path, name, count)?;
        (0..b.num_rows()).for_each(|i| words.extend(words_of(desc.value(i))));
    }
    Ok(words)
}

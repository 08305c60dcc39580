//! A frames part's heavy data read back in row order: the descriptors of its views or
//! strips and its pictures. They live only in the part's mapped files under `index/`
//! (`served`), which a search through the index maps as they are; the Parquet part
//! holds each row's small columns. Read here for the index (`build`) and for
//! `catalog::open` where it holds frames in memory; and the time columns of its rows.

use crate::error::{Error, Result};
use crate::kernels::descriptor::{PackedImage, WORDS};
use crate::kernels::ivf::{Descriptors, Lists};
use crate::store::served::{self, Of};
use crate::store::table::column;
use arrow::array::{Float64Array, UInt32Array};
use arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};

pub fn part_path(dir: &Path, part: u32) -> PathBuf {
    dir.join("frames").join(format!("part-{part:05}.parquet"))
}

/// Every row's picture of part `part`, in row order.
pub fn part_pictures(dir: &Path, part: u32) -> Result<Vec<PackedImage>> {
    let pictures = served::map_pictures(dir, part)?;
    // Mapped for reads at random; this one reads them all.
    pictures.advise(memmap2::Advice::WillNeed, 0..pictures.len());
    Ok(pictures.to_vec())
}

/// Every row's descriptors of part `part` (of its views, or of its strips), `count *
/// WORDS` words per row in row order, gathered from the part's lists whatever centroids
/// they were made for.
pub fn part_descriptors(dir: &Path, part: u32, of: Of, count: usize) -> Result<Vec<u32>> {
    gather(dir, part, of, &served::read_lists(dir, part, of)?, count)
}

/// Part `part`'s lists (of `of`) mapped for reading rows (`Lists::row`), whatever
/// centroids they were made for; refused unless they hold `count` descriptors per row.
pub fn part_rows(dir: &Path, part: u32, of: Of, count: usize) -> Result<Lists> {
    let lists = served::read_lists(dir, part, of)?;
    check_per_row(dir, part, of, &lists, count)?;
    Ok(lists)
}

fn check_per_row(dir: &Path, part: u32, of: Of, lists: &Lists, count: usize) -> Result<()> {
    if lists.per_frame == count {
        return Ok(());
    }
    let path = served::lists_path(dir, part, of);
    let reason = format!("{}: holds {} descriptors per row, not {count}", path.display(), lists.per_frame);
    Err(Error::Catalogue { path: dir.to_path_buf(), reason })
}

/// The rows of `lists` (part `part`'s of `of`), `count` descriptors each, in row order.
fn gather(dir: &Path, part: u32, of: Of, lists: &Lists, count: usize) -> Result<Vec<u32>> {
    check_per_row(dir, part, of, lists, count)?;
    // Mapped for reads at random (`served::map_lists`); this reads every descriptor.
    lists.words.advise(memmap2::Advice::WillNeed, 0..lists.words.len());
    let mut words = Vec::with_capacity(lists.entry.len() * WORDS);
    let rows = Descriptors::Lists(std::slice::from_ref(lists));
    for f in 0..lists.frame_count() {
        rows.of(f).for_each(|w| words.extend_from_slice(w));
    }
    Ok(words)
}

/// A part's descriptors and pictures in row order, as `catalog::open` reads them.
pub struct PartData {
    views: (Vec<u32>, usize),
    strips: Option<(Vec<u32>, usize)>,
    /// Where asked for.
    pub pictures: Option<Vec<PackedImage>>,
}

impl PartData {
    /// Part `part`'s `views` descriptors per row, and its `strips` per row where asked,
    /// from its lists where they are already mapped (`index::Stored`), else from its
    /// files; its pictures where `pictures` asks.
    pub fn read(
        dir: &Path,
        part: u32,
        (views, mapped): (usize, Option<&Lists>),
        strips: Option<(usize, Option<&Lists>)>,
        pictures: bool,
    ) -> Result<PartData> {
        let of = |o: Of, count: usize, mapped: Option<&Lists>| match mapped {
            Some(lists) => gather(dir, part, o, lists, count),
            None => part_descriptors(dir, part, o, count),
        };
        let strips = match strips {
            Some((n, mapped)) => Some((of(Of::Strips, n, mapped)?, n)),
            None => None,
        };
        let views = (of(Of::Views, views, mapped)?, views);
        let pictures = if pictures { Some(part_pictures(dir, part)?) } else { None };
        Ok(PartData { views, strips, pictures })
    }

    /// Refused unless each file holds `rows` rows, as the part's Parquet file does.
    pub fn check_rows(&self, dir: &Path, part: u32, rows: usize) -> Result<()> {
        let count = |(w, n): &(Vec<u32>, usize)| w.len() / (n * WORDS);
        let mut held = vec![("view lists", count(&self.views))];
        held.extend(self.pictures.as_ref().map(|p| ("pictures", p.len())));
        held.extend(self.strips.as_ref().map(|s| ("strip lists", count(s))));
        match held.iter().find(|(_, n)| *n != rows) {
            Some((what, n)) => Err(Error::Catalogue {
                path: dir.to_path_buf(),
                reason: format!("part {part} has {rows} rows, its {what} {n}"),
            }),
            None => Ok(()),
        }
    }

    pub fn views(&self, row: usize) -> &[u32] {
        let (w, n) = &self.views;
        &w[row * n * WORDS..(row + 1) * n * WORDS]
    }

    pub fn strips(&self, row: usize) -> Option<&[u32]> {
        self.strips.as_ref().map(|(w, n)| &w[row * n * WORDS..(row + 1) * n * WORDS])
    }
}

/// A batch's time columns: each stored frame's time, and the end of the time range it
/// stands for and the samples in it (absent from catalogues built before compaction:
/// every frame then stands alone).
pub struct Times<'b> {
    t: &'b Float64Array,
    t_end: &'b Float64Array,
    samples: Option<&'b UInt32Array>,
}

impl<'b> Times<'b> {
    pub fn of(b: &'b RecordBatch, path: &Path) -> Result<Times<'b>> {
        let t = column::<Float64Array>(b, "t", path)?;
        let t_end = column::<Float64Array>(b, "t_end", path).unwrap_or(t);
        Ok(Times { t, t_end, samples: column::<UInt32Array>(b, "samples", path).ok() })
    }

    /// Row `i`'s time, end and samples, the samples checked against the range at `rate`
    /// samples per second (a sample or two of slack for timestamps), so that a damaged
    /// part of `dir` read from `file` cannot make alignment restore any number.
    pub fn row(&self, dir: &Path, file: &Path, i: usize, rate: f64) -> Result<(f64, f64, u32)> {
        let (t, t_end) = (self.t.value(i), self.t_end.value(i));
        let samples = self.samples.map_or(1, |s| s.value(i));
        let ordered = t_end.partial_cmp(&t).is_some_and(|o| o.is_ge());
        if !ordered || samples == 0 || f64::from(samples) > (t_end - t) * rate + 2.0 {
            let reason = format!("{}: a frame stands for {samples} samples from {t} s to {t_end} s", file.display());
            return Err(Error::Catalogue { path: dir.to_path_buf(), reason });
        }
        Ok((t, t_end, samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::descriptor::IMG_WORDS;
    use crate::kernels::search::Matrix;

    #[test]
    fn a_part_reads_back_in_row_order_from_lists_of_any_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // 4 rows of 3 views, spread over 3 clusters, and the same rows as one list.
        let words: Vec<u32> = (0..4 * 3 * WORDS as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let m = Matrix { words: &words, views: 3 };
        let assigned = [2, 0, 1, 1, 2, 0, 0, 0, 2, 1, 1, 1];
        served::write_lists(d, 0, Of::Views, &Lists::new(&m, &assigned, 3), 7).unwrap();
        served::write_lists(d, 0, Of::Strips, &Lists::new(&m, &[0; 12], 1), served::UNINDEXED).unwrap();
        served::write_pictures(d, 0, &(0..4).map(|i| [i; IMG_WORDS]).collect::<Vec<_>>()).unwrap();
        assert_eq!(part_descriptors(d, 0, Of::Views, 3).unwrap(), words);
        assert_eq!(part_descriptors(d, 0, Of::Strips, 3).unwrap(), words);
        let e = part_descriptors(d, 0, Of::Views, 2).unwrap_err().to_string();
        assert!(e.contains("lists-00000.bin") && e.contains("not 2"), "{e}");

        // Lists already mapped give the same rows.
        let mapped = served::read_lists(d, 0, Of::Views).unwrap();
        let again = PartData::read(d, 0, (3, Some(&mapped)), None, false).unwrap();
        assert_eq!(again.views(2), &words[6 * WORDS..9 * WORDS]);
        assert!(again.strips(0).is_none() && again.pictures.is_none());
        let data = PartData::read(d, 0, (3, None), Some((3, None)), true).unwrap();
        assert_eq!(data.views(2), &words[6 * WORDS..9 * WORDS]);
        assert_eq!(data.strips(3).unwrap(), &words[9 * WORDS..]);
        assert_eq!(data.pictures.as_ref().unwrap()[1], [1; IMG_WORDS]);
        data.check_rows(d, 0, 4).unwrap();
        let e = data.check_rows(d, 0, 5).unwrap_err().to_string();
        assert!(e.contains("part 0 has 5 rows, its view lists 4"), "{e}");
    }
}

//! Arrays held in memory or read from a file mapped into memory, so that a catalogue
//! larger than RAM is served from the pages in use: the kernel pages a mapped file in
//! as the search reads it and drops clean pages under memory pressure.
//!
//! A mapped file is written whole, under a temporary name and renamed (`store::served`),
//! and never changed in place: a map of it stays valid for as long as it is held.

use crate::error::{Error, Result};
use crate::kernels::descriptor::PackedImage;
use bytemuck::Pod;
use std::marker::PhantomData;
use std::ops::{Deref, Index};
use std::sync::Arc;

/// An array of `T`, owned or a range of a mapped file.
pub enum Section<T> {
    Owned(Vec<T>),
    Mapped { map: Arc<memmap2::Mmap>, start: usize, len: usize, of: PhantomData<T> },
}

impl<T: Pod> Section<T> {
    /// `len` values at byte `start` of `map`; refused where they do not fit in it or are
    /// not aligned for `T` (so that reading them never fails).
    pub fn mapped(map: &Arc<memmap2::Mmap>, start: usize, len: usize) -> Result<Section<T>> {
        let end = len.checked_mul(size_of::<T>()).and_then(|b| b.checked_add(start));
        let fits = end.is_some_and(|e| e <= map.len());
        let aligned = (map.as_ptr() as usize + start).is_multiple_of(align_of::<T>());
        if !fits || !aligned {
            return Err(Error::Invalid(format!(
                "a mapped section of {len} values at byte {start} does not fit a file of {} bytes",
                map.len()
            )));
        }
        Ok(Section::Mapped { map: map.clone(), start, len, of: PhantomData })
    }

    /// Tells the kernel how values `range` of a mapped section will be read; nothing for
    /// an owned one. Advice only changes how pages are read ahead and never what is
    /// read, so a kernel that refuses it costs nothing but speed: its error is dropped.
    pub fn advise(&self, advice: memmap2::Advice, range: std::ops::Range<usize>) {
        if let Section::Mapped { map, start, len, .. } = self
            && range.start <= range.end
            && range.end <= *len
        {
            let _ = map.advise_range(advice, start + range.start * size_of::<T>(), range.len() * size_of::<T>());
        }
    }
}

impl<T: Pod> Deref for Section<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Section::Owned(v) => v,
            Section::Mapped { map, start, len, .. } => {
                bytemuck::cast_slice(&map[*start..*start + len * size_of::<T>()])
            }
        }
    }
}

/// Each stored frame's whole picture, 32x32, in frame order: in memory, or mapped part
/// by part.
pub struct Pictures {
    parts: Vec<Section<PackedImage>>,
    /// The first frame of each part, and one past the last.
    starts: Vec<usize>,
}

impl Pictures {
    pub fn owned(pictures: Vec<PackedImage>) -> Pictures {
        Pictures::of_parts(vec![Section::Owned(pictures)])
    }

    /// The pictures of consecutive parts.
    pub fn of_parts(parts: Vec<Section<PackedImage>>) -> Pictures {
        let mut starts = vec![0];
        for p in &parts {
            starts.push(starts[starts.len() - 1] + p.len());
        }
        Pictures { parts, starts }
    }

    pub fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Index<usize> for Pictures {
    type Output = PackedImage;
    fn index(&self, f: usize) -> &PackedImage {
        let p = self.starts.partition_point(|&s| s <= f) - 1;
        &self.parts[p][f - self.starts[p]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_as_one_array_and_a_section_past_the_file_is_refused() {
        let img = |v: u32| [v; crate::kernels::descriptor::IMG_WORDS];
        let p = Pictures::of_parts(vec![
            Section::Owned(vec![img(0), img(1)]),
            Section::Owned(vec![]),
            Section::Owned(vec![img(2)]),
        ]);
        assert_eq!(p.len(), 3);
        assert_eq!((0..3).map(|f| p[f][0]).collect::<Vec<_>>(), [0, 1, 2]);

        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &[7u8; 64]).unwrap();
        // SAFETY: a private temporary file that nothing else changes.
        let map = Arc::new(unsafe { memmap2::Mmap::map(&f) }.unwrap());
        let s = Section::<u32>::mapped(&map, 8, 14).unwrap();
        assert_eq!(s.len(), 14);
        assert_eq!(s[13], 0x0707_0707);
        // Advice changes how pages are read, never what: inside the section, across
        // its end (ignored) and on an owned section (nothing to advise).
        s.advise(memmap2::Advice::Random, 0..14);
        s.advise(memmap2::Advice::WillNeed, 3..9);
        s.advise(memmap2::Advice::WillNeed, 10..15);
        Section::Owned(vec![1u32]).advise(memmap2::Advice::Random, 0..1);
        assert!(s.iter().all(|&w| w == 0x0707_0707));
        assert!(Section::<u32>::mapped(&map, 8, 15).is_err());
        assert!(Section::<u32>::mapped(&map, 2, 1).is_err(), "misaligned");
    }
}

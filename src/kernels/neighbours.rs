//! What every search leaves for each query: a best-first list of catalogue frames
//! (`Neighbours` of `Hit`s), and the catalogue matrix it searched (`Matrix`). The exact
//! scan (`search`), its vector-unit blocks (`lanes`) and the index (`ivf`) share them.

use crate::kernels::descriptor::WORDS;
use bytemuck::{Pod, Zeroable};

/// Neighbours kept per query frame.
pub const TOPK: usize = 16;

/// One neighbour: a catalogue frame and the query's similarity to it.
/// WGSL twin: `struct Hit` in `search.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Hit {
    /// Dot product of the quantised descriptors (`descriptor::DOT_ONE` is a perfect match).
    pub score: i32,
    /// `frame << 1 | mirrored`; `u32::MAX` marks an empty slot.
    pub key: u32,
}

impl Hit {
    pub const EMPTY: Hit = Hit { score: i32::MIN, key: u32::MAX };

    pub fn is_empty(&self) -> bool {
        self.key == u32::MAX
    }
    /// Index of the catalogue frame.
    pub fn frame(&self) -> usize {
        (self.key >> 1) as usize
    }
    /// The query matched this frame mirrored.
    pub fn mirrored(&self) -> bool {
        self.key & 1 == 1
    }
}

/// A query frame's neighbours, best first; ties keep the lower frame first.
pub type Neighbours = [Hit; TOPK];

/// Catalogue descriptors as the kernel reads them: `views` descriptors per frame,
/// `WORDS` words each, frames in catalogue order.
pub struct Matrix<'a> {
    pub words: &'a [u32],
    pub views: usize,
}

impl Matrix<'_> {
    pub fn frames(&self) -> usize {
        self.words.len() / (self.views * WORDS)
    }
}

/// Inserts like the kernel: after every equal score.
pub(crate) fn insert(list: &mut Neighbours, hit: Hit) {
    if hit.score <= list[TOPK - 1].score {
        return;
    }
    let mut p = TOPK - 1;
    while p > 0 && hit.score > list[p - 1].score {
        list[p] = list[p - 1];
        p -= 1;
    }
    list[p] = hit;
}

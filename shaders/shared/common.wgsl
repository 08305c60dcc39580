// Structs and constants shared by the kernels. Each has a Rust twin named in its
// comment; the Rust side has size tests.

const IMG: u32 = 32u;        // descriptor::IMG
const FREQ: u32 = 16u;       // descriptor::FREQ
const DIM: u32 = 128u;       // descriptor::DIM
const WORDS: u32 = 32u;      // descriptor::WORDS
const IMG_WORDS: u32 = 256u; // descriptor::IMG_WORDS
const TOPK: u32 = 16u;       // search::TOPK

// descriptor::Descriptor
struct Descriptor {
    words: array<u32, 32>,
    energy: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// search::Hit: score, then frame index << 1 | mirrored.
struct Hit {
    score: i32,
    key: u32,
}

// descriptor::Tables
struct Tables {
    row_basis: array<i32, 512>,
    col_basis: array<i32, 512>,
    mean: array<i32, 128>,
    weight: array<i32, 128>,
    slot: array<u32, 128>,
}

// Four signed bytes of `a` times those of `b`, summed.
fn dot4(a: u32, b: u32) -> i32 {
    return dot4I8Packed(a, b);
}

//! From inputs to sampled frames: archives read member by member (`archive`), the
//! shard's members kept (`shard`), each decoded by FFmpeg (`decode`) and cut into its
//! views (`sample`) inside a child process (`worker`), many at once (`pipeline`); on
//! NVDEC where asked (`hw`).
//!
//! Uses `frame` (borders, views) and `kernels::descriptor` (the packed image type);
//! never `matching`, `store` or `job`. `worker` never uses `pipeline`.

pub mod archive;
pub mod decode;
pub mod grab;
pub mod hw;
pub mod pipeline;
pub mod sample;
pub mod shard;
pub mod worker;

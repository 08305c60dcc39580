//! What the job reads and writes on disk, and the row types of every table: Parquet
//! schemas and builders (`table`), the catalogue folder (`catalog`) and its frames parts'
//! columns read alone (`parts`), its chance scores
//! (`background`) and its search index
//! (`index`) and the files a search through it maps (`served`), checkpoints of a running shard (`checkpoint`), the neighbours a catalogue
//! shard stages for the join (`staged`), the merge of a run's shards (`merge`), and what a
//! catalogue occupies on disk (`usage`).
//!
//! Uses `kernels::descriptor` (the stored descriptor layout), `kernels::ivf` (the
//! index's lists) and `ingest::shard`;
//! never `matching` or `job`.

pub mod background;
pub mod catalog;
pub mod checkpoint;
pub mod csv;
pub mod index;
pub mod merge;
pub mod metadata;
pub mod parts;
pub mod served;
pub mod staged;
pub mod table;
pub mod usage;

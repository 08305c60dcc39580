//! Checkpoints of a running shard, so that a run killed at any moment (even by SIGKILL)
//! and started again with the same arguments resumes instead of starting over, and ends
//! with exactly the rows of an uninterrupted run. Every few uploads the shard's new rows
//! are written under `SHARD_DIR/checkpoint/` (the rows first: matches, or a catalogue
//! shard's neighbours; then uploads, each through a temporary name and a rename: a
//! checkpoint counts once its uploads file exists). On
//! start, checkpoints of the same run id are loaded and their uploads are not processed
//! again; checkpoints of another run are discarded.

use crate::error::{Error, Result};
use crate::ingest::pipeline::Done;
use crate::store::table;
use arrow::array::StringArray;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};

pub struct Checkpoints {
    dir: PathBuf,
    next: usize,
    /// The table checkpointed beside the uploads, and its layout.
    table: &'static str,
    schema: SchemaRef,
    /// Rows of every checkpoint so far (loaded and written by this process).
    pub uploads: Vec<RecordBatch>,
    pub rows: Vec<RecordBatch>,
    pub done: Done,
}

impl Checkpoints {
    /// Opens the checkpoints of `run_id` in `shard_dir`, discarding those of other runs;
    /// the rows beside the uploads are of `table`, laid out as `schema`.
    pub fn open(shard_dir: &Path, run_id: &str, table: &'static str, schema: SchemaRef) -> Result<Checkpoints> {
        let dir = shard_dir.join("checkpoint");
        let id_file = dir.join("run_id");
        let found = std::fs::read_to_string(&id_file).ok().map(|s| s.trim().to_string());
        if found.as_deref() != Some(run_id) {
            // The run id names the inputs, the catalogue version, the configuration and
            // the crate and descriptor versions: rows of another run are never merged.
            if let Some(other) = found {
                tracing::warn!(
                    path = %dir.display(),
                    "checkpoints of run {other} are not resumed: this is run {run_id} (other inputs, catalogue, \
                     settings or clipmatch version); starting the shard over"
                );
            }
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&dir, e)),
                _ => {}
            }
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            std::fs::write(&id_file, run_id).map_err(|e| Error::io(&id_file, e))?;
        }
        let mut cp =
            Checkpoints { dir, next: 0, table, schema, uploads: Vec::new(), rows: Vec::new(), done: Done::new() };
        while cp.path("uploads", cp.next).exists() {
            let (u, m) = (cp.path("uploads", cp.next), cp.path(table, cp.next));
            for b in table::read_all(&u)? {
                let (archive, id) = (
                    table::column::<StringArray>(&b, "archive", &u)?,
                    table::column::<StringArray>(&b, "query_id", &u)?,
                );
                for i in 0..b.num_rows() {
                    *cp.done.entry((archive.value(i).to_string(), id.value(i).to_string())).or_default() += 1;
                }
                cp.uploads.push(b);
            }
            cp.rows.extend(table::read_all(&m)?);
            cp.next += 1;
        }
        Ok(cp)
    }

    fn path(&self, table: &str, n: usize) -> PathBuf {
        self.dir.join(format!("{table}-{n:05}.parquet"))
    }

    /// Writes one checkpoint: `rows` first, then `uploads`, which makes it count.
    pub fn save(&mut self, uploads: RecordBatch, rows: RecordBatch) -> Result<()> {
        table::write_atomic(&self.path(self.table, self.next), self.schema.clone(), std::slice::from_ref(&rows), &[])?;
        table::write_atomic(
            &self.path("uploads", self.next),
            table::uploads_schema(),
            std::slice::from_ref(&uploads),
            &[],
        )?;
        self.uploads.push(uploads);
        self.rows.push(rows);
        self.next += 1;
        Ok(())
    }

    /// Removes the checkpoints once the shard's output is written.
    pub fn finish(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::table::{MatchesBuilder, UploadRow, UploadsBuilder};

    fn rows(n: usize) -> (RecordBatch, RecordBatch) {
        let mut u = UploadsBuilder::default();
        for i in 0..n {
            u.push(
                "r",
                &UploadRow { query_id: format!("q{i}"), archive: "a.tar".into(), status: "ok", ..Default::default() },
            );
        }
        (u.finish().unwrap(), MatchesBuilder::default().finish().unwrap())
    }

    #[test]
    fn a_checkpoint_of_another_run_is_never_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let open = |run| Checkpoints::open(dir.path(), run, "matches", table::matches_schema()).unwrap();
        let mut cp = open("run-a");
        let (u, m) = rows(3);
        cp.save(u, m).unwrap();
        // The same run resumes: its three uploads are done.
        let again = open("run-a");
        assert_eq!(again.done.values().sum::<usize>(), 3);
        assert_eq!(again.uploads.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
        // Another configuration or build is another run id: nothing of run-a is merged.
        let other = open("run-b");
        assert!(other.done.is_empty() && other.uploads.is_empty() && other.rows.is_empty());
        assert_eq!(std::fs::read_to_string(dir.path().join("checkpoint/run_id")).unwrap(), "run-b");
    }
}

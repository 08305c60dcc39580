//! Shards and their merge. Every `match` process writes its rows to a staging folder of
//! its own, `OUT/_shards/run_date=D/shard-IIIII-of-NNNNN/`, outside the tables that
//! readers scan; `merge` checks that all N shards of the date finished the same run,
//! compacts their rows into one part file per table (in the order an unsharded run
//! writes), then marks the partitions with `_SUCCESS` and removes the staging folders.
//! An unsharded run is shard 0/1 merged at once, so both paths write the same bytes.

use crate::error::{Error, Result};
use crate::ingest::shard::Shard;
use crate::store::table;
use arrow::array::{ArrayRef, UInt64Array};
use arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The tables of a run.
pub const TABLES: [&str; 3] = ["matches", "uploads", "manifest"];
const PART: &str = "part-00000.parquet";
const SUCCESS: &str = "_SUCCESS";

/// `OUT/TABLE/run_date=DATE`.
pub fn partition(out: &Path, table: &str, run_date: &str) -> PathBuf {
    out.join(table).join(format!("run_date={run_date}"))
}

fn staging(out: &Path, run_date: &str) -> PathBuf {
    out.join("_shards").join(format!("run_date={run_date}"))
}

/// The staging folder of one shard.
pub fn shard_dir(out: &Path, run_date: &str, shard: Shard) -> PathBuf {
    staging(out, run_date).join(format!("shard-{:05}-of-{:05}", shard.index, shard.count))
}

fn schema(table: &str) -> SchemaRef {
    match table {
        "matches" => table::matches_schema(),
        "uploads" => table::uploads_schema(),
        _ => table::manifest_schema(),
    }
}

/// The staging folder of catalogue shard `cat` within upload shard `shard`: the
/// uploads, neighbours and manifest tables that the join (`job::grid`) makes one
/// shard's rows of.
pub fn catalogue_shard_dir(out: &Path, run_date: &str, shard: Shard, cat: Shard) -> PathBuf {
    shard_dir(out, run_date, shard).join(format!("catalog-{:05}-of-{:05}", cat.index, cat.count))
}

/// Writes one shard's tables and, last, its `_SUCCESS` marker holding the run id.
pub fn write_shard(
    out: &Path,
    run_date: &str,
    shard: Shard,
    run_id: &str,
    batches: [RecordBatch; 3],
    metadata: &[(String, String)],
) -> Result<()> {
    let tables = TABLES.iter().zip(batches).map(|(t, b)| (*t, schema(t), b));
    write_tables(&shard_dir(out, run_date, shard), run_id, tables, metadata)
}

/// Writes `tables` (name, layout, rows) into `dir` and, last, its `_SUCCESS` marker
/// holding the run id.
pub fn write_tables(
    dir: &Path,
    run_id: &str,
    tables: impl IntoIterator<Item = (&'static str, SchemaRef, RecordBatch)>,
    metadata: &[(String, String)],
) -> Result<()> {
    // A rerun of the shard starts again from nothing, so no marker outlives its rows.
    let marker = dir.join(SUCCESS);
    match std::fs::remove_file(&marker) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&marker, e)),
        _ => {}
    }
    for (t, schema, b) in tables {
        table::write_atomic(&dir.join(format!("{t}.parquet")), schema, &[b], metadata)?;
    }
    std::fs::write(&marker, run_id).map_err(|e| Error::io(&marker, e))
}

/// The run id a finished staging folder (`write_tables`) holds; None before it finished.
pub fn finished_run(dir: &Path) -> Option<String> {
    read_marker(&dir.join(SUCCESS))
}

/// Every upload shard of `run_date` whose tasks searched catalogue shards, with the
/// catalogue shard count, from the folder names: what the join must make rows of.
pub fn staged_catalogue_shards(out: &Path, run_date: &str) -> Result<Vec<(Shard, u32)>> {
    let stage = staging(out, run_date);
    let mut found = Vec::new();
    for count in staged_counts(&stage, "shard")? {
        for i in 0..count {
            let shard = Shard::new(i, count)?;
            let dir = shard_dir(out, run_date, shard);
            let cats = staged_counts(&dir, "catalog")?;
            match cats[..] {
                [] => {}
                [m] => found.push((shard, m)),
                ref several => {
                    return Err(Error::Invalid(format!(
                        "{} holds catalogue shards of runs split {several:?} ways; remove the stale ones",
                        dir.display()
                    )));
                }
            }
        }
    }
    Ok(found)
}

/// What `merge` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeSummary {
    pub run_id: String,
    pub shards: u32,
    pub uploads: u64,
    pub matches: u64,
    /// The partitions were already merged and nothing was staged: nothing was done.
    pub already_merged: bool,
}

/// The counts of the folders `PREFIX-IIIII-of-NNNNN` in `dir` (shards of a run date, or
/// catalogue shards of an upload shard), from their names: distinct, rising.
fn staged_counts(dir: &Path, prefix: &str) -> Result<Vec<u32>> {
    let mut counts = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(counts),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.split_once("-of-"))
            .and_then(|(_, n)| n.parse().ok())
            && !counts.contains(&n)
        {
            counts.push(n);
        }
    }
    counts.sort_unstable();
    Ok(counts)
}

fn read_marker(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Merges the shards of `run_date` under `out`. `count` picks the shard count when
/// folders of several counts are staged (a stale attempt). Merging an already merged
/// date with nothing staged is a no-op.
pub fn merge(out: &Path, run_date: &str, count: Option<u32>) -> Result<MergeSummary> {
    let stage = staging(out, run_date);
    let counts = staged_counts(&stage, "shard")?;
    let count = match (count, counts.as_slice()) {
        (Some(n), _) => n,
        (None, [n]) => *n,
        (None, []) => {
            let markers: Vec<Option<String>> =
                TABLES.iter().map(|t| read_marker(&partition(out, t, run_date).join(SUCCESS))).collect();
            if let Some(Some(run_id)) = markers.first()
                && markers.iter().all(|m| m.as_ref() == Some(run_id))
            {
                return Ok(MergeSummary {
                    run_id: run_id.clone(),
                    shards: 0,
                    uploads: 0,
                    matches: 0,
                    already_merged: true,
                });
            }
            return Err(Error::Invalid(format!(
                "nothing to merge for run date {run_date}: no shard output under {} and no finished run in {}",
                stage.display(),
                out.display()
            )));
        }
        (None, several) => {
            return Err(Error::Invalid(format!(
                "{} holds shards of runs split {several:?} ways; pass --shards N to merge one of them",
                stage.display()
            )));
        }
    };
    let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count)).collect::<Result<_>>()?;
    let mut run_ids = Vec::new();
    let mut missing = Vec::new();
    for s in &shards {
        match read_marker(&shard_dir(out, run_date, *s).join(SUCCESS)) {
            Some(id) => run_ids.push(id),
            None => missing.push(s.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "cannot merge run date {run_date}: shard(s) {} have not finished (no {SUCCESS} under {}); \
             run them again, then merge",
            missing.join(", "),
            stage.display()
        )));
    }
    let run_id = run_ids[0].clone();
    if let Some((i, other)) = run_ids.iter().enumerate().find(|(_, id)| **id != run_id) {
        return Err(Error::Invalid(format!(
            "cannot merge run date {run_date}: shard {i}/{count} belongs to run {other}, shard 0/{count} to run \
             {run_id} (different inputs or settings); run every shard with the same arguments"
        )));
    }

    let mut summary =
        MergeSummary { run_id: run_id.clone(), shards: count, uploads: 0, matches: 0, already_merged: false };
    for t in TABLES {
        let mut batches = Vec::new();
        let mut metadata = Vec::new();
        for s in &shards {
            let (b, m) = table::read_with_metadata(&shard_dir(out, run_date, *s).join(format!("{t}.parquet")))?;
            batches.extend(b);
            metadata = m;
        }
        let merged = sorted(t, &concat_batches(&schema(t), &batches)?)?;
        match t {
            "matches" => summary.matches = merged.num_rows() as u64,
            "uploads" => summary.uploads = merged.num_rows() as u64,
            _ => {}
        }
        table::write_atomic(&partition(out, t, run_date).join(PART), schema(t), &[merged], &metadata)?;
    }
    for t in TABLES {
        let marker = partition(out, t, run_date).join(SUCCESS);
        std::fs::write(&marker, &run_id).map_err(|e| Error::io(&marker, e))?;
    }
    for s in &shards {
        let dir = shard_dir(out, run_date, *s);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    // Empty staging folders go too; ones still holding a stale attempt stay, with a word.
    if std::fs::remove_dir(&stage).is_ok() {
        let _ = std::fs::remove_dir(out.join("_shards"));
    } else if stage.exists() {
        tracing::warn!(path = %stage.display(), "stale shard folders of another shard count were left in place");
    }
    Ok(summary)
}

/// The rows of `table` in the order every run writes them: matches by upload, then best
/// score first; uploads by archive and member; manifest rows in shard order. Ties keep
/// their staged order (shard, then the shard's own order).
fn sorted(table: &str, batch: &RecordBatch) -> Result<RecordBatch> {
    let col = |name: &str, descending: bool| SortColumn {
        values: batch.column(batch.schema().index_of(name).expect("column of our own schema")).clone(),
        options: Some(SortOptions { descending, nulls_first: false }),
    };
    let mut keys = match table {
        "matches" => {
            vec![col("archive", false), col("query_id", false), col("score", true), col("query_start_s", false)]
        }
        "uploads" => vec![col("archive", false), col("query_id", false)],
        _ => return Ok(batch.clone()),
    };
    let staged: ArrayRef = Arc::new(UInt64Array::from_iter_values(0..batch.num_rows() as u64));
    keys.push(SortColumn { values: staged, options: None });
    let order = lexsort_to_indices(&keys, None)?;
    Ok(take_record_batch(batch, &order)?)
}

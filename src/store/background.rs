//! The catalogue's background: how high each catalogue video scores by chance. `catalog
//! background` runs the job over unrelated footage, where every segment found is false,
//! and keeps each video's highest score (`background.parquet`, beside `videos.parquet`);
//! a match of a video must then beat a multiple of it (`SelectConfig::chance_margin`).
//! Videos that resemble much unrelated footage (a static talking head, the title cards a
//! series shares) need more evidence than those that resemble little.

use crate::error::{Error, Result};
use crate::store::table::{self, VideoRow, column, field};
use arrow::array::{ArrayRef, Float32Array, Float32Builder, StringArray, StringBuilder, UInt32Array, UInt32Builder};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One catalogue video's chance score: the highest score of the false segments found in
/// the background, and how many there were.
#[derive(Clone, Debug, PartialEq)]
pub struct Chance {
    pub video_id: String,
    pub score: f32,
    pub segments: u32,
}

/// What the manifest records of the background measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackgroundManifest {
    /// The folders and files of unrelated footage, as given.
    pub sources: Vec<String>,
    /// Videos of it decoded, and those that failed.
    pub uploads: u64,
    pub failed: u64,
    /// The catalogue version and its number of videos measured: videos added since have
    /// no chance score yet.
    pub catalogue_version: u64,
    #[serde(default)]
    pub videos: u64,
    pub computed_at: String,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("background.parquet")
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("video_id", DataType::Utf8, false),
        field("chance_score", DataType::Float32, false),
        field("segments", DataType::UInt32, false),
    ]))
}

/// Writes the chance scores of the catalogue in `dir` (the manifest is the caller's).
pub fn write(dir: &Path, rows: &[Chance]) -> Result<()> {
    let (mut id, mut score, mut segments) = (StringBuilder::new(), Float32Builder::new(), UInt32Builder::new());
    for r in rows {
        id.append_value(&r.video_id);
        score.append_value(r.score);
        segments.append_value(r.segments);
    }
    let cols: Vec<ArrayRef> = vec![Arc::new(id.finish()), Arc::new(score.finish()), Arc::new(segments.finish())];
    let batch = RecordBatch::try_new(schema(), cols)?;
    table::write_atomic(&path(dir), schema(), &[batch], &[])
}

/// The chance scores of the catalogue in `dir`; none where no background was measured.
pub fn read(dir: &Path) -> Result<Vec<Chance>> {
    let p = path(dir);
    if !p.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for b in table::read_all(&p)? {
        let id = column::<StringArray>(&b, "video_id", &p)?;
        let score = column::<Float32Array>(&b, "chance_score", &p)?;
        let segments = column::<UInt32Array>(&b, "segments", &p)?;
        for i in 0..b.num_rows() {
            out.push(Chance { video_id: id.value(i).to_string(), score: score.value(i), segments: segments.value(i) });
        }
    }
    Ok(out)
}

/// The chance scores of the catalogue in `dir` by video id.
pub fn by_video(dir: &Path) -> Result<HashMap<String, f32>> {
    Ok(read(dir)?.into_iter().map(|c| (c.video_id, c.score)).collect())
}

/// Each of `videos`' chance score, in their order: 0 for a video the background never
/// matched (or added after it was measured).
pub fn scores(dir: &Path, videos: &[VideoRow]) -> Result<Vec<f32>> {
    let chance = by_video(dir)?;
    let scores: Vec<f32> = videos.iter().map(|v| chance.get(&v.id).copied().unwrap_or(0.0)).collect();
    if let Some(bad) = scores.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(Error::Invalid(format!("{}: chance score {bad} is not a score", path(dir).display())));
    }
    Ok(scores)
}

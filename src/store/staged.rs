//! `neighbours`: what a catalogue shard's `match` stages for the join that `merge` runs
//! (`job::grid`). One row per upload decoded: its sampled frames as the kernels left
//! them (times, views and parts per frame, every view's descriptor) and every view's
//! neighbours among the shard's frames, keyed among all the catalogue's frames, so that
//! the lists of the M shards join into the list one search over the whole catalogue
//! finds. Numbers are stored as little-endian bytes: only clipmatch reads this table.

use crate::error::{Error, Result};
use crate::kernels::descriptor::Descriptor;
use crate::kernels::search::{Hit, Neighbours, TOPK};
use crate::store::table::column;
use arrow::array::{ArrayRef, BinaryArray, BinaryBuilder, Float64Array, Float64Builder, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytemuck::Pod;
use std::path::Path;
use std::sync::Arc;

/// The name of the table in a catalogue shard's staging folder and its checkpoints.
pub const TABLE: &str = "neighbours";

pub fn schema() -> SchemaRef {
    let f = |n: &str, t: DataType| Field::new(n, t, false);
    Arc::new(Schema::new(vec![
        f("archive", DataType::Utf8),
        f("query_id", DataType::Utf8),
        f("period", DataType::Float64),
        f("duration", DataType::Float64),
        f("times", DataType::Binary),
        f("views", DataType::Binary),
        f("parts", DataType::Binary),
        f("strip_parts", DataType::Binary),
        f("descriptors", DataType::Binary),
        f("neighbours", DataType::Binary),
        f("frame_videos", DataType::Binary),
    ]))
}

/// One upload's frames and neighbours (see the module).
#[derive(Clone, Debug, PartialEq)]
pub struct Staged {
    pub archive: String,
    pub query_id: String,
    /// Sampling period and length of the upload, seconds.
    pub period: f64,
    pub duration: f64,
    /// Per sampled frame: its time, its views, how many of them show a part of the frame.
    pub times: Vec<f64>,
    pub views: Vec<u8>,
    pub parts: Vec<u8>,
    /// Per sampled frame: its parts that search the strips (`Decoded::strip_parts`).
    pub strip_parts: Vec<u8>,
    /// Per view, in frame order.
    pub descriptors: Vec<Descriptor>,
    pub neighbours: Vec<Neighbours>,
    /// Each catalogue frame the lists name, once, with its video: which videos the
    /// join must hold.
    pub frame_videos: Vec<[u32; 2]>,
}

#[derive(Default)]
pub struct StagedBuilder {
    archive: StringBuilder,
    query_id: StringBuilder,
    period: Float64Builder,
    duration: Float64Builder,
    times: BinaryBuilder,
    views: BinaryBuilder,
    parts: BinaryBuilder,
    strip_parts: BinaryBuilder,
    descriptors: BinaryBuilder,
    neighbours: BinaryBuilder,
    frame_videos: BinaryBuilder,
}

impl StagedBuilder {
    pub fn push(&mut self, s: &Staged) {
        self.archive.append_value(&s.archive);
        self.query_id.append_value(&s.query_id);
        self.period.append_value(s.period);
        self.duration.append_value(s.duration);
        self.times.append_value(bytemuck::cast_slice(&s.times));
        self.views.append_value(&s.views);
        self.parts.append_value(&s.parts);
        self.strip_parts.append_value(&s.strip_parts);
        self.descriptors.append_value(bytemuck::cast_slice(&s.descriptors));
        self.neighbours.append_value(bytemuck::cast_slice(&s.neighbours));
        self.frame_videos.append_value(bytemuck::cast_slice(&s.frame_videos));
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.archive.finish()),
            Arc::new(self.query_id.finish()),
            Arc::new(self.period.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.times.finish()),
            Arc::new(self.views.finish()),
            Arc::new(self.parts.finish()),
            Arc::new(self.strip_parts.finish()),
            Arc::new(self.descriptors.finish()),
            Arc::new(self.neighbours.finish()),
            Arc::new(self.frame_videos.finish()),
        ];
        Ok(RecordBatch::try_new(schema(), cols)?)
    }
}

/// The values a byte column holds, refused where the bytes are not a whole number of them.
fn values<T: Pod>(bytes: &[u8], what: &str, file: &Path) -> Result<Vec<T>> {
    if !bytes.len().is_multiple_of(size_of::<T>()) {
        return Err(Error::Invalid(format!("{}: {what} is cut short ({} bytes)", file.display(), bytes.len())));
    }
    Ok(bytemuck::pod_collect_to_vec(bytes))
}

/// The rows of `b`, read from `file`, checked to be whole: as many views as the frames
/// name, a descriptor and a full neighbour list for each.
pub fn rows(b: &RecordBatch, file: &Path) -> Result<Vec<Staged>> {
    let text = |n| column::<StringArray>(b, n, file);
    let number = |n| column::<Float64Array>(b, n, file);
    let binary = |n| column::<BinaryArray>(b, n, file);
    let (archive, query_id, period, duration) =
        (text("archive")?, text("query_id")?, number("period")?, number("duration")?);
    let (times, views, parts, strip_parts) =
        (binary("times")?, binary("views")?, binary("parts")?, binary("strip_parts")?);
    let (descriptors, neighbours, frame_videos) =
        (binary("descriptors")?, binary("neighbours")?, binary("frame_videos")?);
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let hits: Vec<Hit> = values(neighbours.value(i), "a neighbour list", file)?;
        let s = Staged {
            archive: archive.value(i).to_string(),
            query_id: query_id.value(i).to_string(),
            period: period.value(i),
            duration: duration.value(i),
            times: values(times.value(i), "the frame times", file)?,
            views: views.value(i).to_vec(),
            parts: parts.value(i).to_vec(),
            strip_parts: strip_parts.value(i).to_vec(),
            descriptors: values(descriptors.value(i), "the descriptors", file)?,
            neighbours: hits.chunks(TOPK).map(|c| c.try_into().unwrap_or([Hit::EMPTY; TOPK])).collect(),
            frame_videos: values(frame_videos.value(i), "the frames' videos", file)?,
        };
        let n: usize = s.views.iter().map(|&v| v as usize).sum();
        if s.times.len() != s.views.len()
            || s.parts.len() != s.views.len()
            || s.strip_parts.len() != s.views.len()
            || s.descriptors.len() != n
            || hits.len() != n * TOPK
        {
            return Err(Error::Invalid(format!(
                "{}: upload {}:{} is not whole ({} frames, {} views, {} descriptors, {} neighbours)",
                file.display(),
                s.archive,
                s.query_id,
                s.times.len(),
                n,
                s.descriptors.len(),
                hits.len()
            )));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged() -> Staged {
        let hit = |score, key| Hit { score, key };
        let mut list = [Hit::EMPTY; TOPK];
        list[0] = hit(900, 7);
        list[1] = hit(-128, 2);
        let d = Descriptor { words: [0x80ff_0102; 32], energy: 40, pad: [0; 3] };
        Staged {
            archive: "a.tar".into(),
            query_id: "q/1.mp4".into(),
            period: 0.25,
            duration: 1.2,
            times: vec![0.125, 0.375],
            views: vec![2, 1],
            parts: vec![1, 0],
            strip_parts: vec![0, 1],
            descriptors: vec![d; 3],
            neighbours: vec![list, [Hit::EMPTY; TOPK], list],
            frame_videos: vec![[1, 0], [3, 2]],
        }
    }

    #[test]
    fn rows_read_back_as_written_and_a_short_row_is_refused() {
        let s = staged();
        let mut b = StagedBuilder::default();
        b.push(&s);
        let batch = b.finish().unwrap();
        assert_eq!(rows(&batch, Path::new("n.parquet")).unwrap(), vec![s.clone()]);

        let mut short = s;
        short.neighbours.pop();
        let mut b = StagedBuilder::default();
        b.push(&short);
        let e = rows(&b.finish().unwrap(), Path::new("n.parquet")).unwrap_err().to_string();
        assert!(e.contains("n.parquet") && e.contains("q/1.mp4") && e.contains("not whole"), "{e}");
    }
}

//! Arrow schemas of every table the job writes, each declared once next to a builder
//! that mirrors it column for column; `finish()` is the only place a RecordBatch is
//! made. Writer properties and the atomic write live here too.

use crate::error::{Error, Result};
use arrow::array::{Array, StringArray, TimestampMillisecondArray};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn props(metadata: &[(String, String)]) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(Some(
            metadata.iter().map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone())).collect(),
        ))
        .build()
}

/// Writes `batches` to `path` through a temporary name in the same folder and a rename,
/// so a reader sees the whole file or none of it.
pub fn write_atomic(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
    metadata: &[(String, String)],
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props(metadata))).map_err(|e| Error::parquet(&tmp, e))?;
    for b in batches {
        w.write(b).map_err(|e| Error::parquet(&tmp, e))?;
    }
    let file = w.into_inner().map_err(|e| Error::parquet(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Reads every batch of a Parquet file.
pub fn read_all(path: &Path) -> Result<Vec<RecordBatch>> {
    Ok(read_with_metadata(path)?.0)
}

/// Every batch of columns `names` of a Parquet file, the others not read.
pub fn read_columns(path: &Path, names: &[&str]) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::parquet(path, e))?;
    let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
    let reader = builder.with_projection(mask).build().map_err(|e| Error::parquet(path, e))?;
    reader.map(|b| b.map_err(Error::from)).collect()
}

/// Key-value metadata of a Parquet file, as `write_atomic` takes it.
pub type Metadata = Vec<(String, String)>;

/// Reads every batch of a Parquet file and its key-value metadata.
pub fn read_with_metadata(path: &Path) -> Result<(Vec<RecordBatch>, Metadata)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::parquet(path, e))?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let reader = builder.build().map_err(|e| Error::parquet(path, e))?;
    let batches = reader.map(|b| b.map_err(Error::from)).collect::<Result<_>>()?;
    Ok((batches, metadata))
}

/// The Parquet files of `path` (itself, where it is a file), in sorted order, folders
/// searched through. Hidden and underscore files are temporaries and markers, as pyarrow
/// ignores them.
pub fn parquet_files(path: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    collect_parquet(path, &mut out)?;
    Ok(out)
}

fn collect_parquet(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<_> =
        std::fs::read_dir(path).map_err(|e| Error::io(path, e))?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if p.is_dir() || name.ends_with(".parquet") {
            collect_parquet(&p, out)?;
        }
    }
    Ok(())
}

/// Value `i` of a nullable text column; None where the column is null there.
pub fn nullable(c: &StringArray, i: usize) -> Option<String> {
    c.is_valid(i).then(|| c.value(i).to_string())
}

/// Column `name` of `b`, read from `file`, as the array type `T` clipmatch writes it.
pub fn column<'a, T: 'static>(b: &'a RecordBatch, name: &str, file: &Path) -> Result<&'a T> {
    b.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<T>()).ok_or_else(|| {
        Error::Invalid(format!("{}: column {name} is missing or not of the type clipmatch writes", file.display()))
    })
}

pub(crate) fn field(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

/// `matches`: one row per matched segment.
pub fn matches_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("run_id", DataType::Utf8, false),
        field("query_id", DataType::Utf8, false),
        field("archive", DataType::Utf8, false),
        field("query_start_s", DataType::Float64, false),
        field("query_end_s", DataType::Float64, false),
        field("ref_id", DataType::Utf8, false),
        field("ref_start_s", DataType::Float64, false),
        field("ref_end_s", DataType::Float64, false),
        field("score", DataType::Float32, false),
        field("vote_score", DataType::Float32, false),
        field("matched_frames", DataType::UInt32, false),
        field("speed", DataType::Float32, false),
        field("flipped", DataType::Boolean, false),
        field("line_similarity", DataType::Float32, true),
        field("line_contrast", DataType::Float32, true),
        field("series", DataType::Utf8, true),
        field("episode", DataType::Utf8, true),
        field("title", DataType::Utf8, true),
        field("licensor", DataType::Utf8, true),
    ]))
}

/// A matched segment, as the alignment reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchRow {
    pub query_id: String,
    pub archive: String,
    pub query_start_s: f64,
    pub query_end_s: f64,
    pub ref_id: String,
    pub ref_start_s: f64,
    pub ref_end_s: f64,
    /// The judge's probability that the segment is a true clip
    /// (`matching::select::probability`).
    pub score: f32,
    /// The evidence of its votes that the judge weighed (`matching::model::Segment::score`).
    pub vote_score: f32,
    pub matched_frames: u32,
    pub speed: f32,
    pub flipped: bool,
    /// How well the segment's line explains its frames (`matching::model::LineEvidence`),
    /// where any frame could be judged.
    pub line_similarity: Option<f32>,
    pub line_contrast: Option<f32>,
    /// The catalogue video's metadata, where known.
    pub series: Option<String>,
    pub episode: Option<String>,
    pub title: Option<String>,
    pub licensor: Option<String>,
}

#[derive(Default)]
pub struct MatchesBuilder {
    run_id: StringBuilder,
    query_id: StringBuilder,
    archive: StringBuilder,
    query_start_s: Float64Builder,
    query_end_s: Float64Builder,
    ref_id: StringBuilder,
    ref_start_s: Float64Builder,
    ref_end_s: Float64Builder,
    score: Float32Builder,
    vote_score: Float32Builder,
    matched_frames: UInt32Builder,
    speed: Float32Builder,
    flipped: BooleanBuilder,
    line_similarity: Float32Builder,
    line_contrast: Float32Builder,
    series: StringBuilder,
    episode: StringBuilder,
    title: StringBuilder,
    licensor: StringBuilder,
}

impl MatchesBuilder {
    pub fn push(&mut self, run_id: &str, r: &MatchRow) {
        self.run_id.append_value(run_id);
        self.query_id.append_value(&r.query_id);
        self.archive.append_value(&r.archive);
        self.query_start_s.append_value(r.query_start_s);
        self.query_end_s.append_value(r.query_end_s);
        self.ref_id.append_value(&r.ref_id);
        self.ref_start_s.append_value(r.ref_start_s);
        self.ref_end_s.append_value(r.ref_end_s);
        self.score.append_value(r.score);
        self.vote_score.append_value(r.vote_score);
        self.matched_frames.append_value(r.matched_frames);
        self.speed.append_value(r.speed);
        self.flipped.append_value(r.flipped);
        self.line_similarity.append_option(r.line_similarity);
        self.line_contrast.append_option(r.line_contrast);
        self.series.append_option(r.series.as_deref());
        self.episode.append_option(r.episode.as_deref());
        self.title.append_option(r.title.as_deref());
        self.licensor.append_option(r.licensor.as_deref());
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.run_id.finish()),
            Arc::new(self.query_id.finish()),
            Arc::new(self.archive.finish()),
            Arc::new(self.query_start_s.finish()),
            Arc::new(self.query_end_s.finish()),
            Arc::new(self.ref_id.finish()),
            Arc::new(self.ref_start_s.finish()),
            Arc::new(self.ref_end_s.finish()),
            Arc::new(self.score.finish()),
            Arc::new(self.vote_score.finish()),
            Arc::new(self.matched_frames.finish()),
            Arc::new(self.speed.finish()),
            Arc::new(self.flipped.finish()),
            Arc::new(self.line_similarity.finish()),
            Arc::new(self.line_contrast.finish()),
            Arc::new(self.series.finish()),
            Arc::new(self.episode.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.licensor.finish()),
        ];
        Ok(RecordBatch::try_new(matches_schema(), cols)?)
    }
}

/// `uploads`: one row per member seen.
pub fn uploads_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("run_id", DataType::Utf8, false),
        field("query_id", DataType::Utf8, false),
        field("archive", DataType::Utf8, false),
        field("status", DataType::Utf8, false),
        field("error_kind", DataType::Utf8, true),
        field("error", DataType::Utf8, true),
        field("duration_s", DataType::Float64, true),
        field("frames_sampled", DataType::UInt64, false),
        field("width", DataType::UInt32, true),
        field("height", DataType::UInt32, true),
        field("codec", DataType::Utf8, true),
        field("size_bytes", DataType::UInt64, false),
        field("matches", DataType::UInt32, false),
        field("decode_ms", DataType::Float64, false),
        field("match_ms", DataType::Float64, false),
    ]))
}

/// The outcome of one member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UploadRow {
    pub query_id: String,
    pub archive: String,
    /// ok | failed
    pub status: &'static str,
    pub error_kind: Option<&'static str>,
    pub error: Option<String>,
    pub duration_s: Option<f64>,
    pub frames_sampled: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub codec: Option<String>,
    pub size_bytes: u64,
    pub matches: u32,
    pub decode_ms: f64,
    pub match_ms: f64,
}

#[derive(Default)]
pub struct UploadsBuilder {
    run_id: StringBuilder,
    query_id: StringBuilder,
    archive: StringBuilder,
    status: StringBuilder,
    error_kind: StringBuilder,
    error: StringBuilder,
    duration_s: Float64Builder,
    frames_sampled: UInt64Builder,
    width: UInt32Builder,
    height: UInt32Builder,
    codec: StringBuilder,
    size_bytes: UInt64Builder,
    matches: UInt32Builder,
    decode_ms: Float64Builder,
    match_ms: Float64Builder,
}

impl UploadsBuilder {
    pub fn push(&mut self, run_id: &str, r: &UploadRow) {
        self.run_id.append_value(run_id);
        self.query_id.append_value(&r.query_id);
        self.archive.append_value(&r.archive);
        self.status.append_value(r.status);
        self.error_kind.append_option(r.error_kind);
        self.error.append_option(r.error.as_deref());
        self.duration_s.append_option(r.duration_s);
        self.frames_sampled.append_value(r.frames_sampled);
        self.width.append_option(r.width);
        self.height.append_option(r.height);
        self.codec.append_option(r.codec.as_deref());
        self.size_bytes.append_value(r.size_bytes);
        self.matches.append_value(r.matches);
        self.decode_ms.append_value(r.decode_ms);
        self.match_ms.append_value(r.match_ms);
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.run_id.finish()),
            Arc::new(self.query_id.finish()),
            Arc::new(self.archive.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.error_kind.finish()),
            Arc::new(self.error.finish()),
            Arc::new(self.duration_s.finish()),
            Arc::new(self.frames_sampled.finish()),
            Arc::new(self.width.finish()),
            Arc::new(self.height.finish()),
            Arc::new(self.codec.finish()),
            Arc::new(self.size_bytes.finish()),
            Arc::new(self.matches.finish()),
            Arc::new(self.decode_ms.finish()),
            Arc::new(self.match_ms.finish()),
        ];
        Ok(RecordBatch::try_new(uploads_schema(), cols)?)
    }
}

/// `manifest`: one row per run (or shard), the provenance of its rows. Nested facts
/// (inputs, parameters, counts) are JSON text, readable by every engine.
pub fn manifest_schema() -> SchemaRef {
    let s = |n: &str| field(n, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        s("run_id"),
        s("run_date"),
        s("shard"),
        s("started_at"),
        s("finished_at"),
        s("crate_version"),
        field("descriptor_version", DataType::UInt32, false),
        s("catalogue_id"),
        field("catalogue_version", DataType::UInt64, false),
        s("device"),
        s("adapter"),
        s("backend"),
        s("decoder"),
        s("inputs"),
        s("parameters"),
        s("counts"),
        field("started_ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        field("finished_ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
    ]))
}

#[derive(Clone, Debug, Default)]
pub struct ManifestRow {
    pub run_id: String,
    pub run_date: String,
    pub shard: String,
    /// RFC 3339 text, and the same instants as timestamps (milliseconds since 1970, UTC).
    pub started_at: String,
    pub finished_at: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub crate_version: String,
    pub descriptor_version: u32,
    pub catalogue_id: String,
    pub catalogue_version: u64,
    pub device: String,
    pub adapter: String,
    pub backend: String,
    /// Where the uploads were decoded: `cpu` or `nvdec`.
    pub decoder: String,
    pub inputs: String,
    pub parameters: String,
    pub counts: String,
}

impl ManifestRow {
    pub fn finish(&self) -> Result<RecordBatch> {
        let s = |v: &str| -> ArrayRef { Arc::new(arrow::array::StringArray::from(vec![v])) };
        let cols: Vec<ArrayRef> = vec![
            s(&self.run_id),
            s(&self.run_date),
            s(&self.shard),
            s(&self.started_at),
            s(&self.finished_at),
            s(&self.crate_version),
            Arc::new(arrow::array::UInt32Array::from(vec![self.descriptor_version])),
            s(&self.catalogue_id),
            Arc::new(arrow::array::UInt64Array::from(vec![self.catalogue_version])),
            s(&self.device),
            s(&self.adapter),
            s(&self.backend),
            s(&self.decoder),
            s(&self.inputs),
            s(&self.parameters),
            s(&self.counts),
            Arc::new(TimestampMillisecondArray::from(vec![self.started_ms]).with_timezone("UTC")),
            Arc::new(TimestampMillisecondArray::from(vec![self.finished_ms]).with_timezone("UTC")),
        ];
        Ok(RecordBatch::try_new(manifest_schema(), cols)?)
    }
}

/// Catalogue `videos`: one row per catalogue video.
pub fn videos_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("id", DataType::Utf8, false),
        field("source", DataType::Utf8, false),
        field("duration_s", DataType::Float64, false),
        field("fps", DataType::Float64, false),
        field("frames", DataType::UInt64, false),
        field("width", DataType::UInt32, false),
        field("height", DataType::UInt32, false),
        field("part", DataType::UInt32, false),
        field("series", DataType::Utf8, true),
        field("season", DataType::Utf8, true),
        field("episode", DataType::Utf8, true),
        field("title", DataType::Utf8, true),
        field("licensor", DataType::Utf8, true),
        field("licence_id", DataType::Utf8, true),
        field("listed_duration_s", DataType::Float64, true),
        field("extra", DataType::Utf8, true),
    ]))
}

/// What the rights team knows of a catalogue video (`store::metadata`); every field may
/// be unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoMeta {
    pub series: Option<String>,
    pub season: Option<String>,
    pub episode: Option<String>,
    pub title: Option<String>,
    pub licensor: Option<String>,
    pub licence_id: Option<String>,
    /// The duration the metadata lists (the measured one is `VideoRow::duration_s`).
    pub listed_duration_s: Option<f64>,
    /// The metadata file's other columns, as a JSON object of strings.
    pub extra: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoRow {
    pub id: String,
    pub source: String,
    pub duration_s: f64,
    pub fps: f64,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    /// The frames part file holding its descriptors.
    pub part: u32,
    pub meta: VideoMeta,
}

#[derive(Default)]
pub struct VideosBuilder {
    id: StringBuilder,
    source: StringBuilder,
    duration_s: Float64Builder,
    fps: Float64Builder,
    frames: UInt64Builder,
    width: UInt32Builder,
    height: UInt32Builder,
    part: UInt32Builder,
    series: StringBuilder,
    season: StringBuilder,
    episode: StringBuilder,
    title: StringBuilder,
    licensor: StringBuilder,
    licence_id: StringBuilder,
    listed_duration_s: Float64Builder,
    extra: StringBuilder,
}

impl VideosBuilder {
    pub fn push(&mut self, r: &VideoRow) {
        self.id.append_value(&r.id);
        self.source.append_value(&r.source);
        self.duration_s.append_value(r.duration_s);
        self.fps.append_value(r.fps);
        self.frames.append_value(r.frames);
        self.width.append_value(r.width);
        self.height.append_value(r.height);
        self.part.append_value(r.part);
        let m = &r.meta;
        self.series.append_option(m.series.as_deref());
        self.season.append_option(m.season.as_deref());
        self.episode.append_option(m.episode.as_deref());
        self.title.append_option(m.title.as_deref());
        self.licensor.append_option(m.licensor.as_deref());
        self.licence_id.append_option(m.licence_id.as_deref());
        self.listed_duration_s.append_option(m.listed_duration_s);
        self.extra.append_option(m.extra.as_deref());
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.duration_s.finish()),
            Arc::new(self.fps.finish()),
            Arc::new(self.frames.finish()),
            Arc::new(self.width.finish()),
            Arc::new(self.height.finish()),
            Arc::new(self.part.finish()),
            Arc::new(self.series.finish()),
            Arc::new(self.season.finish()),
            Arc::new(self.episode.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.licensor.finish()),
            Arc::new(self.licence_id.finish()),
            Arc::new(self.listed_duration_s.finish()),
            Arc::new(self.extra.finish()),
        ];
        Ok(RecordBatch::try_new(videos_schema(), cols)?)
    }
}

/// Catalogue `frames`: one row per stored frame, its small columns. A frame stands for
/// `samples` samples from `t` to `t_end` that repeat it (compaction; 1 sample, `t_end` =
/// `t` for the others). Its descriptors and picture are in the part's files under
/// `index/` (`store::served`), row by row in the same order: held once, in the layout
/// the search maps.
pub fn frames_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("video_id", DataType::Utf8, false),
        field("t", DataType::Float64, false),
        field("t_end", DataType::Float64, false),
        field("samples", DataType::UInt32, false),
        field("energy", DataType::UInt32, false),
    ]))
}

#[derive(Default)]
pub struct FramesBuilder {
    video_id: StringBuilder,
    t: Float64Builder,
    t_end: Float64Builder,
    samples: UInt32Builder,
    energy: UInt32Builder,
}

impl FramesBuilder {
    /// `(t, t_end, samples)`: the time range the frame stands for and the samples in it,
    /// itself included.
    pub fn push(&mut self, video_id: &str, (t, t_end, samples): (f64, f64, u32), energy: u32) {
        self.video_id.append_value(video_id);
        self.t.append_value(t);
        self.t_end.append_value(t_end);
        self.samples.append_value(samples);
        self.energy.append_value(energy);
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.video_id.finish()),
            Arc::new(self.t.finish()),
            Arc::new(self.t_end.finish()),
            Arc::new(self.samples.finish()),
            Arc::new(self.energy.finish()),
        ];
        Ok(RecordBatch::try_new(frames_schema(), cols)?)
    }
}

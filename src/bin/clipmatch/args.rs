//! The command line's shape: every command, flag and its help, for clap.

use clap::{Parser, Subcommand, ValueEnum};
use clipmatch::ingest::hw::DecodeChoice;
use clipmatch::kernels::gpu::DeviceChoice;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "clipmatch", version, about = "Finds clips of catalogue videos inside uploaded short videos")]
pub(crate) struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Build, extend or describe a catalogue.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// The nightly job: find catalogue clips in uploads and write Parquet.
    Match(MatchArgs),
    /// Check that every shard of a run date finished, and compact their rows into the tables.
    Merge(MergeArgs),
    /// Write a run's evidence as a static HTML report: each match's upload frames beside
    /// the episode frames it claims.
    Review(ReviewArgs),
    /// Score matches against ground truth (as ../shared/bench/score.py does).
    Eval(EvalArgs),
    /// Frame-level recall of the search: for frames inside true segments, whether the
    /// right catalogue frame is the nearest, or among the 5 nearest.
    Recall(RecallArgs),
    /// List the adapters wgpu sees and the one `--device auto` picks.
    Devices,
    /// Benchmark the descriptor and search kernels on synthetic inputs: table + JSON.
    Bench(BenchArgs),
    /// Print the configuration (every tuning number) as TOML: the defaults, or FILE's
    /// settings over them. A starting point for `match --config`.
    Config {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Internal: a decode worker process serving `match` and `catalog` (see worker.rs).
    #[command(name = "decode-worker", hide = true)]
    DecodeWorker {
        #[arg(long)]
        max_memory_bytes: u64,
        /// The worker decodes on NVDEC: its memory is capped by data size, not address space.
        #[arg(long)]
        nvdec: bool,
    },
}

/// Where the kernels run.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Device {
    /// A hardware adapter, else the CPU twins (a software adapter such as lavapipe is
    /// slower than the twins, and never picked).
    Auto,
    /// Any wgpu adapter; an error if there is none.
    Gpu,
    /// The CPU twins.
    Cpu,
}

impl From<Device> for DeviceChoice {
    fn from(d: Device) -> Self {
        match d {
            Device::Auto => DeviceChoice::Auto,
            Device::Gpu => DeviceChoice::Gpu,
            Device::Cpu => DeviceChoice::Cpu,
        }
    }
}

/// Where videos are decoded.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Decode {
    /// NVDEC where FFmpeg can open a CUDA device, else the CPU.
    Auto,
    Cpu,
    /// NVDEC (FFmpeg's CUDA decoders); an error where there is no CUDA device.
    Nvdec,
}

impl From<Decode> for DecodeChoice {
    fn from(d: Decode) -> Self {
        match d {
            Decode::Auto => DecodeChoice::Auto,
            Decode::Cpu => DecodeChoice::Cpu,
            Decode::Nvdec => DecodeChoice::Nvdec,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct DeviceArgs {
    /// Where videos are decoded.
    #[arg(long, value_enum, default_value_t = Decode::Auto)]
    pub(crate) decode: Decode,
    /// Where the kernels run.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub(crate) device: Device,
    /// Decode worker threads (default: one per core).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// With several adapters, the one whose name contains this (see `clipmatch devices`).
    #[arg(long)]
    pub(crate) adapter: Option<String>,
}

/// Uploads between two checkpoints of a run, unless `--checkpoint-uploads` says.
pub(crate) const DEFAULT_CHECKPOINT_UPLOADS: usize = 64;

#[derive(Subcommand)]
pub(crate) enum CatalogCommand {
    /// Create a catalogue from videos, folders and archives.
    Build {
        #[arg(long)]
        catalog: PathBuf,
        /// Frames sampled per second of catalogue video (`decode.catalogue_rate`).
        #[arg(long)]
        rate: Option<f64>,
        /// Settings (TOML, see `clipmatch config`): decoding, limits and frame layout.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        metadata: MetadataArg,
        #[command(flatten)]
        device: DeviceArgs,
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Append videos; those already present are skipped, old parts untouched.
    Add {
        #[arg(long)]
        catalog: PathBuf,
        #[command(flatten)]
        metadata: MetadataArg,
        #[command(flatten)]
        device: DeviceArgs,
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Set the videos' metadata (series, episode, title, licensor, ...) without
    /// recomputing a descriptor.
    SetMetadata {
        #[arg(long)]
        catalog: PathBuf,
        /// CSV or Parquet: `video_id` plus any of series, season, episode, title,
        /// licensor, licence_id, duration_s, and other columns.
        metadata: PathBuf,
    },
    /// Train the catalogue's search index on all its frames and assign every part
    /// (builds train one on their first part; adds join the centroids there are).
    Index {
        #[arg(long)]
        catalog: PathBuf,
        /// Settings (TOML, see `clipmatch config`): the `index` part.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Measure each video's chance score on a background of unrelated footage (folders,
    /// files, archives: never a catalogue video): the job is run over it, every segment
    /// it finds is false, and each video's highest score is kept with the catalogue. A
    /// match of that video must then score `matching.select.chance_margin` times as much.
    /// Run it again after `catalog add`.
    Background {
        #[arg(long)]
        catalog: PathBuf,
        /// Settings (TOML, see `clipmatch config`): those the catalogue is matched with.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Print the manifest and the videos with their metadata.
    Info {
        #[arg(long)]
        catalog: PathBuf,
    },
}

#[derive(clap::Args)]
pub(crate) struct MetadataArg {
    /// Metadata of the catalogue's videos: a CSV or Parquet file with `video_id` plus any
    /// of series, season, episode, title, licensor, licence_id, duration_s, and other
    /// columns. A video without a row is allowed.
    #[arg(long)]
    pub(crate) metadata: Option<PathBuf>,
}

/// Where a run's tables are.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The run's output folder: OUT/{matches,uploads,manifest}/run_date=DATE/part-*.parquet.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Partition date (default: today, UTC).
    #[arg(long)]
    pub(crate) run_date: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SearchArg {
    Exact,
    Index,
    Auto,
}

#[derive(clap::Args)]
pub(crate) struct MatchArgs {
    #[arg(long)]
    pub(crate) catalog: PathBuf,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Settings (TOML: any part of `clipmatch config`'s output); the flags below
    /// override it. `clipmatch config` prints every setting with its default.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Frames sampled per second of upload (`decode.rate`).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Lowest `score` reported: the judged probability that a segment is a true clip
    /// (`matching.judge.min_probability` and `confirmed_min_probability`, 0 to 1). One
    /// floor for every row: without the flag, an upload with a row of
    /// `min_probability` also reports its rows from the lower `confirmed_min_probability`.
    #[arg(long)]
    pub(crate) min_score: Option<f32>,
    /// How the catalogue is searched (`search.mode`): every frame (`exact`), through
    /// the catalogue's index (`index`), or the index from `search.auto_index_frames`
    /// frames on (`auto`).
    #[arg(long, value_enum)]
    pub(crate) search: Option<SearchArg>,
    /// Index clusters each query descriptor scores (`search.probes`).
    #[arg(long)]
    pub(crate) probes: Option<usize>,
    /// Largest archive member accepted (bytes; K, M, G, T suffixes;
    /// `limits.max_member_bytes`); larger ones fail with kind `limit`.
    #[arg(long, value_parser = parse_bytes)]
    pub(crate) max_member_bytes: Option<u64>,
    /// Most bytes one archive may expand to (`limits.max_archive_bytes`); members past it
    /// fail with kind `limit`.
    #[arg(long, value_parser = parse_bytes)]
    pub(crate) max_archive_bytes: Option<u64>,
    /// Longest upload decoded (seconds of video; `limits.max_duration_s`).
    #[arg(long)]
    pub(crate) max_duration_s: Option<f64>,
    /// Longest time spent decoding one upload (seconds; `limits.max_decode_s`).
    #[arg(long)]
    pub(crate) max_decode_s: Option<f64>,
    /// Most frames decoded from one upload (`limits.max_frames`).
    #[arg(long)]
    pub(crate) max_frames: Option<u64>,
    /// Address space of each decode worker process (K, M, G suffixes;
    /// `limits.max_decode_memory`).
    #[arg(long, value_parser = parse_bytes)]
    pub(crate) max_decode_memory: Option<u64>,
    /// Uploads between two checkpoints (also written every 30 s); a killed run started
    /// again with the same arguments resumes from the last one.
    #[arg(long, default_value_t = DEFAULT_CHECKPOINT_UPLOADS)]
    pub(crate) checkpoint_uploads: usize,
    /// Process shard I of N (0-based) of the uploads; `clipmatch merge` joins the shards.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub(crate) shard: Option<String>,
    /// Process one of N shards, its index taken from the scheduler: JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array).
    #[arg(long, value_name = "N")]
    pub(crate) shards: Option<u32>,
    /// Search only catalogue shard J of M (the videos whose index is J modulo M) and stage
    /// the neighbours for `clipmatch merge --catalog`, which aligns.
    #[arg(long, value_name = "J/M", conflicts_with = "catalog_shards")]
    pub(crate) catalog_shard: Option<String>,
    /// Run as one task of a grid of N upload shards (--shards N, default 1) x M catalogue
    /// shards, both taken from the scheduler's index k: upload shard k / M, catalogue
    /// shard k % M.
    #[arg(long, value_name = "M", conflicts_with = "shard")]
    pub(crate) catalog_shards: Option<u32>,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct ReviewArgs {
    #[arg(long)]
    pub(crate) catalog: PathBuf,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// The report's folder: index.html, and one page per upload under uploads/.
    #[arg(long)]
    pub(crate) report: PathBuf,
    /// Only the uploads whose id contains this.
    #[arg(long)]
    pub(crate) upload: Option<String>,
    /// Most uploads shown, the best scoring first.
    #[arg(long, default_value_t = 1000)]
    pub(crate) limit: usize,
    /// Segments whose `score` (probability) is under this are left out.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) min_score: f32,
    /// Frames shown per segment.
    #[arg(long, default_value_t = 6)]
    pub(crate) frames: usize,
    /// Decode worker processes (default: one per core).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Settings (TOML): the decode limits and the catalogue build's sampling.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct MergeArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// The shard count, where shards of several counts are staged for the date.
    #[arg(long)]
    pub(crate) shards: Option<u32>,
    /// The catalogue the tasks searched, where they searched catalogue shards: the join
    /// aligns each upload against the videos its joined neighbours name.
    #[arg(long)]
    pub(crate) catalog: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    /// Images per descriptor-kernel call.
    #[arg(long, default_value_t = 16384)]
    pub(crate) images: usize,
    /// Catalogue sizes in frames, comma-separated (1M frames: about 69 catalogue hours).
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    pub(crate) frames: Vec<usize>,
    /// Query descriptors per search call (a night's batch gathers thousands).
    #[arg(long, default_value_t = 4096)]
    pub(crate) queries: usize,
    /// Descriptors per catalogue frame, comma-separated: one search per value (the job's
    /// catalogues store 12).
    #[arg(long, value_delimiter = ',', default_value = "12,1")]
    pub(crate) views: Vec<usize>,
    /// Multiprocessors of the adapter, for the percentage of DP4A peak (known for H100 and
    /// H200; this overrides).
    #[arg(long)]
    pub(crate) sms: Option<u32>,
    /// The adapter's clock in GHz, for the percentage of DP4A peak.
    #[arg(long)]
    pub(crate) clock_ghz: Option<f64>,
    /// The adapter's memory bandwidth in GB/s, for the percentage of bandwidth.
    #[arg(long)]
    pub(crate) bandwidth_gb_s: Option<f64>,
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub(crate) repeats: usize,
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Also write the report as JSON to this file ('-': stdout, instead of the table).
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// The scale benchmark instead: catalogues of these many hours (comma-separated),
    /// each the `--real` catalogue plus filler made from `--donor`, written under
    /// `--work`, searched with the query descriptors of UPLOADS.
    #[arg(long, value_delimiter = ',', requires_all = ["real", "donor", "work"])]
    pub(crate) catalog_hours: Vec<f64>,
    /// The real catalogue every scale-benchmark catalogue starts from.
    #[arg(long)]
    pub(crate) real: Option<PathBuf>,
    /// A catalogue of footage no upload shows, which the filler follows.
    #[arg(long)]
    pub(crate) donor: Option<PathBuf>,
    /// Folder the scale-benchmark catalogues are written to (`h{hours}` each, replaced).
    #[arg(long)]
    pub(crate) work: Option<PathBuf>,
    /// Index probe counts measured by the scale benchmark.
    #[arg(long, value_delimiter = ',', default_value = "8,32,128")]
    pub(crate) probes: Vec<usize>,
    /// Query descriptors searched exhaustively by the scale benchmark (recall, and the
    /// exhaustive time).
    #[arg(long, default_value_t = 512)]
    pub(crate) sample_queries: usize,
    /// Catalogues of more hours than this are not searched exhaustively by the scale
    /// benchmark (their descriptors are not held in memory): their exhaustive top 16
    /// comes from the index with every cluster probed.
    #[arg(long, default_value_t = 100.0)]
    pub(crate) exact_max_hours: f64,
    /// Settings (TOML, see `clipmatch config`): decoding of the uploads, the index.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Uploads (files, folders, archives) for the scale benchmark.
    pub(crate) uploads: Vec<PathBuf>,
}

/// What a run or a search is scored against, and how the scores are printed.
#[derive(clap::Args)]
pub(crate) struct ScoringArgs {
    /// Ground truth CSV: query_id,query_start,query_end,ref_id,ref_start,ref_end.
    #[arg(long)]
    pub(crate) truth: PathBuf,
    /// Recall per edit family, from a queries.csv with an `edits` column.
    #[arg(long)]
    pub(crate) by_edit: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct RecallArgs {
    #[arg(long)]
    pub(crate) catalog: PathBuf,
    #[command(flatten)]
    pub(crate) scoring: ScoringArgs,
    /// Settings (TOML): decoding, frame layout.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    /// The uploads: folders, videos, archives.
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    pub(crate) scoring: ScoringArgs,
    /// The job's --out folder, a Parquet file or folder, or a CSV.
    pub(crate) matches: PathBuf,
}

/// Bytes with an optional binary suffix: 512, 64K, 16M, 8G, 1T.
pub(crate) fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("{s:?}: unknown suffix {c:?} (K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a byte count such as 512, 64K or 8G"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

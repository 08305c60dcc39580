//! The `clipmatch` command line: a thin layer over the library.

mod args;

use anyhow::{Context, Result, bail};
use args::{
    BenchArgs, CatalogCommand, Cli, Command, DEFAULT_CHECKPOINT_UPLOADS, DeviceArgs, EvalArgs, LogFormat, MatchArgs,
    MergeArgs, RecallArgs, ReviewArgs, SearchArg,
};
use clap::Parser;
use clipmatch::bench;
use clipmatch::bench::scale;
use clipmatch::build::{self, BuildOptions};
use clipmatch::config::{Config, SearchMode};
use clipmatch::eval;
use clipmatch::frame::views::Strips;
use clipmatch::ingest::hw::{self, Decoder};
use clipmatch::ingest::shard::Shard;
use clipmatch::job::{self, MatchOptions};
use clipmatch::kernels::engine::Engine;
use clipmatch::kernels::gpu;
use clipmatch::progress;
use clipmatch::recall;
use clipmatch::review;
use clipmatch::store::{merge, metadata};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the reader of stdout has gone away: what is left to print is dropped.
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes a command's output to stdout as `print!` does, except that a reader who has
/// gone away (`clipmatch catalog info | head`) only ends the printing, as it does for
/// `grep`: the command finishes with its own exit status. Any other failure to write is
/// an error and a failed exit. `print!` panics on both.
fn emit(text: std::fmt::Arguments) {
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    match std::io::stdout().lock().write_fmt(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => READER_GONE.store(true, Ordering::Relaxed),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "clipmatch: error: writing the output: {e}");
            std::process::exit(1);
        }
        Ok(()) => {}
    }
}

/// `print!` through `emit`.
macro_rules! out {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

/// `println!` through `emit`.
macro_rules! outln {
    ($($t:tt)*) => { emit(format_args!("{}\n", format_args!($($t)*))) };
}

// After the macros, which it uses.
mod info;

/// Exit status of a run that finished but could not process every upload.
const EXIT_FAILED_UPLOADS: u8 = 3;

/// Longer side of a review thumbnail, pixels.
const THUMBNAIL_SIDE: u32 = 168;

/// The configuration in `path` (TOML), or the defaults.
fn load_config(path: Option<&std::path::Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// This executable, which serves the decode worker processes.
fn worker_exe() -> Result<PathBuf> {
    std::env::current_exe().context("locating the clipmatch executable for its decode workers")
}

fn workers(w: Option<usize>) -> usize {
    w.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Where this run decodes, as `--decode` asks; `auto` without a CUDA device says why it
/// decodes on the CPU.
fn decoder(d: &DeviceArgs) -> Result<Decoder> {
    let (decoder, why) = hw::resolve(d.decode.into()).map_err(anyhow::Error::msg)?;
    if let Some(why) = why {
        tracing::info!("{why}");
    }
    tracing::info!(decoder = decoder.name(), "decoding");
    Ok(decoder)
}

fn open_engine(d: &DeviceArgs) -> Result<Engine> {
    let engine = Engine::open(d.device.into(), d.adapter.as_deref()).context("opening the compute device")?;
    let s = engine.summary();
    tracing::info!(device = s.kind, adapter = %s.adapter, backend = %s.backend, "compute device");
    Ok(engine)
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only where a person reads them: not in files, pipes or cluster logs.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    // Mesa's Vulkan drivers look for a Wayland display while wgpu lists the adapters,
    // and print an error line where XDG_RUNTIME_DIR is unset (batch nodes, containers).
    // The job needs no display: a private folder for it keeps them quiet.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: no other thread exists yet, so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let progress = match cli.log_format {
        LogFormat::Json => progress::Mode::Events,
        LogFormat::Text if std::io::IsTerminal::is_terminal(&std::io::stderr()) => progress::Mode::Line,
        LogFormat::Text => progress::Mode::Off,
    };
    match run(cli.command, progress) {
        Ok(code) => code,
        Err(e) => {
            // Not `eprintln!`: it panics where stderr is a closed pipe.
            let _ = writeln!(std::io::stderr(), "clipmatch: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `progress`: how long commands show it (a line on a terminal, events in JSON logs).
fn run(command: Command, progress: progress::Mode) -> Result<ExitCode> {
    match command {
        Command::Catalog { command } => catalog_command(command, progress),
        Command::Match(args) => match_command(args, progress),
        Command::Merge(args) => merge_command(args),
        Command::Review(args) => review_command(args, progress),
        Command::Eval(args) => eval_command(args),
        Command::Recall(args) => recall_command(args),
        Command::Bench(args) => bench_command(args),
        Command::Config { config } => {
            out!("{}", load_config(config.as_deref())?.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::DecodeWorker { max_memory_bytes, nvdec } => {
            clipmatch::ingest::worker::serve(max_memory_bytes, nvdec).context("decode worker")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices => {
            let list = gpu::adapters();
            let auto_gpu = list.first().is_some_and(|a| !a.is_software());
            if !auto_gpu {
                outln!("no hardware adapter: --device auto uses the CPU twins, --device gpu the first one below");
            }
            for (i, a) in list.iter().enumerate() {
                let pick = if i == 0 && auto_gpu { "  <- auto" } else { "" };
                outln!("{:<40} {:<8} {:<14} {}{pick}", a.name, a.backend, a.device_type, a.driver);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn catalog_command(command: CatalogCommand, progress: progress::Mode) -> Result<ExitCode> {
    let (dir, device, inputs, rate, config, metadata, create) = match command {
        CatalogCommand::Info { catalog } => {
            info::catalog_info(&catalog)?;
            return Ok(ExitCode::SUCCESS);
        }
        CatalogCommand::Background { catalog, config, device, inputs } => {
            let opts = MatchOptions {
                catalog: catalog.clone(),
                out: catalog.clone(),
                run_date: String::new(),
                config: load_config(config.as_deref())?,
                worker: Some(worker_exe()?),
                decoder: decoder(&device)?,
                workers: workers(device.workers),
                shard: Shard::ALL,
                catalog_shard: Shard::ALL,
                checkpoint_uploads: DEFAULT_CHECKPOINT_UPLOADS,
                progress,
            };
            let engine = open_engine(&device)?;
            let s = job::background::measure(&inputs, opts, &engine)
                .with_context(|| format!("catalogue {}", catalog.display()))?;
            outln!(
                "background: {} videos ({} failed); {} catalogue videos matched by chance",
                s.uploads,
                s.failed,
                s.chance.len()
            );
            for c in &s.chance {
                outln!("  {:<40} chance score {:.3} ({} false segments)", c.video_id, c.score, c.segments);
            }
            return Ok(ExitCode::SUCCESS);
        }
        CatalogCommand::Index { catalog, config, device } => {
            let engine = open_engine(&device)?;
            let config = load_config(config.as_deref())?;
            let k = build::reindex(&catalog, &engine, &config.index)
                .with_context(|| format!("catalogue {}", catalog.display()))?;
            outln!("index of {k} centroids trained and every part assigned");
            return Ok(ExitCode::SUCCESS);
        }
        CatalogCommand::SetMetadata { catalog, metadata } => {
            let metas = metadata::read(&metadata)?;
            let unmatched =
                metadata::set(&catalog, &metas).with_context(|| format!("catalogue {}", catalog.display()))?;
            outln!(
                "metadata of {} videos set; {} rows matched no video",
                metas.len() - unmatched.len(),
                unmatched.len()
            );
            for id in unmatched {
                outln!("  no video: {id}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        CatalogCommand::Build { catalog, rate, config, metadata, device, inputs } => {
            (catalog, device, inputs, rate, config, metadata.metadata, true)
        }
        CatalogCommand::Add { catalog, metadata, device, inputs } => {
            (catalog, device, inputs, None, None, metadata.metadata, false)
        }
    };
    let engine = open_engine(&device)?;
    let mut config = load_config(config.as_deref())?;
    if let Some(r) = rate {
        config.decode.catalogue_rate = r;
    }
    config.check().map_err(anyhow::Error::msg).context("--rate")?;
    let opts = BuildOptions {
        decode: config.decode_options(true, Some(worker_exe()?), decoder(&device)?),
        limits: config.archive_limits(),
        workers: workers(device.workers),
        metadata: metadata.as_deref().map(metadata::read).transpose()?,
        progress,
        index: config.index.clone(),
        repeat_similarity: config.decode.catalogue_compaction(),
        views: config.decode.catalogue_views,
        strips: Strips {
            portrait: config.decode.catalogue_strips,
            bands: config.decode.catalogue_bands,
            halves: config.decode.catalogue_halves,
        },
        pictures: config.decode.catalogue_pictures,
    };
    let s =
        build::add(&dir, &inputs, &engine, &opts, create).with_context(|| format!("catalogue {}", dir.display()))?;
    outln!(
        "added {} videos ({} frames, {} stored), skipped {}, failed {}",
        s.added.len(),
        s.frames,
        s.stored,
        s.skipped.len(),
        s.failed.len()
    );
    for (name, why) in &s.failed {
        outln!("  failed: {name}: {why}");
    }
    for id in &s.unmatched_metadata {
        outln!("  metadata row matches no video: {id}");
    }
    if !s.failed.is_empty() {
        return Ok(ExitCode::from(EXIT_FAILED_UPLOADS));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_date(arg: Option<String>) -> Result<String> {
    let run_date = arg.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
    if chrono::NaiveDate::parse_from_str(&run_date, "%Y-%m-%d").is_err() {
        bail!("--run-date {run_date:?} is not a date of the form YYYY-MM-DD");
    }
    Ok(run_date)
}

fn match_command(a: MatchArgs, progress: progress::Mode) -> Result<ExitCode> {
    let run_date = run_date(a.run.run_date)?;
    let env = |k: &str| std::env::var(k).ok();
    let (shard, catalog_shard) = match (a.shard, a.shards, a.catalog_shard, a.catalog_shards) {
        // A grid task takes both shards from one scheduler index, row by row: task k is
        // upload shard k / M, catalogue shard k % M.
        (None, n, None, Some(m)) => Shard::from_env(n.unwrap_or(1) * m, env)?.grid(m)?,
        (Some(s), _, c, _) => (Shard::parse(&s, "--shard")?, catalog_shard(c)?),
        (None, Some(n), c, _) => (Shard::from_env(n, env)?, catalog_shard(c)?),
        (None, None, c, _) => (Shard::ALL, catalog_shard(c)?),
    };
    let mut config = load_config(a.config.as_deref())?;
    let (d, l) = (&mut config.decode, &mut config.limits);
    if let Some(v) = a.rate {
        d.rate = v;
    }
    if let Some(v) = a.min_score {
        // One floor for every row, whatever else its upload shows.
        let judge = &mut config.matching.judge;
        (judge.min_probability, judge.confirmed_min_probability) = (v, v);
    }
    if let Some(v) = a.search {
        config.search.mode = match v {
            SearchArg::Exact => SearchMode::Exact,
            SearchArg::Index => SearchMode::Index,
            SearchArg::Auto => SearchMode::Auto,
        };
    }
    if let Some(v) = a.probes {
        config.search.probes = v;
    }
    if let Some(v) = a.max_member_bytes {
        l.max_member_bytes = v;
    }
    if let Some(v) = a.max_archive_bytes {
        l.max_archive_bytes = v;
    }
    if let Some(v) = a.max_duration_s {
        l.max_duration_s = v;
    }
    if let Some(v) = a.max_decode_s {
        l.max_decode_s = v;
    }
    if let Some(v) = a.max_frames {
        l.max_frames = v;
    }
    if let Some(v) = a.max_decode_memory {
        l.max_decode_memory = v;
    }
    config.check().map_err(anyhow::Error::msg).context("settings after the flags")?;
    let opts = MatchOptions {
        catalog: a.catalog,
        out: a.run.out,
        run_date,
        config,
        worker: Some(worker_exe()?),
        decoder: decoder(&a.device)?,
        workers: workers(a.device.workers),
        shard,
        catalog_shard,
        checkpoint_uploads: a.checkpoint_uploads.max(1),
        progress,
    };
    let engine = open_engine(&a.device)?;
    let s = job::run(&a.inputs, &opts, &engine).context("match run")?;
    let what = if shard.count > 1 { format!("shard {shard} of run") } else { "run".into() };
    if catalog_shard.count > 1 {
        outln!(
            "{what} {}, catalogue shard {catalog_shard}: {} uploads ({} ok, {} failed) searched in {:.1} s, staged \
             for `clipmatch merge --catalog` under {}",
            s.run_id,
            s.uploads,
            s.ok,
            s.failed,
            s.wall_s,
            opts.out.display()
        );
    } else {
        outln!(
            "{what} {}: {} uploads ({} ok, {} failed), {} matches in {:.1} s -> {}",
            s.run_id,
            s.uploads,
            s.ok,
            s.failed,
            s.matches,
            s.wall_s,
            opts.out.display()
        );
    }
    Ok(if s.failed > 0 { ExitCode::from(EXIT_FAILED_UPLOADS) } else { ExitCode::SUCCESS })
}

/// The catalogue shard `--catalog-shard` names; the whole catalogue without it.
fn catalog_shard(flag: Option<String>) -> Result<Shard> {
    Ok(match flag {
        Some(c) => Shard::parse(&c, "--catalog-shard")?,
        None => Shard::ALL,
    })
}

fn bench_command(a: BenchArgs) -> Result<ExitCode> {
    if !a.catalog_hours.is_empty() {
        return scale_command(a);
    }
    if a.images == 0 || a.queries == 0 || a.views.contains(&0) || a.repeats == 0 || a.frames.contains(&0) {
        bail!("--images, --frames, --queries, --views and --repeats must be positive");
    }
    if let Some(w) = a.device.workers {
        rayon::ThreadPoolBuilder::new().num_threads(w).build_global().context("setting --workers threads")?;
    }
    let engine = open_engine(&a.device)?;
    let roofline = bench::Roofline::resolve(&engine.summary().adapter, a.sms, a.clock_ghz, a.bandwidth_gb_s)
        .map_err(anyhow::Error::msg)?;
    let opts = bench::BenchOptions {
        images: a.images,
        frames: a.frames,
        queries: a.queries,
        views: a.views,
        warmup: a.warmup,
        repeats: a.repeats,
        seed: a.seed,
        roofline,
    };
    let report = bench::run(&engine, &opts).context("benchmark")?;
    let json = serde_json::to_string_pretty(&report)?;
    match a.json {
        Some(p) if p.as_os_str() == "-" => outln!("{json}"),
        Some(p) => {
            out!("{}", bench::table(&report));
            std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?;
        }
        None => out!("{}", bench::table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn scale_command(a: BenchArgs) -> Result<ExitCode> {
    if a.uploads.is_empty() || a.probes.contains(&0) || a.catalog_hours.iter().any(|h| h.is_nan() || *h <= 0.0) {
        bail!("the scale benchmark needs UPLOADS, positive --catalog-hours and positive --probes");
    }
    let engine = open_engine(&a.device)?;
    let (Some(real), Some(donor), Some(work)) = (a.real, a.donor, a.work) else {
        bail!("--catalog-hours needs --real, --donor and --work");
    };
    let opts = scale::ScaleOptions {
        hours: a.catalog_hours,
        real,
        donor,
        uploads: a.uploads,
        work,
        probes: a.probes,
        sample_queries: a.sample_queries.max(1),
        exact_max_hours: a.exact_max_hours,
        seed: a.seed,
        model: bench::FillerModel::default(),
        config: load_config(a.config.as_deref())?,
        worker: Some(worker_exe()?),
        decoder: decoder(&a.device)?,
        workers: workers(a.device.workers),
    };
    let report = scale::run(&engine, &opts).context("scale benchmark")?;
    match a.json.as_deref() {
        Some(p) if p == std::path::Path::new("-") => outln!("{}", serde_json::to_string_pretty(&report)?),
        Some(p) => {
            std::fs::write(p, serde_json::to_string_pretty(&report)?).with_context(|| format!("{}", p.display()))?;
            out!("{}", scale::table(&report));
        }
        None => out!("{}", scale::table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn review_command(a: ReviewArgs, progress: progress::Mode) -> Result<ExitCode> {
    let run_date = run_date(a.run.run_date)?;
    if a.frames == 0 {
        bail!("--frames must be positive");
    }
    let config = load_config(a.config.as_deref())?;
    let opts = review::ReviewOptions {
        catalog: a.catalog,
        out: a.run.out,
        run_date,
        report: a.report,
        upload: a.upload,
        limit: a.limit,
        min_score: a.min_score,
        frames: a.frames,
        side: THUMBNAIL_SIDE,
        // Thumbnails for people: a few frames per upload, on the CPU.
        decode: config.decode_options(false, Some(worker_exe()?), Decoder::Cpu),
        limits: config.archive_limits(),
        workers: workers(a.workers),
        progress,
    };
    let s = review::review(&opts).context("review")?;
    outln!(
        "review of {} uploads ({} segments, {} frames{}{}) -> {}",
        s.uploads,
        s.segments,
        s.thumbnails,
        if s.stored_pictures > 0 { format!(", {} from stored pictures", s.stored_pictures) } else { String::new() },
        if s.missing > 0 { format!(", {} not available", s.missing) } else { String::new() },
        s.index.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn merge_command(a: MergeArgs) -> Result<ExitCode> {
    let run_date = run_date(a.run.run_date)?;
    let j = job::grid::join(&a.run.out, &run_date, a.catalog.as_deref()).context("joining catalogue shards")?;
    if j.shards > 0 {
        outln!(
            "joined {} upload shard(s) searched in {} catalogue shards: {} uploads, {} matches",
            j.shards,
            j.catalog_shards,
            j.uploads,
            j.matches
        );
    }
    let s = merge::merge(&a.run.out, &run_date, a.shards).context("merge")?;
    if s.already_merged {
        outln!("run {} of {run_date} is already merged; nothing to do", s.run_id);
    } else {
        outln!(
            "merged run {} of {run_date}: {} shards, {} uploads, {} matches -> {}",
            s.run_id,
            s.shards,
            s.uploads,
            s.matches,
            a.run.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn recall_command(a: RecallArgs) -> Result<ExitCode> {
    let truth = eval::read_truth(&a.scoring.truth)?;
    let config = load_config(a.config.as_deref())?;
    let engine = open_engine(&a.device)?;
    let opts = recall::RecallOptions {
        catalog: &a.catalog,
        truth: &truth,
        queries_csv: a.scoring.by_edit.as_deref(),
        config: &config,
        worker: Some(worker_exe()?),
        decoder: decoder(&a.device)?,
        workers: workers(a.device.workers),
    };
    let r = recall::recall(&a.inputs, &opts, &engine).context("frame recall")?;
    if a.scoring.json {
        outln!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<24} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "frames",
        "n",
        "picture@1",
        "picture@5",
        "any@1",
        "any@5",
        "some@1",
        "some@5",
        "aligned@1",
        "aligned@5"
    );
    let line = |name: &str, r: &recall::Recall| {
        outln!(
            "{name:<24} {:>7} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            r.frames,
            r.picture_at_1,
            r.picture_at_5,
            r.any_view_at_1,
            r.any_view_at_5,
            r.some_view_at_1,
            r.some_view_at_5,
            r.aligned_at_1,
            r.aligned_at_5
        )
    };
    line("all", &r.all);
    r.by_edit.iter().for_each(|(family, r)| line(family, r));
    Ok(ExitCode::SUCCESS)
}

fn eval_command(a: EvalArgs) -> Result<ExitCode> {
    let truth = eval::read_truth(&a.scoring.truth)?;
    let preds = eval::read_predictions(&a.matches)?;
    let s = eval::score(&truth, &preds);
    let by_edit = a.scoring.by_edit.map(|q| eval::recall_by_edit(&truth, &preds, &q)).transpose()?;
    let mut text = String::new();
    if a.scoring.json {
        // One object: the scores, and with --by-edit, `by_edit: {family: [segments, recall]}`.
        let mut v = serde_json::to_value(&s)?;
        if let (Some(o), Some(b)) = (v.as_object_mut(), &by_edit) {
            o.insert("by_edit".into(), serde_json::to_value(b)?);
        }
        text += &format!("{v}\n");
    } else {
        let v = serde_json::to_value(&s)?;
        for (k, x) in v.as_object().into_iter().flatten() {
            text += &format!("{k:<24} {x}\n");
        }
        if let Some(b) = by_edit {
            text += &format!("{:<24} {:>8} {:>8}\n", "edit", "segments", "recall");
            for (family, (n, r)) in b {
                text += &format!("{family:<24} {n:>8} {r:>8.4}\n");
            }
        }
    }
    // A reader that stops early (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing the scores"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

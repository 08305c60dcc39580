//! The decode stage shared by `catalog build` and `match`: one thread walks the inputs
//! (spooling archive members), worker threads decode and cut frames, and the caller's
//! sink receives every member with its outcome in input order. Bounded channels keep
//! memory flat however large the archive; a failing sink cancels the rest.

use crate::archive::{self, Limits, Member, Source};
use crate::decode::{DecodeOptions, VideoInfo, decode};
use crate::descriptor::PackedImage;
use crate::error::{Error, Result, UploadError, UploadErrorKind};
use crate::frame::{BorderTracker, FrameViews, Gray, Layout, catalogue_views, query_views};
use crate::shard::Shard;
use crate::worker::Worker;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Which 32x32 images a decoded frame yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Views {
    /// Every crop the catalogue stores (`frame::CATALOGUE_VIEWS`).
    Catalogue,
    /// The upload's picture and parts of its frame (`frame::query_views`).
    Query,
}

/// A decoded video: sample times and, per sample, its images (views in order).
pub struct Decoded {
    pub info: VideoInfo,
    pub times: Vec<f64>,
    pub images: Vec<PackedImage>,
    /// How many images (views) each sample has, in order.
    pub views: Vec<u8>,
    /// How many of each sample's images, at its end, show a part of the frame rather
    /// than the whole picture (`frame::FrameViews`); 0 for the catalogue.
    pub parts: Vec<u8>,
}

impl Decoded {
    /// The range of `images`, and of anything computed image by image, of each sample.
    pub fn ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut start = 0;
        self.views
            .iter()
            .map(|&n| {
                start += n as usize;
                start - n as usize..start
            })
            .collect()
    }
}

/// What a worker made of one member.
pub struct Outcome {
    pub result: std::result::Result<Decoded, UploadError>,
    pub decode_ms: f64,
}

fn cut(views: Views, g: &Gray, layout: &Layout) -> FrameViews {
    match views {
        Views::Catalogue => FrameViews { images: catalogue_views(g, layout.content), parts: 0 },
        Views::Query => query_views(g, layout),
    }
}

/// Seconds of neighbouring frames, on each side, whose activity decides a frame's borders.
const BORDER_WINDOW_S: f64 = 1.0;

/// Seconds of neighbouring frames, on each side, that vote on an upload frame's
/// picture-in-picture windows: an overlay stays put for a clip, and a window whose edges
/// are lost for a few seconds (flat title cards inside it) is still searched.
const PIP_WINDOW_S: f64 = 5.0;

/// The border tracker the decode stage uses at `rate` frames per second.
pub fn border_tracker(rate: f64, views: Views) -> BorderTracker {
    let pip = if views == Views::Query { PIP_WINDOW_S } else { 0.0 };
    BorderTracker::new((BORDER_WINDOW_S * rate).ceil() as usize, (pip * rate).ceil() as usize)
}

/// Decodes the file at `path` into its sample times and images, in this process.
pub fn decode_file(path: &Path, opts: &DecodeOptions, views: Views) -> std::result::Result<Decoded, UploadError> {
    if let Some(kind) = archive::nested_kind(path) {
        return Err(UploadError::new(
            UploadErrorKind::NestedArchive,
            format!("a {kind} archive inside an archive: nested archives are not opened"),
        ));
    }
    let mut times = Vec::new();
    let mut images = Vec::new();
    let mut counts = Vec::new();
    let mut parts = Vec::new();
    let mut emit = |t: f64, g: Gray, layout: Layout| {
        let cuts = cut(views, &g, &layout);
        times.push(t);
        counts.push(cuts.images.len() as u8);
        parts.push(cuts.parts as u8);
        images.extend(cuts.images);
    };
    let mut borders = border_tracker(opts.rate, views);
    let decoded = decode(path, opts, |t, g| borders.push(t, g, &mut emit));
    borders.finish(&mut emit);
    decoded.map(|info| Decoded { info, times, images, views: counts, parts })
}

/// One member through a worker process when `opts.worker` names one, else in process.
fn process(m: &Member, opts: &DecodeOptions, views: Views, worker: &mut Option<Worker>) -> Outcome {
    let started = Instant::now();
    let result = match (&m.source, worker) {
        (Source::Refused(e), _) => Err(e.clone()),
        (src, w) => {
            let path = src.path().expect("only refused members have no path");
            match w {
                Some(w) => w.decode(path, &m.id, views, opts),
                None => decode_file(path, opts, views),
            }
        }
    };
    Outcome { result, decode_ms: started.elapsed().as_secs_f64() * 1e3 }
}

/// Which members of the inputs a run processes.
pub struct Selection<'a> {
    pub shard: Shard,
    /// Members done by an interrupted earlier attempt of the same run, not processed again.
    pub done: Option<&'a crate::checkpoint::Done>,
}

impl Selection<'_> {
    /// Every member.
    pub const ALL: Selection<'static> = Selection { shard: Shard::ALL, done: None };
}

/// Runs the stage over the members of `inputs` that `shard` owns. An input that cannot be
/// opened at all becomes a refused member with an empty id, like a damaged archive, so
/// that one bad input loses nothing else. Archive members are spooled to a private
/// temporary folder. Returns the sink's first error, if any.
pub fn run(
    inputs: &[PathBuf],
    limits: &Limits,
    select: &Selection,
    opts: &DecodeOptions,
    views: Views,
    workers: usize,
    sink: &mut dyn FnMut(Member, Outcome) -> Result<()>,
) -> Result<()> {
    let workers = workers.max(1);
    let shard = select.shard;
    // Spooled members live here, private to this run, until their worker is done.
    let spool = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let tmp = spool.path();
    let cancel = AtomicBool::new(false);
    let (job_tx, job_rx) = crossbeam_channel::bounded::<(u64, Member)>(workers * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<(u64, Member, Outcome)>(workers * 2);
    std::thread::scope(|s| {
        let cancel = &cancel;
        s.spawn(move || {
            let mut seq = 0u64;
            let mut seen = std::collections::HashMap::new();
            for input in inputs {
                let mut send = |m: Member| {
                    if let Some(done) = select.done {
                        let key = (m.archive.clone(), m.id.clone());
                        let n = seen.entry(key.clone()).or_insert(0usize);
                        *n += 1;
                        if *n <= done.get(&key).copied().unwrap_or(0) {
                            return !cancel.load(Ordering::Relaxed);
                        }
                    }
                    let ok = !cancel.load(Ordering::Relaxed) && job_tx.send((seq, m)).is_ok();
                    seq += 1;
                    ok
                };
                if let Err(e) = archive::walk(input, limits, shard, tmp, &mut send) {
                    let archive = input.display().to_string();
                    if shard.owns(&archive, "") {
                        let refused = UploadError::new(UploadErrorKind::Archive, format!("cannot read input: {e}"));
                        send(Member { archive, id: String::new(), size: 0, source: Source::Refused(refused) });
                    }
                }
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
            }
        });
        for _ in 0..workers {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            s.spawn(move || {
                let mut worker = opts.worker.as_ref().map(|exe| Worker::new(exe, opts.max_memory_bytes));
                for (seq, m) in rx {
                    if cancel.load(Ordering::Relaxed) {
                        continue;
                    }
                    let out = process(&m, opts, views, &mut worker);
                    if tx.send((seq, m, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(job_rx);
        drop(done_tx);
        // Hand results on in input order; at most a few are ever held back.
        let mut next = 0u64;
        let mut held = BTreeMap::new();
        let mut first_error: Option<Error> = None;
        for (seq, m, out) in done_rx {
            held.insert(seq, (m, out));
            while let Some((m, out)) = held.remove(&next) {
                next += 1;
                if first_error.is_none()
                    && let Err(e) = sink(m, out)
                {
                    cancel.store(true, Ordering::Relaxed);
                    first_error = Some(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

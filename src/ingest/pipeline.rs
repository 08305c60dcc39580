//! The decode stage shared by `catalog build` and `match`: one thread walks the inputs
//! (spooling archive members), worker threads decode and cut frames, and the caller's
//! sink receives every member with its outcome in input order. Bounded channels keep
//! memory flat however large the archive; a failing sink cancels the rest.

use crate::error::{Error, Result, UploadError, UploadErrorKind};
use crate::ingest::archive::{self, Limits, Member, Source, WalkOptions};
use crate::ingest::decode::DecodeOptions;
use crate::ingest::sample::{Decoded, Views, decode_file};
use crate::ingest::shard::Shard;
use crate::ingest::worker::Worker;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a worker made of one member.
pub struct Outcome {
    pub result: std::result::Result<Decoded, UploadError>,
    pub decode_ms: f64,
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

/// Uploads done, counted by (archive, member): a member name may repeat in a tar.
pub type Done = std::collections::HashMap<(String, String), usize>;

/// Which members of the inputs a run processes.
pub struct Selection<'a> {
    pub shard: Shard,
    /// Members done by an interrupted earlier attempt of the same run, not processed again.
    pub done: Option<&'a Done>,
    /// Follow symbolic links in input folders (`archive::WalkOptions::follow_links`).
    pub follow_links: bool,
}

impl Selection<'_> {
    /// Every member of a catalogue's inputs, links in its folders followed.
    pub const CATALOGUE: Selection<'static> = Selection { shard: Shard::ALL, done: None, follow_links: true };
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
                let wanted = |a: &str, id: &str| shard.owns(a, id);
                let walk = WalkOptions { limits, wanted: &wanted, follow_links: select.follow_links, tmp };
                if let Err(e) = archive::walk(input, &walk, &mut send) {
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
                let mut worker = opts.worker.as_ref().map(|exe| Worker::new(exe, opts));
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

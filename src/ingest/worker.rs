//! Decoding in child processes. FFmpeg parses untrusted bytes in C; a crash there must
//! cost one upload, not the night. Each decode thread of the pipeline keeps one child,
//! `clipmatch decode-worker`, and sends it one request per upload: a JSON line with the
//! file to decode. The child answers with a length-prefixed JSON header (the outcome,
//! sample times, images per sample) followed by the images' raw bytes. The child's address
//! space is capped (RLIMIT_AS), and the parent kills it when an upload overruns its
//! decode-time budget. A child that dies is reaped, its upload recorded as failed with
//! the signal or exit status, and a new child started for the next upload.

use crate::error::{UploadError, UploadErrorKind};
use crate::frame::views::Strips;
use crate::ingest::decode::{DecodeOptions, VideoInfo};
use crate::ingest::grab::{Picture, grab};
use crate::ingest::hw::Decoder;
use crate::ingest::sample::{Decoded, Views, decode_file, max_samples, max_views};
use crate::kernels::descriptor::{IMG_WORDS, PackedImage};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The subcommand a worker child runs.
pub const SUBCOMMAND: &str = "decode-worker";

/// Fault injection for the tests that prove a crash or a hang costs one upload: with
/// `segv:NAME` the worker raises SIGSEGV on itself (a real signal in a real child
/// process) when asked for member NAME; with `hang:NAME` it stops answering; with
/// `garble:NAME` it announces an answer larger than memory and exits.
pub const FAULT_ENV: &str = "CLIPMATCH_WORKER_FAULT";

#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    path: PathBuf,
    name: String,
    task: Task,
    opts: DecodeOptions,
}

/// What a worker makes of a file.
#[derive(serde::Serialize, serde::Deserialize)]
enum Task {
    /// The sampled frames' views (`sample::decode_file`).
    Sample(Views),
    /// Colour thumbnails at these times, at most `side` pixels (`grab::grab`).
    Grab { times: Vec<f64>, side: u32 },
}

/// The header of a `Grab` answer: the frames' times and sizes; their RGB bytes follow.
#[derive(serde::Serialize, serde::Deserialize)]
struct GrabHeader {
    result: Result<(), UploadError>,
    /// (asked, shown, width, height) of each frame.
    frames: Vec<(f64, f64, u32, u32)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    result: Result<VideoInfo, UploadError>,
    times: Vec<f64>,
    /// Images per sample; their sum is the number of images that follow.
    views: Vec<u8>,
    /// Of those, the parts' per sample (`Decoded::parts`).
    parts: Vec<u8>,
    /// Of those, the parts that search the strips (`Decoded::strip_parts`).
    strip_parts: Vec<u8>,
}

/// The child side: caps its memory, then serves requests until stdin closes. The cap is
/// on address space, except for a worker on NVDEC (`nvdec`): a CUDA context reserves
/// far more address space than it ever uses (no access, so not counted as data), and
/// fails under such a cap; there the data size (heap and private writable mappings,
/// RLIMIT_DATA) is capped instead.
pub fn serve(max_memory_bytes: u64, nvdec: bool) -> io::Result<()> {
    if max_memory_bytes > 0 {
        let limit = libc::rlimit { rlim_cur: max_memory_bytes, rlim_max: max_memory_bytes };
        let which = if nvdec { libc::RLIMIT_DATA } else { libc::RLIMIT_AS };
        // SAFETY: setrlimit reads the struct we pass and changes only this process.
        if unsafe { libc::setrlimit(which, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let fault = std::env::var(FAULT_ENV).ok().filter(|f| !f.is_empty());
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        let req: Request = serde_json::from_str(&line?).map_err(io::Error::other)?;
        match fault.as_deref().and_then(|f| f.split_once(':')) {
            Some(("segv", name)) if name == req.name => {
                // SAFETY: restores SIGSEGV's default action (Rust's runtime handles it to
                // report stack overflows), then raises it on ourselves: the process ends
                // as a segfault in FFmpeg would end it.
                unsafe {
                    libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                    libc::raise(libc::SIGSEGV);
                }
            }
            Some(("hang", name)) if name == req.name => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Some(("garble", name)) if name == req.name => {
                out.write_all(&(u64::MAX / 2).to_le_bytes())?;
                out.flush()?;
                return Ok(());
            }
            _ => {}
        }
        let (json, bytes) = match req.task {
            Task::Sample(views) => {
                let (header, images) = match decode_file(&req.path, &req.opts, views) {
                    Ok(d) => {
                        let header = Header {
                            result: Ok(d.info),
                            times: d.times,
                            views: d.views,
                            parts: d.parts,
                            strip_parts: d.strip_parts,
                        };
                        (header, d.images)
                    }
                    Err(e) => {
                        let header = Header {
                            result: Err(e),
                            times: Vec::new(),
                            views: Vec::new(),
                            parts: Vec::new(),
                            strip_parts: Vec::new(),
                        };
                        (header, Vec::new())
                    }
                };
                (serde_json::to_vec(&header), bytemuck::cast_slice(&images).to_vec())
            }
            Task::Grab { times, side } => {
                let (header, bytes) = match grab(&req.path, &times, side, &req.opts) {
                    Ok(p) => {
                        let frames = p.iter().map(|p| (p.asked, p.t, p.w, p.h)).collect();
                        (GrabHeader { result: Ok(()), frames }, p.into_iter().flat_map(|p| p.rgb).collect())
                    }
                    Err(e) => (GrabHeader { result: Err(e), frames: Vec::new() }, Vec::new()),
                };
                (serde_json::to_vec(&header), bytes)
            }
        };
        let json = json.map_err(io::Error::other)?;
        out.write_all(&(json.len() as u64).to_le_bytes())?;
        out.write_all(&json)?;
        out.write_all(&bytes)?;
        out.flush()?;
    }
    Ok(())
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The parent side: one child, started on first use and again after it dies.
pub struct Worker {
    exe: PathBuf,
    max_memory_bytes: u64,
    nvdec: bool,
    running: Option<Running>,
}

impl Worker {
    /// A worker for uploads decoded as `opts` says.
    pub fn new(exe: &Path, opts: &DecodeOptions) -> Worker {
        let nvdec = opts.decoder == Decoder::Nvdec;
        Worker { exe: exe.to_path_buf(), max_memory_bytes: opts.max_memory_bytes, nvdec, running: None }
    }

    fn start(&mut self) -> io::Result<&mut Running> {
        if self.running.is_none() {
            let mut command = Command::new(&self.exe);
            command.args([SUBCOMMAND, "--max-memory-bytes", &self.max_memory_bytes.to_string()]);
            if self.nvdec {
                command.arg("--nvdec");
            }
            let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
            self.running = Some(Running { child, stdin, stdout });
        }
        Ok(self.running.as_mut().expect("just started"))
    }

    /// Decodes `path` (member `name`) into its sampled frames' views, in the child.
    pub fn decode(
        &mut self,
        path: &Path,
        name: &str,
        views: Views,
        opts: &DecodeOptions,
    ) -> Result<Decoded, UploadError> {
        let req =
            Request { path: path.to_path_buf(), name: name.to_string(), task: Task::Sample(views), opts: opts.clone() };
        self.ask(&req, |r| read_answer(r, opts, views)).and_then(|d| d)
    }

    /// Colour thumbnails of `path` (member `name`) at `times`, at most `side` pixels, in
    /// the child (`grab::grab`).
    pub fn grab(
        &mut self,
        path: &Path,
        name: &str,
        times: &[f64],
        side: u32,
        opts: &DecodeOptions,
    ) -> Result<Vec<Picture>, UploadError> {
        let task = Task::Grab { times: times.to_vec(), side };
        let req = Request { path: path.to_path_buf(), name: name.to_string(), task, opts: opts.clone() };
        self.ask(&req, |r| read_pictures(r, times.len(), side)).and_then(|p| p)
    }

    /// Sends `req` and reads its answer with `read`, killing the child when no answer
    /// comes within the decode budget or the answer is not valid.
    fn ask<T>(
        &mut self,
        req: &Request,
        read: impl FnOnce(&mut BufReader<ChildStdout>) -> io::Result<T>,
    ) -> Result<T, UploadError> {
        let opts = &req.opts;
        let budget = Duration::from_secs_f64(opts.max_wall_s.max(0.0) + opts.kill_grace_s);
        let line = serde_json::to_string(req).expect("requests serialise");
        let r = self
            .start()
            .map_err(|e| UploadError::new(UploadErrorKind::Decode, format!("cannot start a decode worker: {e}")))?;
        // The watchdog kills the child if no answer comes within the budget.
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let killed = Arc::new(AtomicBool::new(false));
        let pid = r.child.id() as libc::pid_t;
        let watchdog = {
            let killed = killed.clone();
            std::thread::spawn(move || {
                if done_rx.recv_timeout(budget) == Err(crossbeam_channel::RecvTimeoutError::Timeout) {
                    killed.store(true, Ordering::SeqCst);
                    // SAFETY: signals our own child, which has not been reaped (the
                    // parent waits for it only after this thread has ended).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            })
        };
        let answer = writeln!(r.stdin, "{line}").and_then(|_| r.stdin.flush()).and_then(|_| read(&mut r.stdout));
        drop(done_tx);
        let _ = watchdog.join();
        match answer {
            Ok(answer) => Ok(answer),
            Err(e) => {
                let mut r = self.running.take().expect("running");
                drop(r.stdin);
                // A child that answered nonsense is out of step with its requests: it
                // is not asked again.
                let invalid = e.kind() == io::ErrorKind::InvalidData;
                if invalid {
                    let _ = r.child.kill();
                }
                let status = r.child.wait().map(|s| describe_exit(&s)).unwrap_or_else(|w| w.to_string());
                if invalid {
                    Err(UploadError::new(
                        UploadErrorKind::Decode,
                        format!("the decode worker's answer is invalid: {e}"),
                    ))
                } else if killed.load(Ordering::SeqCst) {
                    Err(UploadError::new(
                        UploadErrorKind::Limit,
                        format!("decoding took longer than {:.0} s: the decode worker was killed", opts.max_wall_s),
                    ))
                } else {
                    Err(UploadError::new(UploadErrorKind::Decode, format!("the decode worker died ({status}; {e})")))
                }
            }
        }
    }
}

fn describe_exit(s: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (_, Some(sig)) => format!("killed by signal {sig}"),
        (Some(c), _) => format!("exit status {c}"),
        _ => s.to_string(),
    }
}

/// Reads the thumbnails of a `Grab` answer: at most `asked` frames of at most `side`
/// pixels a side, nothing allocated beyond that on the child's word.
fn read_pictures(r: &mut impl Read, asked: usize, side: u32) -> io::Result<Result<Vec<Picture>, UploadError>> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    let most = HEADER_FIXED_BYTES + HEADER_SAMPLE_BYTES * asked as u64;
    if len > most {
        return Err(invalid(format!("a header of {len} bytes, where at most {most} can be")));
    }
    let mut json = vec![0u8; len as usize];
    r.read_exact(&mut json)?;
    let header: GrabHeader = serde_json::from_slice(&json).map_err(|e| invalid(e.to_string()))?;
    if header.frames.len() > asked || header.frames.iter().any(|f| f.2 > side || f.3 > side) {
        return Err(invalid(format!("{} frames, where at most {asked} of {side} pixels can be", header.frames.len())));
    }
    let mut out = Vec::with_capacity(header.frames.len());
    for (asked, t, w, h) in header.frames {
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        r.read_exact(&mut rgb)?;
        out.push(Picture { asked, t, w, h, rgb });
    }
    Ok(header.result.map(|()| out))
}

/// Bytes of an answer's header beyond its samples (the video's facts or an error
/// message), and per sample (a time and two counts as JSON).
const HEADER_FIXED_BYTES: u64 = 64 << 10;
const HEADER_SAMPLE_BYTES: u64 = 64;

/// Reads one answer, refusing (as `InvalidData`) any that no honest worker decoding
/// under `opts` could give: nothing is allocated on the child's word beyond what the
/// limits allow.
fn read_answer(r: &mut impl Read, opts: &DecodeOptions, asked: Views) -> io::Result<Result<Decoded, UploadError>> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let samples = max_samples(opts);
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    let most = HEADER_FIXED_BYTES + HEADER_SAMPLE_BYTES * samples;
    if len > most {
        return Err(invalid(format!("a header of {len} bytes, where at most {most} can be")));
    }
    let mut json = vec![0u8; len as usize];
    r.read_exact(&mut json)?;
    let header: Header = serde_json::from_slice(&json).map_err(|e| invalid(e.to_string()))?;
    if header.times.len() as u64 > samples {
        return Err(invalid(format!("{} samples, more than the limits allow ({samples})", header.times.len())));
    }
    let n = header.times.len();
    if header.views.len() != n || header.parts.len() != n || header.strip_parts.len() != n {
        return Err(invalid("a view or part count per sample missing".into()));
    }
    // Every sample's first view is its picture, whatever parts follow.
    if header.parts.iter().zip(&header.views).any(|(p, v)| p >= v) {
        return Err(invalid("a sample without its picture's view".into()));
    }
    // The parts that search the strips are parts.
    if header.strip_parts.iter().zip(&header.parts).any(|(s, p)| s > p) {
        return Err(invalid("more parts searching the strips than parts".into()));
    }
    let views = max_views(
        &opts.layout,
        if let Views::Catalogue { views, strips } = asked { (views, strips) } else { (0, Strips::default()) },
    );
    if let Some(v) = header.views.iter().find(|&&v| v as usize > views) {
        return Err(invalid(format!("a sample of {v} views, where at most {views} can be")));
    }
    let mut images = vec![[0u32; IMG_WORDS]; header.views.iter().map(|&n| n as usize).sum()];
    r.read_exact(bytemuck::cast_slice_mut::<PackedImage, u8>(&mut images))?;
    Ok(header.result.map(|info| Decoded {
        info,
        times: header.times,
        images,
        views: header.views,
        parts: header.parts,
        strip_parts: header.strip_parts,
    }))
}

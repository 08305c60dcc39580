//! Decoding with FFmpeg (ffmpeg-next): the video stream of a file, sampled by timestamp,
//! scaled to a small luma frame and turned upright.

use crate::error::{UploadError, UploadErrorKind};
use crate::frame::gray::Gray;
use crate::ingest::hw::{self, Decoder};
use ffmpeg_next as ffmpeg;
use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant};

/// How to decode and what to refuse: the decode and limit settings of the run's
/// configuration (`Config::decode_options` makes it), sent to each worker with every
/// request.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DecodeOptions {
    /// Frames sampled per second of video.
    pub rate: f64,
    /// Longest side of the luma frames handed on (the picture is scaled down to it).
    pub max_side: u32,
    /// Largest coded picture accepted, in pixels.
    pub max_pixels: u64,
    /// Longest video accepted, in seconds.
    pub max_duration_s: f64,
    /// Wall-clock budget for one video.
    pub max_wall_s: f64,
    /// Most frames decoded from one video (timestamps can lie; a frame count cannot).
    pub max_frames: u64,
    /// FFmpeg's own decoding threads per video (0: FFmpeg chooses).
    pub threads: usize,
    /// Do not decode frames that no other frame references.
    pub skip_nonref: bool,
    /// Address space of a decode worker process, in bytes (see `worker.rs`).
    pub max_memory_bytes: u64,
    /// Seconds past `max_wall_s` before the parent kills a worker stuck in FFmpeg.
    pub kill_grace_s: f64,
    /// Where the picture is in each frame, and which views it yields.
    pub layout: crate::frame::config::LayoutConfig,
    /// The CPU, or NVDEC (`hw`).
    pub decoder: Decoder,
    /// The executable that serves `decode-worker`: decoding then runs in child processes,
    /// so that a crash inside FFmpeg costs one upload. None: decode in this process.
    #[serde(skip)]
    pub worker: Option<std::path::PathBuf>,
}

/// What the container and the stream say about a video.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct VideoInfo {
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub codec: String,
    pub fps: f64,
    /// Clockwise quarter turns applied from the rotation metadata.
    pub quarter_turns: u32,
    pub frames_sampled: u64,
}

pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Initialisation only registers codecs; it cannot fail on FFmpeg >= 4.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

/// An FFmpeg failure as an upload error of `kind`, except running out of memory, which
/// under a worker's capped address space means the upload needs more than the limit.
fn ffmpeg_fail(kind: UploadErrorKind, what: &str, e: ffmpeg::Error) -> UploadError {
    if e == (ffmpeg::Error::Other { errno: libc::ENOMEM }) {
        UploadError::new(UploadErrorKind::Limit, format!("{what}: out of memory under the decode memory limit ({e})"))
    } else {
        UploadError::new(kind, format!("{what}: {e}"))
    }
}

/// Clockwise quarter turns that make the picture upright, from the stream's display
/// matrix (as FFmpeg's own autorotation reads it).
fn quarter_turns(stream: &ffmpeg::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() != ffmpeg::codec::packet::side_data::Type::DisplayMatrix || sd.data().len() < 36 {
            continue;
        }
        let m: Vec<f64> =
            sd.data().chunks(4).take(9).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect();
        let s0 = m[0].hypot(m[3]);
        let s1 = m[1].hypot(m[4]);
        if s0 == 0.0 || s1 == 0.0 {
            return 0;
        }
        let degrees = (m[1] / s1).atan2(m[0] / s0).to_degrees();
        return ((degrees / 90.0).round().rem_euclid(4.0)) as u32;
    }
    0
}

/// A video stream opened for decoding, with what sampling it needs.
pub(crate) struct Opened {
    pub ictx: ffmpeg::format::context::Input,
    pub decoder: ffmpeg::decoder::Video,
    /// The stream's index, time base (seconds per tick) and first timestamp.
    pub index: usize,
    pub tb: f64,
    pub start_pts: i64,
    /// Clockwise quarter turns that make the picture upright.
    pub turns: u32,
    pub fps: f64,
    pub codec: String,
}

/// Opens the best video stream of `path` and its decoder, refusing what `opts` limits.
pub(crate) fn open(path: &Path, opts: &DecodeOptions) -> Result<Opened, UploadError> {
    init();
    let ictx = ffmpeg::format::input(path)
        .map_err(|e| ffmpeg_fail(UploadErrorKind::Unreadable, "not a readable media file", e))?;
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| UploadError::new(UploadErrorKind::Unreadable, "no video stream"))?;
    let index = stream.index();
    let tb = f64::from(stream.time_base());
    let start_pts = match stream.start_time() {
        i64::MIN => 0,
        s => s,
    };
    let turns = quarter_turns(&stream);
    let fps = {
        let r = stream.avg_frame_rate();
        if r.denominator() != 0 && r.numerator() > 0 { f64::from(r) } else { 25.0 }
    };
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| ffmpeg_fail(UploadErrorKind::Unreadable, "video stream parameters", e))?;
    ctx.set_threading(ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: opts.threads,
        ..Default::default()
    });
    if opts.decoder == Decoder::Nvdec {
        hw::attach_cuda(&mut ctx)
            .map_err(|e| ffmpeg_fail(UploadErrorKind::Decode, "cannot decode on the CUDA device", e))?;
    }
    let mut decoder = ctx
        .decoder()
        .video()
        .map_err(|e| ffmpeg_fail(UploadErrorKind::Unreadable, "no decoder for the video stream", e))?;
    if opts.skip_nonref {
        // Frames no other frame references are never sampled-critical: the sampler takes
        // the next decoded frame instead, at most a frame or two later. Skipping them
        // (most B-frames) saves a large share of decoding.
        decoder.skip_frame(ffmpeg::Discard::NonReference);
    }
    let codec = decoder.codec().map(|c| c.name().to_string()).unwrap_or_else(|| "unknown".into());
    let (width, height) = (decoder.width(), decoder.height());
    if width as u64 * height as u64 > opts.max_pixels {
        return Err(UploadError::new(
            UploadErrorKind::Limit,
            format!("{width}x{height} exceeds the limit of {} pixels", opts.max_pixels),
        ));
    }
    let container_s = if ictx.duration() > 0 { ictx.duration() as f64 / 1e6 } else { 0.0 };
    if container_s > opts.max_duration_s {
        return Err(UploadError::new(
            UploadErrorKind::Limit,
            format!("duration {container_s:.0} s exceeds the limit of {:.0} s", opts.max_duration_s),
        ));
    }
    Ok(Opened { ictx, decoder, index, tb, start_pts, turns, fps, codec })
}

/// Decodes `path` and calls `on_frame(t, frame)` for the frames sampled at
/// `opts.rate` per second, `t` in seconds from the first frame.
pub fn decode(
    path: &Path,
    opts: &DecodeOptions,
    mut on_frame: impl FnMut(f64, Gray),
) -> Result<VideoInfo, UploadError> {
    let started = Instant::now();
    let budget = Duration::from_secs_f64(opts.max_wall_s);
    let Opened { mut ictx, mut decoder, index, tb, start_pts, turns, fps, codec } = open(path, opts)?;
    let (width, height) = (decoder.width(), decoder.height());

    let mut info = VideoInfo { width, height, codec, fps, quarter_turns: turns, ..Default::default() };
    let mut sampler = Sampler { rate: opts.rate, next: 0.0, last_t: None, frame_step: 1.0 / fps };
    let mut scaler: Option<(ffmpeg::software::scaling::Context, (ffmpeg::format::Pixel, u32, u32))> = None;
    let mut decoded = ffmpeg::frame::Video::empty();
    // A sampled frame copied down from the GPU (NVDEC).
    let mut host = ffmpeg::frame::Video::empty();
    let mut gray = ffmpeg::frame::Video::empty();
    let mut errors = 0usize;
    let mut last_error = String::new();
    let mut end_t = 0f64;
    let mut frames = 0u64;

    let mut drain =
        |decoder: &mut ffmpeg::decoder::Video, info: &mut VideoInfo, end_t: &mut f64| -> Result<(), UploadError> {
            while decoder.receive_frame(&mut decoded).is_ok() {
                frames += 1;
                if frames > opts.max_frames {
                    return Err(UploadError::new(
                        UploadErrorKind::Limit,
                        format!("more than the limit of {} decoded frames", opts.max_frames),
                    ));
                }
                let t = sampler.time_of(decoded.timestamp().map(|ts| (ts - start_pts) as f64 * tb));
                *end_t = end_t.max(t + 1.0 / fps);
                if t > opts.max_duration_s {
                    return Err(UploadError::new(
                        UploadErrorKind::Limit,
                        format!("video runs past the limit of {:.0} s", opts.max_duration_s),
                    ));
                }
                if !sampler.take(t) {
                    continue;
                }
                let decoded = if decoded.format() == ffmpeg::format::Pixel::CUDA {
                    hw::download(&decoded, &mut host)
                        .map_err(|e| ffmpeg_fail(UploadErrorKind::Decode, "copying a frame from the GPU", e))?;
                    &host
                } else {
                    &decoded
                };
                let key = (decoded.format(), decoded.width(), decoded.height());
                if key.1 == 0 || key.2 == 0 {
                    continue;
                }
                if scaler.as_ref().map(|(_, k)| *k) != Some(key) {
                    let (tw, th) = working_size(key.1, key.2, decoded.aspect_ratio(), opts.max_side);
                    let s = ffmpeg::software::scaling::Context::get(
                        key.0,
                        key.1,
                        key.2,
                        ffmpeg::format::Pixel::GRAY8,
                        tw,
                        th,
                        ffmpeg::software::scaling::Flags::AREA,
                    )
                    .map_err(|e| {
                        UploadError::new(
                            UploadErrorKind::Decode,
                            format!("cannot scale {}x{} {:?}: {e}", key.1, key.2, key.0),
                        )
                    })?;
                    scaler = Some((s, key));
                }
                let (s, _) = scaler.as_mut().expect("scaler was just set");
                s.run(decoded, &mut gray).map_err(|e| ffmpeg_fail(UploadErrorKind::Decode, "scaling failed", e))?;
                let (w, h, stride) = (gray.width() as usize, gray.height() as usize, gray.stride(0));
                let plane = gray.data(0);
                let mut data = Vec::with_capacity(w * h);
                for y in 0..h {
                    data.extend_from_slice(&plane[y * stride..y * stride + w]);
                }
                info.frames_sampled += 1;
                on_frame(t, Gray { w, h, data }.rotated(turns));
            }
            Ok(())
        };

    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        if started.elapsed() > budget {
            return Err(UploadError::new(
                UploadErrorKind::Limit,
                format!("decoding took longer than {:.0} s", opts.max_wall_s),
            ));
        }
        if let Err(e) = decoder.send_packet(&packet) {
            if e == (ffmpeg::Error::Other { errno: libc::ENOMEM }) {
                return Err(ffmpeg_fail(UploadErrorKind::Decode, "decoding", e));
            }
            errors += 1;
            last_error = e.to_string();
            continue;
        }
        drain(&mut decoder, &mut info, &mut end_t)?;
    }
    // End of stream; a decoder already in error may refuse it, which loses nothing.
    let _ = decoder.send_eof();
    drain(&mut decoder, &mut info, &mut end_t)?;

    if info.frames_sampled == 0 {
        let why = if errors > 0 {
            format!("no frame could be decoded ({errors} bad packets, last: {last_error})")
        } else {
            "no frame could be decoded".into()
        };
        return Err(UploadError::new(UploadErrorKind::Decode, why));
    }
    info.duration_s = end_t.max(0.0);
    Ok(info)
}

/// Picks frames by timestamp: the first frame at or after each multiple of 1/rate.
struct Sampler {
    rate: f64,
    next: f64,
    last_t: Option<f64>,
    frame_step: f64,
}

impl Sampler {
    /// A frame's time in seconds; frames without a timestamp follow the previous one.
    fn time_of(&mut self, t: Option<f64>) -> f64 {
        let t = match (t, self.last_t) {
            (Some(t), _) if t.is_finite() => t,
            (_, Some(prev)) => prev + self.frame_step,
            _ => 0.0,
        };
        self.last_t = Some(t);
        t
    }

    fn take(&mut self, t: f64) -> bool {
        // A hair of tolerance so that frames stamped 0.49999 count for 0.5.
        if t + 1e-3 < self.next {
            return false;
        }
        while self.next <= t + 1e-3 {
            self.next += 1.0 / self.rate;
        }
        true
    }
}

/// Size of the luma frame: display aspect kept, longest side at most `max_side`.
pub(crate) fn working_size(w: u32, h: u32, sar: ffmpeg::Rational, max_side: u32) -> (u32, u32) {
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 { f64::from(sar) } else { 1.0 };
    let dw = w as f64 * sar;
    let dh = h as f64;
    let scale = (max_side as f64 / dw.max(dh)).min(1.0);
    (((dw * scale).round() as u32).max(1), ((dh * scale).round() as u32).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_takes_one_frame_per_period() {
        let mut s = Sampler { rate: 2.0, next: 0.0, last_t: None, frame_step: 0.04 };
        let taken: Vec<f64> = (0..100).map(|i| i as f64 * 0.04).filter(|&t| s.take(t)).collect();
        assert_eq!(taken.len(), 8);
        assert!((taken[1] - 0.52).abs() < 1e-9 || (taken[1] - 0.5).abs() < 1e-9, "{taken:?}");
    }

    #[test]
    fn sampler_keeps_going_over_gaps() {
        let mut s = Sampler { rate: 2.0, next: 0.0, last_t: None, frame_step: 0.04 };
        assert!(s.take(0.0));
        assert!(s.take(3.0));
        assert!(!s.take(3.2));
        assert!(s.take(3.5));
    }

    #[test]
    fn working_size_keeps_display_aspect() {
        assert_eq!(working_size(1280, 720, ffmpeg::Rational::new(1, 1), 256), (256, 144));
        assert_eq!(working_size(360, 640, ffmpeg::Rational::new(0, 1), 256), (144, 256));
        assert_eq!(working_size(100, 50, ffmpeg::Rational::new(2, 1), 256), (200, 50));
    }
}

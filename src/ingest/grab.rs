//! Colour frames of a video at chosen times, for people to look at (`clipmatch
//! review`): each is the first decoded frame at or after its time, scaled down to a
//! thumbnail and turned upright. The decoder seeks ahead instead of decoding through
//! long stretches, so that a few frames of an hour-long episode cost a few seconds.

use crate::error::{UploadError, UploadErrorKind};
use crate::ingest::decode::{DecodeOptions, Opened, open, working_size};
use ffmpeg_next as ffmpeg;
use std::path::Path;
use std::time::{Duration, Instant};

/// One frame as RGB24, row-major, `w * h * 3` bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// The time it was asked for, and the time of the frame shown.
    pub asked: f64,
    pub t: f64,
    pub w: u32,
    pub h: u32,
    pub rgb: Vec<u8>,
}

/// A wanted time further ahead of the last decoded frame than this is reached by a seek
/// (to a keyframe before it) rather than by decoding through, seconds.
const SEEK_AHEAD_S: f64 = 3.0;

/// The frames of `path` at `times` (seconds from its first frame, ascending), at most
/// `side` pixels on their longer side. Times past the end get no frame.
pub fn grab(path: &Path, times: &[f64], side: u32, opts: &DecodeOptions) -> Result<Vec<Picture>, UploadError> {
    let started = Instant::now();
    let budget = Duration::from_secs_f64(opts.max_wall_s);
    let Opened { mut ictx, mut decoder, index, tb, start_pts, turns, fps, .. } = open(path, opts)?;
    let mut out = Vec::new();
    let mut next = 0;
    let mut last_t = f64::NEG_INFINITY;
    let mut sought = None;
    let mut packet = ffmpeg::Packet::empty();
    let mut frame = ffmpeg::frame::Video::empty();
    let mut errors = 0;
    while next < times.len() {
        if started.elapsed() > budget {
            return Err(UploadError::new(UploadErrorKind::Limit, format!("took longer than {:.0} s", opts.max_wall_s)));
        }
        if times[next] - last_t > SEEK_AHEAD_S && sought != Some(next) {
            sought = Some(next);
            let at = ((times[next] - 1.0).max(0.0) + start_pts as f64 * tb) * 1e6;
            if ictx.seek(at as i64, ..at as i64).is_ok() {
                decoder.flush();
            }
        }
        let end = match packet.read(&mut ictx) {
            Ok(()) => false,
            Err(ffmpeg::Error::Eof) => true,
            Err(_) if errors < 1000 => {
                errors += 1;
                continue;
            }
            Err(_) => true,
        };
        if end {
            let _ = decoder.send_eof();
        } else if packet.stream() != index || decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            // A frame without a timestamp follows the previous one (the first starts at 0).
            let follows = if last_t.is_finite() { last_t + 1.0 / fps } else { 0.0 };
            let t = frame.timestamp().map_or(follows, |ts| (ts - start_pts) as f64 * tb);
            last_t = t;
            while next < times.len() && t + 1e-3 >= times[next] {
                out.push(picture(&frame, times[next], t, side, turns)?);
                next += 1;
            }
        }
        if end {
            break;
        }
    }
    Ok(out)
}

/// `frame` as an upright RGB thumbnail.
fn picture(frame: &ffmpeg::frame::Video, asked: f64, t: f64, side: u32, turns: u32) -> Result<Picture, UploadError> {
    let (w, h) = working_size(frame.width(), frame.height(), frame.aspect_ratio(), side);
    let fail = |e: ffmpeg::Error| UploadError::new(UploadErrorKind::Decode, format!("cannot scale a frame: {e}"));
    let mut scaler = ffmpeg::software::scaling::Context::get(
        frame.format(),
        frame.width(),
        frame.height(),
        ffmpeg::format::Pixel::RGB24,
        w,
        h,
        ffmpeg::software::scaling::Flags::AREA,
    )
    .map_err(fail)?;
    let mut rgb = ffmpeg::frame::Video::empty();
    scaler.run(frame, &mut rgb).map_err(fail)?;
    let stride = rgb.stride(0);
    let data = rgb.data(0);
    let mut bytes = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h as usize {
        bytes.extend_from_slice(&data[y * stride..y * stride + 3 * w as usize]);
    }
    let (w, h, rgb) = rotate(w, h, bytes, turns);
    Ok(Picture { asked, t, w, h, rgb })
}

/// An RGB image turned clockwise by `turns` quarter turns.
fn rotate(w: u32, h: u32, rgb: Vec<u8>, turns: u32) -> (u32, u32, Vec<u8>) {
    let (w, h) = (w as usize, h as usize);
    let px = |x: usize, y: usize| &rgb[3 * (y * w + x)..3 * (y * w + x) + 3];
    match turns % 4 {
        0 => (w as u32, h as u32, rgb),
        2 => {
            let out = (0..w * h).rev().flat_map(|i| px(i % w, i / w).to_vec()).collect();
            (w as u32, h as u32, out)
        }
        q => {
            // Clockwise, the new pixel (nx, ny) of an h-wide image shows old (ny, h-1-nx);
            // counter-clockwise, old (w-1-ny, nx).
            let out = (0..w * h)
                .flat_map(|i| {
                    let (nx, ny) = (i % h, i / h);
                    if q == 1 { px(ny, h - 1 - nx) } else { px(w - 1 - ny, nx) }.to_vec()
                })
                .collect();
            (h as u32, w as u32, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_turns_the_picture_clockwise() {
        // 2x1: red, green. Clockwise it is 1x2: red above green.
        let rgb = vec![255, 0, 0, 0, 255, 0];
        assert_eq!(rotate(2, 1, rgb.clone(), 1), (1, 2, rgb.clone()));
        assert_eq!(rotate(2, 1, rgb.clone(), 3), (1, 2, vec![0, 255, 0, 255, 0, 0]));
        assert_eq!(rotate(2, 1, rgb.clone(), 2), (2, 1, vec![0, 255, 0, 255, 0, 0]));
    }
}

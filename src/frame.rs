//! Small luma frames: border detection (black bars, blurred backgrounds, pillar boxes)
//! and the resampling of the content into the 32x32 images descriptors are made from.

use crate::descriptor::{IMG, PackedImage, pack_image};

/// An 8-bit luma image, row-major, no padding.
#[derive(Clone, Debug)]
pub struct Gray {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

impl Gray {
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.w + x]
    }

    /// The image turned clockwise by `quarter_turns` x 90 degrees.
    pub fn rotated(self, quarter_turns: u32) -> Gray {
        let (w, h) = (self.w, self.h);
        match quarter_turns % 4 {
            0 => self,
            2 => Gray {
                w,
                h,
                data: self.data.into_iter().rev().collect(),
            },
            q => {
                let mut data = vec![0; w * h];
                for y in 0..h {
                    for x in 0..w {
                        // Clockwise: (x, y) -> (h-1-y, x); counter-clockwise: (y, w-1-x).
                        let (nx, ny) = if q == 1 {
                            (h - 1 - y, x)
                        } else {
                            (y, w - 1 - x)
                        };
                        data[ny * h + nx] = self.data[y * w + x];
                    }
                }
                Gray { w: h, h: w, data }
            }
        }
    }
}

/// A rectangle in pixel coordinates, `x0..x1` by `y0..y1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Rect {
    pub fn full(g: &Gray) -> Rect {
        Rect {
            x0: 0.0,
            y0: 0.0,
            x1: g.w as f32,
            y1: g.h as f32,
        }
    }
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
}

/// Mean absolute luma step to the right and downwards, per row and per column of the
/// block `rows x cols`.
#[allow(clippy::needless_range_loop)] // x and y index the image as well as the profiles
fn activity(g: &Gray, rows: (usize, usize), cols: (usize, usize)) -> (Vec<f32>, Vec<f32>) {
    let mut by_row = vec![0f32; g.h];
    let mut by_col = vec![0f32; g.w];
    for y in rows.0..rows.1.min(g.h - 1) {
        for x in cols.0..cols.1.min(g.w - 1) {
            let p = g.at(x, y) as i32;
            let a = ((g.at(x + 1, y) as i32 - p).abs() + (g.at(x, y + 1) as i32 - p).abs()) as f32;
            by_row[y] += a;
            by_col[x] += a;
        }
    }
    let (nr, nc) = (
        (rows.1 - rows.0).max(1) as f32,
        (cols.1 - cols.0).max(1) as f32,
    );
    by_row.iter_mut().for_each(|a| *a /= nc);
    by_col.iter_mut().for_each(|a| *a /= nr);
    // The last row and column have no step of their own; they take their neighbour's.
    by_row[g.h - 1] = by_row[g.h - 2];
    by_col[g.w - 1] = by_col[g.w - 2];
    (by_row, by_col)
}

/// The span of a profile that holds the picture: the run of active entries (gaps of up to
/// 1/20 bridged) with the most activity. Black bars have none, blurred backgrounds
/// little; a caption or sticker over them forms a separate, weaker run. Falls back to
/// the whole span when the run is implausibly small.
fn active_span(a: &[f32]) -> (usize, usize) {
    let n = a.len();
    if n < 8 {
        return (0, n);
    }
    let mut sorted = a.to_vec();
    sorted.sort_by(f32::total_cmp);
    let threshold = (0.3 * sorted[n * 9 / 10]).max(1.5);
    let bridge = n / 20;
    let mut best = (0usize, 0usize, 0f32);
    let mut start: Option<usize> = None;
    let mut last_active = 0usize;
    let mut sum = 0f32;
    for (i, &v) in a.iter().enumerate() {
        if v >= threshold {
            if start.is_none() {
                start = Some(i);
                sum = 0.0;
            }
            last_active = i;
        } else if let Some(s) = start {
            if i - last_active > bridge {
                if sum > best.2 {
                    best = (s, last_active + 1, sum);
                }
                start = None;
            }
        }
        if start.is_some() {
            sum += v;
        }
    }
    if let Some(s) = start {
        if sum > best.2 {
            best = (s, last_active + 1, sum);
        }
    }
    if best.1 - best.0 < n / 5 {
        (0, n)
    } else {
        (best.0, best.1)
    }
}

/// Where the picture is inside a frame: black bars, blurred 9:16 backgrounds and
/// pillar boxes are cut away.
pub fn content_rect(g: &Gray) -> Rect {
    if g.w < 8 || g.h < 8 {
        return Rect::full(g);
    }
    let (rows, _) = activity(g, (0, g.h), (0, g.w));
    let (y0, y1) = active_span(&rows);
    let (_, cols) = activity(g, (y0, y1), (0, g.w));
    let (x0, x1) = active_span(&cols);
    Rect {
        x0: x0 as f32,
        y0: y0 as f32,
        x1: x1 as f32,
        y1: y1 as f32,
    }
}

/// Box-filter weights mapping `[a, b)` of the source axis onto `n` output cells.
fn axis_weights(len: usize, a: f32, b: f32, n: usize) -> Vec<Vec<(usize, f32)>> {
    (0..n)
        .map(|i| {
            let mut lo = a + (b - a) * i as f32 / n as f32;
            let mut hi = a + (b - a) * (i + 1) as f32 / n as f32;
            if hi - lo < 1.0 {
                // Upscaling: widen the cell to one source pixel around its centre.
                let c = 0.5 * (lo + hi);
                lo = c - 0.5;
                hi = c + 0.5;
            }
            let lo = lo.clamp(0.0, len as f32 - 1.0);
            let hi = hi.clamp(lo + 1e-3, len as f32);
            let mut w: Vec<(usize, f32)> = (lo.floor() as usize..(hi.ceil() as usize).min(len))
                .map(|p| (p, (hi.min(p as f32 + 1.0) - lo.max(p as f32)).max(0.0)))
                .filter(|&(_, w)| w > 0.0)
                .collect();
            let total: f32 = w.iter().map(|&(_, w)| w).sum();
            w.iter_mut().for_each(|(_, x)| *x /= total);
            w
        })
        .collect()
}

/// The region `r` of `g` resampled to 32x32 with a box filter.
pub fn resample(g: &Gray, r: Rect) -> PackedImage {
    let wx = axis_weights(g.w, r.x0, r.x1, IMG);
    let wy = axis_weights(g.h, r.y0, r.y1, IMG);
    let mut out = vec![0u8; IMG * IMG];
    for (j, ys) in wy.iter().enumerate() {
        for (i, xs) in wx.iter().enumerate() {
            let mut acc = 0f32;
            for &(y, fy) in ys {
                let row = &g.data[y * g.w..];
                acc += fy * xs.iter().map(|&(x, fx)| fx * row[x] as f32).sum::<f32>();
            }
            out[j * IMG + i] = (acc + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    pack_image(&out)
}

/// One crop of a catalogue frame, relative to its content rectangle.
#[derive(Clone, Copy, Debug)]
struct View {
    /// Kept fraction of width and height.
    scale: f32,
    /// Position of the crop in the slack: 0 = left/top, 1 = right/bottom.
    px: f32,
    py: f32,
    /// Square crop (as a square canvas fills and cuts a wide picture).
    square: bool,
}

/// The crops stored for every catalogue frame. Uploads reframe and crop the picture;
/// a crop cannot be undone on the upload side, so the catalogue holds the likely ones.
const VIEWS: [View; 8] = [
    View {
        scale: 1.0,
        px: 0.5,
        py: 0.5,
        square: false,
    },
    View {
        scale: 1.0,
        px: 0.5,
        py: 0.5,
        square: true,
    },
    View {
        scale: 0.8,
        px: 0.5,
        py: 0.5,
        square: false,
    },
    View {
        scale: 0.8,
        px: 0.0,
        py: 0.0,
        square: false,
    },
    View {
        scale: 0.8,
        px: 1.0,
        py: 0.0,
        square: false,
    },
    View {
        scale: 0.8,
        px: 0.0,
        py: 1.0,
        square: false,
    },
    View {
        scale: 0.8,
        px: 1.0,
        py: 1.0,
        square: false,
    },
    View {
        scale: 0.8,
        px: 0.5,
        py: 0.5,
        square: true,
    },
];

/// Number of views per catalogue frame.
pub const CATALOGUE_VIEWS: usize = VIEWS.len();

fn view_rect(c: Rect, v: View) -> Rect {
    let (mut w, mut h) = (c.width(), c.height());
    if v.square {
        let s = w.min(h);
        w = s;
        h = s;
    }
    w *= v.scale;
    h *= v.scale;
    let x0 = c.x0 + (c.width() - w) * v.px;
    let y0 = c.y0 + (c.height() - h) * v.py;
    Rect {
        x0,
        y0,
        x1: x0 + w,
        y1: y0 + h,
    }
}

/// The 32x32 images of every catalogue view of a frame.
pub fn catalogue_views(g: &Gray) -> Vec<PackedImage> {
    let c = content_rect(g);
    VIEWS
        .iter()
        .map(|&v| resample(g, view_rect(c, v)))
        .collect()
}

/// The 32x32 image of an upload frame: its content, uncropped.
pub fn query_view(g: &Gray) -> PackedImage {
    resample(g, content_rect(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: usize, h: usize, seed: u32) -> Gray {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as u32, (i / w) as u32);
                ((x * 37 + y * 91 + seed).wrapping_mul(2654435761) >> 24) as u8
            })
            .collect();
        Gray { w, h, data }
    }

    /// Pastes `content` into a `w x h` canvas at (x, y) over `fill`.
    fn paste(
        content: &Gray,
        w: usize,
        h: usize,
        x: usize,
        y: usize,
        fill: impl Fn(usize, usize) -> u8,
    ) -> Gray {
        let mut data: Vec<u8> = (0..w * h).map(|i| fill(i % w, i / w)).collect();
        for cy in 0..content.h {
            for cx in 0..content.w {
                data[(y + cy) * w + x + cx] = content.at(cx, cy);
            }
        }
        Gray { w, h, data }
    }

    #[test]
    fn finds_picture_between_black_bars() {
        let c = textured(144, 81, 1);
        let g = paste(&c, 144, 256, 0, 80, |_, _| 0);
        let r = content_rect(&g);
        assert!(
            (r.y0 - 80.0).abs() <= 2.0 && (r.y1 - 161.0).abs() <= 2.0,
            "{r:?}"
        );
        assert!(r.x0 <= 1.0 && r.x1 >= 143.0, "{r:?}");
    }

    #[test]
    fn finds_picture_on_smooth_background() {
        let c = textured(144, 81, 2);
        // A slow gradient stands in for the blurred copy behind a 9:16 reframe.
        let g = paste(&c, 144, 256, 0, 90, |x, y| (40 + (x + y) / 8) as u8);
        let r = content_rect(&g);
        assert!(
            (r.y0 - 90.0).abs() <= 2.0 && (r.y1 - 171.0).abs() <= 2.0,
            "{r:?}"
        );
    }

    #[test]
    fn finds_pillar_box() {
        let c = textured(120, 144, 3);
        let g = paste(&c, 256, 144, 68, 0, |_, _| 16);
        let r = content_rect(&g);
        assert!(
            (r.x0 - 68.0).abs() <= 2.0 && (r.x1 - 188.0).abs() <= 2.0,
            "{r:?}"
        );
    }

    #[test]
    fn plain_frame_is_all_content() {
        let g = textured(200, 100, 4);
        assert_eq!(content_rect(&g), Rect::full(&g));
    }

    #[test]
    fn resample_of_constant_is_constant() {
        let g = Gray {
            w: 50,
            h: 20,
            data: vec![99; 1000],
        };
        let img = resample(
            &g,
            Rect {
                x0: 3.5,
                y0: 1.0,
                x1: 47.0,
                y1: 19.5,
            },
        );
        assert!(img.iter().all(|&w| w == u32::from_le_bytes([99; 4])));
    }

    #[test]
    fn rotation_round_trips() {
        let g = textured(7, 3, 5);
        let r = g.clone().rotated(1);
        assert_eq!((r.w, r.h), (3, 7));
        // The top-left pixel goes to the top-right corner when turned clockwise.
        assert_eq!(r.at(2, 0), g.at(0, 0));
        let back = r.rotated(3);
        assert_eq!(back.data, g.data);
        assert_eq!(g.clone().rotated(2).rotated(2).data, g.data);
    }
}

//! Small luma frames and their resampling into the 32x32 images descriptors are made
//! from.

use crate::kernels::descriptor::{IMG, PackedImage, pack_image};

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
            2 => Gray { w, h, data: self.data.into_iter().rev().collect() },
            q => {
                let mut data = vec![0; w * h];
                for y in 0..h {
                    for x in 0..w {
                        // Clockwise: (x, y) -> (h-1-y, x); counter-clockwise: (y, w-1-x).
                        let (nx, ny) = if q == 1 { (h - 1 - y, x) } else { (y, w - 1 - x) };
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
        Rect { x0: 0.0, y0: 0.0, x1: g.w as f32, y1: g.h as f32 }
    }
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
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
    resample_with(g, &axis_weights(g.w, r.x0, r.x1, IMG), &axis_weights(g.h, r.y0, r.y1, IMG))
}

/// `resample` with the weights of both axes computed beforehand (`axis_weights`).
fn resample_with(g: &Gray, wx: &[Vec<(usize, f32)>], wy: &[Vec<(usize, f32)>]) -> PackedImage {
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

/// Intersection over union of two rectangles.
pub fn overlap(a: &Rect, b: &Rect) -> f32 {
    let iw = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let ih = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = iw * ih;
    inter / (a.width() * a.height() + b.width() * b.height() - inter)
}

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

/// Mean absolute luma step along each row and down each column, on the
/// image averaged over 2x2 blocks: the averaging takes the edge off grain and
/// compression noise, which would otherwise make a blurred background look busy.
fn activity(g: &Gray) -> (Vec<f32>, Vec<f32>) {
    let (w, h) = (g.w / 2, g.h / 2);
    let half: Vec<i32> = (0..w * h)
        .map(|i| {
            let (x, y) = (2 * (i % w), 2 * (i / w));
            (g.at(x, y) as i32 + g.at(x + 1, y) as i32 + g.at(x, y + 1) as i32 + g.at(x + 1, y + 1) as i32) / 4
        })
        .collect();
    let mut by_row = vec![0f32; h];
    let mut by_col = vec![0f32; w];
    // Steps along a row measure that row, steps along a column that column: a border
    // line next to the picture then stays quiet, where a vertical step would not.
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            let p = half[y * w + x];
            by_row[y] += (half[y * w + x + 1] - p).abs() as f32;
            by_col[x] += (half[(y + 1) * w + x] - p).abs() as f32;
        }
    }
    by_row.iter_mut().for_each(|a| *a /= (w - 1) as f32);
    by_col.iter_mut().for_each(|a| *a /= (h - 1) as f32);
    // The last row and column have no step of their own; they take their neighbour's.
    by_row[h - 1] = by_row[h - 2];
    by_col[w - 1] = by_col[w - 2];
    (by_row, by_col)
}

/// The span of a profile that holds the picture: the run of active entries (gaps of up to
/// 1/10 bridged) with the most activity, made symmetric. Black bars have none, blurred
/// backgrounds little; a caption or sticker over them forms a separate, weaker run.
/// Falls back to the whole span when the run is implausibly small (under a tenth: a
/// 2.4:1 to 4.3:1 film on a 9:16 canvas is a band of a fifth to an eighth).
fn active_span(a: &[f32]) -> (usize, usize) {
    let n = a.len();
    let mut sorted = a.to_vec();
    sorted.sort_by(f32::total_cmp);
    let threshold = (0.3 * sorted[n * 9 / 10]).max(1.5);
    let bridge = n / 10;
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
        } else if let Some(s) = start
            && i - last_active > bridge
        {
            if sum > best.2 {
                best = (s, last_active + 1, sum);
            }
            start = None;
        }
        if start.is_some() {
            sum += v;
        }
    }
    if let Some(s) = start
        && sum > best.2
    {
        best = (s, last_active + 1, sum);
    }
    if best.1 - best.0 < n / 10 {
        return (0, n);
    }
    // Uploads centre the picture on their canvas. A flat stretch of picture at one edge
    // reads as border, so the margins are evened out to the smaller of the two.
    let margin = best.0.min(n - best.1);
    (margin, n - margin)
}

/// Smallest frame side on which borders are looked for.
const MIN_SIDE: usize = 16;

/// Where the picture is, from activity profiles (at half resolution) of a frame or of
/// several frames combined.
fn rect_from(g: &Gray, rows: &[f32], cols: &[f32]) -> Rect {
    let (y0, y1) = active_span(rows);
    let (x0, x1) = active_span(cols);
    let sx = g.w as f32 / cols.len() as f32;
    let sy = g.h as f32 / rows.len() as f32;
    Rect { x0: x0 as f32 * sx, y0: y0 as f32 * sy, x1: x1 as f32 * sx, y1: y1 as f32 * sy }
}

/// Where the picture is inside one frame: black bars, blurred 9:16 backgrounds and
/// pillar boxes are cut away.
pub fn content_rect(g: &Gray) -> Rect {
    if g.w < MIN_SIDE || g.h < MIN_SIDE {
        return Rect::full(g);
    }
    let (rows, cols) = activity(g);
    rect_from(g, &rows, &cols)
}

/// Where a frame's picture is: its content rectangle and, on uploads, the
/// picture-in-picture windows voted for around it.
pub struct Layout {
    pub content: Rect,
    pub windows: Vec<Rect>,
}

/// Border detection over time. Borders stay put while the picture changes, so a row or
/// column counts as picture if it is busy in any frame of a window of neighbours: a dark
/// or flat scene no longer loses its edges. Picture-in-picture windows stay put too, but
/// their edges vanish where the two pictures happen to match: each frame is searched with
/// the windows most of its neighbours found. Frames come out in order, delayed by the
/// wider of the two neighbourhoods, each with its layout.
pub struct BorderTracker {
    half: usize,
    /// Neighbours on each side whose windows are voted on; 0 looks for none.
    pip_half: usize,
    next: usize,
    window: std::collections::VecDeque<Tracked>,
}

struct Tracked {
    t: f64,
    size: (usize, usize),
    frame: Option<Gray>,
    rows: Vec<f32>,
    cols: Vec<f32>,
    /// The frame's proposals (`Windows::stopped`, `Windows::continued`,
    /// `Windows::textured`).
    windows: Vec<Rect>,
    continued: Vec<Rect>,
    textured: Vec<Rect>,
}

/// Windows each frame proposes for its neighbours' vote.
const PIP_PROPOSALS: usize = 3;

impl BorderTracker {
    /// `half`: neighbours on each side that share their activity; `pip_half`: neighbours
    /// on each side that vote on picture-in-picture windows (0: none are looked for).
    pub fn new(half: usize, pip_half: usize) -> Self {
        BorderTracker { half, pip_half, next: 0, window: Default::default() }
    }

    fn reach(&self) -> usize {
        self.half.max(self.pip_half)
    }

    pub fn push(&mut self, t: f64, g: Gray, out: &mut dyn FnMut(f64, Gray, Layout)) {
        let (rows, cols) = if g.w < MIN_SIDE || g.h < MIN_SIDE { (Vec::new(), Vec::new()) } else { activity(&g) };
        // A change of frame size starts a new window: neighbours' profiles and windows
        // are in another frame's pixels.
        let size = (g.w, g.h);
        if self.window.back().is_some_and(|b| b.size != size) {
            self.finish(out);
        }
        let (windows, continued, textured) = if self.pip_half > 0 {
            let found = Windows::of(&g);
            (found.stopped(PIP_PROPOSALS), found.continued(PIP_PROPOSALS), found.textured(PIP_PROPOSALS))
        } else {
            Default::default()
        };
        self.window.push_back(Tracked { t, size, frame: Some(g), rows, cols, windows, continued, textured });
        while self.window.len() - self.next > self.reach() {
            self.emit(out);
        }
    }

    /// Emits the frames still held.
    pub fn finish(&mut self, out: &mut dyn FnMut(f64, Gray, Layout)) {
        while self.next < self.window.len() {
            self.emit(out);
        }
        self.window.clear();
        self.next = 0;
    }

    fn emit(&mut self, out: &mut dyn FnMut(f64, Gray, Layout)) {
        let i = self.next;
        let lo = i.saturating_sub(self.half);
        let hi = (i + self.half + 1).min(self.window.len());
        let mut rows = self.window[i].rows.clone();
        let mut cols = self.window[i].cols.clone();
        for k in lo..hi {
            rows.iter_mut().zip(&self.window[k].rows).for_each(|(a, b)| *a = a.max(*b));
            cols.iter_mut().zip(&self.window[k].cols).for_each(|(a, b)| *a = a.max(*b));
        }
        let lo = i.saturating_sub(self.pip_half);
        let hi = (i + self.pip_half + 1).min(self.window.len());
        let near = self.window.range(lo..hi);
        let mut windows = vote(&self.window[i].windows, near.clone().map(|k| k.windows.as_slice()), PIP_WINDOWS);
        let continued = vote(&self.window[i].continued, near.clone().map(|k| k.continued.as_slice()), PIP_CONTINUED);
        let textured = vote(&self.window[i].textured, near.map(|k| k.textured.as_slice()), PIP_TEXTURED);
        windows = apart(windows.into_iter().chain(continued), PIP_WINDOWS + PIP_CONTINUED);
        // A window over texture is searched even where it overlaps one of the others by
        // half: over leaves, the rectangle that takes the frame's edge for the window's
        // far side passes the other tests and the window itself does not.
        let textured: Vec<Rect> =
            textured.into_iter().filter(|t| windows.iter().all(|w| overlap(w, t) < 0.9)).collect();
        windows.extend(textured);
        let e = &mut self.window[i];
        let g = e.frame.take().expect("each frame is emitted once");
        let content = if rows.is_empty() { Rect::full(&g) } else { rect_from(&g, &rows, &cols) };
        out(e.t, g, Layout { content, windows });
        self.next += 1;
        while self.next > self.reach() {
            self.window.pop_front();
            self.next -= 1;
        }
    }
}

/// Up to `n` of the windows proposed by `frames` (the frame's neighbourhood, itself
/// included), apart from each other, those the most frames found first (a frame finds a
/// window when one of its own overlaps it by 70%); ties go to the frame's `own`
/// proposals, best first. There is no quorum: a window one frame alone found still fills
/// a free slot (requiring 3 frames lost seed 3's and seed 5's gains from the windows).
fn vote<'a>(own: &'a [Rect], frames: impl Iterator<Item = &'a [Rect]> + Clone, n: usize) -> Vec<Rect> {
    let support = |w: &Rect| frames.clone().filter(|f| f.iter().any(|o| overlap(o, w) >= 0.7)).count();
    // `own` is listed first for the ties; its second listing, among `frames`, is a
    // duplicate that `apart` drops.
    let mut ranked: Vec<(usize, Rect)> = own.iter().chain(frames.clone().flatten()).map(|w| (support(w), *w)).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    apart(ranked.into_iter().map(|r| r.1), n)
}

/// The first `n` of `windows` that overlap none kept before them by half or more.
fn apart(windows: impl Iterator<Item = Rect>, n: usize) -> Vec<Rect> {
    let mut out: Vec<Rect> = Vec::new();
    for w in windows {
        if out.len() == n {
            break;
        }
        if out.iter().all(|o| overlap(o, &w) < 0.5) {
            out.push(w);
        }
    }
    out
}

/// Box-filter weights mapping `[a, b)` of the source axis onto `n` output cells.
pub(crate) fn axis_weights(len: usize, a: f32, b: f32, n: usize) -> Vec<Vec<(usize, f32)>> {
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

/// `resample` with the weights of both axes computed beforehand (`axis_weights`), for
/// one region of many images of one size.
pub(crate) fn resample_with(g: &Gray, wx: &[Vec<(usize, f32)>], wy: &[Vec<(usize, f32)>]) -> PackedImage {
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

/// The crops stored for every catalogue frame: the whole picture, 80% of it at nine
/// positions, and the centred square a square canvas keeps of a wide picture (whole and
/// 80%). Uploads reframe and crop the picture; a crop cannot be undone on the upload
/// side, so the catalogue holds the likely ones.
const VIEWS: [View; 12] = [
    View { scale: 1.0, px: 0.5, py: 0.5, square: false },
    View { scale: 1.0, px: 0.5, py: 0.5, square: true },
    View { scale: 0.8, px: 0.5, py: 0.5, square: true },
    View { scale: 0.8, px: 0.5, py: 0.5, square: false },
    View { scale: 0.8, px: 0.0, py: 0.0, square: false },
    View { scale: 0.8, px: 0.5, py: 0.0, square: false },
    View { scale: 0.8, px: 1.0, py: 0.0, square: false },
    View { scale: 0.8, px: 0.0, py: 0.5, square: false },
    View { scale: 0.8, px: 1.0, py: 0.5, square: false },
    View { scale: 0.8, px: 0.0, py: 1.0, square: false },
    View { scale: 0.8, px: 0.5, py: 1.0, square: false },
    View { scale: 0.8, px: 1.0, py: 1.0, square: false },
];

/// Number of views per catalogue frame.
pub const CATALOGUE_VIEWS: usize = VIEWS.len();

fn view_rect(c: Rect, v: View) -> Rect {
    let (mut w, mut h) = (c.width(), c.height());
    if v.square {
        w = w.min(h);
        h = w;
    }
    w *= v.scale;
    h *= v.scale;
    let x0 = c.x0 + (c.width() - w) * v.px;
    let y0 = c.y0 + (c.height() - h) * v.py;
    Rect { x0, y0, x1: x0 + w, y1: y0 + h }
}

/// The 32x32 images of every catalogue view of a frame whose picture is `content`.
pub fn catalogue_views(g: &Gray, content: Rect) -> Vec<PackedImage> {
    VIEWS.iter().map(|&v| resample(g, view_rect(content, v))).collect()
}

/// Aspect ratios (width / height) of the pictures uploads put on a portrait canvas:
/// 4:3, 3:2, 16:9, 2:1 and 2.4:1.
const BAND_ASPECTS: [f32; 5] = [4.0 / 3.0, 1.5, 16.0 / 9.0, 2.0, 2.4];

/// The 32x32 images of one frame, in two groups aligned apart: the whole picture's views
/// first, then `parts` views of a part of the frame (uploads only). Merged into one list,
/// a part holding unrelated footage crowds the picture's true neighbours out.
pub struct FrameViews {
    pub images: Vec<PackedImage>,
    /// How many images, at the end of `images`, show a part of the frame.
    pub parts: usize,
}

/// Picture-in-picture windows searched per upload frame, of those its neighbours voted
/// for: whose sides stop at their corners, with one side that goes on, and found only
/// as texture goes on past their corners (`Windows`).
const PIP_WINDOWS: usize = 2;
const PIP_CONTINUED: usize = 2;
const PIP_TEXTURED: usize = 1;

/// The views of an upload frame. The picture's: its detected picture and, on a portrait
/// frame, full-width bands of common aspect ratios centred on the canvas. Portrait
/// uploads centre a landscape picture over a blurred copy of itself, a background that
/// border detection often takes for picture (or the reverse); the bands find the picture
/// whatever the detection made of it. The parts': the halves of the frame along its long
/// sides (both ways on a square one), where uploads stack the clip with other footage,
/// and the picture-in-picture windows of its layout (`Windows`, `BorderTracker`).
pub fn query_views(g: &Gray, layout: &Layout) -> FrameViews {
    let mut images = vec![resample(g, layout.content)];
    let (w, h) = (g.w as f32, g.h as f32);
    if h > w {
        for a in BAND_ASPECTS {
            let bh = h.min(w / a);
            images.push(resample(g, Rect { x0: 0.0, y0: (h - bh) / 2.0, x1: w, y1: (h + bh) / 2.0 }));
        }
    }
    let picture = images.len();
    if h >= w {
        images.push(resample(g, Rect { x0: 0.0, y0: 0.0, x1: w, y1: h / 2.0 }));
        images.push(resample(g, Rect { x0: 0.0, y0: h / 2.0, x1: w, y1: h }));
    }
    if w >= h {
        images.push(resample(g, Rect { x0: 0.0, y0: 0.0, x1: w / 2.0, y1: h }));
        images.push(resample(g, Rect { x0: w / 2.0, y0: 0.0, x1: w, y1: h }));
    }
    for r in &layout.windows {
        images.push(resample(g, inner_picture(g, *r)));
    }
    let parts = images.len() - picture;
    FrameViews { images, parts }
}

/// The picture inside window `r` of `g`, its own black bars cut away.
fn inner_picture(g: &Gray, r: Rect) -> Rect {
    let (x1, y1) = ((r.x1 as usize).min(g.w), (r.y1 as usize).min(g.h));
    let (x0, y0) = ((r.x0 as usize).min(x1), (r.y0 as usize).min(y1));
    if x0 == x1 || y0 == y1 {
        return r;
    }
    let data = (y0..y1).flat_map(|y| g.data[y * g.w + x0..y * g.w + x1].iter().copied()).collect();
    let inner = content_rect(&Gray { w: x1 - x0, h: y1 - y0, data });
    Rect { x0: r.x0 + inner.x0, y0: r.y0 + inner.y0, x1: r.x0 + inner.x1, y1: r.y0 + inner.y1 }
}

/// Luma step, across two pixels, that counts as an edge of a window.
const PIP_EDGE: i16 = 14;
/// Share of each side of a window that must be edge.
const PIP_SIDE: f32 = 0.75;
/// The same for a window with all four sides inside the frame. A frame edge counts as a
/// side in full, so a window that uses one is easier to come by: over footage whose
/// contrast with the window is low along one side, it stretched to the frame's edge and
/// held background. 0.7 for every window matched a negative upload of seed 4; 0.65 for
/// these alone matched none in any set and found more windows over footage (seed 8).
const PIP_SIDE_INSIDE: f32 = 0.65;
/// Share of a side's prolongation past a corner that may be edge: a window's sides stop
/// at its corners, the lines of the footage around it (stripes, horizons) go on.
const PIP_PAST_CORNER: f32 = 0.5;
/// Lines away from a side's prolongation whose edge share tells texture from a line, and
/// the edge share by which a line must exceed theirs (`EdgeLines::past`).
const TEXTURE_DISTANCE: usize = 3;
const TEXTURE_MARGIN: f32 = 0.1;
/// Candidate lines kept per axis, the longest.
const PIP_LINES: usize = 40;
/// Window area, as a share of the frame: smaller is a sticker, larger the picture itself.
const PIP_AREA: (f32, f32) = (0.04, 0.75);

/// Edge positions along the lines of one axis, as prefix sums: `share(line, a, b)` is the
/// fraction of the positions `a..b` along line `line` that are edge.
struct EdgeLines {
    len: usize,
    cum: Vec<u32>,
}

impl EdgeLines {
    /// `edge(line, pos)` for `lines` lines of `len` positions.
    fn new(lines: usize, len: usize, edge: impl Fn(usize, usize) -> bool) -> Self {
        let mut cum = vec![0u32; lines * (len + 1)];
        for l in 0..lines {
            for p in 0..len {
                cum[l * (len + 1) + p + 1] = cum[l * (len + 1) + p] + edge(l, p) as u32;
            }
        }
        EdgeLines { len, cum }
    }
    fn share(&self, line: usize, a: usize, b: usize) -> f32 {
        let row = &self.cum[line * (self.len + 1)..];
        (row[b] - row[a]) as f32 / (b - a).max(1) as f32
    }
    /// Edge share of `line` just past `a` and just past `b` (a quarter of `b - a` each
    /// way, where the frame leaves at least 4 pixels): the smaller, then the larger; and
    /// the same counting as 0 a prolongation that does not stand out as a line, by
    /// `TEXTURE_MARGIN`, from each line `TEXTURE_DISTANCE` away that is not a frame edge.
    /// Texture (leaves, grass, water) makes edges on every line alike; a line of the
    /// footage stands out. (Against the busier neighbour: over noise, prolongations a
    /// quarter of a side long beat the quieter one by chance; a stripe as wide as
    /// `TEXTURE_DISTANCE` is taken for texture.)
    fn past(&self, line: usize, a: usize, b: usize) -> ((f32, f32), (f32, f32)) {
        let reach = ((b - a) / 4).max(4);
        let lines = self.cum.len() / (self.len + 1);
        let around = [line.checked_sub(TEXTURE_DISTANCE), Some(line + TEXTURE_DISTANCE)]
            .map(|l| l.filter(|l| (1..lines - 1).contains(l)));
        // (edge share, the same as a line) of one prolongation.
        let share = |lo: usize, hi: usize| {
            let own = self.share(line, lo, hi);
            let texture = around.iter().flatten().map(|&l| self.share(l, lo, hi)).fold(0.0, f32::max);
            (own, if own - texture < TEXTURE_MARGIN { 0.0 } else { own })
        };
        let before = if a >= 4 { share(a.saturating_sub(reach), a) } else { (0.0, 0.0) };
        let after = if self.len - b >= 4 { share(b, (b + reach).min(self.len)) } else { (0.0, 0.0) };
        let order = |x: f32, y: f32| (x.min(y), x.max(y));
        (order(before.0, after.0), order(before.1, after.1))
    }
    /// The lines, other than the frame's own edges `0` and `lines - 1`, with at least
    /// `min` edge positions that are local maxima, the `PIP_LINES` longest.
    fn candidates(&self, lines: usize, min: u32) -> Vec<usize> {
        let count = |l: usize| self.cum[l * (self.len + 1) + self.len];
        let mut c: Vec<usize> = (1..lines - 1)
            .filter(|&l| count(l) >= min && count(l) >= count(l - 1) && count(l) >= count(l + 1))
            .collect();
        c.sort_by_key(|&l| std::cmp::Reverse(count(l)));
        c.truncate(PIP_LINES);
        c
    }
}

/// The picture-in-picture windows of a frame: rectangles whose four sides are edges (the
/// frame's own edges count), with at least one side inside the frame each way (a window
/// spanning the frame is a half, searched as such). A window's sides stop at its corners,
/// where the lines of the footage around it (stripes, horizons) go on; but one side of a
/// window over footage often meets a line of that footage end to end. Windows with one
/// side that goes on past one of its corners are kept apart (`continued`): let into the
/// ranking of the others, they pushed out the picture band of an ultra-wide film on a
/// blurred portrait canvas (seed 3) and windows over a test pattern (seed 5). Over
/// texture (leaves, grass) every side's prolongation is mostly edge: a window there is
/// kept, apart again (`textured`), when at most one side goes on as a line that stands
/// out of the texture, and every side is edge for `PIP_SIDE` of its length. Let into the
/// ranking of the others, such windows also pushed out windows that held a rotated or
/// ultra-wide picture (seeds 5, 9 and 11).
pub struct Windows {
    found: Vec<Window>,
}

/// One window of `Windows`.
struct Window {
    rect: Rect,
    /// Sides inside the frame, and the least edge share of a side: the ranking.
    inside: usize,
    share: f32,
    kind: Kind,
}

/// How a window's sides end past its corners; each kind is listed apart (`Windows`).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Every side stops.
    Stopped,
    /// One side goes on past a corner.
    Continued,
    /// Found only as texture goes on past its corners, whether or not a side goes on as
    /// a line.
    Textured,
}

/// One side of a candidate window (`Windows::of`).
#[derive(Clone, Copy)]
struct Side {
    /// Share of the side that is edge.
    share: f32,
    /// Whether it goes on past one of its corners: as edge, and as a line that stands
    /// out of the texture around it.
    goes_on: bool,
    goes_on_as_line: bool,
    /// Whether it goes on past both corners as edge (so only as texture, since it is a
    /// side: not as a line).
    textured: bool,
}

impl Windows {
    pub fn of(g: &Gray) -> Self {
        let (w, h) = (g.w, g.h);
        let mut found = Vec::new();
        if w < 4 * MIN_SIDE || h < 4 * MIN_SIDE {
            return Windows { found };
        }
        let px = |x: usize, y: usize| g.data[y * w + x] as i16;
        // Line y of `rows` compares pixel rows y - 1 and y + 1, so a sharp boundary between
        // rows y - 1 and y fires on lines y - 1 and y; lines 0 and h are the frame's edges
        // (line h - 1 never fires). Likewise for `cols`.
        let rows = EdgeLines::new(h + 1, w, |y, x| {
            y == 0 || y == h || (y < h - 1 && (px(x, y + 1) - px(x, y - 1)).abs() >= PIP_EDGE)
        });
        let cols = EdgeLines::new(w + 1, h, |x, y| {
            x == 0 || x == w || (x < w - 1 && (px(x + 1, y) - px(x - 1, y)).abs() >= PIP_EDGE)
        });
        // Windows are at least a sixth of the frame's short side each way: on a portrait
        // canvas a landscape window is much lower than a sixth of the frame's height.
        let side = w.min(h) / 6;
        let mut ys = rows.candidates(h + 1, side as u32);
        let mut xs = cols.candidates(w + 1, side as u32);
        ys.extend([0, h]);
        xs.extend([0, w]);
        ys.sort_unstable();
        xs.sort_unstable();
        let frame = (w * h) as f32;
        // A side between `a` and `b` on line `l` of `lines` (`end`: the frame's far edge),
        // if its edge share is enough and it does not go on past both corners as a line
        // (nothing goes on past the frame's own edges).
        let side_at = |lines: &EdgeLines, l: usize, end: usize, a: usize, b: usize| {
            let (edge, line) = if l == 0 || l == end { ((0.0, 0.0), (0.0, 0.0)) } else { lines.past(l, a, b) };
            let share = lines.share(l, a, b);
            (share >= PIP_SIDE_INSIDE && line.0 < PIP_PAST_CORNER).then_some(Side {
                share,
                goes_on: edge.1 >= PIP_PAST_CORNER,
                goes_on_as_line: line.1 >= PIP_PAST_CORNER,
                textured: edge.0 >= PIP_PAST_CORNER,
            })
        };
        for (i, &y0) in ys.iter().enumerate() {
            for &y1 in &ys[i + 1..] {
                if y1 - y0 < side || (y0 == 0 && y1 == h) {
                    continue;
                }
                // Columns that can be a side between y0 and y1.
                let sides: Vec<(usize, Side)> =
                    xs.iter().filter_map(|&x| side_at(&cols, x, w, y0, y1).map(|s| (x, s))).collect();
                for (j, &(x0, left)) in sides.iter().enumerate() {
                    for &(x1, right) in &sides[j + 1..] {
                        let area = ((x1 - x0) * (y1 - y0)) as f32 / frame;
                        if x1 - x0 < side || (x0 == 0 && x1 == w) || area < PIP_AREA.0 || area > PIP_AREA.1 {
                            continue;
                        }
                        let (Some(top), Some(bottom)) = (side_at(&rows, y0, h, x0, x1), side_at(&rows, y1, h, x0, x1))
                        else {
                            continue;
                        };
                        let all = [left, right, top, bottom];
                        let going = all.iter().filter(|s| s.goes_on).count();
                        // Texture goes on past a side's both corners, or past more than one
                        // side: then only lines that stand out of it count as going on.
                        let textured = going > 1 || all.iter().any(|s| s.textured);
                        let going = if textured { all.iter().filter(|s| s.goes_on_as_line).count() } else { going };
                        let inside = [y0 > 0, y1 < h, x0 > 0, x1 < w].iter().filter(|&&b| b).count();
                        let share = all.iter().map(|s| s.share).fold(f32::MAX, f32::min);
                        // A window over texture needs every side's full edge share: texture
                        // makes rectangles of its own.
                        if going > 1 || (share < PIP_SIDE && (inside < 4 || textured)) {
                            continue;
                        }
                        let r = Rect { x0: x0 as f32, y0: y0 as f32, x1: x1 as f32, y1: y1 as f32 };
                        let kind = match (textured, going) {
                            (true, _) => Kind::Textured,
                            (false, 1) => Kind::Continued,
                            (false, _) => Kind::Stopped,
                        };
                        found.push(Window { rect: r, inside, share, kind });
                    }
                }
            }
        }
        // Likeliest first: the most sides inside the frame, then the most edge.
        found.sort_by(|a, b| b.inside.cmp(&a.inside).then(b.share.total_cmp(&a.share)));
        Windows { found }
    }

    /// Up to `n` of the windows whose sides all stop at their corners, apart, best first.
    pub fn stopped(&self, n: usize) -> Vec<Rect> {
        self.of_kind(Kind::Stopped, n)
    }

    /// Up to `n` of the windows with one side that goes on past a corner.
    pub fn continued(&self, n: usize) -> Vec<Rect> {
        self.of_kind(Kind::Continued, n)
    }

    /// Up to `n` of the windows found only as texture goes on past their corners.
    pub fn textured(&self, n: usize) -> Vec<Rect> {
        self.of_kind(Kind::Textured, n)
    }

    fn of_kind(&self, kind: Kind, n: usize) -> Vec<Rect> {
        apart(self.found.iter().filter(|f| f.kind == kind).map(|f| f.rect), n)
    }
}

/// Intersection over union of two rectangles.
fn overlap(a: &Rect, b: &Rect) -> f32 {
    let iw = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let ih = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = iw * ih;
    inter / (a.width() * a.height() + b.width() * b.height() - inter)
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
    fn paste(content: &Gray, w: usize, h: usize, x: usize, y: usize, fill: impl Fn(usize, usize) -> u8) -> Gray {
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
        let g = paste(&c, 144, 256, 0, 87, |_, _| 0);
        let r = content_rect(&g);
        assert!((r.y0 - 87.0).abs() <= 2.0 && (r.y1 - 168.0).abs() <= 2.0, "{r:?}");
        assert!(r.x0 <= 1.0 && r.x1 >= 143.0, "{r:?}");
    }

    #[test]
    fn finds_a_very_wide_picture_on_a_portrait_canvas() {
        // A 4.3:1 film fills a 9:16 canvas's width as a band an eighth of its height.
        let c = textured(144, 34, 4);
        let g = paste(&c, 144, 256, 0, 111, |_, y| 60 + (y / 8) as u8);
        let r = content_rect(&g);
        assert!((r.y0 - 111.0).abs() <= 2.0 && (r.y1 - 145.0).abs() <= 2.0, "{r:?}");
    }

    #[test]
    fn query_views_add_bands_on_portrait_frames_and_halves_along_long_sides() {
        let count = |g: &Gray, windows: usize| {
            let window = Rect { x0: 10.0, y0: 10.0, x1: 50.0, y1: 40.0 };
            let v = query_views(g, &Layout { content: Rect::full(g), windows: vec![window; windows] });
            (v.images.len() - v.parts, v.parts)
        };
        assert_eq!(count(&textured(144, 256, 5), 0), (1 + BAND_ASPECTS.len(), 2));
        assert_eq!(count(&textured(256, 144, 6), 0), (1, 2));
        assert_eq!(count(&textured(144, 144, 7), 0), (1, 4));
        assert_eq!(count(&textured(256, 144, 6), 2), (1, 4));
        // Textured all over: no window stands out.
        assert!(Windows::of(&textured(256, 144, 6)).stopped(2).is_empty());
    }

    #[test]
    fn query_views_of_tiny_frames() {
        for (w, h) in [(1, 1), (1, 2), (2, 1), (3, 17), (17, 3)] {
            let g = textured(w, h, 8);
            let views = query_views(&g, &Layout { content: content_rect(&g), windows: Windows::of(&g).stopped(2) });
            assert!(views.images.len() > views.parts, "{w}x{h}");
        }
    }

    /// A 100x56 picture of smooth vertical waves: footage as downscaled pictures mostly
    /// are, with no edge of its own.
    fn waves() -> Gray {
        let data = (0..100 * 56).map(|i| (128.0 + 40.0 * ((i % 100) as f32 / 9.0).sin()) as u8);
        Gray { w: 100, h: 56, data: data.collect() }
    }

    /// Vertical stripes over the whole frame, as test patterns and fences draw them.
    fn striped(w: usize, h: usize) -> Gray {
        Gray { w, h, data: (0..w * h).map(|i| if ((i % w) / 24).is_multiple_of(2) { 40 } else { 200 }).collect() }
    }

    #[test]
    fn finds_a_picture_in_picture_window_over_stripes() {
        // Smooth footage, as a downscaled picture mostly is.
        let data =
            (0..100 * 56).map(|i| (128.0 + 40.0 * ((i % 100) as f32 / 9.0 + (i / 100) as f32 / 13.0).sin()) as u8);
        let clip = Gray { w: 100, h: 56, data: data.collect() };
        let g = paste(&clip, 256, 144, 130, 30, |x, y| striped(256, 144).at(x, y));
        let found = Windows::of(&g).stopped(2);
        let want = Rect { x0: 130.0, y0: 30.0, x1: 230.0, y1: 86.0 };
        assert!(
            found.first().is_some_and(|r| overlap(r, &want) > 0.9),
            "{found:?}: the stripes' own rectangles ranked above the window"
        );
    }

    #[test]
    fn a_window_inside_the_frame_may_have_a_weaker_side() {
        // A third of the window's left edge blends into the background.
        let mut clip = waves();
        (0..18).for_each(|y| clip.data[y * 100..y * 100 + 3].fill(60));
        let inside = paste(&clip, 256, 144, 100, 40, |_, _| 60);
        let want = Rect { x0: 100.0, y0: 40.0, x1: 200.0, y1: 96.0 };
        let found = Windows::of(&inside).stopped(1);
        assert!(found.first().is_some_and(|r| overlap(r, &want) > 0.9), "{found:?}");
        // Against the frame's top edge, the same window needs its sides whole.
        let at_top = paste(&clip, 256, 144, 100, 0, |_, _| 60);
        let want = Rect { x0: 100.0, y0: 0.0, x1: 200.0, y1: 56.0 };
        let found = Windows::of(&at_top).stopped(1);
        assert!(found.iter().all(|r| overlap(r, &want) < 0.9), "{found:?}");
    }

    /// The windows searched in frame `g` when it is the only frame.
    fn searched_alone(g: Gray) -> Vec<Rect> {
        let mut windows = Vec::new();
        let mut t = BorderTracker::new(1, 2);
        t.push(0.0, g, &mut |_, _, l| windows.push(l.windows));
        t.finish(&mut |_, _, l| windows.push(l.windows));
        let windows = windows.remove(0);
        eprintln!("searched: {windows:?}");
        windows
    }

    #[test]
    fn a_window_over_texture_is_searched_in_a_slot_of_its_own() {
        // Around the window, texture (leaves, grass: here bright noise) makes edges on
        // most of every line, the prolongations of the window's sides too; no line of it
        // stands out from its neighbours.
        let noise = |x: usize, y: usize| {
            let mut z = ((y * 256 + x) as u64).wrapping_add(0x9e3779b97f4a7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            (170 + (z >> 58)) as u8
        };
        let g = paste(&waves(), 256, 144, 100, 40, noise);
        let want = Rect { x0: 100.0, y0: 40.0, x1: 200.0, y1: 96.0 };
        let found = Windows::of(&g);
        let others: Vec<Rect> = found.stopped(2).into_iter().chain(found.continued(2)).collect();
        assert!(others.iter().all(|r| overlap(r, &want) < 0.9), "{others:?}");
        let textured = found.textured(1);
        assert!(textured.first().is_some_and(|r| overlap(r, &want) > 0.9), "{textured:?}");
        assert!(searched_alone(g).iter().any(|r| overlap(r, &want) > 0.9));
    }

    #[test]
    fn a_window_whose_side_goes_on_as_a_line_of_the_footage_is_still_searched() {
        // Left of the window, a bright band of the footage starts on the row where the
        // window ends: its bottom side goes on past its bottom-left corner.
        let g = paste(&waves(), 256, 144, 100, 40, |x, y| if x < 100 && (96..100).contains(&y) { 200 } else { 60 });
        let want = Rect { x0: 100.0, y0: 40.0, x1: 200.0, y1: 96.0 };
        let stopped = Windows::of(&g).stopped(2);
        assert!(stopped.iter().all(|r| overlap(r, &want) < 0.9), "{stopped:?}");
        let continued = Windows::of(&g).continued(1);
        assert!(continued.first().is_some_and(|r| overlap(r, &want) > 0.9), "{continued:?}");
        assert!(searched_alone(g).iter().any(|r| overlap(r, &want) > 0.9));
    }

    #[test]
    fn tracker_gives_a_frame_the_window_its_neighbours_found() {
        let clip = waves();
        let with = paste(&clip, 256, 144, 130, 30, |x, y| striped(256, 144).at(x, y));
        // The middle frame's window shows what lies behind it: no edge gives it away.
        let frames = [with.clone(), with.clone(), striped(256, 144), with.clone(), with.clone()];
        let mut got = Vec::new();
        let mut t = BorderTracker::new(1, 2);
        for (i, g) in frames.into_iter().enumerate() {
            t.push(i as f64, g, &mut |_, _, l| got.push(l.windows));
        }
        t.finish(&mut |_, _, l| got.push(l.windows));
        let want = Rect { x0: 130.0, y0: 30.0, x1: 230.0, y1: 86.0 };
        assert_eq!(got.len(), 5);
        for (i, w) in got.iter().enumerate() {
            assert!(w.first().is_some_and(|r| overlap(r, &want) > 0.9), "frame {i}: {w:?}");
        }
        assert!(Windows::of(&striped(256, 144)).stopped(2).is_empty());
        // The catalogue's tracker looks for none.
        let mut none = BorderTracker::new(1, 0);
        let mut windows = Vec::new();
        none.push(0.0, with, &mut |_, _, l| windows.push(l.windows));
        none.finish(&mut |_, _, l| windows.push(l.windows));
        assert_eq!(windows, [Vec::<Rect>::new()]);
    }

    #[test]
    fn a_frame_of_another_size_gets_no_window_of_its_neighbours() {
        // A stream that switches from 1080 to 1088 coded lines: one row more, the same
        // half-resolution profiles. A window at the bottom of the taller frames lies
        // outside the shorter one.
        let clip = waves();
        let tall = paste(&clip, 256, 145, 130, 89, |x, y| striped(256, 145).at(x, y));
        let mut got = Vec::new();
        let mut t = BorderTracker::new(1, 2);
        for g in [tall.clone(), tall, striped(256, 144)] {
            t.push(0.0, g, &mut |_, g, l| got.push((g.h, l.windows)));
        }
        t.finish(&mut |_, g, l| got.push((g.h, l.windows)));
        assert_eq!(got.len(), 3);
        assert!(got[0].1.first().is_some_and(|r| r.y1 == 145.0), "{got:?}");
        assert_eq!(got[2], (144, Vec::new()));
    }

    #[test]
    fn finds_picture_on_smooth_background() {
        let c = textured(144, 81, 2);
        // A slow gradient stands in for the blurred copy behind a 9:16 reframe.
        let g = paste(&c, 144, 256, 0, 87, |x, y| (40 + (x + y) / 8) as u8);
        let r = content_rect(&g);
        assert!((r.y0 - 87.0).abs() <= 2.0 && (r.y1 - 168.0).abs() <= 2.0, "{r:?}");
    }

    #[test]
    fn finds_pillar_box() {
        let c = textured(120, 144, 3);
        let g = paste(&c, 256, 144, 68, 0, |_, _| 16);
        let r = content_rect(&g);
        assert!((r.x0 - 68.0).abs() <= 2.0 && (r.x1 - 188.0).abs() <= 2.0, "{r:?}");
    }

    #[test]
    fn uneven_margins_are_evened_out_to_the_smaller() {
        // Picture whose left part is flat: the left margin reads wider than the right.
        let mut c = textured(160, 144, 6);
        for y in 0..144 {
            for x in 0..60 {
                c.data[y * 160 + x] = 90;
            }
        }
        let g = paste(&c, 256, 144, 48, 0, |_, _| 0);
        let r = content_rect(&g);
        assert!((r.x0 - 48.0).abs() <= 2.0 && (r.x1 - 208.0).abs() <= 2.0, "{r:?}");
    }

    #[test]
    fn tracker_gives_a_flat_frame_its_neighbours_borders() {
        let busy = paste(&textured(144, 81, 7), 144, 256, 0, 87, |_, _| 0);
        let flat = paste(&Gray { w: 144, h: 81, data: vec![60; 144 * 81] }, 144, 256, 0, 87, |_, _| 0);
        let mut got = Vec::new();
        let mut t = BorderTracker::new(2, 0);
        for (i, g) in [busy.clone(), busy.clone(), flat, busy.clone(), busy].into_iter().enumerate() {
            t.push(i as f64, g, &mut |t, _, l| got.push((t, l.content)));
        }
        t.finish(&mut |t, _, l| got.push((t, l.content)));
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0.0, 1.0, 2.0, 3.0, 4.0]);
        for (_, r) in &got {
            assert!((r.y0 - 87.0).abs() <= 2.0 && (r.y1 - 168.0).abs() <= 2.0, "{r:?}");
        }
    }

    #[test]
    fn plain_frame_is_all_content() {
        let g = textured(200, 100, 4);
        assert_eq!(content_rect(&g), Rect::full(&g));
    }

    #[test]
    fn resample_of_constant_is_constant() {
        let g = Gray { w: 50, h: 20, data: vec![99; 1000] };
        let img = resample(&g, Rect { x0: 3.5, y0: 1.0, x1: 47.0, y1: 19.5 });
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

//! Where the picture is inside a frame: black bars, blurred backgrounds and pillar boxes
//! cut away, over time (`BorderTracker`), with the picture-in-picture windows of
//! `windows` voted on by neighbouring frames.

use crate::frame::config::{BorderConfig, LayoutConfig};
use crate::frame::gray::{Gray, Rect, overlap};
use crate::frame::windows::{Windows, apart, unframed};

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
/// `bridge_share` bridged) with the most activity, made symmetric. Black bars have none,
/// blurred backgrounds little; a caption or sticker over them forms a separate, weaker
/// run. Falls back to the whole span when the run is implausibly small (under
/// `min_span_share`).
fn active_span(a: &[f32], c: &BorderConfig) -> (usize, usize) {
    let n = a.len();
    let mut sorted = a.to_vec();
    sorted.sort_by(f32::total_cmp);
    let threshold = (c.active_share * sorted[(n * c.active_percentile / 100).min(n - 1)]).max(c.min_activity);
    let bridge = (n as f32 * c.bridge_share) as usize;
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
    if best.1 - best.0 < (n as f32 * c.min_span_share) as usize {
        return (0, n);
    }
    // Uploads centre the picture on their canvas. A flat stretch of picture at one edge
    // reads as border, so the margins are evened out to the smaller of the two.
    let margin = best.0.min(n - best.1);
    (margin, n - margin)
}

/// Where the picture is, from activity profiles (at half resolution) of a frame or of
/// several frames combined.
fn rect_from(g: &Gray, rows: &[f32], cols: &[f32], c: &BorderConfig) -> Rect {
    let (y0, y1) = active_span(rows, c);
    let (x0, x1) = active_span(cols, c);
    let sx = g.w as f32 / cols.len() as f32;
    let sy = g.h as f32 / rows.len() as f32;
    Rect { x0: x0 as f32 * sx, y0: y0 as f32 * sy, x1: x1 as f32 * sx, y1: y1 as f32 * sy }
}

/// Where the picture is inside one frame: black bars, blurred 9:16 backgrounds and
/// pillar boxes are cut away.
pub fn content_rect(g: &Gray, c: &BorderConfig) -> Rect {
    if g.w < c.min_side || g.h < c.min_side {
        return Rect::full(g);
    }
    let (rows, cols) = activity(g);
    rect_from(g, &rows, &cols, c)
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
    config: LayoutConfig,
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

impl BorderTracker {
    /// `half`: neighbours on each side that share their activity; `pip_half`: neighbours
    /// on each side that vote on picture-in-picture windows (0: none are looked for).
    pub fn new(half: usize, pip_half: usize, config: &LayoutConfig) -> Self {
        BorderTracker { half, pip_half, next: 0, window: Default::default(), config: config.clone() }
    }

    fn reach(&self) -> usize {
        self.half.max(self.pip_half)
    }

    pub fn push(&mut self, t: f64, g: Gray, out: &mut dyn FnMut(f64, Gray, Layout)) {
        let small = g.w < self.config.borders.min_side || g.h < self.config.borders.min_side;
        let (rows, cols) = if small { (Vec::new(), Vec::new()) } else { activity(&g) };
        // A change of frame size starts a new window: neighbours' profiles and windows
        // are in another frame's pixels.
        let size = (g.w, g.h);
        if self.window.back().is_some_and(|b| b.size != size) {
            self.finish(out);
        }
        let (windows, continued, textured) = if self.pip_half > 0 {
            let (c, n) = (&self.config.windows, self.config.windows.proposals);
            let found = Windows::of(&g, c, self.config.borders.min_side);
            (found.stopped(n, c), found.continued(n, c), found.textured(n, c))
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
        let c = &self.config.windows;
        let own = &self.window[i];
        let mut windows = vote(&own.windows, near.clone().map(|k| k.windows.as_slice()), c.stopped, c);
        let continued = vote(&own.continued, near.clone().map(|k| k.continued.as_slice()), c.continued, c);
        let textured = vote(&own.textured, near.map(|k| k.textured.as_slice()), c.textured, c);
        windows = apart(windows.into_iter().chain(continued), c.stopped + c.continued, c);
        // A window over texture is searched even where it overlaps one of the others by
        // half: over leaves, the rectangle that takes the frame's edge for the window's
        // far side passes the other tests and the window itself does not.
        let textured: Vec<Rect> =
            textured.into_iter().filter(|t| windows.iter().all(|w| overlap(w, t) < c.textured_overlap)).collect();
        windows.extend(textured);
        let e = &mut self.window[i];
        let g = e.frame.take().expect("each frame is emitted once");
        let windows = windows.into_iter().map(|w| unframed(&g, w, c)).collect();
        let content = if rows.is_empty() { Rect::full(&g) } else { rect_from(&g, &rows, &cols, &self.config.borders) };
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
/// window when one of its own overlaps it by `same_overlap`); ties go to the frame's
/// `own` proposals, best first. There is no quorum: a window one frame alone found still
/// fills a free slot (requiring 3 frames lost seed 3's and seed 5's gains from the
/// windows).
fn vote<'a>(
    own: &'a [Rect],
    frames: impl Iterator<Item = &'a [Rect]> + Clone,
    n: usize,
    c: &crate::frame::config::WindowConfig,
) -> Vec<Rect> {
    let support = |w: &Rect| frames.clone().filter(|f| f.iter().any(|o| overlap(o, w) >= c.same_overlap)).count();
    // `own` is listed first for the ties; its second listing, among `frames`, is a
    // duplicate that `apart` drops.
    let mut ranked: Vec<(usize, Rect)> = own.iter().chain(frames.clone().flatten()).map(|w| (support(w), *w)).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    apart(ranked.into_iter().map(|r| r.1), n, c)
}

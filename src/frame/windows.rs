//! Picture-in-picture windows: rectangles of a frame whose sides are edges.

use crate::frame::config::WindowConfig;
use crate::frame::gray::{Gray, Rect, overlap};

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
    /// Edge share of `line` just past `a` and just past `b` (`b - a` over
    /// `reach_divisor` each way, at least `min_reach` pixels, where the frame leaves that
    /// many): the smaller, then the larger; and
    /// the same counting as 0 a prolongation that does not stand out as a line, by
    /// `texture_margin`, from each line `texture_distance` away that is not a frame edge.
    /// Texture (leaves, grass, water) makes edges on every line alike; a line of the
    /// footage stands out. (Against the busier neighbour: over noise, prolongations a
    /// quarter of a side long beat the quieter one by chance; a stripe as wide as
    /// `texture_distance` is taken for texture.)
    fn past(&self, line: usize, a: usize, b: usize, c: &WindowConfig) -> ((f32, f32), (f32, f32)) {
        let reach = ((b - a) / c.reach_divisor).max(c.min_reach);
        let lines = self.cum.len() / (self.len + 1);
        let around = [line.checked_sub(c.texture_distance), Some(line + c.texture_distance)]
            .map(|l| l.filter(|l| (1..lines - 1).contains(l)));
        // (edge share, the same as a line) of one prolongation.
        let share = |lo: usize, hi: usize| {
            let own = self.share(line, lo, hi);
            let texture = around.iter().flatten().map(|&l| self.share(l, lo, hi)).fold(0.0, f32::max);
            (own, if own - texture < c.texture_margin { 0.0 } else { own })
        };
        let before = if a >= c.min_reach { share(a.saturating_sub(reach), a) } else { (0.0, 0.0) };
        let after = if self.len - b >= c.min_reach { share(b, (b + reach).min(self.len)) } else { (0.0, 0.0) };
        let order = |x: f32, y: f32| (x.min(y), x.max(y));
        (order(before.0, after.0), order(before.1, after.1))
    }
    /// The lines, other than the frame's own edges `0` and `lines - 1`, with at least
    /// `min` edge positions that are local maxima, the `lines` longest of the config.
    fn candidates(&self, lines: usize, min: u32, c: &WindowConfig) -> Vec<usize> {
        let count = |l: usize| self.cum[l * (self.len + 1) + self.len];
        let mut found: Vec<usize> = (1..lines - 1)
            .filter(|&l| count(l) >= min && count(l) >= count(l - 1) && count(l) >= count(l + 1))
            .collect();
        found.sort_by_key(|&l| std::cmp::Reverse(count(l)));
        found.truncate(c.lines);
        found
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
/// out of the texture, and every side is edge for `side_share` of its length. Let into the
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
    /// The windows of `g`; none on a frame under 4 x `min_side` either way.
    pub fn of(g: &Gray, c: &WindowConfig, min_side: usize) -> Self {
        let (w, h) = (g.w, g.h);
        let mut found = Vec::new();
        if w < 4 * min_side || h < 4 * min_side {
            return Windows { found };
        }
        let px = |x: usize, y: usize| g.data[y * w + x] as i16;
        // Line y of `rows` compares pixel rows y - 1 and y + 1, so a sharp boundary between
        // rows y - 1 and y fires on lines y - 1 and y; lines 0 and h are the frame's edges
        // (line h - 1 never fires). Likewise for `cols`.
        let rows = EdgeLines::new(h + 1, w, |y, x| {
            y == 0 || y == h || (y < h - 1 && (px(x, y + 1) - px(x, y - 1)).abs() >= c.edge_step)
        });
        let cols = EdgeLines::new(w + 1, h, |x, y| {
            x == 0 || x == w || (x < w - 1 && (px(x + 1, y) - px(x - 1, y)).abs() >= c.edge_step)
        });
        // Windows are at least a sixth of the frame's short side each way: on a portrait
        // canvas a landscape window is much lower than a sixth of the frame's height.
        let side = w.min(h) / c.min_side_divisor;
        let mut ys = rows.candidates(h + 1, side as u32, c);
        let mut xs = cols.candidates(w + 1, side as u32, c);
        ys.extend([0, h]);
        xs.extend([0, w]);
        ys.sort_unstable();
        xs.sort_unstable();
        let frame = (w * h) as f32;
        // A side between `a` and `b` on line `l` of `lines` (`end`: the frame's far edge),
        // if its edge share is enough and it does not go on past both corners as a line
        // (nothing goes on past the frame's own edges).
        let side_at = |lines: &EdgeLines, l: usize, end: usize, a: usize, b: usize| {
            let (edge, line) = if l == 0 || l == end { ((0.0, 0.0), (0.0, 0.0)) } else { lines.past(l, a, b, c) };
            let share = lines.share(l, a, b);
            (share >= c.side_share_inside && line.0 < c.past_corner_share).then_some(Side {
                share,
                goes_on: edge.1 >= c.past_corner_share,
                goes_on_as_line: line.1 >= c.past_corner_share,
                textured: edge.0 >= c.past_corner_share,
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
                        if x1 - x0 < side || (x0 == 0 && x1 == w) || area < c.min_area || area > c.max_area {
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
                        if going > 1 || (share < c.side_share && (inside < 4 || textured)) {
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
    pub fn stopped(&self, n: usize, c: &WindowConfig) -> Vec<Rect> {
        self.of_kind(Kind::Stopped, n, c)
    }

    /// Up to `n` of the windows with one side that goes on past a corner.
    pub fn continued(&self, n: usize, c: &WindowConfig) -> Vec<Rect> {
        self.of_kind(Kind::Continued, n, c)
    }

    /// Up to `n` of the windows found only as texture goes on past their corners.
    pub fn textured(&self, n: usize, c: &WindowConfig) -> Vec<Rect> {
        self.of_kind(Kind::Textured, n, c)
    }

    fn of_kind(&self, kind: Kind, n: usize, c: &WindowConfig) -> Vec<Rect> {
        apart(self.found.iter().filter(|f| f.kind == kind).map(|f| f.rect), n, c)
    }
}

/// The first `n` of `windows` that overlap none kept before them by `apart_overlap` or more.
pub fn apart(windows: impl Iterator<Item = Rect>, n: usize, c: &WindowConfig) -> Vec<Rect> {
    let mut out: Vec<Rect> = Vec::new();
    for w in windows {
        if out.len() == n {
            break;
        }
        if out.iter().all(|o| overlap(o, &w) < c.apart_overlap) {
            out.push(w);
        }
    }
    out
}

/// `r` less its own frame: along each side, a band of lines of one colour (each line
/// with `frame_flat_share` of its pixels within `frame_flat_step` of that colour), within
/// `frame_max_share` of the window's size, that a line of another colour follows (by
/// `frame_contrast`), where another side has a band of the same colour. Each band is cut
/// off with the line after it (the blend into the picture). A band may start up to two
/// lines in (the edge's own blend, or a side found a pixel out, on the footage around).
/// A border or a stroke goes around the picture and a letterbox takes two sides alike;
/// flat footage along one side (a sky, a wall) is picture. (Bands cut on one side alone
/// cost the hidden-family sets, whose windows hold footage without a border: hidden41
/// 0.705 -> 0.688.)
pub fn unframed(g: &Gray, r: Rect, c: &WindowConfig) -> Rect {
    let (x0, y0) = (r.x0.max(0.0) as usize, r.y0.max(0.0) as usize);
    let (x1, y1) = ((r.x1 as usize).min(g.w), (r.y1 as usize).min(g.h));
    if x1 <= x0 + 4 || y1 <= y0 + 4 {
        return r;
    }
    // A line's median, and whether `frame_flat_share` of it lies near `colour`.
    let median = |line: &mut Vec<u8>| {
        line.sort_unstable();
        line[line.len() / 2] as i16
    };
    let near = |line: &[u8], colour: i16| {
        let n = line.iter().filter(|&&p| (p as i16 - colour).abs() <= c.frame_flat_step).count();
        n as f32 >= c.frame_flat_share * line.len() as f32
    };
    // The band within lines `0..reach` in from one side: its colour and the lines to cut.
    // Within the first three lines a band of another colour may take over one a line
    // wide (the window's side a pixel out, on flat footage, or the edge's blend). The
    // line after the band must differ from it by `frame_contrast`: dark footage is flat
    // too, but goes on in its own colour.
    let band = |reach: usize, line: &dyn Fn(usize) -> Vec<u8>| {
        let mut band: Option<(i16, usize, usize)> = None;
        for k in 0..reach {
            let mut line = line(k);
            let own = median(&mut line);
            match band {
                Some((colour, first, _)) if near(&line, colour) => band = Some((colour, first, k)),
                _ if k <= 2 && band.is_none_or(|b| b.1 == b.2) && near(&line, own) => band = Some((own, k, k)),
                Some((colour, _, last)) => {
                    return ((own - colour).abs() >= c.frame_contrast).then_some((colour, last + 2));
                }
                None if k >= 2 => return None,
                None => {}
            }
        }
        None
    };
    let row = |y: usize| (x0..x1).map(|x| g.at(x, y)).collect();
    let col = |x: usize| (y0..y1).map(|y| g.at(x, y)).collect();
    let reach = |len: usize| (len as f32 * c.frame_max_share) as usize;
    let (ry, rx) = (reach(y1 - y0), reach(x1 - x0));
    let bands = [
        band(ry, &|k| row(y0 + k)),
        band(ry, &|k| row(y1 - 1 - k)),
        band(rx, &|k| col(x0 + k)),
        band(rx, &|k| col(x1 - 1 - k)),
    ];
    // A side's band is cut where another side has a band of its colour.
    let cut = |i: usize| match bands[i] {
        Some((colour, lines))
            if bands
                .iter()
                .enumerate()
                .any(|(j, b)| j != i && b.is_some_and(|b| (b.0 - colour).abs() <= c.frame_flat_step)) =>
        {
            lines as f32
        }
        _ => 0.0,
    };
    let (top, bottom, left, right) = (cut(0), cut(1), cut(2), cut(3));
    Rect { x0: r.x0 + left, y0: r.y0 + top, x1: r.x1 - right, y1: r.y1 - bottom }
}

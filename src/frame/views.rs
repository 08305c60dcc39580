//! The 32x32 images a frame yields: every stored view of a catalogue frame, and the
//! picture's views and the parts of an upload frame.

use crate::frame::borders::{Layout, content_rect};
use crate::frame::config::{BorderConfig, LayoutConfig};
use crate::frame::gray::{Gray, Rect, resample};
use crate::kernels::descriptor::PackedImage;

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

/// The crops a catalogue frame can store: the whole picture, 80% of it at nine
/// positions, and the centred square a square canvas keeps of a wide picture (whole and
/// 80%). Uploads reframe and crop the picture; a crop cannot be undone on the upload
/// side, so the catalogue holds the likely ones. A catalogue stores the first
/// `decode.catalogue_views` of them: they are in the order of what each adds to frame
/// recall, the last dropped first (`scripts/catalogue_views.py`), the whole picture
/// first, as alignment takes a frame's first view for its whole picture.
const VIEWS: [View; 12] = [
    View { scale: 1.0, px: 0.5, py: 0.5, square: false },
    View { scale: 1.0, px: 0.5, py: 0.5, square: true },
    View { scale: 0.8, px: 0.5, py: 0.5, square: false },
    View { scale: 0.8, px: 0.0, py: 0.5, square: false },
    View { scale: 0.8, px: 0.5, py: 0.0, square: false },
    View { scale: 0.8, px: 0.5, py: 1.0, square: false },
    View { scale: 0.8, px: 1.0, py: 0.5, square: false },
    View { scale: 0.8, px: 0.0, py: 0.0, square: false },
    View { scale: 0.8, px: 1.0, py: 1.0, square: false },
    View { scale: 0.8, px: 1.0, py: 0.0, square: false },
    View { scale: 0.8, px: 0.0, py: 1.0, square: false },
    View { scale: 0.8, px: 0.5, py: 0.5, square: true },
];

/// Most views a catalogue frame can store, strips apart.
pub const CATALOGUE_VIEWS: usize = VIEWS.len();

/// A crop of a catalogue frame at another shape than its picture's (`shape_rect`).
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// Width over height.
    aspect: f32,
    /// The crop keeps the picture's full height (its positions spread across the width),
    /// else its full width (spread down the height).
    full_height: bool,
}

/// A strip: the 9:16 canvas of short-video apps, which a landscape picture fills by
/// keeping a third of its width, panning across it.
const STRIP: Shape = Shape { aspect: 9.0 / 16.0, full_height: true };

/// A band: half of a 16:9 canvas, which a landscape picture stacked with other footage
/// fills by keeping the middle half of its height.
const BAND: Shape = Shape { aspect: 32.0 / 9.0, full_height: false };

/// A half: half of a 9:16 canvas, which a landscape picture stacked with other footage
/// fills by keeping the middle of its width.
const HALF: Shape = Shape { aspect: 9.0 / 8.0, full_height: true };

/// The crops of other shapes than the picture's that a catalogue frame stores after its
/// views, searched only by upload parts that can only show such a crop
/// (`FrameViews::strip_parts`): `portrait` strips, then `bands`, then `halves`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Strips {
    pub portrait: usize,
    pub bands: usize,
    pub halves: usize,
}

impl Strips {
    /// Descriptors stored per frame.
    pub fn count(self) -> usize {
        self.portrait + self.bands + self.halves
    }
}

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

/// The 32x32 images of the first `views` catalogue views of a frame whose picture is
/// `content`, then of its strips, bands and halves (`shape_rect`).
pub fn catalogue_views(g: &Gray, content: Rect, views: usize, strips: Strips) -> Vec<PackedImage> {
    let views = VIEWS.iter().take(views).map(|&v| view_rect(content, v));
    let shapes = [(STRIP, strips.portrait), (BAND, strips.bands), (HALF, strips.halves)];
    let shaped = shapes.into_iter().flat_map(|(shape, n)| (0..n).map(move |i| shape_rect(content, shape, i, n)));
    views.chain(shaped).map(|r| resample(g, r)).collect()
}

/// Crop `i` of `n` of the picture `c` at `shape`: its full height (or width), as wide
/// (or high) as the shape's aspect allows within the picture, positions spread evenly
/// from one edge to the other (the middle where there is one).
///
/// A portrait upload that fills its canvas with a landscape picture shows a strip (9:16)
/// of it, one that stacks it with other footage a half (9:8, the middle of its width);
/// a landscape upload that stacks it shows a band (32:9, the middle half of its rows).
/// None of the whole picture's views resembles them; they are searched only by the upload
/// parts that can show nothing else.
fn shape_rect(c: Rect, shape: Shape, i: usize, n: usize) -> Rect {
    let at = if n > 1 { i as f32 / (n - 1) as f32 } else { 0.5 };
    if shape.full_height {
        let w = c.width().min(c.height() * shape.aspect);
        let x0 = c.x0 + (c.width() - w) * at;
        Rect { x0, y0: c.y0, x1: x0 + w, y1: c.y1 }
    } else {
        let h = c.height().min(c.width() / shape.aspect);
        let y0 = c.y0 + (c.height() - h) * at;
        Rect { x0: c.x0, y0, x1: c.x1, y1: y0 + h }
    }
}

/// The 32x32 images of one frame, in two groups aligned apart: the whole picture's views
/// first, then `parts` views of a part of the frame (uploads only). Merged into one list,
/// a part holding unrelated footage crowds the picture's true neighbours out.
pub struct FrameViews {
    pub images: Vec<PackedImage>,
    /// How many images, at the end of `images`, show a part of the frame.
    pub parts: usize,
    /// How many of the parts, at the end, search the catalogue's strips instead of its
    /// views (uploads only): the top and bottom halves of a frame that is not square,
    /// which can only show a band of a landscape picture (a landscape frame) or the
    /// middle of its width (a portrait one), where the catalogue stores such crops, and
    /// a portrait picture (the first image again, last), which can only show a strip.
    pub strip_parts: usize,
}

/// The views of an upload frame. The picture's: its detected picture and, on a portrait
/// frame, full-width bands of common aspect ratios centred on the canvas. Portrait
/// uploads centre a landscape picture over a blurred copy of itself, a background that
/// border detection often takes for picture (or the reverse); the bands find the picture
/// whatever the detection made of it. The parts': the left and right halves of a frame
/// that is not portrait, where uploads stack the clip with other footage (and the top and
/// bottom ones of a square frame), the picture-in-picture windows of its layout
/// (`Windows`, `BorderTracker`), and, among the catalogue's strips, the top and bottom
/// halves of a frame that is not square and a portrait picture. A portrait picture is
/// often a landscape one that border detection took with the blurred copy around it: as
/// a part, what its strips find weighs less and cannot crowd out what the bands find.
///
/// The top and bottom halves search the strips only where the catalogue searched
/// (`searched`) stores their crop, bands for a landscape frame and halves for a portrait
/// one; else a portrait frame's search the views and a landscape frame's are not
/// searched, as before catalogues stored them.
pub fn query_views(g: &Gray, layout: &Layout, c: &LayoutConfig, searched: Strips) -> FrameViews {
    let mut images = vec![resample(g, layout.content)];
    let (w, h) = (g.w as f32, g.h as f32);
    if h > w {
        for &a in &c.band_aspects {
            let bh = h.min(w / a);
            images.push(resample(g, Rect { x0: 0.0, y0: (h - bh) / 2.0, x1: w, y1: (h + bh) / 2.0 }));
        }
    }
    let picture = images.len();
    let halves = [Rect { x0: 0.0, y0: 0.0, x1: w, y1: h / 2.0 }, Rect { x0: 0.0, y0: h / 2.0, x1: w, y1: h }];
    let halves_in_strips = if h > w { searched.halves > 0 } else { w > h && searched.bands > 0 };
    if h == w || (h > w && !halves_in_strips) {
        images.extend(halves.map(|r| resample(g, r)));
    }
    if w >= h {
        images.push(resample(g, Rect { x0: 0.0, y0: 0.0, x1: w / 2.0, y1: h }));
        images.push(resample(g, Rect { x0: w / 2.0, y0: 0.0, x1: w, y1: h }));
    }
    for r in &layout.windows {
        images.push(resample(g, inner_picture(g, *r, &c.borders)));
    }
    let searches_views = images.len();
    if halves_in_strips {
        images.extend(halves.map(|r| resample(g, r)));
    }
    if layout.content.height() > layout.content.width() {
        images.push(images[0]);
    }
    let parts = images.len() - picture;
    FrameViews { strip_parts: images.len() - searches_views, images, parts }
}

/// The picture inside window `r` of `g`, its own black bars cut away.
fn inner_picture(g: &Gray, r: Rect, c: &BorderConfig) -> Rect {
    let (x1, y1) = ((r.x1 as usize).min(g.w), (r.y1 as usize).min(g.h));
    let (x0, y0) = ((r.x0 as usize).min(x1), (r.y0 as usize).min(y1));
    if x0 == x1 || y0 == y1 {
        return r;
    }
    let data = (y0..y1).flat_map(|y| g.data[y * g.w + x0..y * g.w + x1].iter().copied()).collect();
    let inner = content_rect(&Gray { w: x1 - x0, h: y1 - y0, data }, c);
    Rect { x0: r.x0 + inner.x0, y0: r.y0 + inner.y0, x1: r.x0 + inner.x1, y1: r.y0 + inner.y1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::descriptor::DESCRIPTOR_VERSION;

    #[test]
    fn the_stored_views_change_only_with_the_descriptor_version() {
        // Every catalogue stores these views: a catalogue built with others must be
        // refused, so changing them means a new DESCRIPTOR_VERSION (and fingerprint here).
        // Their order too, since a catalogue of `decode.catalogue_views` N stores the first
        // N (the order changed once without a new version, when every catalogue stored all
        // 12, whose order no search or alignment reads). The strips too: older catalogues
        // have none, which reads as before.
        let c = Rect { x0: 0.0, y0: 0.0, x1: 320.0, y1: 180.0 };
        let strips: Vec<_> = [1, 5].iter().flat_map(|&n| (0..n).map(move |i| shape_rect(c, STRIP, i, n))).collect();
        let fingerprint = crate::stable_hash(&[&format!("{VIEWS:?}"), &format!("{strips:?}")]);
        // A picture narrower than a strip is its own strip, as it always was.
        let tall = Rect { x0: 0.0, y0: 0.0, x1: 90.0, y1: 320.0 };
        assert_eq!(shape_rect(tall, STRIP, 0, 3), tall);
        // The bands and halves came later; catalogues without them read as before.
        let band = |i, n| shape_rect(c, BAND, i, n);
        assert_eq!(band(0, 1), Rect { x0: 0.0, y0: 45.0, x1: 320.0, y1: 135.0 });
        assert_eq!((band(0, 3).y0, band(2, 3).y1), (0.0, 180.0));
        assert_eq!(shape_rect(c, HALF, 0, 1), Rect { x0: 58.75, y0: 0.0, x1: 261.25, y1: 180.0 });
        assert_eq!((DESCRIPTOR_VERSION, fingerprint), (2, 0x842e_08ef_4752_b28c), "{fingerprint:#x}");
    }
}

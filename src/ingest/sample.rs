//! Decoding one file into its sampled frames and their views, in this process: the
//! part of the decode stage that runs inside a worker (`worker`) or, without one, in a
//! pipeline thread (`pipeline`).

use crate::error::{UploadError, UploadErrorKind};
use crate::frame::borders::{BorderTracker, Layout};
use crate::frame::gray::Gray;
use crate::frame::views::{FrameViews, Strips, catalogue_views, query_views};
use crate::ingest::archive;
use crate::ingest::decode::{DecodeOptions, VideoInfo, decode};
use crate::kernels::descriptor::PackedImage;
use std::path::Path;

/// Which 32x32 images a decoded frame yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Views {
    /// The first `views` crops of a catalogue frame (`frame::views::catalogue_views`), then
    /// its `strips`.
    Catalogue { views: usize, strips: Strips },
    /// The upload's picture and parts of its frame (`frame::query_views`), for a search
    /// of the catalogue's `searched` crops of other shapes.
    Query { searched: Strips },
}

/// A decoded video: sample times and, per sample, its images (views in order).
pub struct Decoded {
    pub info: VideoInfo,
    pub times: Vec<f64>,
    pub images: Vec<PackedImage>,
    /// How many images (views) each sample has, in order.
    pub views: Vec<u8>,
    /// How many of each sample's images, at its end, show a part of the frame rather
    /// than the whole picture (`frame::FrameViews`); 0 for the catalogue.
    pub parts: Vec<u8>,
    /// How many of each sample's parts, at its end, search the catalogue's strips
    /// (`frame::FrameViews::strip_parts`); 0 for the catalogue.
    pub strip_parts: Vec<u8>,
}

impl Decoded {
    /// The range of `images`, and of anything computed image by image, of each sample.
    pub fn ranges(&self) -> Vec<std::ops::Range<usize>> {
        ranges(&self.views)
    }

    /// The images (indices into `images`) that search the catalogue's strips: the
    /// last `strip_parts` of each sample.
    pub fn strip_probes(&self) -> Vec<usize> {
        self.ranges().into_iter().zip(&self.strip_parts).flat_map(|(r, &n)| r.end - n as usize..r.end).collect()
    }
}

/// The range of each sample's images, from how many each has, in order.
pub fn ranges(views: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    views
        .iter()
        .map(|&n| {
            start += n as usize;
            start - n as usize..start
        })
        .collect()
}

fn cut(views: Views, g: &Gray, layout: &Layout, opts: &DecodeOptions) -> FrameViews {
    match views {
        Views::Catalogue { views, strips } => {
            FrameViews { images: catalogue_views(g, layout.content, views, strips), parts: 0, strip_parts: 0 }
        }
        Views::Query { searched } => query_views(g, layout, &opts.layout, searched),
    }
}

/// The border tracker the decode stage uses: neighbours within `borders.window_s` share
/// their activity, and on uploads those within `windows.vote_window_s` vote on
/// picture-in-picture windows (the catalogue looks for none).
pub fn border_tracker(opts: &DecodeOptions, views: Views) -> BorderTracker {
    let c = &opts.layout;
    let pip = if matches!(views, Views::Query { .. }) { c.windows.vote_window_s } else { 0.0 };
    BorderTracker::new((c.borders.window_s * opts.rate).ceil() as usize, (pip * opts.rate).ceil() as usize, c)
}

/// Decodes the file at `path` into its sample times and images, in this process.
pub fn decode_file(path: &Path, opts: &DecodeOptions, views: Views) -> std::result::Result<Decoded, UploadError> {
    if let Some(kind) = archive::nested_kind(path) {
        return Err(UploadError::new(
            UploadErrorKind::NestedArchive,
            format!("a {kind} archive inside an archive: nested archives are not opened"),
        ));
    }
    let mut times = Vec::new();
    let mut images = Vec::new();
    let mut counts = Vec::new();
    let mut parts = Vec::new();
    let mut strip_parts = Vec::new();
    let mut emit = |t: f64, g: Gray, layout: Layout| {
        let cuts = cut(views, &g, &layout, opts);
        times.push(t);
        counts.push(cuts.images.len() as u8);
        parts.push(cuts.parts as u8);
        strip_parts.push(cuts.strip_parts as u8);
        images.extend(cuts.images);
    };
    let mut borders = border_tracker(opts, views);
    let decoded = decode(path, opts, |t, g| borders.push(t, g, &mut emit));
    borders.finish(&mut emit);
    decoded.map(|info| Decoded { info, times, images, views: counts, parts, strip_parts })
}

/// Most samples a video decoded under `opts` can yield: one per sampling period of
/// the longest video accepted, and no more than the frames decoded.
pub fn max_samples(opts: &DecodeOptions) -> u64 {
    opts.max_frames.min((opts.max_duration_s.max(0.0) * opts.rate).ceil() as u64 + 2)
}

/// Most views one sample can have, catalogue (`views` and `strips`) or upload
/// (`frame::views`).
pub fn max_views(c: &crate::frame::config::LayoutConfig, (views, strips): (usize, Strips)) -> usize {
    let w = &c.windows;
    // The picture, its bands, halves both ways, windows, and a portrait picture again.
    let upload = 1 + c.band_aspects.len() + 4 + w.stopped + w.continued + w.textured + 1;
    upload.max(views + strips.count())
}

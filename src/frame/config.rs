//! Every tuning number of `frame`: border detection, picture-in-picture windows and the
//! upload's views. Part of the run's one configuration (`crate::config::Config`). The
//! catalogue's stored views are not here: they are the catalogue's layout, fixed when
//! it is built (`frame::views::VIEWS`, versioned with the descriptor).

use serde::{Deserialize, Serialize};

/// The settings of `frame`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LayoutConfig {
    pub borders: BorderConfig,
    pub windows: WindowConfig,
    /// Aspect ratios (width / height) of the pictures uploads put on a portrait canvas,
    /// searched as full-width bands centred on it: 4:3, 3:2, 16:9, 2:1 and 2.4:1.
    pub band_aspects: Vec<f32>,
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig {
            borders: BorderConfig::default(),
            windows: WindowConfig::default(),
            band_aspects: vec![4.0 / 3.0, 1.5, 16.0 / 9.0, 2.0, 2.4],
        }
    }
}

/// Where the picture is inside a frame (`borders`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BorderConfig {
    /// Seconds of neighbouring frames, on each side, whose activity decides a frame's
    /// borders: borders stay put while the picture changes.
    pub window_s: f64,
    /// A row or column is active when its activity reaches `active_share` of the
    /// `active_percentile`th percentile of the profile, and at least `min_activity`
    /// (grey levels per step).
    pub active_percentile: usize,
    pub active_share: f32,
    pub min_activity: f32,
    /// Gaps of inactive rows bridged inside the picture, and the least span of picture
    /// believed (a 2.4:1 to 4.3:1 film on a 9:16 canvas is a band of a fifth to an
    /// eighth), both as shares of the profile.
    pub bridge_share: f32,
    pub min_span_share: f32,
    /// Smallest frame side on which borders are looked for, pixels.
    pub min_side: usize,
}

impl Default for BorderConfig {
    fn default() -> Self {
        BorderConfig {
            window_s: 1.0,
            active_percentile: 90,
            active_share: 0.3,
            min_activity: 1.5,
            bridge_share: 0.1,
            min_span_share: 0.1,
            min_side: 16,
        }
    }
}

/// Picture-in-picture windows (`windows`, voted on over time by `borders`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Seconds of neighbouring frames, on each side, that vote on an upload frame's
    /// windows: an overlay stays put for a clip, and a window whose edges are lost for a
    /// few seconds (flat title cards inside it) is still searched. 0 looks for none.
    pub vote_window_s: f64,
    /// Windows each frame proposes for its neighbours' vote, of each kind.
    pub proposals: usize,
    /// Windows searched per upload frame, of those its neighbours voted for: whose
    /// sides stop at their corners, with one side that goes on, and found only as
    /// texture goes on past their corners.
    pub stopped: usize,
    pub continued: usize,
    pub textured: usize,
    /// A frame finds a neighbour's window when one of its own overlaps it this much
    /// (intersection over union); windows kept overlap each other less than
    /// `apart_overlap`; a window over texture is searched unless another overlaps it by
    /// `textured_overlap` (over leaves, the rectangle that takes the frame's edge for
    /// the window's far side passes the other tests and the window itself does not).
    pub same_overlap: f32,
    pub apart_overlap: f32,
    pub textured_overlap: f32,
    /// Luma step, across two pixels, that counts as an edge of a window.
    pub edge_step: i16,
    /// Share of each side of a window that must be edge.
    pub side_share: f32,
    /// The same for a window with all four sides inside the frame. A frame edge counts
    /// as a side in full, so a window that uses one is easier to come by: over footage
    /// whose contrast with the window is low along one side, it stretched to the frame's
    /// edge and held background. 0.7 for every window matched a negative upload of seed
    /// 4; 0.65 for these alone matched none in any set and found more windows over
    /// footage (seed 8).
    pub side_share_inside: f32,
    /// Share of a side's prolongation past a corner that may be edge: a window's sides
    /// stop at its corners, the lines of the footage around it (stripes, horizons) go on.
    pub past_corner_share: f32,
    /// Lines away from a side's prolongation whose edge share tells texture from a line,
    /// and the edge share by which a line must exceed theirs.
    pub texture_distance: usize,
    pub texture_margin: f32,
    /// A side's prolongation past a corner is looked at over the side's length divided
    /// by this, and at least `min_reach` pixels (none where the frame leaves fewer).
    pub reach_divisor: usize,
    pub min_reach: usize,
    /// Candidate lines kept per axis, the longest.
    pub lines: usize,
    /// Window area, as a share of the frame: smaller is a sticker, larger the picture.
    pub min_area: f32,
    pub max_area: f32,
    /// Windows are at least the frame's short side divided by this, each way: on a
    /// portrait canvas a landscape window is much lower than a sixth of its height.
    pub min_side_divisor: usize,
    /// A window's own frame (a photo's white border, a stroke around an overlay, a
    /// letterbox inside it), cut off by `windows::unframed`: a band of lines along a side,
    /// within `frame_max_share` of the window's size, each with `frame_flat_share` of its
    /// pixels within `frame_flat_step` of the band's colour, followed by a line whose
    /// median differs from that colour by `frame_contrast`, where another side has a band
    /// of that colour (cut on one side alone, flat footage cost hidden41 0.705 -> 0.688).
    /// A white border of 6 pixels around a clip 190 pixels wide took the right frame's
    /// similarity from 0.89 to under the 0.5 of unrelated frames (recap33 `r0032`,
    /// `examples/inspect`). Without the contrast, dark footage (flat, and going on in its
    /// own colour) lost a side (hidden44 `q0041`). A flat share of 0.85 instead of 0.75
    /// changed only hidden41 (0.696 against 0.704).
    pub frame_flat_step: i16,
    pub frame_flat_share: f32,
    pub frame_contrast: i16,
    pub frame_max_share: f32,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            vote_window_s: 5.0,
            proposals: 3,
            stopped: 2,
            continued: 2,
            textured: 1,
            same_overlap: 0.7,
            apart_overlap: 0.5,
            textured_overlap: 0.9,
            edge_step: 14,
            side_share: 0.75,
            side_share_inside: 0.65,
            past_corner_share: 0.5,
            texture_distance: 3,
            texture_margin: 0.1,
            reach_divisor: 4,
            min_reach: 4,
            lines: 40,
            min_area: 0.04,
            max_area: 0.75,
            min_side_divisor: 6,
            frame_flat_step: 10,
            frame_flat_share: 0.75,
            frame_contrast: 32,
            frame_max_share: 0.15,
        }
    }
}

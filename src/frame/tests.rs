//! Tests of `frame`: borders, windows, views and resampling on pictures made here.

use crate::frame::borders::{BorderTracker, Layout, content_rect};
use crate::frame::config::{BorderConfig, LayoutConfig, WindowConfig};
use crate::frame::gray::{Gray, Rect, overlap, resample};
use crate::frame::views::{Strips, query_views};
use crate::frame::windows::{Windows, unframed};

fn windows_of(g: &Gray) -> Windows {
    Windows::of(g, &WindowConfig::default(), BorderConfig::default().min_side)
}

fn wc() -> WindowConfig {
    WindowConfig::default()
}

fn rect_of(g: &Gray) -> Rect {
    content_rect(g, &BorderConfig::default())
}

fn tracker(half: usize, pip_half: usize) -> BorderTracker {
    BorderTracker::new(half, pip_half, &LayoutConfig::default())
}

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
    let r = rect_of(&g);
    assert!((r.y0 - 87.0).abs() <= 2.0 && (r.y1 - 168.0).abs() <= 2.0, "{r:?}");
    assert!(r.x0 <= 1.0 && r.x1 >= 143.0, "{r:?}");
}

#[test]
fn finds_a_very_wide_picture_on_a_portrait_canvas() {
    // A 4.3:1 film fills a 9:16 canvas's width as a band an eighth of its height.
    let c = textured(144, 34, 4);
    let g = paste(&c, 144, 256, 0, 111, |_, y| 60 + (y / 8) as u8);
    let r = rect_of(&g);
    assert!((r.y0 - 111.0).abs() <= 2.0 && (r.y1 - 145.0).abs() <= 2.0, "{r:?}");
}

/// The crops of other shapes a catalogue of the default settings stores.
const SHAPED: Strips = Strips { portrait: 11, bands: 1, halves: 1 };

#[test]
fn query_views_add_bands_on_portrait_frames_and_search_halves_by_the_catalogue_crops() {
    let count_in = |g: &Gray, windows: usize, searched: Strips| {
        let window = Rect { x0: 10.0, y0: 10.0, x1: 50.0, y1: 40.0 };
        let layout = Layout { content: Rect::full(g), windows: vec![window; windows] };
        let v = query_views(g, &layout, &LayoutConfig::default(), searched);
        // A portrait picture is a part too, the last, that searches the strips.
        if g.h > g.w {
            assert_eq!(v.images.last(), v.images.first());
        }
        (v.images.len() - v.parts, v.parts, v.strip_parts)
    };
    let count = |g: &Gray, windows: usize| count_in(g, windows, SHAPED);
    let bands = LayoutConfig::default().band_aspects.len();
    // The top and bottom halves of a frame that is not square search the strips (with
    // the bands and halves), last, as does a portrait picture.
    assert_eq!(count(&textured(144, 256, 5), 0), (1 + bands, 3, 3));
    assert_eq!(count(&textured(256, 144, 6), 0), (1, 4, 2));
    assert_eq!(count(&textured(144, 144, 7), 0), (1, 4, 0));
    assert_eq!(count(&textured(256, 144, 6), 2), (1, 6, 2));
    // Against a catalogue without bands and halves (as older ones), a portrait frame's
    // halves search the views and a landscape frame's are not searched.
    let none = Strips { portrait: 11, ..Strips::default() };
    assert_eq!(count_in(&textured(144, 256, 5), 0, none), (1 + bands, 3, 1));
    assert_eq!(count_in(&textured(256, 144, 6), 0, none), (1, 2, 0));
    // Each by its own crop.
    assert_eq!(count_in(&textured(144, 256, 5), 0, Strips { halves: 0, ..SHAPED }), (1 + bands, 3, 1));
    assert_eq!(count_in(&textured(256, 144, 6), 0, Strips { bands: 0, ..SHAPED }), (1, 2, 0));
    // Textured all over: no window stands out.
    assert!(windows_of(&textured(256, 144, 6)).stopped(2, &wc()).is_empty());
}

#[test]
fn query_views_of_tiny_frames() {
    // No window fits; the picture gets its bands on portrait frames, the parts their
    // halves both ways (but for a portrait frame's left and right) and a portrait picture.
    let bands = LayoutConfig::default().band_aspects.len();
    for ((w, h), want) in
        [((1, 1), (1, 4)), ((1, 2), (1 + bands, 3)), ((2, 1), (1, 4)), ((3, 17), (1 + bands, 3)), ((17, 3), (1, 4))]
    {
        let g = textured(w, h, 8);
        let layout = Layout { content: rect_of(&g), windows: windows_of(&g).stopped(2, &wc()) };
        let views = query_views(&g, &layout, &LayoutConfig::default(), SHAPED);
        assert_eq!((views.images.len() - views.parts, views.parts), want, "{w}x{h}");
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
    let data = (0..100 * 56).map(|i| (128.0 + 40.0 * ((i % 100) as f32 / 9.0 + (i / 100) as f32 / 13.0).sin()) as u8);
    let clip = Gray { w: 100, h: 56, data: data.collect() };
    let g = paste(&clip, 256, 144, 130, 30, |x, y| striped(256, 144).at(x, y));
    let found = windows_of(&g).stopped(2, &wc());
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
    let found = windows_of(&inside).stopped(1, &wc());
    assert!(found.first().is_some_and(|r| overlap(r, &want) > 0.9), "{found:?}");
    // Against the frame's top edge, the same window needs its sides whole.
    let at_top = paste(&clip, 256, 144, 100, 0, |_, _| 60);
    let want = Rect { x0: 100.0, y0: 0.0, x1: 200.0, y1: 56.0 };
    let found = windows_of(&at_top).stopped(1, &wc());
    assert!(found.iter().all(|r| overlap(r, &want) < 0.9), "{found:?}");
}

/// The windows searched in frame `g` when it is the only frame.
fn searched_alone(g: Gray) -> Vec<Rect> {
    let mut windows = Vec::new();
    let mut t = tracker(1, 2);
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
    let found = windows_of(&g);
    let others: Vec<Rect> = found.stopped(2, &wc()).into_iter().chain(found.continued(2, &wc())).collect();
    assert!(others.iter().all(|r| overlap(r, &want) < 0.9), "{others:?}");
    let textured = found.textured(1, &wc());
    assert!(textured.first().is_some_and(|r| overlap(r, &want) > 0.9), "{textured:?}");
    assert!(searched_alone(g).iter().any(|r| overlap(r, &want) > 0.9));
}

#[test]
fn a_window_whose_side_goes_on_as_a_line_of_the_footage_is_still_searched() {
    // Left of the window, a bright band of the footage starts on the row where the
    // window ends: its bottom side goes on past its bottom-left corner.
    let g = paste(&waves(), 256, 144, 100, 40, |x, y| if x < 100 && (96..100).contains(&y) { 200 } else { 60 });
    let want = Rect { x0: 100.0, y0: 40.0, x1: 200.0, y1: 96.0 };
    let stopped = windows_of(&g).stopped(2, &wc());
    assert!(stopped.iter().all(|r| overlap(r, &want) < 0.9), "{stopped:?}");
    let continued = windows_of(&g).continued(1, &wc());
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
    let mut t = tracker(1, 2);
    for (i, g) in frames.into_iter().enumerate() {
        t.push(i as f64, g, &mut |_, _, l| got.push(l.windows));
    }
    t.finish(&mut |_, _, l| got.push(l.windows));
    let want = Rect { x0: 130.0, y0: 30.0, x1: 230.0, y1: 86.0 };
    assert_eq!(got.len(), 5);
    for (i, w) in got.iter().enumerate() {
        assert!(w.first().is_some_and(|r| overlap(r, &want) > 0.9), "frame {i}: {w:?}");
    }
    assert!(windows_of(&striped(256, 144)).stopped(2, &wc()).is_empty());
    // The catalogue's tracker looks for none.
    let mut none = tracker(1, 0);
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
    let mut t = tracker(1, 2);
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
    let r = rect_of(&g);
    assert!((r.y0 - 87.0).abs() <= 2.0 && (r.y1 - 168.0).abs() <= 2.0, "{r:?}");
}

#[test]
fn finds_pillar_box() {
    let c = textured(120, 144, 3);
    let g = paste(&c, 256, 144, 68, 0, |_, _| 16);
    let r = rect_of(&g);
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
    let r = rect_of(&g);
    assert!((r.x0 - 48.0).abs() <= 2.0 && (r.x1 - 208.0).abs() <= 2.0, "{r:?}");
}

#[test]
fn tracker_gives_a_flat_frame_its_neighbours_borders() {
    let busy = paste(&textured(144, 81, 7), 144, 256, 0, 87, |_, _| 0);
    let flat = paste(&Gray { w: 144, h: 81, data: vec![60; 144 * 81] }, 144, 256, 0, 87, |_, _| 0);
    let mut got = Vec::new();
    let mut t = tracker(2, 0);
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
    assert_eq!(rect_of(&g), Rect::full(&g));
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

#[test]
fn a_window_is_searched_without_its_own_frame() {
    // A clip in a white border 3 pixels wide on a darker, smooth photo, as a clip
    // framed on a still photo is; the same clip pasted without a border keeps its sides.
    let clip = waves();
    let framed = paste(&clip, 106, 62, 3, 3, |_, _| 250);
    let photo = |x: usize, y: usize| (60.0 + 30.0 * ((x as f32 / 40.0).sin() + (y as f32 / 55.0).cos())) as u8;
    let want = Rect { x0: 103.0, y0: 43.0, x1: 203.0, y1: 99.0 };
    let found = searched_alone(paste(&framed, 256, 144, 100, 40, photo));
    let near =
        |r: &Rect| [r.x0 - want.x0, r.y0 - want.y0, r.x1 - want.x1, r.y1 - want.y1].iter().all(|d| d.abs() <= 1.0);
    assert!(found.iter().any(near), "{found:?}: the white border is searched with the clip");
    let plain = searched_alone(paste(&clip, 256, 144, 103, 43, photo));
    assert!(plain.iter().any(near), "{plain:?}: a window without a frame lost a side");
    // Flat footage along one side (a sky) is picture.
    let mut sky = clip.clone();
    sky.data[..6 * sky.w].fill(210);
    let found = searched_alone(paste(&sky, 256, 144, 103, 43, photo));
    assert!(found.iter().any(near), "{found:?}: a sky was cut off as a frame");
}

#[test]
fn dark_footage_flat_along_two_sides_keeps_them() {
    // Dark, noisy footage whose top and bottom rows are flat in its own colour: the
    // rows after them are not flat but centre on that colour, so no frame ends there.
    let noise = |x: usize, y: usize| ((x * 7919 + y * 104729) % 61) as u8;
    let dark = Gray {
        w: 100,
        h: 56,
        data: (0..100 * 56)
            .map(|i| if (6..50).contains(&(i / 100)) { 10 + noise(i % 100, i / 100) } else { 40 })
            .collect(),
    };
    let whole = Rect { x0: 100.0, y0: 40.0, x1: 200.0, y1: 96.0 };
    let g = paste(&dark, 256, 144, 100, 40, |_, _| 128);
    assert_eq!(unframed(&g, whole, &wc()), whole);
    // The same rows in white, a border, are cut off with the line after them.
    let mut framed = dark;
    framed.data[..6 * 100].fill(250);
    framed.data[50 * 100..].fill(250);
    let g = paste(&framed, 256, 144, 100, 40, |_, _| 128);
    assert_eq!(unframed(&g, whole, &wc()), Rect { y0: 47.0, y1: 89.0, ..whole });
}

//! Shows what the job sees in one upload, frame by frame: the content rectangle the
//! border detection kept, the descriptor's energy, the five nearest catalogue frames
//! (video, time, `m` when mirrored, similarity), and the picture-in-picture windows voted
//! for (as `windows::unframed` leaves them), each with its own three nearest. For tuning
//! and for explaining a match.
//!
//! `cargo run --release --example inspect -- CATALOG VIDEO`

use anyhow::{Context, Result};
use clipmatch::config::Config;
use clipmatch::frame::borders::Layout;
use clipmatch::frame::gray::{Gray, Rect, resample};
use clipmatch::ingest::decode::decode;
use clipmatch::ingest::sample::{Views, border_tracker};
use clipmatch::kernels::descriptor::{DOT_ONE, WORDS};
use clipmatch::kernels::engine::Engine;
use clipmatch::kernels::gpu::DeviceChoice;
use clipmatch::kernels::search::Matrix;
use clipmatch::store::catalog;
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(cat_dir), Some(video)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: inspect CATALOG VIDEO");
    };
    let cat = catalog::open(
        &cat_dir,
        catalog::Hold { frames: true, index: false, videos: None, strips: true, pictures: false },
    )?;
    let engine = Engine::open(DeviceChoice::Cpu, None)?;
    let prepared = engine.prepare(Matrix { words: &cat.words, views: cat.manifest.views })?;
    let opts = Config::default().decode_options(false, None, clipmatch::ingest::hw::Decoder::Cpu);
    let mut frames: Vec<(f64, usize, usize, Rect, Vec<Rect>)> = Vec::new();
    // Each frame's picture, then its windows.
    let mut images = Vec::new();
    let mut emit = |t: f64, g: Gray, l: Layout| {
        images.push(resample(&g, l.content));
        images.extend(l.windows.iter().map(|w| resample(&g, *w)));
        frames.push((t, g.w, g.h, l.content, l.windows));
    };
    let mut borders = border_tracker(&opts, Views::Query { searched: Default::default() });
    decode(&video, &opts, |t, g| borders.push(t, g, &mut emit)).with_context(|| video.display().to_string())?;
    borders.finish(&mut emit);
    let descriptors = engine.describe(&images)?;
    let queries: Vec<[u32; WORDS]> = descriptors.iter().map(|d| d.words).collect();
    let neighbours = engine.search(&prepared, &queries)?;
    let nearest = |hits: &[clipmatch::kernels::neighbours::Hit], n: usize| {
        for hit in hits.iter().filter(|h| !h.is_empty()).take(n) {
            let f = hit.frame();
            let id = &cat.videos[cat.frame_video[f] as usize].id;
            let m = if hit.mirrored() { "m" } else { "" };
            print!(" {id}@{:.2}{m} {:.2}", cat.frame_t[f], hit.score as f32 / DOT_ONE);
        }
        println!();
    };
    let mut at = 0;
    for (t, w, h, r, windows) in &frames {
        print!(
            "{t:6.2}s {w}x{h} [{:.0},{:.0}..{:.0},{:.0}] energy {:7} |",
            r.x0, r.y0, r.x1, r.y1, descriptors[at].energy
        );
        nearest(&neighbours[at], 5);
        for (k, p) in windows.iter().enumerate() {
            print!("        window [{:.0},{:.0}..{:.0},{:.0}] |", p.x0, p.y0, p.x1, p.y1);
            nearest(&neighbours[at + 1 + k], 3);
        }
        at += 1 + windows.len();
    }
    Ok(())
}

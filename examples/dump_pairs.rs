//! Dumps raw descriptor coefficients (before centring and weights) for
//! `scripts/descriptor_whitening.py`:
//! every catalogue view of every frame of the footage under CATALOGUE (one folder or
//! more, separated by commas), and the picture view of every upload frame inside a true
//! segment of TRUTH with the catalogue video and time it shows.
//!
//! `cargo run --release --example dump_pairs -- CATALOGUE UPLOADS TRUTH OUT_PREFIX`
//!
//! Writes OUT_PREFIX.cat.i32 (frames x views x DIM), OUT_PREFIX.cat.json (video and time
//! of each frame), OUT_PREFIX.q.i32 (frames x DIM), OUT_PREFIX.q.json (video and time
//! each shows).

use anyhow::Result;
use clipmatch::config::Config;
use clipmatch::eval::{norm_id, read_truth};
use clipmatch::frame::views::{CATALOGUE_VIEWS, Strips};
use clipmatch::ingest::sample::{Views, decode_file};
use clipmatch::kernels::descriptor::{Tables, raw_coefficients};
use std::io::Write;
use std::path::PathBuf;

fn files(dir: &str) -> Result<Vec<PathBuf>> {
    let mut f: Vec<_> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    f.sort();
    Ok(f)
}

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [cats, uploads, truth, out] = &a[..] else {
        anyhow::bail!("usage: dump_pairs CATALOGUE[,CATALOGUE] UPLOADS TRUTH OUT_PREFIX");
    };
    let tables = Tables::new();
    let cfg = Config::default();
    let copts = cfg.decode_options(true, None, clipmatch::ingest::hw::Decoder::Cpu);
    let qopts = cfg.decode_options(false, None, clipmatch::ingest::hw::Decoder::Cpu);
    let mut cat = std::io::BufWriter::new(std::fs::File::create(format!("{out}.cat.i32"))?);
    let mut meta = Vec::new();
    for dir in cats.split(',') {
        for f in files(dir)? {
            let d = decode_file(&f, &copts, Views::Catalogue { views: CATALOGUE_VIEWS, strips: Strips::default() })
                .map_err(|e| anyhow::anyhow!("{}: {}", f.display(), e.message))?;
            for (i, &t) in d.times.iter().enumerate() {
                for img in &d.images[i * CATALOGUE_VIEWS..(i + 1) * CATALOGUE_VIEWS] {
                    for c in raw_coefficients(img, &tables) {
                        cat.write_all(&c.to_le_bytes())?;
                    }
                }
                meta.push((norm_id(&f.to_string_lossy()), t));
            }
            eprintln!("{}: {} frames", f.display(), d.times.len());
        }
    }
    std::fs::write(format!("{out}.cat.json"), serde_json::to_string(&meta)?)?;
    let truth = read_truth(std::path::Path::new(truth))?;
    let mut q = std::io::BufWriter::new(std::fs::File::create(format!("{out}.q.i32"))?);
    let mut qmeta = Vec::new();
    for f in files(uploads)? {
        let id = norm_id(&f.to_string_lossy());
        let segs: Vec<_> = truth.iter().filter(|t| t.query == id).collect();
        if segs.is_empty() {
            continue;
        }
        let Ok(d) = decode_file(&f, &qopts, Views::Query { searched: Default::default() }) else { continue };
        for (i, r) in d.ranges().into_iter().enumerate() {
            let t = d.times[i];
            let Some((s, tr)) = segs.iter().find_map(|s| Some((s, s.ref_time(t)?))) else { continue };
            for c in raw_coefficients(&d.images[r.start], &tables) {
                q.write_all(&c.to_le_bytes())?;
            }
            qmeta.push((id.clone(), s.reference.clone(), tr));
        }
    }
    std::fs::write(format!("{out}.q.json"), serde_json::to_string(&qmeta)?)?;
    eprintln!("{} catalogue frames, {} upload frames", meta.len(), qmeta.len());
    Ok(())
}

use clipmatch::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cat = catalog::open(std::path::Path::new(&args[1])).unwrap();
    let engine = engine::Engine::open(gpu::DeviceChoice::Cpu).unwrap();
    let m = search::Matrix { words: &cat.words, views: cat.manifest.views };
    let prep = engine.prepare(m).unwrap();
    let opts = decode::DecodeOptions::default();
    let mut times = vec![];
    let mut imgs = vec![];
    let mut rects = vec![];
    let mut emit = |t: f64, g: frame::Gray, r: frame::Rect| {
        times.push(t);
        rects.push((g.w, g.h, r));
        imgs.push(frame::resample(&g, r));
    };
    let mut bt = frame::BorderTracker::new(6);
    decode::decode(std::path::Path::new(&args[2]), &opts, |t, g| bt.push(t, g, &mut emit)).unwrap();
    bt.finish(&mut emit);
    let d = engine.describe(&imgs).unwrap();
    let q: Vec<[u32; 16]> = d.iter().map(|x| x.words).collect();
    let nb = engine.search(&prep, &q).unwrap();
    for i in 0..times.len() {
        let (w, h, r) = rects[i];
        print!("{:5.1} e{:6} {}x{} [{:.0},{:.0}-{:.0},{:.0}] |", times[i], d[i].energy, w, h, r.x0, r.y0, r.x1, r.y1);
        for hh in nb[i].iter().take(5) {
            let f = hh.frame();
            print!(
                " {}@{:.1}{} {:.2}",
                &cat.videos[cat.frame_video[f] as usize].id[..6],
                cat.frame_t[f],
                if hh.mirrored() { "m" } else { "" },
                hh.score as f32 / 16129.0
            );
        }
        println!();
    }
}

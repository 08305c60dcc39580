//! The review's pages: `index.html` (the night's summary, the matched uploads to sort and
//! filter, the failed ones) and one page per matched upload under `uploads/` with its
//! frames side by side. Self-contained: styles, scripts and JPEG thumbnails inline, so
//! that the folder opens from disk, offline.

use super::{SegmentView, Shown, UploadEntry, UploadView};
use crate::error::{Error, Result};
use crate::store::table::MatchRow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Upper edges of the score histogram's bins (the last bin is open): scores are the
/// judge's probabilities, reported from `matching.judge.min_probability` up, and from
/// `confirmed_min_probability` up beside a likelier row.
const SCORE_BINS: [f32; 7] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/// JPEG quality of the thumbnails.
const QUALITY: u8 = 80;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}table{border-collapse:collapse}\
td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}\
.bar{display:inline-block;height:12px;background:#4a78c2;vertical-align:middle}\
.timeline{position:relative;height:18px;background:#eee;margin:4px 0 8px}\
.timeline span{position:absolute;top:0;height:18px;opacity:.85}\
section.upload{border-top:1px solid #ccc;padding:6px 0}\
.strip{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;text-align:center;font-size:12px}\
figure img{display:block;margin:2px auto;background:#000}.pair{border:1px solid #ccc;padding:4px}\
.mirrored{transform:scaleX(-1)}.note{color:#a33}.controls{margin:8px 0}";

/// Records script errors on the page, where a test (or a person) finds them.
const ERRORS: &str =
    "<script>window.addEventListener('error',e=>{document.documentElement.dataset.error=e.message;});</script>";

/// Sorts and filters the upload sections of the index.
const SORTING: &str = "<script>
function arrange(){
  const q=document.getElementById('filter').value.toLowerCase();
  const key=document.getElementById('sort').value;
  const box=document.getElementById('uploads-list');
  const items=[...box.querySelectorAll('section.upload')];
  items.sort((a,b)=>key==='score'?b.dataset.score-a.dataset.score:a.dataset[key].localeCompare(b.dataset[key]));
  for(const s of items){
    s.hidden=q!==''&&!(s.dataset.upload+' '+s.dataset.series).toLowerCase().includes(q);
    box.appendChild(s);
  }
}
</script>";

/// What a report shows.
pub struct Report<'a> {
    pub run_date: &'a str,
    /// Every row of the run's `uploads` and `matches` tables.
    pub uploads: &'a [UploadEntry],
    pub matches: &'a [MatchRow],
    /// The matched uploads shown, with their frames.
    pub views: &'a [UploadView],
    /// Longer side of a thumbnail, pixels.
    pub side: u32,
}

/// Writes the report; returns the path of its index.
pub fn write(dir: &Path, r: &Report) -> Result<PathBuf> {
    std::fs::create_dir_all(dir.join("uploads")).map_err(|e| Error::io(dir, e))?;
    for (n, u) in r.views.iter().enumerate() {
        let path = dir.join(page(n));
        std::fs::write(&path, upload_page(u, r.run_date, r.side)).map_err(|e| Error::io(&path, e))?;
    }
    let failed: Vec<&UploadEntry> = r.uploads.iter().filter(|u| u.status != "ok").collect();
    let path = dir.join("index.html");
    std::fs::write(&path, index(r.run_date, r.uploads, r.matches, &failed, r.views))
        .map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The page of the `n`th upload shown, relative to the report folder.
fn page(n: usize) -> String {
    format!("uploads/{:05}.html", n + 1)
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{}</title>{ERRORS}<style>{STYLE}</style></head><body>",
        esc(title)
    )
}

/// The episode a row shows, as people name it: series and episode where the metadata
/// knows them, else the catalogue video's id.
fn episode(r: &MatchRow) -> String {
    match (&r.series, &r.episode) {
        (Some(s), Some(e)) => format!("{s} · ep {e}"),
        (Some(s), None) => format!("{s} · {}", r.ref_id),
        _ => r.ref_id.clone(),
    }
}

/// A colour of its own for each catalogue video.
fn colour(ref_id: &str) -> String {
    format!("hsl({},60%,50%)", crate::stable_hash(&[ref_id]) % 360)
}

fn index(
    run_date: &str,
    uploads: &[UploadEntry],
    matches: &[MatchRow],
    failed: &[&UploadEntry],
    views: &[UploadView],
) -> String {
    let mut h = head(&format!("clipmatch review {run_date}"));
    let matched: std::collections::BTreeSet<(&str, &str)> =
        matches.iter().map(|m| (m.archive.as_str(), m.query_id.as_str())).collect();
    let _ = write!(
        h,
        "<h1>clipmatch review, run date {}</h1><p><span id=uploads>{}</span> uploads, <span id=failed>{}</span> \
         failed, <span id=matched-uploads>{}</span> with a match, <span id=matches>{}</span> matches. \
         {} uploads shown below, the best scoring first.</p>",
        esc(run_date),
        uploads.len(),
        failed.len(),
        matched.len(),
        matches.len(),
        views.len()
    );
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    failed.iter().for_each(|u| *kinds.entry(u.error_kind.as_deref().unwrap_or("unknown")).or_default() += 1);
    if !kinds.is_empty() {
        h += "<p>Failures by kind: ";
        h += &kinds.iter().map(|(k, n)| format!("{} {n}", esc(k))).collect::<Vec<_>>().join(", ");
        h += "</p>";
    }
    // Seconds shown per series and episode, and the scores.
    let mut seconds: BTreeMap<String, f64> = BTreeMap::new();
    matches.iter().for_each(|m| *seconds.entry(episode(m)).or_default() += m.query_end_s - m.query_start_s);
    let most = seconds.values().copied().fold(0.0, f64::max).max(1e-9);
    h += "<h2>Seconds shown per episode</h2><table id=seconds>";
    let mut by_time: Vec<_> = seconds.into_iter().collect();
    by_time.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, s) in by_time {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{s:.1} s</td><td><span class=bar style=\"width:{:.0}px\"></span></td></tr>",
            esc(&name),
            300.0 * s / most
        );
    }
    h += "</table><h2>Scores</h2><table id=scores>";
    let mut bins = [0usize; SCORE_BINS.len() + 1];
    matches.iter().for_each(|m| bins[SCORE_BINS.iter().position(|&e| m.score < e).unwrap_or(SCORE_BINS.len())] += 1);
    let top = bins.iter().copied().max().unwrap_or(1).max(1);
    for (i, n) in bins.iter().enumerate() {
        let label = match i {
            0 => format!("under {}", SCORE_BINS[0]),
            i if i == SCORE_BINS.len() => format!("{} or more", SCORE_BINS[i - 1]),
            i => format!("{} to {}", SCORE_BINS[i - 1], SCORE_BINS[i]),
        };
        let _ = write!(
            h,
            "<tr><td>{label}</td><td>{n}</td><td><span class=bar style=\"width:{}px\"></span></td></tr>",
            300 * n / top
        );
    }
    h += "</table><h2>Matched uploads</h2><div class=controls>Filter <input id=filter oninput=arrange() \
          placeholder=\"upload or series\"> sort by <select id=sort onchange=arrange()><option value=score>score\
          </option><option value=upload>upload</option><option value=series>series</option></select></div>\
          <div id=uploads-list>";
    for (n, u) in views.iter().enumerate() {
        let series: Vec<String> = u.segments.iter().map(|s| episode(&s.row)).collect();
        let _ = write!(
            h,
            "<section class=upload data-score=\"{}\" data-upload=\"{}\" data-series=\"{}\"><a href=\"{}\">{}</a> \
             <small>{}</small> best score {:.2}",
            u.segments.first().map_or(0.0, |s| s.row.score),
            esc(&u.query_id),
            esc(&series.join("; ")),
            page(n),
            esc(&u.query_id),
            esc(&u.archive),
            u.segments.first().map_or(0.0, |s| s.row.score)
        );
        h += &timeline(u);
        h += "<ul>";
        for s in &u.segments {
            let r = &s.row;
            let _ = write!(
                h,
                "<li>{} — upload {} to {}, episode {} to {}, score {:.2}</li>",
                esc(&episode(r)),
                clock(r.query_start_s),
                clock(r.query_end_s),
                clock(r.ref_start_s),
                clock(r.ref_end_s),
                r.score
            );
        }
        h += "</ul></section>";
    }
    h += "</div>";
    if !failed.is_empty() {
        h += "<h2>Failed uploads</h2><table id=failures><tr><th>archive</th><th>upload</th><th>kind</th><th>error</th></tr>";
        for u in failed {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&u.archive),
                esc(&u.query_id),
                esc(u.error_kind.as_deref().unwrap_or("")),
                esc(u.error.as_deref().unwrap_or(""))
            );
        }
        h += "</table>";
    }
    h += SORTING;
    h += "</body></html>";
    h
}

/// The upload's length with its segments on it, coloured by catalogue video.
fn timeline(u: &UploadView) -> String {
    let mut h = String::from("<div class=timeline>");
    let len = u.duration_s.max(1e-9);
    for s in &u.segments {
        let r = &s.row;
        let _ = write!(
            h,
            "<span title=\"{}\" style=\"left:{:.2}%;width:{:.2}%;background:{}\"></span>",
            esc(&episode(r)),
            100.0 * r.query_start_s / len,
            100.0 * (r.query_end_s - r.query_start_s) / len,
            colour(&r.ref_id)
        );
    }
    h + "</div>"
}

fn upload_page(u: &UploadView, run_date: &str, side: u32) -> String {
    let mut h = head(&u.query_id);
    let _ = write!(
        h,
        "<p><a href=\"../index.html\">all uploads of {}</a></p><h1>{}</h1><p>{} · {:.1} s</p>",
        esc(run_date),
        esc(&u.query_id),
        esc(&u.archive),
        u.duration_s
    );
    h += &timeline(u);
    for s in &u.segments {
        h += &segment(s, side);
    }
    h + "</body></html>"
}

fn segment(s: &SegmentView, side: u32) -> String {
    let r = &s.row;
    let mut h = format!(
        "<section class=segment><h2><span style=\"color:{}\">■</span> {}{}</h2>",
        colour(&r.ref_id),
        esc(&episode(r)),
        r.title.as_deref().map(|t| format!(" — {}", esc(t))).unwrap_or_default()
    );
    let values = [
        ("ref_id", r.ref_id.clone()),
        ("query_start_s", format!("{:.2}", r.query_start_s)),
        ("query_end_s", format!("{:.2}", r.query_end_s)),
        ("ref_start_s", format!("{:.2}", r.ref_start_s)),
        ("ref_end_s", format!("{:.2}", r.ref_end_s)),
        ("score", format!("{:.3}", r.score)),
        ("vote_score", format!("{:.3}", r.vote_score)),
        ("matched_frames", r.matched_frames.to_string()),
        ("speed", format!("{:.3}", r.speed)),
        ("flipped", r.flipped.to_string()),
        ("line_similarity", r.line_similarity.map(|v| format!("{v:.3}")).unwrap_or_default()),
        ("line_contrast", r.line_contrast.map(|v| format!("{v:.3}")).unwrap_or_default()),
        ("licensor", r.licensor.clone().unwrap_or_default()),
    ];
    h += "<table class=row><tr>";
    values.iter().for_each(|(k, _)| h += &format!("<th>{k}</th>"));
    h += "</tr><tr>";
    values.iter().for_each(|(_, v)| h += &format!("<td>{}</td>", esc(v)));
    h += "</tr></table>";
    if r.flipped {
        h += "<p>The upload shows this episode mirrored: its frames are shown mirrored too.</p>";
    }
    let gone = s.pairs.iter().any(|p| matches!(p.3, Shown::Stored { .. }));
    if gone {
        h += "<p class=note>The episode's source video is gone: its frames are the catalogue's stored 32x32 \
              pictures, scaled.</p>";
    }
    h += "<div class=strip>";
    for (tq, tr, q, c) in &s.pairs {
        let mirrored = if r.flipped { " class=mirrored" } else { "" };
        let _ = write!(
            h,
            "<figure class=pair><figure>{}<figcaption>upload {}</figcaption></figure><figure>{}<figcaption>{} {}\
             </figcaption></figure></figure>",
            img(q, side, "", "upload frame"),
            clock(*tq),
            img(c, side, mirrored, "catalogue frame"),
            esc(&r.ref_id),
            clock(*tr)
        );
    }
    h + "</div></section>"
}

/// An inline JPEG of a frame, or a placeholder where it could not be had.
fn img(s: &Shown, side: u32, class: &str, alt: &str) -> String {
    let (w, h, jpeg) = match s {
        Shown::Frame(p) => (p.w, p.h, jpeg(&p.rgb, p.w, p.h, jpeg_encoder::ColorType::Rgb)),
        Shown::Stored { gray, .. } => {
            let n = crate::kernels::descriptor::IMG as u32;
            // Scaled to a thumbnail's height so that it sits level with its neighbour.
            let big = scale_gray(gray, n, side * 9 / 16);
            let m = side * 9 / 16;
            (m, m, jpeg(&big, m, m, jpeg_encoder::ColorType::Luma))
        }
        Shown::Missing => return format!("<span class=note>{alt} not available</span>"),
    };
    match jpeg {
        Some(b) => format!(
            "<img class=thumb alt=\"{alt}\" width={w} height={h}{class} src=\"data:image/jpeg;base64,{}\">",
            base64(&b)
        ),
        None => format!("<span class=note>{alt} could not be encoded</span>"),
    }
}

/// A `n`x`n` gray picture scaled to `m`x`m` (nearest pixel: the stored picture is what it
/// is, and shows as such).
fn scale_gray(gray: &[u8], n: u32, m: u32) -> Vec<u8> {
    (0..m * m).map(|i| gray[((i / m) * n / m * n + (i % m) * n / m) as usize]).collect()
}

fn jpeg(pixels: &[u8], w: u32, h: u32, colour: jpeg_encoder::ColorType) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (w, h) = (u16::try_from(w).ok()?, u16::try_from(h).ok()?);
    jpeg_encoder::Encoder::new(&mut out, QUALITY).encode(pixels, w, h, colour).ok()?;
    Some(out)
}

/// Seconds as m:ss.s.
fn clock(s: f64) -> String {
    let s = s.max(0.0);
    format!("{}:{:04.1}", (s / 60.0).floor() as u64, s % 60.0)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            out.push(if k <= c.len() { ABC[(n >> (18 - 6 * k) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_clock() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(clock(75.3), "1:15.3");
        assert_eq!(clock(5.0), "0:05.0");
        assert_eq!(esc("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}

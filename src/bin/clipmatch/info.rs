//! `clipmatch catalog info`: what a catalogue holds and what it lacks, in words.

use super::emit;
use anyhow::Result;
use clipmatch::store::{background, catalog, usage};
use std::path::Path;

/// Prints the manifest of the catalogue in `dir`, what its index, strips and
/// background cover, its size on disk and its videos.
pub fn catalog_info(dir: &Path) -> Result<()> {
    let m = catalog::read_manifest(dir)?;
    outln!("{}", serde_json::to_string_pretty(&m)?);
    match &m.index {
        None => outln!("no search index: `clipmatch catalog index` builds one"),
        Some(ix) if ix.parts < m.parts => {
            outln!("the search index covers {} of {} parts: `clipmatch catalog index` rebuilds it", ix.parts, m.parts)
        }
        // Centroids trained on a small catalogue serve a large one poorly.
        Some(ix) if m.frames > 4 * ix.trained_frames => outln!(
            "the search index was trained on {} frames, the catalogue holds {}: `clipmatch catalog index` retrains it",
            ix.trained_frames,
            m.frames
        ),
        Some(ix) => outln!("search index: {} clusters over all {} parts, mapped", ix.centroids, ix.parts),
    }
    match m.strips {
        0 => outln!(
            "no portrait strips (a catalogue of an older clipmatch, or decode.catalogue_strips = 0): a portrait \
             upload filled with a crop of a landscape picture is hard to find; a rebuild stores them"
        ),
        n if m.index.as_ref().is_some_and(|ix| !ix.strips) => outln!(
            "{n} portrait strips per frame, for portrait upload pictures; the index does not assign \
             them (built by an older clipmatch), so a search through it does not: `clipmatch catalog index` \
             assigns them"
        ),
        n => outln!("{n} portrait strips per frame, for portrait upload pictures"),
    }
    // The stacked clip's crops, listed with the strips.
    for (n, what, setting, canvas) in
        [(m.bands, "landscape band", "bands", "landscape"), (m.halves, "portrait half crop", "halves", "portrait")]
    {
        match n {
            0 => outln!(
                "no {what}s (a catalogue of an older clipmatch, or decode.catalogue_{setting} = 0): a {canvas} \
                 upload stacking a clip with other footage is hard to find; a rebuild stores them"
            ),
            n => outln!(
                "{n} {what}{} per frame, for the top and bottom halves of {canvas} uploads",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
    match &m.background {
        None => outln!("no background: `clipmatch catalog background` measures the videos' chance scores"),
        Some(b) if m.background_stale() => outln!(
            "the background was measured on {} videos (catalogue version {}), the catalogue holds {}: \
             videos added since have no chance score; `clipmatch catalog background` measures them",
            b.videos,
            b.catalogue_version,
            m.videos
        ),
        Some(b) => outln!("background: {} videos of unrelated footage measured", b.uploads),
    }
    let chance = background::by_video(dir)?;
    let videos = catalog::read_videos(dir)?;
    // Per catalogue hour, as storage is planned (docs/SCALE.md, docs/COMPACTION.md).
    let bytes = usage::bytes(dir)?;
    let hours = videos.iter().map(|v| v.duration_s).sum::<f64>() / 3600.0;
    let total = bytes.iter().sum::<u64>() as f64 / 1e6;
    outln!("on disk: {total:.1} MB for {hours:.2} hours of video, {} views per frame", m.views);
    let sampled: u64 = videos.iter().map(|v| v.frames).sum();
    match m.repeat_similarity {
        Some(r) => outln!(
            "{} frames stored of {sampled} sampled: a frame at least {r} similar to the last one stored is not \
             stored",
            m.frames
        ),
        None => outln!(
            "every frame stored ({sampled}): the catalogue is not compacted, and the judge is fitted on \
             compacted ones; a rebuild at the defaults compacts it"
        ),
    }
    if hours > 0.0 {
        let kinds: Vec<String> =
            usage::KINDS.iter().zip(bytes).map(|(k, b)| format!("{k} {:.1}", b as f64 / 1e6 / hours)).collect();
        outln!("per hour of video: {:.1} MB ({} MB)", total / hours, kinds.join(", "));
    }
    outln!(
        "{:<40} {:>10} {:>8} {:>9} {:>6}  {:<20} {:<8} {:<8} {:<24} {:<16}",
        "video",
        "duration_s",
        "frames",
        "size",
        "chance",
        "series",
        "season",
        "episode",
        "title",
        "licensor"
    );
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for v in &videos {
        let m = &v.meta;
        outln!(
            "{:<40} {:>10.2} {:>8} {:>9} {:>6}  {:<20} {:<8} {:<8} {:<24} {:<16}",
            v.id,
            v.duration_s,
            v.frames,
            format!("{}x{}", v.width, v.height),
            chance.get(&v.id).map_or("-".into(), |c| format!("{c:.2}")),
            or_dash(&m.series),
            or_dash(&m.season),
            or_dash(&m.episode),
            or_dash(&m.title),
            or_dash(&m.licensor)
        );
    }
    Ok(())
}

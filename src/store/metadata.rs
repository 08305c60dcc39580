//! What the rights team knows of each catalogue video: series, season, episode, title,
//! licensor, licence, listed duration and any other columns, read from a CSV or Parquet
//! file keyed by `video_id` (`catalog build/add --metadata`, `catalog set-metadata`) and
//! kept in the catalogue's `videos` table.

use crate::error::{Error, Result};
use crate::store::catalog;
use crate::store::csv::read_csv;
use crate::store::table::{self, VideoMeta, VideoRow};
use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Reads a metadata file (CSV, or Parquet by its extension): one row per video,
/// `video_id` required and unique, empty cells unknown.
pub fn read(path: &Path) -> Result<BTreeMap<String, VideoMeta>> {
    let rows = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) {
        parquet_rows(path)?
    } else {
        read_csv(path)?
            .into_iter()
            .map(|r| {
                r.into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k, v.trim().to_string())).collect()
            })
            .collect()
    };
    let bad = |why: String| Error::Invalid(format!("{}: {why}", path.display()));
    let mut out = BTreeMap::new();
    for (n, mut row) in rows.into_iter().enumerate() {
        let id = row.remove("video_id").ok_or_else(|| bad(format!("row {} has no video_id", n + 1)))?;
        let listed = match row.remove("duration_s") {
            Some(d) => Some(d.parse::<f64>().map_err(|_| bad(format!("{id}: duration_s {d:?} is not a number")))?),
            None => None,
        };
        let mut take = |k: &str| row.remove(k);
        let (series, season, episode, title) = (take("series"), take("season"), take("episode"), take("title"));
        let (licensor, licence_id) = (take("licensor"), take("licence_id"));
        // What is left are the file's other columns.
        let extra: BTreeMap<String, String> = row.into_iter().collect();
        let extra = (!extra.is_empty()).then(|| serde_json::to_string(&extra).expect("strings are JSON"));
        let meta = VideoMeta { series, season, episode, title, licensor, licence_id, listed_duration_s: listed, extra };
        if out.insert(id.clone(), meta).is_some() {
            return Err(bad(format!("video_id {id:?} is listed twice")));
        }
    }
    Ok(out)
}

/// Every row of a Parquet file as strings by column, nulls left out.
fn parquet_rows(path: &Path) -> Result<Vec<HashMap<String, String>>> {
    let mut rows = Vec::new();
    for b in table::read_all(path)? {
        let mut cols = Vec::new();
        for (f, c) in b.schema().fields().iter().zip(b.columns()) {
            let text = arrow::compute::cast(c, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone();
            cols.push((f.name().clone(), text));
        }
        for i in 0..b.num_rows() {
            let row = cols.iter().filter(|(_, c)| c.is_valid(i)).map(|(n, c)| (n.clone(), c.value(i).to_string()));
            rows.push(row.collect());
        }
    }
    Ok(rows)
}

/// `catalog set-metadata`: gives the videos of the catalogue in `dir` their rows of
/// `metas` without touching a descriptor; returns the `video_id`s that matched no video.
pub fn set(dir: &Path, metas: &BTreeMap<String, VideoMeta>) -> Result<Vec<String>> {
    let mut manifest = catalog::read_manifest(dir)?;
    let mut videos = catalog::read_videos(dir)?;
    let unmatched = apply(&mut videos, metas);
    catalog::write_videos(dir, &mut manifest, &videos)?;
    Ok(unmatched)
}

/// Gives each video of `videos` its row of `metas`, found by its id or, failing that, by
/// its file name without extension; videos without a row keep what they had. Returns the
/// `video_id`s that matched no video.
pub fn apply(videos: &mut [VideoRow], metas: &BTreeMap<String, VideoMeta>) -> Vec<String> {
    let stem = |id: &str| {
        let base = id.rsplit('/').next().unwrap_or(id);
        base.rsplit_once('.').map_or(base, |(s, _)| s).to_string()
    };
    let mut used = vec![false; metas.len()];
    let keys: Vec<&String> = metas.keys().collect();
    for v in videos.iter_mut() {
        let found = keys.iter().position(|k| **k == v.id).or_else(|| keys.iter().position(|k| stem(k) == stem(&v.id)));
        if let Some(k) = found {
            v.meta = metas[keys[k]].clone();
            used[k] = true;
        }
    }
    keys.iter().zip(used).filter(|(_, u)| !u).map(|(k, _)| (*k).clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_and_extra_columns_and_refuses_what_it_cannot_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(
            &path,
            "video_id,series,episode,title,licensor,duration_s,rating\n\
             ep1.mp4,Palace,1,\"The Ball, Part 1\",Studio A,61.5,PG\n\
             ep2,Palace,2,,Studio A,,\n",
        )
        .unwrap();
        let m = read(&path).unwrap();
        let one = &m["ep1.mp4"];
        assert_eq!(one.title.as_deref(), Some("The Ball, Part 1"));
        assert_eq!(one.listed_duration_s, Some(61.5));
        assert_eq!(one.extra.as_deref(), Some(r#"{"rating":"PG"}"#));
        assert_eq!((m["ep2"].title.clone(), m["ep2"].extra.clone()), (None, None));

        let row = |id: &str| VideoRow { id: id.into(), ..VideoRow::default() };
        let mut videos = vec![row("ep1.mp4"), row("shows/ep2.mkv"), row("ep3.mp4")];
        assert!(apply(&mut videos, &m).is_empty());
        assert_eq!(videos[1].meta.episode.as_deref(), Some("2"));
        assert_eq!(videos[2].meta, VideoMeta::default());

        std::fs::write(&path, "video_id,series\na,x\na,y\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("listed twice"));
        std::fs::write(&path, "id,series\na,x\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("no video_id"));
    }
}

//! `clipmatch eval`: scores predicted segments against ground truth exactly as
//! ../shared/bench/score.py does (segment and pair micro-AP, precision and recall at the
//! operating point, false-positive uploads). Ids compare by base name without extension
//! (`Names`).

use crate::error::{Error, Result};
use crate::store::csv::read_csv;
use crate::store::table;
use arrow::array::{Array, Float32Array, Float64Array, StringArray};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

/// (query, ref, qs, qe, rs, re)
#[derive(Clone, Debug)]
pub struct Truth {
    pub query: String,
    pub reference: String,
    pub b: [f64; 4],
}

impl Truth {
    /// The catalogue time the upload shows at upload time `t`, where `t` lies in this
    /// segment (its ranges mapped linearly).
    pub fn ref_time(&self, t: f64) -> Option<f64> {
        let [qs, qe, rs, re] = self.b;
        (qs..=qe).contains(&t).then(|| rs + (t - qs) * (re - rs) / (qe - qs).max(1e-9))
    }
}

#[derive(Clone, Debug)]
pub struct Prediction {
    pub query: String,
    pub reference: String,
    pub b: [f64; 4],
    pub score: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Scores {
    pub segment_uap: f64,
    pub pair_uap: f64,
    pub segment_precision: f64,
    pub segment_recall: f64,
    pub pair_precision: f64,
    pub pair_recall: f64,
    pub predictions: usize,
    pub true_segments: usize,
    pub false_positive_queries: usize,
}

/// The base name of an id: "uploads/q0001.mp4" -> "q0001.mp4".
fn base_id(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// An id less whatever follows its last dot, as score.py compares ids: "q0001.mp4" and
/// "q0001" name the same video.
pub fn norm_id(s: &str) -> String {
    let base = base_id(s);
    match base.rfind('.') {
        Some(i) => base[..i].to_string(),
        None => base.to_string(),
    }
}

/// The ids ground truth names, as written, by which reported ids are resolved to the
/// truth's spelling: a reported id names a truth id that equals its base name, or its
/// base name less its extension (the truth writes a file's stem, as make_queries.py
/// does), or that compares equal as score.py compares ids. score.py compares only the
/// last way, which for a stem with dots ("stream.360p.vp9", of "stream.360p.vp9.mp4")
/// drops a part of the stem from the truth's id and only the extension from the
/// reported one: every true match of such a video counted as a miss and a false match.
/// Only there do the two scorers differ.
pub struct Names {
    exact: HashSet<String>,
    by_norm: HashMap<String, String>,
}

impl Names {
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Names {
        let exact: HashSet<String> = ids.into_iter().map(String::from).collect();
        let by_norm = exact.iter().map(|id| (norm_id(id), id.clone())).collect();
        Names { exact, by_norm }
    }

    /// `id` as the truth spells it, or as score.py normalises it where the truth does not
    /// name it.
    pub fn resolve(&self, id: &str) -> String {
        let base = base_id(id);
        if self.exact.contains(base) {
            return base.to_string();
        }
        let stem = norm_id(base);
        if self.exact.contains(&stem) {
            return stem;
        }
        self.by_norm.get(&stem).cloned().unwrap_or(stem)
    }
}

/// The uploads and the references `truth` names.
pub fn names(truth: &[Truth]) -> (Names, Names) {
    (Names::new(truth.iter().map(|t| t.query.as_str())), Names::new(truth.iter().map(|t| t.reference.as_str())))
}

/// Predictions with their uploads and references named as `truth` names them.
fn resolved(truth: &[Truth], preds: &[Prediction]) -> Vec<Prediction> {
    let (queries, references) = names(truth);
    preds
        .iter()
        .map(|p| Prediction {
            query: queries.resolve(&p.query),
            reference: references.resolve(&p.reference),
            ..p.clone()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, k: &str, path: &Path) -> Result<f64> {
    row.get(k)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::Invalid(format!("{}: column {k} missing or not a number", path.display())))
}

fn text<'a>(row: &'a HashMap<String, String>, k: &str, path: &Path) -> Result<&'a str> {
    row.get(k).map(String::as_str).ok_or_else(|| Error::Invalid(format!("{}: column {k} missing", path.display())))
}

/// The upload, the reference and the box (query start and end, reference start and end)
/// of a CSV row, as ground truth and CSV predictions both spell them.
fn csv_box(r: &HashMap<String, String>, path: &Path) -> Result<(String, String, [f64; 4])> {
    Ok((
        base_id(text(r, "query_id", path)?).to_string(),
        base_id(text(r, "ref_id", path)?).to_string(),
        [
            num(r, "query_start", path)?,
            num(r, "query_end", path)?,
            num(r, "ref_start", path)?,
            num(r, "ref_end", path)?,
        ],
    ))
}

pub fn read_truth(path: &Path) -> Result<Vec<Truth>> {
    read_csv(path)?
        .iter()
        .map(|r| {
            let (query, reference, b) = csv_box(r, path)?;
            Ok(Truth { query, reference, b })
        })
        .collect()
}

/// Predictions from a CSV, a Parquet file, or a folder of Parquet files. Given a job's
/// `--out` folder, reads its `matches` table.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    if path.extension().is_some_and(|e| e == "csv") {
        return read_csv(path)?
            .iter()
            .map(|r| {
                let (query, reference, b) = csv_box(r, path)?;
                Ok(Prediction { query, reference, b, score: num(r, "score", path)? })
            })
            .collect();
    }
    let root = if path.join("matches").is_dir() { path.join("matches") } else { path.to_path_buf() };
    let mut out = Vec::new();
    for f in table::parquet_files(&root)? {
        for b in table::read_all(&f)? {
            let s = |n: &str| table::column::<StringArray>(&b, n, &f);
            let d = |n: &str| table::column::<Float64Array>(&b, n, &f);
            let (q, r) = (s("query_id")?, s("ref_id")?);
            let (qs, qe, rs, re) = (d("query_start_s")?, d("query_end_s")?, d("ref_start_s")?, d("ref_end_s")?);
            let score = table::column::<Float32Array>(&b, "score", &f)?;
            for i in 0..b.num_rows() {
                out.push(Prediction {
                    query: base_id(q.value(i)).to_string(),
                    reference: base_id(r.value(i)).to_string(),
                    b: [qs.value(i), qe.value(i), rs.value(i), re.value(i)],
                    score: score.value(i) as f64,
                });
            }
            debug_assert_eq!(score.null_count(), 0);
        }
    }
    Ok(out)
}

fn union(intervals: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = intervals.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
    v.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn length(u: &[(f64, f64)]) -> f64 {
    u.iter().map(|(a, b)| b - a).sum()
}

fn overlap(u: &[(f64, f64)], v: &[(f64, f64)]) -> f64 {
    let (mut i, mut j, mut total) = (0, 0, 0.0);
    while i < u.len() && j < v.len() {
        let lo = u[i].0.max(v[j].0);
        let hi = u[i].1.min(v[j].1);
        total += (hi - lo).max(0.0);
        if u[i].1 < v[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    total
}

fn average_precision(points: &[(f64, f64)]) -> f64 {
    let (mut ap, mut last_r) = (0.0, 0.0f64);
    for &(p, r) in points {
        ap += p * (r - last_r).max(0.0);
        last_r = last_r.max(r);
    }
    ap
}

fn boxes_overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[1].min(b[1]) > a[0].max(b[0]) && a[3].min(b[3]) > a[2].max(b[2])
}

/// Sorts best first, stably, as Python's `sorted(key=-score)` does.
fn ranked(preds: &[Prediction]) -> Vec<&Prediction> {
    let mut v: Vec<&Prediction> = preds.iter().collect();
    v.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal));
    v
}

fn segment_uap(truth: &[Truth], preds: &[Prediction]) -> (f64, f64, f64) {
    let mut gt: HashMap<(&str, &str), Vec<[f64; 4]>> = HashMap::new();
    for t in truth {
        gt.entry((&t.query, &t.reference)).or_default().push(t.b);
    }
    let gt_q: f64 = gt.values().map(|v| length(&union(v.iter().map(|b| (b[0], b[1]))))).sum();
    let gt_r: f64 = gt.values().map(|v| length(&union(v.iter().map(|b| (b[2], b[3]))))).sum();
    let mut pred: HashMap<(&str, &str), Vec<[f64; 4]>> = HashMap::new();
    let mut state: HashMap<(&str, &str), [f64; 4]> = HashMap::new();
    let mut tot = [0.0f64; 4];
    let mut points = Vec::new();
    let order = ranked(preds);
    for (k, p) in order.iter().enumerate() {
        let key = (p.query.as_str(), p.reference.as_str());
        let boxes = pred.entry(key).or_default();
        boxes.push(p.b);
        let hit: Vec<[f64; 4]> = gt
            .get(&key)
            .map(|g| g.iter().filter(|g| boxes.iter().any(|b| boxes_overlap(g, b))).copied().collect())
            .unwrap_or_default();
        let pq = union(boxes.iter().map(|b| (b[0], b[1])));
        let pr = union(boxes.iter().map(|b| (b[2], b[3])));
        let gq = union(hit.iter().map(|b| (b[0], b[1])));
        let gr = union(hit.iter().map(|b| (b[2], b[3])));
        let new = [length(&pq), overlap(&pq, &gq), length(&pr), overlap(&pr, &gr)];
        let old = state.entry(key).or_insert([0.0; 4]);
        for i in 0..4 {
            tot[i] += new[i] - old[i];
        }
        *old = new;
        if k + 1 < order.len() && order[k + 1].score == p.score {
            continue; // ties enter together
        }
        let prec = if tot[0] > 0.0 && tot[2] > 0.0 { (tot[1] / tot[0] * tot[3] / tot[2]).sqrt() } else { 0.0 };
        let rec = if gt_q > 0.0 && gt_r > 0.0 { (tot[1] / gt_q * tot[3] / gt_r).sqrt() } else { 0.0 };
        points.push((prec, rec));
    }
    let (p, r) = points.last().copied().unwrap_or((0.0, 0.0));
    (average_precision(&points), p, r)
}

fn pair_uap(truth: &[Truth], preds: &[Prediction]) -> (f64, f64, f64) {
    let positives: BTreeSet<(&str, &str)> = truth.iter().map(|t| (t.query.as_str(), t.reference.as_str())).collect();
    // First-seen order, then a stable sort by score: Python's dict and sorted() do the same.
    let mut best: Vec<((&str, &str), f64)> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for p in preds {
        let key = (p.query.as_str(), p.reference.as_str());
        match index.get(&key) {
            Some(&i) => best[i].1 = best[i].1.max(p.score),
            None => {
                index.insert(key, best.len());
                best.push((key, p.score));
            }
        }
    }
    best.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    let mut tp = 0usize;
    let mut points = Vec::new();
    for (i, (key, _)) in best.iter().enumerate() {
        tp += usize::from(positives.contains(key));
        let recall = if positives.is_empty() { 0.0 } else { tp as f64 / positives.len() as f64 };
        points.push((tp as f64 / (i + 1) as f64, recall));
    }
    let precision = if best.is_empty() { 0.0 } else { tp as f64 / best.len() as f64 };
    let recall = if positives.is_empty() { 0.0 } else { tp as f64 / positives.len() as f64 };
    (average_precision(&points), precision, recall)
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

pub fn score(truth: &[Truth], preds: &[Prediction]) -> Scores {
    let preds = &resolved(truth, preds);
    let (seg, seg_p, seg_r) = segment_uap(truth, preds);
    let (pair, pair_p, pair_r) = pair_uap(truth, preds);
    let true_queries: BTreeSet<&str> = truth.iter().map(|t| t.query.as_str()).collect();
    let fp: BTreeSet<&str> = preds.iter().map(|p| p.query.as_str()).filter(|q| !true_queries.contains(q)).collect();
    Scores {
        segment_uap: round4(seg),
        pair_uap: round4(pair),
        segment_precision: round4(seg_p),
        segment_recall: round4(seg_r),
        pair_precision: round4(pair_p),
        pair_recall: round4(pair_r),
        predictions: preds.len(),
        true_segments: truth.len(),
        false_positive_queries: fp.len(),
    }
}

/// Recall per edit family: for each family, the segment recall over the uploads whose
/// edit list (queries.csv's `edits` JSON) names it.
/// The uploads of each edit family (its edits and its canvas), from a queries.csv with an
/// `edits` column as `make_queries.py` writes it.
pub fn edit_families(queries_csv: &Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in read_csv(queries_csv)? {
        let q = base_id(text(&row, "query_id", queries_csv)?).to_string();
        let edits: serde_json::Value = serde_json::from_str(text(&row, "edits", queries_csv)?)
            .map_err(|e| Error::Invalid(format!("{}: edits of {q}: {e}", queries_csv.display())))?;
        let mut names: Vec<String> = edits["edits"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if let Some(c) = edits["canvas"].as_str() {
            names.push(format!("canvas:{c}"));
        }
        for n in names {
            families.entry(n).or_default().insert(q.clone());
        }
    }
    Ok(families)
}

pub fn recall_by_edit(
    truth: &[Truth],
    preds: &[Prediction],
    queries_csv: &Path,
) -> Result<BTreeMap<String, (usize, f64)>> {
    let families = edit_families(queries_csv)?;
    let preds = resolved(truth, preds);
    let mut out = BTreeMap::new();
    for (family, qs) in families {
        let t: Vec<Truth> = truth.iter().filter(|t| qs.contains(&t.query)).cloned().collect();
        if t.is_empty() {
            continue;
        }
        let p: Vec<Prediction> = preds.iter().filter(|p| qs.contains(&p.query)).cloned().collect();
        out.insert(family, (t.len(), segment_uap(&t, &p).2));
    }
    Ok(out)
}

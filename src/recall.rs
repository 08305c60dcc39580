//! `clipmatch recall`: how often the search finds the right catalogue frame, before any
//! alignment. For every upload frame sampled inside a true segment (ground truth as
//! `clipmatch eval` reads it), whether a catalogue frame of the true video within
//! `NEAR_S` of the time the truth maps the frame to is the best neighbour (@1) or among
//! the best five (@5): of the frame's picture view alone, of all the views the job
//! searches (bands, halves, windows, the strips' probe) taken together, of some one of
//! them (what a view finds before other views crowd it out), and of some list alignment
//! reads (the best of the picture's views together, or of one part: `matching::find`).
//! Per edit family too. The descriptor is the foundation the alignment stands on: this
//! is where its robustness is measured.
//! Orchestration of `ingest`, `kernels`, `store` and `eval`.

use crate::config::Config;
use crate::error::Result;
use crate::eval::{Truth, edit_families, names};
use crate::ingest::hw::Decoder;
use crate::ingest::pipeline::{self, Selection};
use crate::ingest::sample::{Decoded, Views};
use crate::kernels::engine::Engine;
use crate::kernels::search::{Hit, union};
use crate::store::catalog::{self, Catalogue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A catalogue frame within this many seconds of the true time counts as the right one.
pub const NEAR_S: f64 = 1.0;

/// Frames found among the best 1 and 5 neighbours, of `frames`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Recall {
    pub frames: usize,
    pub picture_at_1: f64,
    pub picture_at_5: f64,
    /// Among the best of every view's neighbours together: a view that finds wrong
    /// frames with high scores crowds the right one out.
    pub any_view_at_1: f64,
    pub any_view_at_5: f64,
    /// Among the best of some one view's own neighbours: what the views find before
    /// they crowd each other out (alignment reads the best of the picture's views
    /// together, and of the parts' each over its own background).
    pub some_view_at_1: f64,
    pub some_view_at_5: f64,
    /// Among the best of some list alignment reads: the picture's views together, or
    /// one part's own (a part's list is scored over its own background, which keeps its
    /// order, and never joined to the picture's).
    pub aligned_at_1: f64,
    pub aligned_at_5: f64,
}

/// Recall over all frames, and per edit family where a queries.csv is given.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub all: Recall,
    pub by_edit: BTreeMap<String, Recall>,
}

/// Counts of found frames (picture @1, @5, any view @1, @5, some view @1, @5, aligned
/// @1, @5) over `frames`.
#[derive(Clone, Copy, Default)]
struct Counts {
    frames: usize,
    found: [usize; 8],
}

impl Counts {
    fn add(&mut self, found: [bool; 8]) {
        self.frames += 1;
        self.found.iter_mut().zip(found).for_each(|(n, f)| *n += usize::from(f));
    }

    fn recall(&self) -> Recall {
        let r = |n: usize| if self.frames == 0 { 0.0 } else { n as f64 / self.frames as f64 };
        Recall {
            frames: self.frames,
            picture_at_1: r(self.found[0]),
            picture_at_5: r(self.found[1]),
            any_view_at_1: r(self.found[2]),
            any_view_at_5: r(self.found[3]),
            some_view_at_1: r(self.found[4]),
            some_view_at_5: r(self.found[5]),
            aligned_at_1: r(self.found[6]),
            aligned_at_5: r(self.found[7]),
        }
    }
}

/// What `recall` measures against.
pub struct RecallOptions<'a> {
    pub catalog: &'a Path,
    pub truth: &'a [Truth],
    /// A queries.csv with an `edits` column, for recall per edit family.
    pub queries_csv: Option<&'a Path>,
    pub config: &'a Config,
    /// The executable serving decode workers, and how many run.
    pub worker: Option<PathBuf>,
    pub decoder: Decoder,
    pub workers: usize,
}

/// Frame recall of the uploads in `inputs`.
pub fn recall(inputs: &[PathBuf], o: &RecallOptions, engine: &Engine) -> Result<Report> {
    let (catalog, truth, config) = (o.catalog, o.truth, o.config);
    let cat = catalog::open(catalog, config.search.hold(catalog)?)?;
    let prepared = config.search.prepare(engine, &cat)?;
    let families = o.queries_csv.map(edit_families).transpose()?.unwrap_or_default();
    let (queries, references) = names(truth);
    // Each catalogue video's id as the truth spells it.
    let videos: Vec<String> = cat.videos.iter().map(|v| references.resolve(&v.id)).collect();
    let decode = config.decode_options(false, o.worker.clone(), o.decoder);
    let select = Selection { shard: crate::ingest::shard::Shard::ALL, done: None, follow_links: false };
    let mut all = Counts::default();
    let mut by_edit: BTreeMap<String, Counts> = BTreeMap::new();
    pipeline::run(
        inputs,
        &config.archive_limits(),
        &select,
        &decode,
        Views::Query { searched: cat.searched_strips(&prepared) },
        o.workers,
        &mut |m, out| {
            let Ok(d) = out.result else {
                return Ok(());
            };
            let query = queries.resolve(&m.id);
            let segments: Vec<&Truth> = truth.iter().filter(|t| t.query == query).collect();
            if segments.is_empty() {
                return Ok(());
            }
            let found = frames_found(&d, &segments, &cat, &videos, &prepared, engine)?;
            for f in found {
                all.add(f);
                for (family, queries) in &families {
                    if queries.contains(&query) {
                        by_edit.entry(family.clone()).or_default().add(f);
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(Report { all: all.recall(), by_edit: by_edit.into_iter().map(|(k, c)| (k, c.recall())).collect() })
}

/// For each frame of `d` inside one of `segments`, whether the right catalogue frame is
/// found: by the picture view @1 and @5, by all views together @1 and @5, by some view
/// @1 and @5, by some list alignment reads @1 and @5. `videos`: each catalogue video's id as the truth spells it.
fn frames_found(
    d: &Decoded,
    segments: &[&Truth],
    cat: &Catalogue,
    videos: &[String],
    prepared: &crate::kernels::engine::Searchable,
    engine: &Engine,
) -> Result<Vec<[bool; 8]>> {
    let (_, neighbours) = engine.describe_and_search_all(prepared, &d.images, &d.strip_probes())?;
    let mut out = Vec::new();
    for (i, views) in d.ranges().into_iter().enumerate() {
        let t = d.times[i];
        let Some((s, tr)) = segments.iter().find_map(|s| Some((s, s.ref_time(t)?))) else {
            continue;
        };
        let right = |h: &Hit| {
            !h.is_empty()
                && videos[cat.frame_video[h.frame()] as usize] == s.reference
                // Within NEAR_S of the time range the frame stands for (of its time, for a
                // frame that stands alone).
                && (cat.frame_t[h.frame()] - tr).max(tr - cat.frame_t_end[h.frame()]) <= NEAR_S
        };
        let within = |list: &[Hit], k: usize| list.iter().take(k).any(right);
        let picture = &neighbours[views.start];
        let parts = views.end - d.parts[i] as usize..views.end;
        let pictures = union(&neighbours[views.start..parts.start]);
        let aligned = |k: usize| within(&pictures, k) || neighbours[parts.clone()].iter().any(|l| within(l, k));
        let lists = &neighbours[views];
        let any = union(lists);
        let some = |k: usize| lists.iter().any(|l| within(l, k));
        let (picture_at, any_at) = (|k| within(picture, k), |k| within(&any, k));
        out.push([picture_at(1), picture_at(5), any_at(1), any_at(5), some(1), some(5), aligned(1), aligned(5)]);
    }
    Ok(out)
}

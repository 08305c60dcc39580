//! `catalog background`: each catalogue video's chance score, measured by running the
//! job over unrelated footage (every segment found there is false) and kept with the
//! catalogue (`store::background`). The footage goes through the same decoding, views,
//! search and alignment as uploads, so the scores are those an upload could reach.

use crate::error::{Error, Result};
use crate::ingest::shard::Shard;
use crate::job::{MatchOptions, run};
use crate::kernels::engine::Engine;
use crate::store::background::{self, BackgroundManifest, Chance};
use crate::store::catalog;
use crate::store::table::{self, column};
use arrow::array::{Float32Array, StringArray};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a measurement found.
#[derive(Debug)]
pub struct BackgroundSummary {
    pub uploads: u64,
    pub failed: u64,
    /// Catalogue videos the footage matched, highest chance score first.
    pub chance: Vec<Chance>,
}

/// Measures the chance scores of the catalogue `opts.catalog` on the videos of `inputs`
/// (folders, files, archives of unrelated footage) and stores them. `opts.config` is the
/// configuration the catalogue will be matched with; where the run goes (`out`,
/// `run_date`, the shards) is set here.
pub fn measure(inputs: &[PathBuf], mut opts: MatchOptions, engine: &Engine) -> Result<BackgroundSummary> {
    let select = &mut opts.config.matching.select;
    if select.chance_margin <= 0.0 {
        return Err(Error::Invalid("matching.select.chance_margin is 0: chance scores would not be used".into()));
    }
    // The footage is matched as uploads are, with the same threshold (a lower one would
    // change which segments refinement and the still test see), and no earlier chance
    // score plays a part.
    select.chance_margin = 0.0;
    let out = opts.catalog.join(".background-run");
    let clear = || match std::fs::remove_dir_all(&out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&out, e)),
        _ => Ok(()),
    };
    clear()?;
    opts.out = out.clone();
    opts.run_date = "1970-01-01".into();
    (opts.shard, opts.catalog_shard) = (Shard::ALL, Shard::ALL);
    let ran = run(inputs, &opts, engine)?;
    if ran.ok == 0 {
        clear()?;
        return Err(Error::Invalid(format!(
            "none of the {} background videos could be decoded (their errors are logged above)",
            ran.uploads
        )));
    }
    let mut found: BTreeMap<String, (f32, u32)> = BTreeMap::new();
    for f in table::parquet_files(&out.join("matches"))? {
        for b in table::read_all(&f)? {
            let (video, score) =
                (column::<StringArray>(&b, "ref_id", &f)?, column::<Float32Array>(&b, "vote_score", &f)?);
            for i in 0..b.num_rows() {
                let e = found.entry(video.value(i).to_string()).or_insert((0.0, 0));
                *e = (e.0.max(score.value(i)), e.1 + 1);
            }
        }
    }
    clear()?;
    let mut chance: Vec<Chance> =
        found.into_iter().map(|(video_id, (score, segments))| Chance { video_id, score, segments }).collect();
    chance.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.video_id.cmp(&b.video_id)));
    background::write(&opts.catalog, &chance)?;
    let mut manifest = catalog::read_manifest(&opts.catalog)?;
    manifest.background = Some(BackgroundManifest {
        sources: inputs.iter().map(|p| p.display().to_string()).collect(),
        uploads: ran.uploads,
        failed: ran.failed,
        // The version the manifest is saved with below.
        catalogue_version: manifest.version + 1,
        videos: manifest.videos,
        computed_at: catalog::now_rfc3339(),
    });
    catalog::save_manifest(&opts.catalog, &mut manifest)?;
    Ok(BackgroundSummary { uploads: ran.uploads, failed: ran.failed, chance })
}

//! Splitting a night's uploads over N independent processes. Every process reads the
//! same inputs and keeps the members whose stable hash of (archive, member) falls in its
//! shard, so N shards together see every member exactly once, whatever the machine.

use crate::error::{Error, Result};
use std::fmt;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole run in one process.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Invalid(format!("shard {index}/{count}: the index must be below the count, from 0")));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N`, as `flag` (`--shard`, `--catalog-shard`) takes it.
    pub fn parse(s: &str, flag: &str) -> Result<Shard> {
        let bad = || Error::Invalid(format!("{flag} {s:?} is not of the form I/N (for example 3/8)"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?)
            .map_err(|e| Error::Invalid(format!("{flag} {s:?}: {e}")))
    }

    /// This process's shard of `count`, from the scheduler's own index: a Kubernetes
    /// Indexed Job's `JOB_COMPLETION_INDEX`, or a Slurm array's `SLURM_ARRAY_TASK_ID`
    /// (counted from the array's first id, so `--array=1-8` works as well as `0-7`).
    pub fn from_env(count: u32, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let int = |name: &str| -> Result<Option<u32>> {
            match env(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::Invalid(format!("{name}={v:?} is not a non-negative integer"))),
            }
        };
        if let Some(i) = int("JOB_COMPLETION_INDEX")? {
            return Shard::new(i, count);
        }
        if let Some(i) = int("SLURM_ARRAY_TASK_ID")? {
            let first = int("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            if let Some(n) = int("SLURM_ARRAY_TASK_COUNT")?
                && n != count
            {
                return Err(Error::Invalid(format!(
                    "--shards {count} but the Slurm array has {n} tasks: submit it with --array=0-{}",
                    count.saturating_sub(1)
                )));
            }
            return Shard::new(i.checked_sub(first).unwrap_or(u32::MAX), count);
        }
        Err(Error::Invalid(
            "--shards needs JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array) \
             in the environment; elsewhere use --shard I/N"
                .into(),
        ))
    }

    /// Task `self` of a grid of `self.count / cats` upload shards x `cats` catalogue
    /// shards, numbered row by row: its upload shard and its catalogue shard.
    pub fn grid(self, cats: u32) -> Result<(Shard, Shard)> {
        if cats == 0 || !self.count.is_multiple_of(cats) {
            return Err(Error::Invalid(format!("{} tasks do not make a grid of {cats} catalogue shards", self.count)));
        }
        Ok((Shard::new(self.index / cats, self.count / cats)?, Shard::new(self.index % cats, cats)?))
    }

    /// Whether this shard processes member `id` of `archive` (an empty id stands for the
    /// archive itself, as in a damaged-archive row).
    pub fn owns(&self, archive: &str, id: &str) -> bool {
        self.count == 1 || crate::stable_hash(&[archive, id]) % u64::from(self.count) == u64::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Shard::parse("3/8", "--shard").unwrap(), Shard { index: 3, count: 8 });
        for bad in ["8/8", "1/0", "x/2", "3", "-1/4"] {
            let e = Shard::parse(bad, "--catalog-shard").unwrap_err().to_string();
            assert!(e.contains("--catalog-shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn shards_partition_the_members() {
        let n = 5;
        let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
        let mut per_shard = vec![0; n as usize];
        for k in 0..1000 {
            let id = format!("user{k}/clip.mp4");
            let owners: Vec<u32> = shards.iter().filter(|s| s.owns("night.tar", &id)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1, "{id} owned by {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        assert!(per_shard.iter().all(|&c| c > 150), "unbalanced: {per_shard:?}");
    }

    #[test]
    fn index_from_the_scheduler() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::from_env(4, env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap(), Shard { index: 2, count: 4 });
        const SLURM: &[(&str, &str)] =
            &[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(Shard::from_env(4, env(SLURM)).unwrap(), Shard { index: 3, count: 4 });
        assert!(Shard::from_env(3, env(SLURM)).is_err(), "array size disagrees with --shards");
        assert!(Shard::from_env(4, env(&[("JOB_COMPLETION_INDEX", "4")])).is_err());
        assert!(Shard::from_env(4, env(&[])).is_err());
    }

    #[test]
    fn a_grid_task_is_one_upload_shard_and_one_catalogue_shard() {
        let (uploads, cats) = (3, 2);
        let mut seen = Vec::new();
        for k in 0..uploads * cats {
            let (u, c) = Shard::new(k, uploads * cats).unwrap().grid(cats).unwrap();
            assert_eq!((u.count, c.count), (uploads, cats));
            seen.push((u.index, c.index));
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 6, "every cell once: {seen:?}");
        assert!(Shard::new(0, 5).unwrap().grid(2).is_err());
    }
}

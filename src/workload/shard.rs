//! Shards: one process's share of a workload run by N processes at once (a
//! Kubernetes Indexed Job, or N shells). Shard `I/N` (I from 0) takes its
//! share of the rate, the concurrency, the sessions and a request limit,
//! with the remainders spread over the first shards so the shares add up to
//! exactly the workload's figures. Its result file keeps the whole workload
//! (so `mcptop merge` can tell which files belong together) and is tagged
//! with the shard.

use super::spec::WorkloadSpec;
use super::{Bound, LoadShape, ThresholdMetric, Workload, WorkloadError};
use serde::{Deserialize, Serialize};

/// The environment variable that may give `--shard`.
pub const SHARD_ENV: &str = "MCPTOP_SHARD";
/// Set by Kubernetes in each pod of an Indexed Job: the shard's index.
pub const JOB_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Shard `index` of `count` (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Which shards a merged result holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShards {
    pub count: u32,
    pub present: Vec<u32>,
    /// Left out (only with `merge --allow-missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("{source_name}: {text:?} is not a shard: expected I/N (I from 0 to N-1, e.g. 0/4), or /N with I taken from {JOB_INDEX_ENV}")]
    Syntax { source_name: String, text: String },
    #[error("{source_name}: shard {index}/{count}: the index must be below the count (shards are numbered from 0)")]
    OutOfRange {
        source_name: String,
        index: u32,
        count: u32,
    },
    #[error(
        "{source_name}: {text:?} takes the shard's index from {JOB_INDEX_ENV}, which is {found}"
    )]
    NoJobIndex {
        source_name: String,
        text: String,
        found: String,
    },
    #[error("shard {shard}: the workload's {what} cannot be shared by {count} shards: each needs {need}; run fewer shards or raise it")]
    TooSmall {
        shard: String,
        what: String,
        count: u32,
        need: &'static str,
    },
    #[error(transparent)]
    Workload(#[from] WorkloadError),
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `I/N`, or `/N` with I from `job_index` (`JOB_COMPLETION_INDEX`).
    pub fn parse(
        text: &str,
        source_name: &str,
        job_index: Option<&str>,
    ) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax {
            source_name: source_name.to_string(),
            text: text.to_string(),
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let count: u32 = n.trim().parse().map_err(|_| syntax())?;
        let index: u32 = if i.trim().is_empty() {
            let found = job_index.unwrap_or("not set");
            found.trim().parse().map_err(|_| ShardError::NoJobIndex {
                source_name: source_name.to_string(),
                text: text.to_string(),
                found: format!("{found:?}"),
            })?
        } else {
            i.trim().parse().map_err(|_| syntax())?
        };
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange {
                source_name: source_name.to_string(),
                index,
                count,
            });
        }
        Ok(Shard { index, count })
    }

    /// The shard asked for: `--shard` if given, else `MCPTOP_SHARD`; `None`
    /// when neither is (a whole run).
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Option<Shard>, ShardError> {
        let job_index = std::env::var(JOB_INDEX_ENV).ok();
        if let Some(text) = flag {
            return Shard::parse(text, "--shard", job_index.as_deref()).map(Some);
        }
        match std::env::var(SHARD_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                Shard::parse(&text, SHARD_ENV, job_index.as_deref()).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// This shard's part of a whole count: the remainder goes one each to
    /// the first shards, so the parts add up to `total`.
    pub fn part(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) < total % n)
    }

    /// This shard's part of a rate: whole requests per second are shared
    /// as counts are; a fractional rate is divided evenly.
    pub fn part_of_rate(&self, rate: f64) -> f64 {
        if rate.fract() == 0.0 && rate >= 0.0 && rate < u64::MAX as f64 {
            self.part(rate as u64) as f64
        } else {
            rate / f64::from(self.count)
        }
    }

    fn part_u32(&self, total: u32, what: &str, need: &'static str) -> Result<u32, ShardError> {
        match self.part(u64::from(total)) {
            0 => Err(ShardError::TooSmall {
                shard: self.to_string(),
                what: format!("{what} {total}"),
                count: self.count,
                need,
            }),
            n => Ok(n as u32),
        }
    }
}

/// The workload this shard runs: its share of the load, validated as any
/// workload is; the result keeps the whole workload's spec. A throughput
/// threshold is scaled to the shard's share (the merge judges the whole).
pub fn split(workload: &Workload, shard: Shard) -> Result<Workload, ShardError> {
    if shard.count == 1 {
        return Ok(workload.clone());
    }
    let mut spec: WorkloadSpec = workload.spec.clone();
    if spec.scenarios.is_empty() {
        split_top_level(&mut spec, workload, shard)?;
    } else {
        split_scenarios(&mut spec, shard)?;
    }
    if let Some(n) = workload.requests {
        spec.requests = Some(match shard.part(n) {
            0 => {
                return Err(ShardError::TooSmall {
                    shard: shard.to_string(),
                    what: format!("request limit {n}"),
                    count: shard.count,
                    need: "one request at least",
                })
            }
            part => part,
        });
    }
    let mut part = Workload::from_spec(spec, &format!("{} (shard {shard})", workload.name))?;
    let fraction = share_of_load(workload, &part);
    for t in &mut part.thresholds {
        if t.metric == ThresholdMetric::Throughput {
            t.bound = match t.bound {
                Bound::AtLeast(x) => Bound::AtLeast(x * fraction),
                Bound::AtMost(x) => Bound::AtMost(x * fraction),
            };
        }
    }
    part.spec = workload.spec.clone();
    Ok(part)
}

/// The workload's own rate or concurrency, stages and sessions.
fn split_top_level(
    spec: &mut WorkloadSpec,
    workload: &Workload,
    shard: Shard,
) -> Result<(), ShardError> {
    spec.sessions = Some(shard.part_u32(workload.sessions, "sessions", "one session at least")?);
    let one_request = "one request in flight at least";
    match workload.shape {
        LoadShape::OpenLoop { rate } => spec.rate = Some(open_part(shard, rate)?),
        LoadShape::ClosedLoop { concurrency } => {
            spec.concurrency = Some(shard.part_u32(concurrency, "concurrency", one_request)?)
        }
    }
    split_stages(&mut spec.stages, shard, "stage concurrency")
}

/// Each stage's rate or concurrency (the workload's, or a scenario's).
fn split_stages(
    stages: &mut [super::spec::StageSpec],
    shard: Shard,
    what: &str,
) -> Result<(), ShardError> {
    for stage in stages {
        if let Some(rate) = stage.rate {
            stage.rate = Some(open_part(shard, rate)?);
        }
        if let Some(c) = stage.concurrency {
            let need = "one request in flight at least";
            stage.concurrency = Some(shard.part_u32(c, what, need)?);
        }
    }
    Ok(())
}

/// Each `[[scenarios]]` entry's own rate, concurrency, stages and session count
/// (a scenario on the shared sessions takes the shard's share of those).
fn split_scenarios(spec: &mut WorkloadSpec, shard: Shard) -> Result<(), ShardError> {
    use super::spec::ScenarioSessionsSpec;
    for s in &mut spec.scenarios {
        let what = |w: &str| format!("scenario {:?} {w}", s.name);
        if let Some(rate) = s.rate {
            s.rate = Some(open_part(shard, rate)?);
        }
        if let Some(c) = s.concurrency {
            let need = "one request in flight at least";
            s.concurrency = Some(shard.part_u32(c, &what("concurrency"), need)?);
        }
        if let Some(ScenarioSessionsSpec::Count(n)) = s.sessions {
            let n = shard.part_u32(n, &what("sessions"), "one session at least")?;
            s.sessions = Some(ScenarioSessionsSpec::Count(n));
        }
        split_stages(&mut s.stages, shard, &what("stage concurrency"))?;
    }
    Ok(())
}

fn open_part(shard: Shard, rate: f64) -> Result<f64, ShardError> {
    let part = shard.part_of_rate(rate);
    if part > 0.0 {
        Ok(part)
    } else {
        Err(ShardError::TooSmall {
            shard: shard.to_string(),
            what: format!("rate {rate}"),
            count: shard.count,
            need: "a rate above zero",
        })
    }
}

/// The part's load over the whole's, by the shape each starts with.
fn share_of_load(whole: &Workload, part: &Workload) -> f64 {
    let amount = |s: LoadShape| match s {
        LoadShape::OpenLoop { rate } => rate,
        LoadShape::ClosedLoop { concurrency } => f64::from(concurrency),
    };
    let (w, p) = (amount(whole.initial_shape()), amount(part.initial_shape()));
    if w > 0.0 {
        p / w
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests;

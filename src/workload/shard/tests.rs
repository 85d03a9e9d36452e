//! Shares add up exactly; every way to name a shard wrongly gets its own
//! message.

use super::*;

fn shard(index: u32, count: u32) -> Shard {
    Shard { index, count }
}

fn workload(text: &str) -> Workload {
    Workload::parse(text, "test").expect("workload")
}

const OPEN: &str = "name = \"w\"\nrate = 1000\nsessions = 5\nrequests = 10\n\
    [[ops]]\nmethod = \"ping\"\n[[thresholds]]\nmetric = \"throughput\"\nmin = 900\n";
const CLOSED: &str = "name = \"w\"\nconcurrency = 7\nsessions = 3\nduration = \"1s\"\n\
    [[ops]]\nmethod = \"ping\"\n";

#[test]
fn parts_add_up_to_the_whole_with_remainders_first() {
    let parts: Vec<u64> = (0..3).map(|i| shard(i, 3).part(1000)).collect();
    assert_eq!(parts, vec![334, 333, 333]);
    let parts: Vec<u64> = (0..4).map(|i| shard(i, 4).part(7)).collect();
    assert_eq!(parts, vec![2, 2, 2, 1]);
    assert_eq!(parts.iter().sum::<u64>(), 7);
    // A fractional rate is divided evenly.
    assert_eq!(shard(1, 4).part_of_rate(10.5), 2.625);
    assert_eq!(shard(2, 3).part_of_rate(1000.0), 333.0);
}

#[test]
fn an_open_loop_shard_takes_its_share_and_keeps_the_whole_spec() {
    let whole = workload(OPEN);
    let parts: Vec<Workload> = (0..3)
        .map(|i| split(&whole, shard(i, 3)).expect("split"))
        .collect();
    let rates: Vec<f64> = parts
        .iter()
        .map(|p| match p.shape {
            LoadShape::OpenLoop { rate } => rate,
            LoadShape::ClosedLoop { .. } => panic!("open loop"),
        })
        .collect();
    assert_eq!(rates, vec![334.0, 333.0, 333.0]);
    let sessions: Vec<u32> = parts.iter().map(|p| p.sessions).collect();
    assert_eq!(sessions, vec![2, 2, 1]);
    let requests: Vec<Option<u64>> = parts.iter().map(|p| p.requests).collect();
    assert_eq!(requests, vec![Some(4), Some(3), Some(3)]);
    // The result file says which workload it is a share of.
    assert!(parts.iter().all(|p| p.spec == whole.spec));
    // The throughput floor is the shard's share of it.
    let floor = parts[0]
        .thresholds
        .iter()
        .find(|t| t.metric == ThresholdMetric::Throughput)
        .map(|t| t.bound.clone());
    assert_eq!(floor, Some(Bound::AtLeast(900.0 * 334.0 / 1000.0)));
}

#[test]
fn a_closed_loop_shard_takes_its_share_of_concurrency() {
    let whole = workload(CLOSED);
    let parts: Vec<(u32, u32)> = (0..3)
        .map(|i| {
            let p = split(&whole, shard(i, 3)).expect("split");
            match p.shape {
                LoadShape::ClosedLoop { concurrency } => (concurrency, p.sessions),
                LoadShape::OpenLoop { .. } => panic!("closed loop"),
            }
        })
        .collect();
    assert_eq!(parts, vec![(3, 1), (2, 1), (2, 1)]);
}

#[test]
fn too_many_shards_for_the_load_is_an_error_naming_it() {
    let err = split(&workload(CLOSED), shard(3, 4)).expect_err("3 sessions, 4 shards");
    assert_eq!(
        err.to_string(),
        "shard 3/4: the workload's sessions 3 cannot be shared by 4 shards: each needs one \
         session at least; run fewer shards or raise it"
    );
}

#[test]
fn shards_are_named_i_of_n_or_take_i_from_the_job_index() {
    let ok = |text: &str, job: Option<&str>| Shard::parse(text, "--shard", job).expect(text);
    assert_eq!(ok("2/4", None), shard(2, 4));
    assert_eq!(ok(" 0 / 1 ", None), shard(0, 1));
    assert_eq!(ok("/4", Some("3")), shard(3, 4));
    let e = |text: &str, job: Option<&str>| {
        Shard::parse(text, "--shard", job)
            .expect_err(text)
            .to_string()
    };
    assert_eq!(
        e("4/4", None),
        "--shard: shard 4/4: the index must be below the count (shards are numbered from 0)"
    );
    assert!(e("0/0", None).contains("shard 0/0: the index must be below the count"));
    assert!(e("two/4", None).starts_with("--shard: \"two/4\" is not a shard: expected I/N"));
    assert!(e("3", None).contains("is not a shard"));
    assert_eq!(
        e("/4", None),
        "--shard: \"/4\" takes the shard's index from JOB_COMPLETION_INDEX, which is \"not set\""
    );
    assert!(e("/4", Some("x")).ends_with("which is \"x\""));
}

/// `[[scenarios]]`: each scenario takes its share of its own rate,
/// concurrency and sessions; one that cannot be shared is named.
#[test]
fn each_scenario_takes_its_share_of_its_own_load() {
    let whole = workload(
        r#"
name = "two"
duration = "1s"
[[scenarios]]
name = "probe"
rate = 21
sessions = 3
[[scenarios.ops]]
method = "tools/list"
[[scenarios]]
name = "flood"
concurrency = 16
sessions = 4
[[scenarios.ops]]
method = "tools/list"
"#,
    );
    let parts: Vec<Workload> = (0..2)
        .map(|i| split(&whole, shard(i, 2)).expect("split"))
        .collect();
    let shapes = |name: &str| -> Vec<LoadShape> {
        parts
            .iter()
            .map(|p| {
                p.scenarios
                    .iter()
                    .find(|s| s.name == name)
                    .expect(name)
                    .shape
            })
            .collect()
    };
    assert_eq!(
        shapes("probe"),
        vec![
            LoadShape::OpenLoop { rate: 11.0 },
            LoadShape::OpenLoop { rate: 10.0 }
        ]
    );
    assert_eq!(
        shapes("flood"),
        vec![LoadShape::ClosedLoop { concurrency: 8 }; 2]
    );
    let err = split(&whole, shard(3, 4)).expect_err("a 3-session scenario in 4 shards");
    assert!(
        err.to_string().contains("scenario \"probe\" sessions 3"),
        "{err}"
    );
}

/// A scenario's `[[scenarios.stages]]` are shared like its own load: two
/// shards of a stage at 41/s send 21/s and 20/s, not 41/s each.
#[test]
fn each_scenario_takes_its_share_of_its_stages() {
    let whole = workload(
        r#"
name = "staged"
duration = "2s"
[[scenarios]]
name = "ramp"
rate = 10
sessions = 2
[[scenarios.stages]]
duration = "1s"
rate = 41
[[scenarios.stages]]
duration = "1s"
rate = 6
[[scenarios.ops]]
method = "tools/list"
"#,
    );
    let stages: Vec<Vec<LoadShape>> = (0..2)
        .map(|i| {
            let part = split(&whole, shard(i, 2)).expect("split");
            part.scenarios[0].stages.iter().map(|s| s.shape).collect()
        })
        .collect();
    // Whole rates are shared with the remainder first, so they add up exactly.
    assert_eq!(
        stages,
        vec![
            vec![
                LoadShape::OpenLoop { rate: 21.0 },
                LoadShape::OpenLoop { rate: 3.0 }
            ],
            vec![
                LoadShape::OpenLoop { rate: 20.0 },
                LoadShape::OpenLoop { rate: 3.0 }
            ]
        ]
    );
}

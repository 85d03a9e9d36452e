use super::*;
use std::path::PathBuf;

#[test]
fn every_shipped_workload_parses_and_validates() {
    for (name, text) in catalog::SHIPPED {
        let w = Workload::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&w.name, name, "file name and workload name agree");
        assert!(!w.description.is_empty(), "{name} has a description");
        assert!(w.planned_duration().is_some() || w.requests.is_some());
    }
}

#[test]
fn every_file_in_workloads_dir_is_shipped() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("workloads dir")
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    on_disk.sort();
    let mut shipped: Vec<String> = catalog::SHIPPED
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    shipped.sort();
    assert_eq!(on_disk, shipped);
}

/// Each file in tests/invalid_workloads is rejected, naming the key at fault.
#[test]
fn invalid_workloads_name_the_key_and_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        ("unknown-key", "concurency", "unknown field"),
        ("both-rate-and-concurrency", "rate", "not both"),
        ("no-load-shape", "rate", "expected rate"),
        ("bad-duration", "duration", "expected a duration"),
        ("no-ops", "ops", "at least one"),
        (
            "unknown-method",
            "ops[0].method",
            "expected one of tools/call",
        ),
        ("tool-missing", "ops[0].tool", "needs the tool's name"),
        ("negative-rate", "rate", "above 0"),
        ("stage-wrong-shape", "stages[0].rate", "open-loop"),
        (
            "stages-and-duration",
            "duration",
            "sum of the stage durations",
        ),
        (
            "threshold-unknown-op",
            "thresholds[0].op",
            "no operation labelled \"nope\"",
        ),
        (
            "threshold-latency-number",
            "thresholds[0].max",
            "<duration>",
        ),
        ("zero-sessions", "sessions", "expected 1 to"),
        ("wrong-type", "concurrency", "invalid type"),
        ("not-toml", "name", "(line 1)"),
        ("bad-target", "target", "expected `builtin`"),
        (
            "bad-protocol",
            "protocol",
            "expected auto or one of 2026-07-28",
        ),
        ("zero-weight", "ops[0].weight", "at least 1"),
        ("duplicate-labels", "ops", "same label"),
        (
            "batch-other-era",
            "batch",
            "exist only in protocol 2025-03-26",
        ),
        ("batch-of-one", "batch", "expected 2 to 1000"),
        (
            "bad-connect-timeout",
            "connect_timeout",
            "expected a duration above zero, got \"0s\"",
        ),
        ("six-mistakes", "ops[1].wieght", "unknown field `wieght`"),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_workloads");
    let files = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(files, cases.len(), "every fixture has a case");
    for (file, key, message) in cases {
        let path = dir.join(format!("{file}.toml"));
        let err = Workload::load(&path, &Overrides::default())
            .expect_err(&format!("{file} must be rejected"));
        assert!(
            err.source_name.ends_with(&format!("{file}.toml")),
            "{file}: {err}"
        );
        assert!(
            err.key.starts_with(key),
            "{file}: key {:?} should be {key:?} ({err})",
            err.key
        );
        assert!(err.message.contains(message), "{file}: {err}");
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = Workload::load(Path::new("/no/such/file.toml"), &Overrides::default())
        .expect_err("missing");
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn closed_loop_pipeline_defaults_to_concurrency_per_session() {
    let w = Workload::parse(
        "name='x'\nsessions=4\nconcurrency=10\nduration='1s'\n[[ops]]\nmethod='ping'\n",
        "t",
    )
    .expect("valid");
    assert_eq!(w.pipeline, 3);
    assert_eq!(w.in_flight_cap(), 12);
    assert_eq!(w.shape, LoadShape::ClosedLoop { concurrency: 10 });
    assert_eq!(w.ops[0].label, "ping");
    assert_eq!(w.ops[0].timeout, DEFAULT_TIMEOUT);
}

#[test]
fn connect_timeout_defaults_to_ten_seconds_and_the_flag_wins() {
    let text = "name = \"x\"\nconcurrency = 1\nduration = \"1s\"\n\
                connect_timeout = \"30s\"\n[[ops]]\nmethod = \"ping\"\n";
    let w = Workload::parse_with(text, "x", &Overrides::default()).expect("valid");
    assert_eq!(w.connect_timeout, Duration::from_secs(30));
    assert_eq!(w.spec.connect_timeout.as_deref(), Some("30s"));
    let o = Overrides {
        connect_timeout: Some("45s".into()),
        ..Overrides::default()
    };
    let w = Workload::parse_with(text, "x", &o).expect("valid");
    assert_eq!(w.connect_timeout, Duration::from_secs(45));
    let plain = text.replace("connect_timeout = \"30s\"\n", "");
    let w = Workload::parse_with(&plain, "x", &Overrides::default()).expect("valid");
    assert_eq!(w.connect_timeout, super::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(super::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(10));
    let o = Overrides {
        connect_timeout: Some("soon".into()),
        ..Overrides::default()
    };
    let err = Workload::parse_with(&plain, "x", &o).expect_err("bad flag");
    assert_eq!(err.key, "connect_timeout", "{err}");
}

#[test]
fn overrides_replace_shape_and_clear_stages() {
    let text = catalog::SHIPPED
        .iter()
        .find(|(n, _)| *n == "ramp")
        .expect("ramp")
        .1;
    let o = Overrides {
        concurrency: Some(8),
        duration: Some("2s".into()),
        sessions: Some(2),
        ..Overrides::default()
    };
    let w = Workload::parse_with(text, "ramp", &o).expect("valid");
    assert_eq!(w.shape, LoadShape::ClosedLoop { concurrency: 8 });
    assert!(w.stages.is_empty());
    assert_eq!(w.duration, Some(Duration::from_secs(2)));
    assert_eq!(w.pipeline, 4);
    assert_eq!(
        w.spec.concurrency,
        Some(8),
        "the spec as run records the override"
    );
}

#[test]
fn shape_follows_stages_then_holds_the_last() {
    let text = catalog::SHIPPED
        .iter()
        .find(|(n, _)| *n == "ramp")
        .expect("ramp")
        .1;
    let w = Workload::parse(text, "ramp").expect("valid");
    let rate = |ms| match w.shape_at(Duration::from_millis(ms)) {
        LoadShape::OpenLoop { rate } => rate,
        LoadShape::ClosedLoop { .. } => panic!("open loop expected"),
    };
    assert_eq!(rate(0), 500.0);
    assert_eq!(rate(3_000), 2000.0);
    assert_eq!(rate(7_999), 4000.0);
    assert_eq!(rate(9_000), 500.0);
    assert_eq!(rate(60_000), 500.0);
    assert_eq!(w.planned_duration(), Some(Duration::from_secs(10)));
}

#[test]
fn thresholds_are_typed() {
    let w = Workload::parse(
        "name='x'\nconcurrency=1\nduration='1s'\n[[ops]]\nmethod='ping'\n\
         [[thresholds]]\nmetric='p99'\nmax='20ms'\n\
         [[thresholds]]\nmetric='error_rate'\nop='ping'\nmax=0.01\n\
         [[thresholds]]\nmetric='throughput'\nmin=1000\n",
        "t",
    )
    .expect("valid");
    assert_eq!(
        w.thresholds,
        vec![
            Threshold {
                metric: ThresholdMetric::Latency(Quantile::P99),
                op: None,
                bound: Bound::AtMost(20_000.0),
                by_default: false,
            },
            Threshold {
                metric: ThresholdMetric::ErrorRate,
                op: Some("ping".into()),
                bound: Bound::AtMost(0.01),
                by_default: false,
            },
            Threshold {
                metric: ThresholdMetric::Throughput,
                op: None,
                bound: Bound::AtLeast(1000.0),
                by_default: false,
            },
        ]
    );
}

#[test]
fn method_params_are_what_the_spec_says() {
    let w = Workload::parse(
        "name='x'\nconcurrency=1\nduration='1s'\n\
         [[ops]]\nmethod='tools/call'\ntool='add'\narguments={a=1,b=2}\n\
         [[ops]]\nmethod='resources/read'\nuri='mcptop://static/readme'\n\
         [[ops]]\nmethod='prompts/get'\nprompt='greet'\narguments={name='n'}\n",
        "t",
    )
    .expect("valid");
    assert_eq!(
        w.ops[0].method.params(),
        serde_json::json!({"name": "add", "arguments": {"a": 1, "b": 2}})
    );
    assert_eq!(
        w.ops[1].method.params(),
        serde_json::json!({"uri": "mcptop://static/readme"})
    );
    assert_eq!(
        w.ops[2].method.params(),
        serde_json::json!({"name": "greet", "arguments": {"name": "n"}})
    );
    assert_eq!(w.ops[2].label, "prompt greet");
}

#[test]
fn a_batch_fits_the_in_flight_limits() {
    let parse = |extra: &str| {
        Workload::parse(
            &format!("name='x'\nduration='1s'\nbatch=10\n{extra}\n[[ops]]\nmethod='ping'\n"),
            "t",
        )
    };
    // The pipeline defaults high enough to carry a whole batch.
    let w = parse("sessions=4\nconcurrency=20").expect("valid");
    assert_eq!((w.batch, w.pipeline), (10, 10));
    assert_eq!(parse("rate=100").expect("valid").pipeline, 64);
    let err = parse("concurrency=5").expect_err("too few in flight");
    assert_eq!(err.key, "batch", "{err}");
    assert!(err.message.contains("at least 10, got 5"), "{err}");
    let err = parse("concurrency=10\n[[stages]]\nduration='1s'\nconcurrency=4")
        .expect_err("a stage with too few in flight");
    assert_eq!(err.key, "batch", "{err}");
    let err = parse("concurrency=20\npipeline=4").expect_err("pipeline below batch");
    assert_eq!(err.key, "pipeline", "{err}");
    let w = Workload::parse(
        "name='x'\nduration='1s'\nconcurrency=1\n[[ops]]\nmethod='ping'\n",
        "t",
    )
    .expect("valid");
    assert_eq!(w.batch, 1, "no batch: one request per send");
}

#[test]
fn a_workload_without_an_error_rate_threshold_gets_the_default() {
    let base = "name='x'\nconcurrency=1\nduration='1s'\n[[ops]]\nmethod='ping'\n";
    let w = Workload::parse(
        &format!("{base}[[thresholds]]\nmetric='p99'\nmax='20ms'\n"),
        "t",
    )
    .expect("valid");
    assert_eq!(w.thresholds.len(), 2);
    assert_eq!(w.thresholds[1], default_error_rate());
    assert_eq!(w.thresholds[1].bound, Bound::AtMost(DEFAULT_MAX_ERROR_RATE));
    // Any error_rate threshold of its own, even on one operation, replaces it.
    let own = Workload::parse(
        &format!("{base}[[thresholds]]\nmetric='error_rate'\nop='ping'\nmax=1.0\n"),
        "t",
    )
    .expect("valid");
    assert!(own.thresholds.iter().all(|t| !t.by_default), "{own:?}");
}

/// Every problem of a file at once, each with its key; a value that could
/// not be read is reported once, not again by the checks that need it.
#[test]
fn every_problem_of_a_file_is_reported() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_workloads/six-mistakes.toml");
    let problems = Workload::load_all(&path, &Overrides::default()).expect_err("invalid");
    let mut keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "concurrency",
            "duration",
            "ops[0].tool",
            "ops[1].wieght",
            "sesions",
            "thresholds[0].max"
        ],
        "{problems:#?}"
    );
    assert!(problems
        .iter()
        .all(|p| p.source_name.ends_with("six-mistakes.toml")));
    let concurrency = problems
        .iter()
        .find(|p| p.key == "concurrency")
        .expect("found");
    assert!(
        concurrency.message.contains("invalid type"),
        "{concurrency}"
    );
    // `run` names the first and says that there are more.
    let first = Workload::load(&path, &Overrides::default()).expect_err("invalid");
    assert!(first.message.contains("and 5 more problems"), "{first}");
}

#[test]
fn unreadable_items_keep_the_indices_of_the_rest() {
    let problems = Workload::parse_all(
        "name='x'\nconcurrency=1\nduration='1s'\n\
         [[ops]]\ntool='echo'\n\
         [[ops]]\nmethod='tools/call'\ntool=5\n\
         [[ops]]\nmethod='resources/read'\n\
         [[thresholds]]\nmetric='p99'\nop='nope'\nmax='1ms'\n",
        "t",
        &Overrides::default(),
    )
    .expect_err("invalid");
    let found: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found.contains(&("ops[0].method", "missing field `method`")),
        "{found:?}"
    );
    assert!(found
        .iter()
        .any(|(k, m)| *k == "ops[1].tool" && m.contains("invalid type")));
    assert!(
        found.contains(&("ops[2].uri", "resources/read needs `uri`")),
        "{found:?}"
    );
}

#[test]
fn resume_after_is_checked_and_needs_an_http_target_with_a_session() {
    let op = |extra: &str, method: &str| {
        format!(
            "name='x'\nconcurrency=1\nrequests=1\nprotocol='2025-11-25'\n\
             [[ops]]\nmethod='{method}'\ntool='events'\n{extra}\n"
        )
    };
    let bad: &[(&str, &str, &str, &str)] = &[
        (
            "resume_after = 0",
            "tools/call",
            "ops[0].resume_after",
            "at least 1",
        ),
        (
            "resume_after = 5",
            "tools/list",
            "ops[0].resume_after",
            "only a tools/call",
        ),
        (
            "resume_delay = '1s'",
            "tools/call",
            "ops[0].resume_delay",
            "only with resume_after",
        ),
        (
            "resume_after = 5\nresume_delay = 'soon'",
            "tools/call",
            "ops[0].resume_delay",
            "duration",
        ),
    ];
    for (extra, method, key, message) in bad {
        let text = op(extra, method).replace(
            "tool='events'\n",
            if *method == "tools/call" {
                "tool='events'\n"
            } else {
                ""
            },
        );
        let err = Workload::parse(&text, "t").expect_err(extra);
        assert_eq!(&err.key, key, "{extra}: {err}");
        assert!(err.message.contains(message), "{extra}: {err}");
    }
    let text = op("resume_after = 5\nresume_delay = '250ms'", "tools/call");
    let w = Workload::parse(&text, "t").expect("valid");
    let plan = w.ops[0].resume.expect("a plan");
    assert_eq!((plan.after, plan.delay), (5, Duration::from_millis(250)));
    let http = TargetSpec::parse("http://127.0.0.1:1/mcp").expect("target");
    assert_eq!(w.resume_problem(&http), None);
    for other in ["builtin", "stdio:mcptop serve --stdio", "tcp://127.0.0.1:1"] {
        let target = TargetSpec::parse(other).expect("target");
        let problem = w.resume_problem(&target).unwrap_or_default();
        assert!(
            problem.contains("needs") || problem.contains("has none"),
            "{other}: {problem}"
        );
        assert!(
            problem.contains("use an http:// target"),
            "{other}: {problem}"
        );
    }
    // `auto` may negotiate the stateless era, which has no session.
    let auto = Workload::parse(&text.replace("protocol='2025-11-25'\n", ""), "t").expect("valid");
    let problem = auto.resume_problem(&http).unwrap_or_default();
    assert!(problem.contains("protocol = \"2025-11-25\""), "{problem}");
    // A file naming a target it cannot resume on is refused by validation.
    let err = Workload::parse(&format!("target='builtin'\n{text}"), "t").expect_err("builtin");
    assert_eq!(err.key, "target", "{err}");
    assert!(err.message.contains("resume_after"), "{err}");
}

/// A batch's replies come back together: there is no stream to resume, so
/// `resume_after` with `batch` is refused by name, not silently ignored.
#[test]
fn resume_after_in_a_batch_is_refused_by_name() {
    let text = "name='x'\nconcurrency=2\nrequests=4\nprotocol='2025-03-26'\nbatch=2\n\
                [[ops]]\nmethod='tools/call'\ntool='events'\nresume_after=5\n";
    let err = Workload::parse(text, "w.toml")
        .expect_err("refused")
        .to_string();
    assert!(err.contains("batch"), "{err}");
    assert!(
        err.contains("resume_after, which cannot go in a JSON-RPC batch"),
        "{err}"
    );
    // Without the batch the same operation is accepted.
    let alone = text.replace("batch=2\n", "");
    Workload::parse(&alone, "w.toml").expect("accepted without batch");
}

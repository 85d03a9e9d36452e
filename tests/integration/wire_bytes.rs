//! Bytes on the wire in the result file and the summary: a run reading a
//! 100,000-byte resource from `mcptop serve --stdio` (a real child) counts
//! at least the payload per reply, and the figures agree with each other
//! (ops add up to the run, intervals add up to the run, rates are totals
//! over the measured time).

use crate::harness::{mcptop_bin, read_json, TestDir};
use serde_json::Value;

const PAYLOAD: u64 = 100_000;

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

#[test]
fn a_result_file_counts_the_bytes_each_read_brought_back() {
    let dir = TestDir::new();
    let workload = dir.write(
        "w.toml",
        &format!(
            "name = \"bytes\"\nsessions = 1\nconcurrency = 2\n\
             [[ops]]\nmethod = \"resources/read\"\nname = \"read\"\nuri = \"mcptop://payload/{PAYLOAD}\"\n\
             [[ops]]\nmethod = \"ping\"\n"
        ),
    );
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    let out = dir
        .mcptop()
        .arg("run")
        .arg(&workload)
        .args(["--target", &target, "--duration", "1s", "--warmup", "0s"])
        .args(["--out", "r.json", "--headless"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("bytes on the wire: received"), "{stdout}");
    let r = read_json(&dir.join("r.json"));
    let (read, ping, all) = (&r["ops"][0], &r["ops"][1], &r["overall"]);
    let reads = n(read, "ok");
    assert!(reads > 0 && n(read, "errors") == 0, "{read}");
    // Each reply is the payload and a short JSON envelope; each request a
    // short line.
    let received = n(read, "bytes_received");
    assert!(received >= reads * PAYLOAD, "{received} for {reads} reads");
    assert!(
        received <= reads * (PAYLOAD + 300),
        "{received} for {reads} reads"
    );
    let sent = n(read, "bytes_sent");
    assert!(
        sent >= reads * 40 && sent <= reads * 300,
        "{sent} for {reads} reads"
    );
    assert!(n(ping, "bytes_received") < n(ping, "operations") * 300);
    for key in ["bytes_sent", "bytes_received"] {
        assert_eq!(n(all, key), n(read, key) + n(ping, key), "{key}");
        let over_intervals: u64 = r["intervals"]
            .as_array()
            .expect("intervals")
            .iter()
            .map(|i| n(i, key))
            .sum();
        assert_eq!(over_intervals, n(all, key), "{key} over the intervals");
    }
    let secs = all["duration_s"].as_f64().expect("duration");
    let rate = all["bytes_received_per_s"].as_f64().expect("rate");
    assert!((rate - n(all, "bytes_received") as f64 / secs).abs() < 1e-6 * rate.max(1.0));
}

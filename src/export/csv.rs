//! The per-interval figures as CSV (`mcptop report r.json --format csv`):
//! one row per measured interval, for spreadsheets and plotting tools.
//! Latencies in microseconds, rates per second, an empty cell where a
//! figure does not exist (the asked rate of a closed loop). Bytes on the
//! wire per second (received, then sent) close each row, as in the result
//! file's intervals: 0 where a target's bytes are not counted.

use crate::metrics::Percentiles;
use crate::report::RunReport;
use std::fmt::Write;

pub const HEADER: &str = "t_s,length_s,completed,errors,throughput_per_s,asked_per_s,sent_per_s,\
latency_p50_us,latency_p90_us,latency_p95_us,latency_p99_us,latency_p999_us,latency_max_us,\
service_p50_us,service_p90_us,service_p95_us,service_p99_us,service_p999_us,service_max_us,\
bytes_received_per_s,bytes_sent_per_s";

fn quantiles(out: &mut String, p: &Percentiles) {
    let _ = write!(
        out,
        ",{},{},{},{},{},{}",
        p.p50_us, p.p90_us, p.p95_us, p.p99_us, p.p999_us, p.max_us
    );
}

/// Every interval of a run, oldest first, under a header line.
pub fn intervals(r: &RunReport) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    for i in &r.metrics.intervals {
        let _ = write!(
            out,
            "{:.3},{:.3},{},{},{:.3},{},{:.3}",
            i.t_s,
            i.length_s,
            i.completed,
            i.errors,
            i.throughput,
            i.asked_rate.map(|a| format!("{a:.3}")).unwrap_or_default(),
            i.sent_rate
        );
        quantiles(&mut out, &i.corrected);
        quantiles(&mut out, &i.service);
        let _ = write!(
            out,
            ",{:.3},{:.3}",
            i.bytes.bytes_received_per_s, i.bytes.bytes_sent_per_s
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::export::test_runs::{run, TWO_OPS};

    #[tokio::test(start_paused = true)]
    async fn one_row_per_interval_with_the_results_figures() {
        let r = run(TWO_OPS, 100, 3, 500, 0);
        let text = super::intervals(&r);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 1 + r.metrics.intervals.len());
        let cols = rows[0].split(',').count();
        assert!(rows.iter().all(|r| r.split(',').count() == cols), "{text}");
        let first = &r.metrics.intervals[0];
        let cells: Vec<&str> = rows[1].split(',').collect();
        assert_eq!(cells[0], "1.000");
        assert_eq!(cells[2], first.completed.to_string());
        assert_eq!(cells[5], "100.000", "asked rate of an open loop");
        assert_eq!(cells[10], first.corrected.p99_us.to_string());
        insta::assert_snapshot!(rows[0]);
    }

    #[tokio::test(start_paused = true)]
    async fn each_row_ends_with_the_intervals_bytes_per_second() {
        let mut r = run(TWO_OPS, 100, 3, 500, 0);
        r.metrics.intervals[0].bytes = crate::metrics::wire_rates::ByteRates {
            bytes_sent: 200,
            bytes_received: 10_485_760,
            bytes_sent_per_s: 200.0,
            bytes_received_per_s: 10_485_760.0,
        };
        let text = super::intervals(&r);
        let rows: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = rows[0].split(',').collect();
        assert_eq!(
            header[header.len() - 2..],
            ["bytes_received_per_s", "bytes_sent_per_s"]
        );
        let first: Vec<&str> = rows[1].split(',').collect();
        assert_eq!(first.len(), header.len(), "{text}");
        assert_eq!(first[first.len() - 2..], ["10485760.000", "200.000"]);
        let second: Vec<&str> = rows[2].split(',').collect();
        let want = r.metrics.intervals[1].bytes.bytes_received_per_s;
        assert_eq!(second[second.len() - 2], format!("{want:.3}"));
    }
}

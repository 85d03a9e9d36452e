//! The builtin `sleep_us` tool's overshoot as the server itself measures it
//! (`slept_us` in its reply, minus the asked time), apart from any client's
//! hand-off: one request at a time, against `mcptop serve --stdio` as a child
//! process, or against the builtin server in this process (over an in-memory
//! duplex on a two-worker runtime, as `mcptop run` with the builtin target).
//! Prints overshoot p50/p99/max in µs and how many waits were exact.
//!
//! cargo run --release --example sleep_overshoot -- stdio PATH/TO/mcptop [US] [SECONDS]
//! cargo run --release --example sleep_overshoot -- builtin [US] [SECONDS]

use hdrhistogram::Histogram;
use mcptop::server::batch::BatchingTransport;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sleep_overshoot","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

async fn send<W: AsyncWrite + Unpin>(w: &mut W, line: String) {
    w.write_all(format!("{line}\n").as_bytes())
        .await
        .expect("write");
    w.flush().await.expect("flush");
}

struct Figures {
    overshoot: Histogram<u64>,
    exact: u64,
    calls: u64,
}

/// Calls `sleep_us {us}` one at a time for `seconds` (after a second of
/// warm-up) and keeps `slept_us - us` of every reply.
async fn measure<R, W>(reader: R, mut writer: W, us: u64, seconds: f64) -> Figures
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(reader).lines();
    send(&mut writer, INIT.to_string()).await;
    lines
        .next_line()
        .await
        .expect("read")
        .expect("initialize reply");
    send(&mut writer, INITIALIZED.to_string()).await;
    let mut figures = Figures {
        overshoot: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
        exact: 0,
        calls: 0,
    };
    let start = Instant::now();
    let warm = Duration::from_secs(1);
    let end = start + warm + Duration::from_secs_f64(seconds);
    let mut id = 1u64;
    while Instant::now() < end {
        id += 1;
        send(&mut writer, format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"sleep_us","arguments":{{"us":{us}}}}}}}"#
        ))
        .await;
        let reply = loop {
            let line = lines.next_line().await.expect("read").expect("a reply");
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if v["id"].as_u64() == Some(id) {
                break v;
            }
        };
        if start.elapsed() < warm {
            continue;
        }
        let content = &reply["result"]["structuredContent"];
        let slept = content["slept_us"].as_u64().expect("slept_us in the reply");
        figures
            .overshoot
            .saturating_record(slept.saturating_sub(us).max(1));
        figures.calls += 1;
        figures.exact += u64::from(content["exact"] == true);
    }
    figures
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, rest) = args.split_first().expect("stdio PATH | builtin");
    let (bin, rest) = match mode.as_str() {
        "stdio" => {
            let (bin, rest) = rest.split_first().expect("stdio PATH/TO/mcptop");
            (Some(bin.clone()), rest)
        }
        _ => (None, rest),
    };
    let us: u64 = rest.first().map_or(1_000, |s| s.parse().expect("US"));
    let seconds: f64 = rest.get(1).map_or(5.0, |s| s.parse().expect("SECONDS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let figures = runtime.block_on(async move {
        match bin {
            Some(bin) => {
                let mut child = tokio::process::Command::new(bin)
                    .args(["serve", "--stdio"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("mcptop serve --stdio");
                let stdin = child.stdin.take().expect("stdin");
                let stdout = child.stdout.take().expect("stdout");
                measure(stdout, stdin, us, seconds).await
            }
            None => {
                let (client, server) = tokio::io::duplex(256 * 1024);
                tokio::spawn(async move {
                    let (r, w) = tokio::io::split(server);
                    let _ = mcptop::server::serve_lines(BatchingTransport::new(r, w)).await;
                });
                let (r, w) = tokio::io::split(client);
                measure(r, w, us, seconds).await
            }
        }
    });
    let h = &figures.overshoot;
    println!(
        "{mode}: sleep_us {us}: server-side overshoot p50 {} p99 {} max {} µs ({} calls, {} exact)",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        figures.calls,
        figures.exact
    );
}

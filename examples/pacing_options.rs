//! The pacing options, measured: how late a task that waits for a planned
//! instant wakes (lag = woken − planned), at a fixed rate, on a multi-thread
//! runtime like mcptop's, and the CPU the process spends per second doing it.
//!
//! cargo run --release --example pacing_options [RATE] [SECONDS] [timer|spin|thread|thread-nospin]...

use hdrhistogram::Histogram;
use mcptop::pacer::{self, Strategy};
use std::time::Duration;
use tokio::time::Instant;

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

async fn measure(strategy: Strategy, rate: f64, seconds: f64) -> (Histogram<u64>, f64) {
    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let step = Duration::from_secs_f64(1.0 / rate);
    let n = (rate * seconds) as u64;
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    let mut t = Instant::now() + Duration::from_millis(5);
    for _ in 0..n {
        pacer::sleep_until_with(strategy, t).await;
        let late = Instant::now().saturating_duration_since(t);
        lag.saturating_record(late.as_micros() as u64);
        t += step;
    }
    let cpu = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    (lag, cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500.0);
    let seconds: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let names: Vec<&str> = if args.len() > 3 {
        args[3..].iter().map(String::as_str).collect()
    } else {
        vec!["timer", "spin", "thread-nospin", "thread"]
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for name in names {
        let (strategy, spin) = match name {
            "thread-nospin" => (Strategy::Thread, false),
            other => (
                Strategy::parse(other).expect("timer|spin|thread|thread-nospin"),
                true,
            ),
        };
        pacer::allow_spin(spin);
        let (lag, cpu) = runtime.block_on(async move {
            // The measured task runs as a spawned task, as the scheduler does.
            tokio::spawn(measure(strategy, rate, seconds))
                .await
                .expect("measure")
        });
        println!(
            "{name:>14} {rate:>6}/s  lag p50 {:>5} µs  p90 {:>5} µs  p99 {:>5} µs  max {:>6} µs  cpu {:>5.1} % of a core",
            lag.value_at_quantile(0.5),
            lag.value_at_quantile(0.9),
            lag.value_at_quantile(0.99),
            lag.max(),
            cpu * 100.0
        );
    }
}

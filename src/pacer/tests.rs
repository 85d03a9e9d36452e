use super::*;
use std::sync::atomic::AtomicUsize;

#[test]
fn strategies_parse_by_name() {
    assert_eq!(Strategy::parse("timer"), Some(Strategy::Timer));
    assert_eq!(Strategy::parse("spin"), Some(Strategy::TimerThenSpin));
    assert_eq!(Strategy::parse("thread"), Some(Strategy::Thread));
    assert_eq!(Strategy::parse("fast"), None);
}

#[test]
fn a_spare_core_is_most_of_a_core_idle() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u64;
    // 1000 ticks over all cores; idle share of one core = idle / 1000 * cores.
    let idle_for = |share: f64| (share * 1000.0 / cores as f64) as u64;
    assert!(spare_core(Some((0, 0)), Some((idle_for(0.9), 1000)), 0.0));
    assert!(!spare_core(Some((0, 0)), Some((idle_for(0.5), 1000)), 0.0));
    assert!(!spare_core(None, Some((500, 1000)), 0.0));
    assert!(!spare_core(Some((5, 10)), Some((5, 10)), 0.0));
    // mcptop's own finishing spins count as idle: spinning must not make
    // the core look needed.
    assert!(spare_core(Some((0, 0)), Some((idle_for(0.5), 1000)), 0.3));
}

#[test]
fn entries_come_out_earliest_first() {
    let now = std::time::Instant::now();
    let mut heap = BinaryHeap::new();
    for (i, ms) in [30u64, 10, 20, 10].into_iter().enumerate() {
        let (wake, _) = oneshot::channel();
        heap.push(Reverse(Entry {
            at: now + Duration::from_millis(ms),
            seq: i as u64,
            wake,
        }));
    }
    let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|Reverse(e)| e.seq)).collect();
    assert_eq!(order, vec![1, 3, 2, 0]);
}

#[tokio::test(start_paused = true)]
async fn on_a_paused_clock_the_wait_is_exact() {
    let t0 = Instant::now();
    // Tokio's timer: the paused clock moves to exactly the deadline.
    sleep_until(t0 + Duration::from_millis(1_234)).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(1_234));
    sleep(Duration::from_millis(6)).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(1_240));
}

/// Bounded: the pacer thread must wake every waiter, never before its time,
/// whatever the precision (precision is a benchmark's business, not a
/// test's; the order two woken tasks then run in is the runtime's).
#[test]
fn the_pacer_thread_wakes_every_waiter_at_or_after_its_time() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let order = runtime.block_on(async {
        let t0 = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (i, us) in [3_000u64, 1_000, 2_000].into_iter().enumerate() {
            let tx = tx.clone();
            tokio::spawn(async move {
                sleep_until(t0 + Duration::from_micros(us)).await;
                let on_time = Instant::now() >= t0 + Duration::from_micros(us);
                let _ = tx.send((i, on_time));
            });
        }
        drop(tx);
        let mut order = Vec::new();
        while let Ok(Some(i)) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            order.push(i);
        }
        order
    });
    let mut woken = order;
    woken.sort();
    assert_eq!(woken, vec![(0, true), (1, true), (2, true)]);
}

/// The calibration tools' wait never ends early and reports what it took,
/// on the real clock (how late it ends is a benchmark's question): the
/// reported `waited` is at least the asked time and at most what the caller
/// saw. Counted on its own permit, so no other test can hold it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_sleep_reports_at_least_what_was_asked() {
    static BUSY: AtomicUsize = AtomicUsize::new(0);
    for us in [0u64, 50, 199, 201, 1_000, 2_500, 5_000] {
        let d = Duration::from_micros(us);
        let start = Instant::now();
        let slept = exact::sleep_exact_counted(d, &BUSY).await;
        let seen = start.elapsed();
        assert_eq!(slept.kind, WaitKind::Exact, "{us} µs");
        assert!(slept.waited >= d, "{us} µs reported {:?}", slept.waited);
        assert!(
            slept.waited <= seen,
            "{us} µs reported {:?} > {seen:?}",
            slept.waited
        );
    }
    assert_eq!(BUSY.load(Ordering::Relaxed), 0, "every permit given back");
}

/// Past the bound a wait is a plain sleep on the pacer (no thread of its
/// own, no spin), still never shorter than asked: with every exact place
/// taken, and for a wait longer than [`EXACT_MAX`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_a_sleep_is_plain() {
    static BUSY: AtomicUsize = AtomicUsize::new(0);
    let held: Vec<_> = (0..EXACT_WAITERS)
        .map(|_| exact::ExactPermit::take(&BUSY).expect("a free place"))
        .collect();
    assert!(exact::ExactPermit::take(&BUSY).is_none(), "bounded");
    let d = Duration::from_micros(1_000);
    let slept = exact::sleep_exact_counted(d, &BUSY).await;
    assert_eq!(slept.kind, WaitKind::Plain);
    assert!(slept.waited >= d, "reported {:?}", slept.waited);
    drop(held);
    let slept = exact::sleep_exact_counted(d, &BUSY).await;
    assert_eq!(slept.kind, WaitKind::Exact, "a place freed is used again");
    let long = EXACT_MAX + Duration::from_millis(1);
    let slept = exact::sleep_exact_counted(long, &BUSY).await;
    assert_eq!(slept.kind, WaitKind::Plain, "longer than EXACT_MAX");
    assert!(slept.waited >= long, "reported {:?}", slept.waited);
}

/// On a paused clock (a current-thread runtime) the exact sleep is the timer's
/// and ends exactly on time, reporting exactly the asked time.
#[tokio::test(start_paused = true)]
async fn an_exact_sleep_on_the_paused_clock_ends_on_time() {
    let start = Instant::now();
    let slept = sleep_exact(Duration::from_millis(20)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    assert_eq!(slept.waited, Duration::from_millis(20));
    assert_eq!(slept.kind, WaitKind::Plain);
}

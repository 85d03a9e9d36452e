//! How runs end, on the paused clock: the drain ends with the last reply,
//! a stop signal ends every phase promptly (connecting, measuring,
//! draining), and one failed connect ends the connect phase.

use super::*;
use std::sync::atomic::AtomicUsize;

fn sample_at(t: Instant) -> Sample {
    Sample {
        op: 0,
        planned: t,
        sent: t,
        done: t,
        outcome: Ok(()),
        bytes: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_drain_ends_with_the_last_request_task_not_at_its_deadline() {
    // Issue 8's window: a request task has queued its sample but has not yet
    // given its slot back when the drain looks (another thread preempted it
    // for 3 ms). The drain must end when the task is done, not wait out its
    // five-second deadline.
    let start = Instant::now();
    let counters = Arc::new(LoadCounters::default());
    counters.in_flight.store(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut recorder = Recorder::new(&["echo".to_string()], start, None);
    let task_counters = counters.clone();
    let request_task = tokio::spawn(async move {
        tx.send(sample_at(Instant::now())).expect("send");
        tokio::time::sleep(Duration::from_millis(3)).await;
        task_counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(tx);
    });
    let signal = drain(
        &mut rx,
        &mut recorder,
        &counters,
        start + Duration::from_secs(5),
        None,
    )
    .await;
    assert_eq!(signal, None);
    assert_eq!(Instant::now() - start, Duration::from_millis(3));
    request_task.await.expect("join");
    let status = EngineStatus {
        phase: Phase::Done,
        load: LoadNow::default(),
        planned_total: 1,
        sent_total: 1,
        backpressure_total: 0,
        paused: Duration::ZERO,
        protocol: ProtocolCounters::default(),
        scenarios: Vec::new(),
    };
    assert_eq!(recorder.finish(Instant::now(), status).overall.ok, 1);
}

#[tokio::test(start_paused = true)]
async fn a_one_second_run_ends_one_reply_after_its_duration() {
    // Replies take 7 ms: the last send before the 1 s mark is answered at
    // most 7 ms after it, and the run ends then.
    let w = workload("sessions = 2\nconcurrency = 4\nduration = \"1s\"\nwarmup = \"0s\"");
    let start = Instant::now();
    let out = run_plain(&w, fixed(7)).await;
    let took = Instant::now() - start;
    assert_eq!(out.stopped_by, StopReason::Completed);
    assert_eq!(out.unfinished, 0);
    assert!(
        took > Duration::from_secs(1) && took <= Duration::from_millis(1_007),
        "{took:?}"
    );
}

/// Never finishes connecting; counts the connects that were dropped.
struct HangingConnector {
    started: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Connector for HangingConnector {
    fn connect(&self, _session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let guard = CountDrop(self.dropped.clone());
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_signal_while_connecting_stops_at_once_and_drops_the_connects() {
    let w = workload("sessions = 100\nconcurrency = 100\nduration = \"10s\"");
    let connector = HangingConnector {
        started: AtomicUsize::new(0),
        dropped: Arc::new(AtomicUsize::new(0)),
    };
    let start = Instant::now();
    let result = try_run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            h.stop.trigger(StopSignal::Terminate);
        })
    })
    .await;
    assert_eq!(Instant::now() - start, Duration::from_millis(300));
    match result {
        Err(EngineError::Stopped(StopSignal::Terminate)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the run must stop"),
    }
    // The first 32 were connecting; each was dropped (a child is killed then).
    let started = connector.started.load(Ordering::SeqCst);
    assert_eq!(started, CONNECT_PARALLELISM);
    assert_eq!(connector.dropped.load(Ordering::SeqCst), started);
}

#[tokio::test(start_paused = true)]
async fn a_signal_while_measuring_marks_the_run_and_drains_briefly() {
    // A server that never answers: the in-flight requests are given one
    // second after the signal, not their ten-second timeout.
    let w = workload("sessions = 1\nconcurrency = 4\nduration = \"60s\"\nwarmup = \"0s\"");
    let connector = ScriptedConnector::new(fixed(3_600_000));
    let (out, took) = signalled(&w, &connector, 500, StopSignal::Interrupt).await;
    assert_eq!(took, Duration::from_millis(1_500));
    assert_eq!(out.unfinished, 4);
    assert_eq!(out.metrics.duration_s, 0.5);
}

#[tokio::test(start_paused = true)]
async fn a_signal_during_the_drain_cuts_it_short() {
    // 1 s measured; replies take 4 s, so the drain could wait 5 s. A signal
    // at 1.2 s leaves it one second more, and the run says it was stopped.
    let w = workload("sessions = 1\nconcurrency = 1\nduration = \"1s\"\nwarmup = \"0s\"");
    let connector = ScriptedConnector::new(fixed(4_000));
    let (out, took) = signalled(&w, &connector, 1_200, StopSignal::Hangup).await;
    assert_eq!(took, Duration::from_millis(2_200));
    assert_eq!(out.unfinished, 1);
}

/// Runs `w`, `signal` arriving `after_ms` from the start; the outcome,
/// which must say the signal stopped the run, and how long the run took.
async fn signalled(
    w: &Workload,
    connector: &dyn Connector,
    after_ms: u64,
    signal: StopSignal,
) -> (RunOutcome, Duration) {
    let start = Instant::now();
    let out = run_with(w, connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            h.stop.trigger(signal);
        })
    })
    .await;
    assert_eq!(out.stopped_by, StopReason::Signal { signal });
    (out, Instant::now() - start)
}

/// Every connect waits `after`, then fails (a connect timeout).
struct TimingOutConnector {
    after: Duration,
    started: AtomicUsize,
}

impl Connector for TimingOutConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(self.after).await;
            Err(TargetError::Handshake {
                session,
                reason: "no answer".into(),
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_failed_connect_ends_the_connect_phase() {
    // 100 sessions against a server that never accepts: the run fails after
    // one connect timeout, not after one per batch of 32 (40 s).
    let w = workload("sessions = 100\nconcurrency = 100\nduration = \"10s\"");
    let connector = TimingOutConnector {
        after: Duration::from_secs(10),
        started: AtomicUsize::new(0),
    };
    let start = Instant::now();
    let result = try_run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    assert!(matches!(result, Err(EngineError::Connect(_))));
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
    assert_eq!(
        connector.started.load(Ordering::SeqCst),
        CONNECT_PARALLELISM
    );
}

//! Connecting a run's sessions on the paused clock: at most the target's
//! `connect_parallelism` at once, a slot handed on as soon as any session
//! connects (a slow handshake holds only its own), sessions in their order.

use super::*;
use std::sync::atomic::AtomicUsize;

/// Session `i` connects after `delay(i)`; counts the connects in flight.
struct Timed {
    bound: usize,
    delay: fn(u32) -> Duration,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    started: AtomicUsize,
}

impl Timed {
    fn new(bound: usize, delay: fn(u32) -> Duration) -> Timed {
        Timed {
            bound,
            delay,
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
        }
    }
}

impl Connector for Timed {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep((self.delay)(session)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(Connected {
                session: Arc::new(ScriptedSession {
                    script: fixed(1),
                    origin: Instant::now(),
                    calls: AtomicU64::new(0),
                    close_after: None,
                    closed: AtomicBool::new(false),
                    batches: Arc::default(),
                    names: Arc::default(),
                }),
                pid: None,
                server_name: format!("session {session}"),
                era: Era::V2025_11_25,
                keep_alive: Box::new(()),
            })
        })
    }

    fn connect_parallelism(&self) -> usize {
        self.bound
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_handshake_holds_its_own_slot_not_the_others() {
    // 40 sessions, 4 at once; session 0 takes 10 s, the rest 100 ms each.
    // The other 39 go through the 3 free slots meanwhile (13 rounds, 1.3 s),
    // so connecting ends with session 0. Slots handed on in session order
    // would stall behind session 0 and end at 10 s + 9 rounds (10.9 s).
    let connector = Timed::new(4, |i| {
        Duration::from_millis(if i == 0 { 10_000 } else { 100 })
    });
    let start = Instant::now();
    let connected = connect::connect_all(&connector, 40, None)
        .await
        .expect("connected");
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
    assert_eq!(connector.most_in_flight.load(Ordering::SeqCst), 4);
    let names: Vec<String> = connected.iter().map(|c| c.server_name.clone()).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("session {i}")).collect();
    assert_eq!(names, expected, "the sessions keep their numbers' order");
}

#[tokio::test(start_paused = true)]
async fn the_target_sets_how_many_sessions_connect_at_once() {
    // 1,000 sessions of 1 s each, the target's bound 100: ten rounds of 100.
    let connector = Timed::new(100, |_| Duration::from_secs(1));
    let start = Instant::now();
    let connected = connect::connect_all(&connector, 1_000, None)
        .await
        .expect("connected");
    assert_eq!(connected.len(), 1_000);
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
    assert_eq!(connector.most_in_flight.load(Ordering::SeqCst), 100);
}

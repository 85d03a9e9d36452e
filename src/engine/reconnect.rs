//! A session that survives its transport: `Resilient` wraps one of the
//! run's sessions when the workload has `[[faults]]` or `reconnect`. It
//! sorts every failure into the accounting buckets (a request whose
//! connection died under it is `lost`, one that found its session down is
//! `not sent`), tells the fault log what it saw and when, applies the
//! client-side faults (`delay`, `blackhole`, `drop_connections`), and, with
//! `reconnect = true`, opens a new session (a new child for stdio, a new
//! connection and handshake for the others) with capped backoff. With
//! `failover = true` it opens the new session on the target
//! `engine::failover` chose, and counts each target's replies.

use super::churn::Opener;
use super::failover::{Decision, Event, Migration, Tracker};
use super::faults::FaultLog;
use crate::client::{BatchItem, CallError, SessionCounters};
use crate::protocol::jsonrpc::{PreparedRequest, ResultProbe};
use crate::transport::{Connected, Session};
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// First wait before a reconnect attempt; it doubles after each failure.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between reconnect attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// How long a request that finds its session down waits for it to come
/// back before it counts as not sent: short, so a closed loop does not spin
/// on a dead session, and its wait is charged to its latency if it is sent.
pub const NOT_SENT_HOLD: Duration = Duration::from_millis(100);

/// The session in use now, and what must live as long as it.
struct Live {
    session: Arc<dyn Session>,
    pid: Option<u32>,
    /// Its target's index in a failover list (0 without failover).
    target: usize,
    /// Set when the client drops the connection: its requests are lost.
    cut: watch::Sender<bool>,
    _keep_alive: Box<dyn std::any::Any + Send + Sync>,
}

/// A client-side fault in force until `until`.
#[derive(Debug, Clone, Copy)]
pub enum ClientFault {
    Delay { by: Duration, until: Instant },
    Blackhole { until: Instant },
}

pub struct Resilient {
    /// Requests handed to the session in use and not yet answered.
    in_flight: AtomicU64,
    live: Mutex<Option<Arc<Live>>>,
    reconnect: bool,
    reconnecting: AtomicBool,
    back: Notify,
    client_fault: Mutex<Option<ClientFault>>,
    counters: Option<Arc<SessionCounters>>,
    log: Arc<FaultLog>,
    opener: Opener,
    me: Weak<Resilient>,
    /// With `failover = true`: where the session is and how it moved.
    failover: Option<Mutex<Tracker>>,
    /// Replies per target (one entry without failover).
    answered: Vec<AtomicU64>,
}

/// What `wrap` needs to know beyond the session.
pub struct WrapOptions {
    pub reconnect: bool,
    /// `Some((targets, timeouts))` with `failover = true`.
    pub failover: Option<(usize, u32)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a request that ended without an answer when its future is
/// dropped (the scheduler's timeout): a failure seen at that instant.
struct Unanswered<'a> {
    owner: &'a Resilient,
    /// The target it was meant for (failover counts its timeouts).
    target: usize,
    done: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.owner.log.failure(Instant::now());
            self.owner.timed_out(self.target);
        }
    }
}

/// Counts a request on the wire for as long as it lives (a timeout drops it).
struct OnWire<'a>(&'a AtomicU64, u64);

impl<'a> OnWire<'a> {
    fn count(n: &'a AtomicU64, requests: u64) -> OnWire<'a> {
        n.fetch_add(requests, Ordering::SeqCst);
        OnWire(n, requests)
    }
}

impl Drop for OnWire<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

/// What a wrapped session is asked to carry: a request measured by when
/// its reply came, or one whose result a flow reads.
#[derive(Clone, Copy)]
enum Ask<'a> {
    Call(&'a PreparedRequest),
    Request(&'a PreparedRequest),
}

enum Got {
    At(Instant),
    Probe(Box<ResultProbe>),
}

impl Ask<'_> {
    async fn on(self, session: &dyn Session) -> Result<Got, CallError> {
        match self {
            Ask::Call(req) => session.call(req).await.map(Got::At),
            Ask::Request(req) => session.request(req).await.map(|p| Got::Probe(Box::new(p))),
        }
    }
}

fn down() -> CallError {
    CallError::NotSent("the session is down".into())
}

fn dropped() -> CallError {
    CallError::Lost("the connection was dropped".into())
}

impl Resilient {
    /// Wraps a connected session; the wrapper owns what kept it alive.
    pub fn wrap(
        connected: Connected,
        options: WrapOptions,
        log: Arc<FaultLog>,
        opener: Opener,
    ) -> (Connected, Arc<Resilient>) {
        let targets = options.failover.map_or(1, |(n, _)| n.max(1));
        let counters = connected.session.counters();
        connected.session.report_deaths();
        let pid = connected.pid;
        let session = Arc::new_cyclic(|me| Resilient {
            in_flight: AtomicU64::new(0),
            live: Mutex::new(Some(Arc::new(live(
                connected.session,
                pid,
                0,
                connected.keep_alive,
            )))),
            reconnect: options.reconnect,
            reconnecting: AtomicBool::new(false),
            back: Notify::new(),
            client_fault: Mutex::new(None),
            counters,
            log,
            opener,
            me: me.clone(),
            failover: options
                .failover
                .map(|(n, timeouts)| Mutex::new(Tracker::new(n, timeouts))),
            answered: (0..targets).map(|_| AtomicU64::new(0)).collect(),
        });
        let wrapped = Connected {
            session: session.clone(),
            pid,
            server_name: connected.server_name,
            era: connected.era,
            keep_alive: Box::new(()),
        };
        (wrapped, session)
    }

    /// Requests on the wire now: what a fault that hits this session can lose.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The server process of the session in use, when it is a separate one.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.live).as_ref().and_then(|l| l.pid)
    }

    pub fn set_client_fault(&self, fault: ClientFault) {
        *lock(&self.client_fault) = Some(fault);
    }

    /// Closes the connection from the client side without a goodbye: the
    /// requests on it are lost; the session reconnects if it may.
    pub fn drop_connection(&self) {
        if let Some(live) = lock(&self.live).as_ref() {
            let _ = live.cut.send(true);
        }
        self.went_down(false);
    }

    /// Marks the session down (once) and, if it may, starts reconnecting;
    /// `force`: reconnect even without `reconnect = true` (a restart).
    pub fn went_down(&self, force: bool) {
        let taken = lock(&self.live).take();
        if let Some(dead) = &taken {
            // Every request this death can lose is on the wire now.
            self.log.session_died(self.in_flight());
            self.see(dead.target, Event::Reset);
        }
        if (self.reconnect || force) && !self.reconnecting.swap(true, Ordering::SeqCst) {
            let me = self.me.clone();
            tokio::spawn(reconnect_loop(me, self.opener.clone(), self.log.clone()));
        }
    }

    /// `dead` failed under a request: marks the session down if `dead` is
    /// still the one in use (a late failure of a session already replaced
    /// must not take its successor down).
    fn died(&self, dead: Arc<Live>) {
        let in_use = lock(&self.live)
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, &dead));
        drop(dead);
        if in_use {
            self.went_down(false);
        }
    }

    fn current(&self) -> Option<Arc<Live>> {
        let live = lock(&self.live).clone();
        match live {
            Some(l) if l.session.is_down() => {
                self.died(l);
                None
            }
            other => other,
        }
    }

    /// The session to send on: the live one, or (while reconnecting) the
    /// one that comes back within `NOT_SENT_HOLD`.
    async fn session_for_send(&self) -> Option<Arc<Live>> {
        if let Some(live) = self.current() {
            return Some(live);
        }
        if !self.reconnecting.load(Ordering::SeqCst) {
            return None;
        }
        let back = self.back.notified();
        tokio::pin!(back);
        back.as_mut().enable();
        if let Some(live) = self.current() {
            return Some(live);
        }
        let _ = tokio::time::timeout(NOT_SENT_HOLD, back).await;
        self.current()
    }

    async fn apply_client_fault(&self) {
        let fault = *lock(&self.client_fault);
        match fault {
            Some(ClientFault::Delay { by, until }) if Instant::now() < until => {
                tokio::time::sleep(by).await;
            }
            // Sent into a connection that never answers: the scheduler's
            // timeout ends it.
            Some(ClientFault::Blackhole { until }) if Instant::now() < until => {
                std::future::pending::<()>().await;
            }
            _ => {}
        }
    }

    async fn call_once(&self, ask: Ask<'_>) -> Result<Got, CallError> {
        self.apply_client_fault().await;
        let Some(live) = self.session_for_send().await else {
            self.not_sent();
            return Err(down());
        };
        if live.session.is_down() {
            // Died between the look and the send: nothing went out.
            self.died(live);
            self.not_sent();
            return Err(down());
        }
        let mut cut = live.cut.subscribe();
        let on_wire = OnWire::count(&self.in_flight, 1);
        let result = tokio::select! {
            r = ask.on(live.session.as_ref()) => r,
            _ = cut.wait_for(|c| *c) => {
                self.lost();
                return Err(dropped());
            }
        };
        match result {
            // The transport found its server unreachable before sending.
            Err(CallError::NotSent(why)) => {
                drop(on_wire);
                self.died(live);
                self.not_sent();
                Err(CallError::NotSent(why))
            }
            Err(e) if live.session.is_down() => {
                self.died(live);
                self.lost();
                Err(CallError::Lost(e.to_string()))
            }
            Ok(got) => {
                self.answered(live.target, 1);
                Ok(got)
            }
            other => other,
        }
    }

    /// A batch, each request sorted as `call_once` sorts one.
    async fn batch_once(&self, items: &[BatchItem<'_>]) -> Vec<Result<Instant, CallError>> {
        let every = |bucket: fn() -> CallError, count: &dyn Fn()| {
            items
                .iter()
                .map(|_| {
                    count();
                    Err(bucket())
                })
                .collect()
        };
        let Some(live) = self.session_for_send().await else {
            return every(down, &|| self.not_sent());
        };
        if live.session.is_down() {
            self.died(live);
            return every(down, &|| self.not_sent());
        }
        let mut cut = live.cut.subscribe();
        let _on_wire = OnWire::count(&self.in_flight, items.len() as u64);
        let outcomes = tokio::select! {
            r = live.session.call_batch(items) => r,
            _ = cut.wait_for(|c| *c) => return every(dropped, &|| self.lost()),
        };
        let ok = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
        if ok > 0 {
            self.answered(live.target, ok);
        }
        if !live.session.is_down() {
            return outcomes;
        }
        self.died(live);
        let sort = |outcome| match outcome {
            Err(CallError::NotSent(why)) => {
                self.not_sent();
                Err(CallError::NotSent(why))
            }
            Err(e) => {
                self.lost();
                Err(CallError::Lost(e.to_string()))
            }
            ok => ok,
        };
        outcomes.into_iter().map(sort).collect()
    }

    /// `call_once`, with a failure (or a drop by the scheduler's timeout)
    /// told to the fault log as seen now.
    async fn sorted(&self, ask: Ask<'_>) -> Result<Got, CallError> {
        let mut guard = Unanswered {
            owner: self,
            target: self.target_now(),
            done: false,
        };
        let result = self.call_once(ask).await;
        guard.done = true;
        if result.is_err() {
            self.log.failure(Instant::now());
        }
        result
    }
}

/// Failover: what the session saw, told to its tracker.
impl Resilient {
    fn see(&self, target: usize, event: Event) -> Decision {
        match &self.failover {
            Some(t) => lock(t).observe(target, event, Instant::now()),
            None => Decision::Stay,
        }
    }

    fn lost(&self) {
        self.log.lost();
        if let Some(t) = &self.failover {
            lock(t).lost();
        }
    }

    fn not_sent(&self) {
        self.log.not_sent();
        if let Some(t) = &self.failover {
            lock(t).not_sent();
        }
    }

    fn answered(&self, target: usize, replies: u64) {
        if let Some(n) = self.answered.get(target) {
            n.fetch_add(replies, Ordering::Relaxed);
        }
        self.see(target, Event::Answered);
    }

    /// A request timed out: after `failover_timeouts` in a row the target
    /// counts as failed, and its connection is dropped (what is on it is
    /// lost) for a session on the next one.
    fn timed_out(&self, target: usize) {
        if self.log.ended() {
            return;
        }
        if let Decision::MoveTo(_) = self.see(target, Event::Timeout) {
            self.drop_connection();
        }
    }

    /// The target a request goes to now.
    fn target_now(&self) -> usize {
        self.failover.as_ref().map_or(0, |t| lock(t).current())
    }

    /// The target to open a session on, with failover.
    fn failover_target(&self) -> Option<usize> {
        self.failover.as_ref().map(|t| lock(t).current())
    }

    /// With failover: the session's moves, and the replies of each target.
    pub fn failover_figures(&self) -> Option<(Vec<Migration>, Vec<u64>)> {
        let tracker = self.failover.as_ref()?;
        let migrations = lock(tracker).migrations().to_vec();
        let answered = self
            .answered
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        Some((migrations, answered))
    }
}

fn live(
    session: Arc<dyn Session>,
    pid: Option<u32>,
    target: usize,
    keep_alive: Box<dyn std::any::Any + Send + Sync>,
) -> Live {
    Live {
        session,
        pid,
        target,
        cut: watch::channel(false).0,
        _keep_alive: keep_alive,
    }
}

/// Opens a new session for `me` with capped backoff until it comes back,
/// the wrapper is gone, or the run ends.
async fn reconnect_loop(me: Weak<Resilient>, opener: Opener, log: Arc<FaultLog>) {
    let mut wait = BACKOFF_FIRST;
    loop {
        tokio::time::sleep(wait).await;
        if log.ended() {
            return;
        }
        // With failover, the target `engine::failover` moved the session to.
        let Some(target) = me.upgrade().map(|m| m.failover_target()) else {
            return;
        };
        let opened = match target {
            Some(t) => opener.open_to(t).await,
            None => opener.open().await,
        };
        match opened {
            Ok(c) => {
                let Some(me) = me.upgrade() else { return };
                c.session.report_deaths();
                let at = target.unwrap_or(0);
                *lock(&me.live) = Some(Arc::new(live(c.session, c.pid, at, c.keep_alive)));
                me.reconnecting.store(false, Ordering::SeqCst);
                log.session_back();
                me.back.notify_waiters();
                return;
            }
            Err(e) => {
                log.warn(format!("reconnect failed: {e}"));
                if let (Some(t), Some(me)) = (target, me.upgrade()) {
                    // A refused target: the next one is tried next.
                    me.see(t, Event::Refused);
                }
                wait = (wait * 2).min(BACKOFF_CAP);
            }
        }
    }
}

impl Session for Resilient {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(async move {
            match self.sorted(Ask::Call(req)).await? {
                Got::At(at) => Ok(at),
                Got::Probe(_) => Ok(Instant::now()),
            }
        })
    }

    fn call_batch<'a>(
        &'a self,
        items: &'a [BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        Box::pin(async move {
            let outcomes = self.batch_once(items).await;
            if outcomes.iter().any(Result::is_err) {
                self.log.failure(Instant::now());
            }
            outcomes
        })
    }

    /// Flows read listings: sorted into lost / not sent as calls are.
    fn request<'a>(
        &'a self,
        req: &'a PreparedRequest,
    ) -> BoxFuture<'a, Result<ResultProbe, CallError>> {
        Box::pin(async move {
            match self.sorted(Ask::Request(req)).await? {
                Got::Probe(probe) => Ok(*probe),
                Got::At(_) => Ok(ResultProbe::default()),
            }
        })
    }

    fn counters(&self) -> Option<Arc<SessionCounters>> {
        self.counters.clone()
    }

    /// Never closed while it may come back.
    fn is_closed(&self) -> bool {
        !self.reconnect && !self.reconnecting.load(Ordering::SeqCst) && self.current().is_none()
    }
}

//! When a session moves to the next target (`failover = true`): a pure
//! decision from what the session saw, in order, each tagged with the
//! target it happened on. A refused connect or a connection reset moves it
//! at once; `timeouts` timeouts in a row move it too; a reply resets the
//! count. Targets are tried round robin, wrapping. Events of a target the
//! session already left are ignored (late replies and failures of the old
//! connection). Each move is a `Migration`: from the failure seen (the
//! first of the timeouts in a row) to the first reply from a target after
//! it, with the requests lost and not sent meanwhile.

use tokio::time::Instant;

/// What a session saw on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// No connection could be opened (nothing was sent).
    Refused,
    /// The connection died under a request or between them.
    Reset,
    /// A request got no reply in its time.
    Timeout,
    /// A reply came.
    Answered,
}

/// What to do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Stay,
    /// Leave the current target for this one.
    MoveTo(usize),
}

/// One move of a session, from a failed target to a working one.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub from: usize,
    /// The target it finally answered on (`None` until one did).
    pub to: Option<usize>,
    pub failed_at: Instant,
    pub first_reply_at: Option<Instant>,
    pub lost: u64,
    pub not_sent: u64,
}

impl Migration {
    /// Failure seen to first reply on the next target; `None` while moving.
    pub fn took(&self) -> Option<std::time::Duration> {
        self.first_reply_at
            .map(|t| t.saturating_duration_since(self.failed_at))
    }
}

/// One session's failover state.
#[derive(Debug, Clone)]
pub struct Tracker {
    targets: usize,
    timeouts: u32,
    current: usize,
    /// Timeouts in a row on `current`, and when the first was seen.
    streak: u32,
    streak_start: Option<Instant>,
    migrations: Vec<Migration>,
}

impl Tracker {
    /// A session starting on target 0 of `targets`, moving after
    /// `timeouts` timeouts in a row.
    pub fn new(targets: usize, timeouts: u32) -> Tracker {
        Tracker {
            targets: targets.max(1),
            timeouts: timeouts.max(1),
            current: 0,
            streak: 0,
            streak_start: None,
            migrations: Vec::new(),
        }
    }

    /// The target the session uses (or is moving to).
    pub fn current(&self) -> usize {
        self.current
    }

    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// True between a failure and the first reply after it.
    pub fn moving(&self) -> bool {
        self.migrations
            .last()
            .is_some_and(|m| m.first_reply_at.is_none())
    }

    /// `event` on `target` at `at`.
    pub fn observe(&mut self, target: usize, event: Event, at: Instant) -> Decision {
        if target != self.current {
            return Decision::Stay;
        }
        match event {
            Event::Answered => {
                self.streak = 0;
                self.streak_start = None;
                if let Some(m) = self.migrations.last_mut() {
                    if m.first_reply_at.is_none() {
                        m.first_reply_at = Some(at);
                        m.to = Some(target);
                    }
                }
                Decision::Stay
            }
            Event::Timeout => {
                self.streak += 1;
                let first = *self.streak_start.get_or_insert(at);
                if self.streak >= self.timeouts {
                    self.move_on(first)
                } else {
                    Decision::Stay
                }
            }
            Event::Refused | Event::Reset => {
                let first = self.streak_start.unwrap_or(at);
                self.move_on(first)
            }
        }
    }

    /// Leaves the current target: a new migration unless one is under
    /// way (a target tried while moving failed too: the move goes on).
    fn move_on(&mut self, failed_at: Instant) -> Decision {
        let from = self.current;
        self.current = (self.current + 1) % self.targets;
        self.streak = 0;
        self.streak_start = None;
        if !self.moving() {
            self.migrations.push(Migration {
                from,
                to: None,
                failed_at,
                first_reply_at: None,
                lost: 0,
                not_sent: 0,
            });
        }
        Decision::MoveTo(self.current)
    }

    /// A request was lost; counted against the move under way, if any.
    pub fn lost(&mut self) {
        if let Some(m) = self.migrations.last_mut().filter(|m| m.to.is_none()) {
            m.lost += 1;
        }
    }

    /// A request was not sent; counted against the move under way, if any.
    pub fn not_sent(&mut self) {
        if let Some(m) = self.migrations.last_mut().filter(|m| m.to.is_none()) {
            m.not_sent += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_moves_at_once_and_the_move_ends_with_the_first_reply() {
        let t0 = Instant::now();
        let mut t = Tracker::new(2, 3);
        assert_eq!(t.observe(0, Event::Answered, t0), Decision::Stay);
        assert_eq!(t.observe(0, Event::Reset, t0 + ms(10)), Decision::MoveTo(1));
        assert!(t.moving());
        t.lost();
        t.not_sent();
        t.not_sent();
        // The old connection's late failure and reply are not the new one's.
        assert_eq!(t.observe(0, Event::Reset, t0 + ms(11)), Decision::Stay);
        assert_eq!(t.observe(0, Event::Answered, t0 + ms(12)), Decision::Stay);
        assert!(t.moving());
        assert_eq!(t.observe(1, Event::Answered, t0 + ms(70)), Decision::Stay);
        assert!(!t.moving());
        let m = &t.migrations()[0];
        assert_eq!((m.from, m.to, m.lost, m.not_sent), (0, Some(1), 1, 2));
        assert_eq!(m.took(), Some(ms(60)));
        // After the move nothing more is charged to it.
        t.lost();
        assert_eq!(t.migrations()[0].lost, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn n_timeouts_in_a_row_move_and_the_failure_is_the_first_of_them() {
        let t0 = Instant::now();
        let mut t = Tracker::new(3, 3);
        assert_eq!(t.observe(0, Event::Timeout, t0), Decision::Stay);
        assert_eq!(t.observe(0, Event::Timeout, t0 + ms(5)), Decision::Stay);
        // A reply in between: the count starts again.
        assert_eq!(t.observe(0, Event::Answered, t0 + ms(6)), Decision::Stay);
        assert_eq!(t.observe(0, Event::Timeout, t0 + ms(100)), Decision::Stay);
        assert_eq!(t.observe(0, Event::Timeout, t0 + ms(110)), Decision::Stay);
        assert_eq!(
            t.observe(0, Event::Timeout, t0 + ms(120)),
            Decision::MoveTo(1)
        );
        assert_eq!(t.observe(1, Event::Answered, t0 + ms(300)), Decision::Stay);
        assert_eq!(t.migrations()[0].took(), Some(ms(200)));
        assert!(t.migrations()[0].first_reply_at.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn targets_are_tried_round_robin_wrapping_and_a_failed_try_extends_the_move() {
        let t0 = Instant::now();
        let mut t = Tracker::new(3, 1);
        assert_eq!(t.observe(0, Event::Reset, t0), Decision::MoveTo(1));
        assert_eq!(
            t.observe(1, Event::Refused, t0 + ms(50)),
            Decision::MoveTo(2)
        );
        assert_eq!(
            t.observe(2, Event::Refused, t0 + ms(150)),
            Decision::MoveTo(0)
        );
        assert_eq!(t.migrations().len(), 1, "one move, three targets tried");
        assert_eq!(t.observe(0, Event::Answered, t0 + ms(350)), Decision::Stay);
        let m = &t.migrations()[0];
        assert_eq!((m.from, m.to), (0, Some(0)));
        assert_eq!(m.took(), Some(ms(350)));
        // A second failure later is a second move.
        assert_eq!(
            t.observe(0, Event::Timeout, t0 + ms(900)),
            Decision::MoveTo(1)
        );
        assert_eq!(t.migrations().len(), 2);
        assert_eq!(t.current(), 1);
    }
}

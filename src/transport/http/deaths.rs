//! When a Streamable HTTP session is dead. Its connections come and go, so
//! no closed socket says it; once a `Resilient` wrapper asks
//! (`report_deaths`), these failures mark it down: no connection to the
//! server can be opened (its requests were not sent), a connection fails
//! under a request or its reply (the request is lost), or the server
//! answers 404 to the session id (it forgot the session: the wrapper opens
//! a new one, with a new `initialize`, instead of the transport renewing it
//! in place). Without a wrapper nothing changes: the failures are errors by
//! kind and a 404 renews the session inside the transport.

use super::pool::SendError;
use crate::client::CallError;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub(super) struct Deaths {
    reporting: AtomicBool,
    down: AtomicBool,
}

impl Deaths {
    pub(super) fn report(&self) {
        self.reporting.store(true, Ordering::SeqCst);
    }

    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn reporting(&self) -> bool {
        self.reporting.load(Ordering::SeqCst)
    }

    /// A POST that got no reply head: unreachable means nothing was sent.
    pub(super) fn send_failed(&self, e: SendError) -> CallError {
        if !self.reporting() {
            return e.into_error();
        }
        self.down.store(true, Ordering::SeqCst);
        match e {
            SendError::Unreachable(e) => CallError::NotSent(e.to_string()),
            SendError::Failed(e) => CallError::Lost(e.to_string()),
        }
    }

    /// Reading a reply failed: a transport failure ends the session.
    pub(super) fn read_failed(&self, e: CallError) -> CallError {
        match e {
            CallError::Transport(why) if self.reporting() => {
                self.down.store(true, Ordering::SeqCst);
                CallError::Lost(why)
            }
            other => other,
        }
    }

    /// A 404 on the session id: the error to end the request with when the
    /// session is to be seen dead, `None` to renew it in place.
    pub(super) fn forgotten(&self) -> Option<CallError> {
        if !self.reporting() {
            return None;
        }
        self.down.store(true, Ordering::SeqCst);
        Some(CallError::Lost(
            "the server forgot the session (HTTP 404)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_changes_until_deaths_are_asked_for() {
        let d = Deaths::default();
        let refused = SendError::Unreachable(CallError::Transport("refused".into()));
        assert!(matches!(d.send_failed(refused), CallError::Transport(_)));
        let reset = CallError::Transport("reset".into());
        assert!(matches!(d.read_failed(reset), CallError::Transport(_)));
        assert!(d.forgotten().is_none());
        assert!(!d.is_down());
    }

    #[test]
    fn once_asked_a_refused_connect_is_not_sent_and_a_broken_one_lost() {
        let d = Deaths::default();
        d.report();
        let refused = SendError::Unreachable(CallError::Transport("refused".into()));
        assert!(matches!(d.send_failed(refused), CallError::NotSent(_)));
        assert!(d.is_down());
        let d = Deaths::default();
        d.report();
        let reset = SendError::Failed(CallError::Transport("reset".into()));
        assert!(matches!(d.send_failed(reset), CallError::Lost(_)));
        assert!(d.is_down());
        let d = Deaths::default();
        d.report();
        // A reply that is not the server's is no death.
        let big = CallError::Protocol("too big".into());
        assert!(matches!(d.read_failed(big), CallError::Protocol(_)));
        assert!(!d.is_down());
        assert!(matches!(d.forgotten(), Some(CallError::Lost(_))));
        assert!(d.is_down());
    }
}

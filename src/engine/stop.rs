//! The stop signal. SIGINT, SIGTERM and SIGHUP set one process-wide
//! `StopToken` that every phase of every command observes: connecting,
//! warm-up, measuring, draining, profile captures, check and baseline
//! repeats, multi-target loops and the live screen. The first signal asks
//! everything to stop and keep what it measured; a second SIGINT or SIGTERM
//! exits at once (a second SIGHUP does not: see `forces_exit`),
//! after killing the targets' process groups and giving the terminal back.
//! The token remembers which signal came, so the process can exit with that
//! signal's code (128 + its number) and CI can tell a cancelled run from a
//! pass.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::watch;

/// A signal that stops mcptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopSignal {
    #[serde(rename = "SIGINT")]
    Interrupt,
    #[serde(rename = "SIGTERM")]
    Terminate,
    #[serde(rename = "SIGHUP")]
    Hangup,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// What a process stopped by this signal exits with, as shells report
    /// a death by it: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Hangup => 129,
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// Set once by the first stop signal; cheap to clone, every clone sees it.
#[derive(Debug, Clone)]
pub struct StopToken(Arc<watch::Sender<Option<StopSignal>>>);

impl Default for StopToken {
    fn default() -> Self {
        StopToken::new()
    }
}

impl StopToken {
    pub fn new() -> StopToken {
        StopToken(Arc::new(watch::channel(None).0))
    }

    /// Records `signal`; true when it is the first one.
    pub fn trigger(&self, signal: StopSignal) -> bool {
        let mut first = false;
        self.0.send_if_modified(|now| {
            first = now.is_none();
            if first {
                *now = Some(signal);
            }
            first
        });
        first
    }

    /// The signal that stopped the process, if one did.
    pub fn signal(&self) -> Option<StopSignal> {
        *self.0.borrow()
    }

    /// Resolves with the signal once one came (at once if one already did).
    pub async fn stopped(&self) -> StopSignal {
        let mut rx = self.0.subscribe();
        if let Ok(seen) = rx.wait_for(Option::is_some).await {
            if let Some(signal) = *seen {
                return signal;
            }
        }
        // The sender lives in `self`, so the channel never closes.
        std::future::pending().await
    }
}

/// The token the signal handlers set.
pub fn process() -> &'static StopToken {
    static TOKEN: OnceLock<StopToken> = OnceLock::new();
    TOKEN.get_or_init(StopToken::new)
}

/// How to give the terminal back, while something owns it.
static TERMINAL_RESTORE: Mutex<Option<fn()>> = Mutex::new(None);

/// The live screen owns the terminal while this lives: the stop notice is
/// not printed over it, and a forced exit restores the terminal first.
pub struct TerminalClaim(());

impl Drop for TerminalClaim {
    fn drop(&mut self) {
        *TERMINAL_RESTORE
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

pub fn claim_terminal(restore: fn()) -> TerminalClaim {
    *TERMINAL_RESTORE
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(restore);
    TerminalClaim(())
}

fn terminal_restore() -> Option<fn()> {
    *TERMINAL_RESTORE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Turns SIGINT, SIGTERM and SIGHUP into the process token, on the current
/// runtime, for as long as it runs. Commands that run load call it first.
pub fn listen() {
    terminal_fds();
    tokio::spawn(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                let _ = writeln!(
                    std::io::stderr(),
                    "mcptop: warning: cannot handle signals; Ctrl-C will not keep the results"
                );
                return;
            };
            loop {
                let got = tokio::select! {
                    _ = int.recv() => StopSignal::Interrupt,
                    _ = term.recv() => StopSignal::Terminate,
                    _ = hup.recv() => StopSignal::Hangup,
                };
                on_signal(got);
            }
        }
        #[cfg(not(unix))]
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            on_signal(StopSignal::Interrupt);
        }
    });
}

fn on_signal(signal: StopSignal) {
    if !process().trigger(signal) && forces_exit(signal) {
        force_exit(signal);
    }
    if signal == StopSignal::Hangup {
        detach_from_hung_up_terminal();
    }
    if terminal_restore().is_none() {
        // Written, not `eprintln!`: a closed stderr must not panic here.
        let _ = writeln!(
            std::io::stderr(),
            "mcptop: {}: stopping, keeping what was measured (again to exit at once)",
            signal.name()
        );
    }
}

/// Whether a signal that comes after the first one exits at once. SIGHUP
/// never does: when a terminal goes away the kernel sends one to the
/// foreground group and the shell sends another to its jobs, a few
/// microseconds apart, and nobody is left to mean "again". Exiting on the
/// second would lose the result the first one was keeping.
fn forces_exit(again: StopSignal) -> bool {
    again != StopSignal::Hangup
}

/// The second signal: no more waiting. Child groups are killed (they would
/// outlive mcptop otherwise) and the terminal is given back, then mcptop
/// exits with the signal's code. The one exit outside `main`, because a
/// signal handler has no caller to return to.
fn force_exit(signal: StopSignal) -> ! {
    crate::transport::group::kill_all();
    if let Some(restore) = terminal_restore() {
        restore();
    }
    let _ = writeln!(
        std::io::stderr(),
        "mcptop: {} again: exiting now",
        signal.name()
    );
    std::process::exit(i32::from(signal.exit_code()));
}

/// Which of stdin, stdout and stderr were a terminal when mcptop started
/// (after a hangup the terminal no longer says).
fn terminal_fds() -> [bool; 3] {
    static FDS: OnceLock<[bool; 3]> = OnceLock::new();
    *FDS.get_or_init(|| {
        #[cfg(unix)]
        {
            // SAFETY: isatty only inspects the descriptor.
            [0, 1, 2].map(|fd| unsafe { libc::isatty(fd) } == 1)
        }
        #[cfg(not(unix))]
        {
            [false; 3]
        }
    })
}

/// After SIGHUP the terminal is gone. Writing to it fails, which would make
/// every later `println!` panic before the result is reported, and reading
/// it returns end-of-file at once, forever, on which a terminal reader
/// (the live screen's) spins instead of returning. So stdout and stderr that
/// were the terminal now go to /dev/null, and stdin that was becomes a pipe
/// that never has data (a read says "not yet", not "end of file"). Once no
/// descriptor holds the terminal, the kernel stops reporting it to pollers.
fn detach_from_hung_up_terminal() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let [stdin, stdout, stderr] = terminal_fds();
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            for (fd, was_terminal) in [(libc::STDOUT_FILENO, stdout), (libc::STDERR_FILENO, stderr)]
            {
                if was_terminal {
                    // SAFETY: dup2 replaces a descriptor this process owns, atomically.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
        }
        if stdin {
            let mut ends = [0 as libc::c_int; 2];
            // SAFETY: pipe writes two descriptors into `ends`; the write end is
            // kept open for good, so reads never see end-of-file.
            unsafe {
                if libc::pipe(ends.as_mut_ptr()) == 0 {
                    libc::fcntl(ends[0], libc::F_SETFL, libc::O_NONBLOCK);
                    libc::dup2(ends[0], libc::STDIN_FILENO);
                    libc::close(ends[0]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_is_kept_and_names_its_exit_code() {
        let token = StopToken::new();
        assert_eq!(token.signal(), None);
        assert!(token.trigger(StopSignal::Terminate));
        assert!(!token.trigger(StopSignal::Interrupt));
        assert_eq!(token.signal(), Some(StopSignal::Terminate));
        assert_eq!(
            [
                StopSignal::Interrupt,
                StopSignal::Terminate,
                StopSignal::Hangup
            ]
            .map(StopSignal::exit_code),
            [130, 143, 129]
        );
        let json = serde_json::to_string(&StopSignal::Hangup).expect("json");
        assert_eq!(json, "\"SIGHUP\"");
    }

    #[test]
    fn a_second_hangup_does_not_force_an_exit_but_other_signals_do() {
        assert!(!forces_exit(StopSignal::Hangup));
        assert!(forces_exit(StopSignal::Interrupt));
        assert!(forces_exit(StopSignal::Terminate));
    }

    #[tokio::test]
    async fn stopped_resolves_for_waiters_and_latecomers() {
        let token = StopToken::new();
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.stopped().await }
        });
        tokio::task::yield_now().await;
        token.trigger(StopSignal::Hangup);
        assert_eq!(waiter.await.expect("join"), StopSignal::Hangup);
        assert_eq!(token.stopped().await, StopSignal::Hangup);
    }
}

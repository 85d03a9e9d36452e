//! The stdio target: one child process per session, as MCP hosts run stdio
//! servers. Stderr is kept (its tail) for error messages; a child that exits
//! while the run goes on is reported with its status. Every child leads a
//! process group of its own (see `group`), and the whole group is ended
//! when its session ends, whatever the child started.

use super::{group, limits, ConnectOptions, Connected, Connector, TargetError, TargetEvent};
use crate::client::McpSession;
use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// How much of a child's stderr is kept for messages.
const STDERR_TAIL_BYTES: usize = 8 * 1024;

pub struct StdioConnector {
    pub program: String,
    pub args: Vec<String>,
    pub options: ConnectOptions,
    pub events: mpsc::UnboundedSender<TargetEvent>,
    /// The runtime's GC report and profiler settings (`crate::runtime`).
    pub runtime: Option<crate::runtime::ChildRuntime>,
}

/// The last bytes a child wrote to stderr.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        if let Ok(mut buf) = self.0.lock() {
            buf.extend(bytes);
            let excess = buf.len().saturating_sub(STDERR_TAIL_BYTES);
            buf.drain(..excess);
        }
    }

    pub fn text(&self) -> String {
        match self.0.lock() {
            Ok(buf) => {
                let bytes: Vec<u8> = buf.iter().copied().collect();
                // The child's own words: no control sequence reaches a terminal.
                let text = String::from_utf8_lossy(&bytes);
                crate::protocol::escape::escape_text(text.trim()).into_owned()
            }
            Err(_) => String::new(),
        }
    }
}

/// Ends the child's group when its session is dropped; the exit that
/// follows is expected and not reported.
struct ChildGuard {
    stopping: Arc<AtomicBool>,
    pgid: Option<u32>,
    kill: Option<oneshot::Sender<()>>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // TERM now, not in the task: the runtime may be shutting down and
        // never run it (then `group::end_all` finishes the job).
        if let Some(pgid) = self.pgid {
            group::terminate(pgid);
        }
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

impl Connector for StdioConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(self.connect_one(session))
    }
}

impl StdioConnector {
    async fn connect_one(&self, session: u32) -> Result<Connected, TargetError> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        group::configure(&mut command);
        if let Some(runtime) = &self.runtime {
            runtime.prepare(&mut command);
        }
        let mut child = command.spawn().map_err(|e| TargetError::Spawn {
            program: self.program.clone(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => "command not found".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => limits::describe_io_error(&e),
            },
        })?;
        // The child leads its own group: its pid is the group's id.
        let pid = child.id();
        if let Some(pgid) = pid {
            group::register(pgid);
        }
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TargetError::Spawn {
                program: self.program.clone(),
                reason: "child has no stdio pipes".into(),
            });
        };
        let splitter = self.runtime.as_ref().and_then(|r| r.splitter(session));
        let tail = collect_stderr(stderr, crate::runtime::tap::StderrRoute::new(splitter));
        let stopping = Arc::new(AtomicBool::new(false));
        let (kill_tx, mut exit_rx) = watch_child(
            child,
            session,
            self.events.clone(),
            stopping.clone(),
            tail.clone(),
        );
        let guard = ChildGuard {
            stopping: stopping.clone(),
            pgid: pid,
            kill: Some(kill_tx),
        };

        let started = tokio::time::Instant::now();
        let connected = McpSession::connect(
            stdout,
            stdin,
            self.options.offered(),
            self.options.handshake_timeout,
        )
        .await;
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                // The handshake failed: say how the child ended if it did.
                stopping.store(true, Ordering::SeqCst);
                let exit = tokio::time::timeout(Duration::from_millis(300), exit_rx.recv())
                    .await
                    .ok()
                    .flatten();
                let reason = self.handshake_failure(&e.to_string(), exit, &tail.text());
                drop(guard);
                return Err(TargetError::Handshake { session, reason });
            }
        };
        self.options.deployed.phases.initialize(started.elapsed());
        Ok(Connected::from_client(client, pid, Box::new(guard)))
    }

    /// Why a handshake failed: the error, how the child ended if it did,
    /// and the end of its stderr.
    fn handshake_failure(&self, error: &str, exit: Option<String>, stderr: &str) -> String {
        let mut reason = format!("`{}`: {error}", self.program);
        if let Some(status) = exit {
            reason.push_str(&format!("; the process {status}"));
        }
        if !stderr.is_empty() {
            reason.push_str(&format!(
                "; its stderr ends with:\n{}",
                last_lines(stderr, 8)
            ));
        }
        reason
    }
}

/// Keeps the tail of a child's stderr as it comes; GC reports leave it on
/// the way (`route`), every other byte is kept as before.
fn collect_stderr(
    mut stderr: tokio::process::ChildStderr,
    mut route: crate::runtime::tap::StderrRoute,
) -> StderrTail {
    let tail = StderrTail::default();
    let tail_writer = tail.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail_writer.push(route.bytes(&buf[..n]));
        }
        tail_writer.push(route.end());
    });
    tail
}

/// Watches a session's child until it exits (told to the engine as a
/// target event, unless mcptop is stopping it) or is told to end (through
/// the sender returned), and ends its process group either way. The
/// receiver gets its exit status.
fn watch_child(
    mut child: tokio::process::Child,
    session: u32,
    events: mpsc::UnboundedSender<TargetEvent>,
    stopping: Arc<AtomicBool>,
    tail: StderrTail,
) -> (oneshot::Sender<()>, mpsc::UnboundedReceiver<String>) {
    // The child leads its own group: its pid is the group's id.
    let pid = child.id();
    let (kill_tx, kill_rx) = oneshot::channel::<()>();
    let (exit_tx, exit_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => {
                let status = match status {
                    Ok(s) => describe_status(s),
                    Err(e) => format!("wait failed: {e}"),
                };
                let _ = exit_tx.send(status.clone());
                if !stopping.load(Ordering::SeqCst) {
                    // Let the stderr reader catch the last words.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = events.send(TargetEvent::Exited {
                        session,
                        status,
                        stderr_tail: tail.text(),
                    });
                }
                // What the child started may outlive it: end the group too.
                if let Some(pgid) = pid {
                    group::end(pgid, std::future::ready(())).await;
                }
            }
            _ = kill_rx => match pid {
                Some(pgid) => {
                    group::end(pgid, async {
                        let _ = child.wait().await;
                    })
                    .await;
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
                None => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
            },
        }
    });
    (kill_tx, exit_rx)
}

pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "exited".into(),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

//! HTTP/1.1 connections to one server, opened lazily up to a limit and reused
//! (keep-alive, Nagle off). A request leases a connection until its response
//! body is read, so the number of connections is the number of requests that
//! can be on the wire at once, as with `wrk -c`.

use super::conn::{Conn, Framing, Head};
use crate::client::CallError;
use crate::transport::deployed::Deployed;
use crate::transport::tls::Dial;
use crate::workload::target::Endpoint;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Pool {
    endpoint: Endpoint,
    authority: String,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<Semaphore>,
    /// TLS (for `https://`) and the connect and handshake timings.
    deployed: Arc<Deployed>,
}

/// One connection, lent out; it goes back to the pool when dropped if its
/// last reply was read to the end and the server keeps it open.
pub struct Lease {
    pool: Arc<Pool>,
    pub conn: Option<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.reusable {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(conn);
                }
            }
        }
    }
}

/// A response body being read; owns the connection until it is done.
pub struct Body {
    lease: Lease,
    framing: Framing,
}

impl Body {
    /// Appends the next piece to `out`; `Ok(false)` at the end.
    pub async fn chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, CallError> {
        let Some(conn) = self.lease.conn.as_mut() else {
            return Ok(false);
        };
        match conn.body_chunk(&mut self.framing, out).await {
            Ok(more) => Ok(more),
            Err(e) => {
                self.lease.conn = None;
                Err(CallError::Transport(format!("reading the reply: {e}")))
            }
        }
    }

    /// Reads the whole body, failing past `max` bytes.
    pub async fn collect(mut self, max: usize) -> Result<Vec<u8>, CallError> {
        let mut out = Vec::new();
        while self.chunk(&mut out).await? {
            if out.len() > max {
                self.lease.conn = None;
                return Err(CallError::Protocol(format!("reply body over {max} bytes")));
            }
        }
        Ok(out)
    }

    /// Reads the rest in the background so the connection can be reused,
    /// without making the caller wait.
    pub fn drain_later(self) {
        if self.framing == Framing::Done {
            return;
        }
        tokio::spawn(async move {
            let mut body = self;
            let mut sink = Vec::new();
            while let Ok(true) = body.chunk(&mut sink).await {
                sink.clear();
            }
        });
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if self.framing != Framing::Done {
            // Unread bytes would be taken for the next reply.
            self.lease.conn = None;
        }
    }
}

impl Pool {
    pub fn new(endpoint: Endpoint, connections: u32, deployed: Arc<Deployed>) -> Arc<Pool> {
        Arc::new(Pool {
            authority: endpoint.authority(),
            endpoint,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(connections.max(1) as usize)),
            deployed,
        })
    }

    pub fn deployed(&self) -> &Arc<Deployed> {
        &self.deployed
    }

    /// Opens one connection ahead of the first request, so the handshake's
    /// time is its own and not the connection's.
    pub async fn prewarm(&self) -> Result<(), CallError> {
        let conn = self.dial().await?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        Ok(())
    }

    async fn dial(&self) -> Result<Conn, CallError> {
        let cannot =
            |e: String| CallError::Transport(format!("cannot connect to {}: {e}", self.authority));
        let tls = self.deployed.tls_for(self.endpoint.tls).map_err(cannot)?;
        let dial = Dial {
            authority: &self.authority,
            host: &self.endpoint.host,
            tls,
            timeout: crate::transport::CONNECT_TIMEOUT,
            phases: Some(&self.deployed.phases),
        };
        Conn::open(&dial).await.map_err(|e| cannot(e.to_string()))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request on an idle connection (or a new one while under the
    /// limit) and returns the reply head and its body.
    pub async fn send(self: &Arc<Self>, request: &[u8]) -> Result<(Head, Body), SendError> {
        let permit = self.slots.clone().acquire_owned().await.map_err(|_| {
            SendError::Failed(CallError::Transport("connection pool closed".into()))
        })?;
        let mut lease = Lease {
            pool: self.clone(),
            conn: None,
            _permit: permit,
        };
        loop {
            let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
            let fresh = idle.is_none();
            let mut conn = match idle {
                Some(c) => c,
                // A kept-alive connection the server closed is taken as
                // unused (as the retry below assumes): if no new one opens,
                // the request went nowhere.
                None => self.dial().await.map_err(SendError::Unreachable)?,
            };
            match conn.send(request).await {
                Ok(head) => {
                    let framing = head.framing;
                    lease.conn = Some(conn);
                    return Ok((head, Body { lease, framing }));
                }
                // The server closed an idle connection: try another one.
                Err(e) if !fresh && conn.was_reused() && is_closed_early(&e) => continue,
                Err(e) => {
                    let why = format!("HTTP request failed: {e}");
                    return Err(SendError::Failed(CallError::Transport(why)));
                }
            }
        }
    }
}

/// Why a request got no reply head.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be opened: the request went nowhere.
    #[error("{0}")]
    Unreachable(CallError),
    /// Opened, and then it failed: the request may have been sent.
    #[error("{0}")]
    Failed(CallError),
}

impl SendError {
    pub fn into_error(self) -> CallError {
        match self {
            SendError::Unreachable(e) | SendError::Failed(e) => e,
        }
    }
}

fn is_closed_early(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | BrokenPipe | ConnectionAborted
    )
}

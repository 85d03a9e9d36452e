//! HTTP/1.1 connections to one server, opened lazily up to a limit and reused
//! (keep-alive, Nagle off). A request leases a connection until its response
//! body is read, so the number of connections is the number of requests that
//! can be on the wire at once, as with `wrk -c`.

use super::super::endpoint::Endpoint;
use crate::client::CallError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub type Sender = SendRequest<Full<Bytes>>;

pub struct Pool {
    endpoint: Endpoint,
    idle: Mutex<Vec<Sender>>,
    slots: Arc<Semaphore>,
}

/// One connection, lent out; it goes back to the pool when dropped unless
/// the request on it failed.
pub struct Lease {
    pool: Arc<Pool>,
    pub sender: Option<Sender>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            if !sender.is_closed() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(sender);
                }
            }
        }
    }
}

impl Pool {
    pub fn new(endpoint: Endpoint, connections: u32) -> Arc<Pool> {
        Arc::new(Pool {
            endpoint,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(connections.max(1) as usize)),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A ready connection: an idle one, or a new one while under the limit.
    pub async fn lease(self: &Arc<Self>) -> Result<Lease, CallError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CallError::Transport("connection pool closed".into()))?;
        loop {
            let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
            let Some(mut sender) = idle else {
                break;
            };
            if sender.ready().await.is_ok() {
                return Ok(Lease {
                    pool: self.clone(),
                    sender: Some(sender),
                    _permit: permit,
                });
            }
        }
        let sender = self.dial().await?;
        Ok(Lease {
            pool: self.clone(),
            sender: Some(sender),
            _permit: permit,
        })
    }

    async fn dial(&self) -> Result<Sender, CallError> {
        let authority = self.endpoint.authority();
        let stream = TcpStream::connect(&authority)
            .await
            .map_err(|e| CallError::Transport(format!("cannot connect to {authority}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| CallError::Transport(format!("cannot set TCP_NODELAY: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| CallError::Transport(format!("HTTP handshake with {authority}: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

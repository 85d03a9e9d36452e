//! JSON-RPC batches for `mcptop serve --http`. rmcp's Streamable HTTP
//! service takes one message per POST, but in the 2025-03-26 era a client
//! may POST an array of them. This layer stands in front: a POST whose body
//! is an array becomes one inner request per message (same headers), and the
//! responses to its requests go back as one JSON array. Other eras (named by
//! `MCP-Protocol-Version`) get a 400; everything else passes through.
//! A POST body must arrive within the time it is given (408 otherwise), so
//! a client that sends a head and then trickles or withholds its body does
//! not hold the connection forever.

use super::net::MAX_REQUEST_BYTES;
use super::BuiltinServer;
use crate::protocol::sse::{Parsed, SseParser};
use crate::protocol::Era;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::StreamableHttpService;
use serde_json::Value;
use std::convert::Infallible;
use std::time::Duration;

pub type Service = StreamableHttpService<BuiltinServer, LocalSessionManager>;
pub type Reply = Response<BoxBody<Bytes, Infallible>>;

/// Answers one HTTP request, splitting a batch POST around rmcp; a POST
/// body must arrive within `body_timeout`.
pub async fn handle(service: Service, request: Request<Incoming>, body_timeout: Duration) -> Reply {
    if request.method() != hyper::Method::POST {
        return service.handle(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, body_timeout).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    if bytes.trim_ascii_start().first() != Some(&b'[') {
        return service
            .handle(Request::from_parts(parts, Full::new(bytes)))
            .await;
    }
    let version = parts
        .headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok());
    if version.is_some_and(|v| !Era::parse(v).is_some_and(Era::has_batches)) {
        let why = format!(
            "JSON-RPC batches are accepted only in protocol {}",
            Era::BATCHES
        );
        return rpc_error(-32600, &why);
    }
    let items: Vec<Value> = match serde_json::from_slice(&bytes) {
        Ok(items) => items,
        Err(e) => return rpc_error(-32700, &format!("invalid JSON batch: {e}")),
    };
    if items.is_empty() {
        return rpc_error(-32600, "empty batch");
    }
    let answers = items.into_iter().map(|item| {
        let mut inner = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .version(parts.version);
        if let Some(headers) = inner.headers_mut() {
            *headers = parts.headers.clone();
            headers.remove(hyper::header::CONTENT_LENGTH);
        }
        let awaited = item.get("method").and(item.get("id")).cloned();
        let body = Full::new(Bytes::from(item.to_string()));
        let service = service.clone();
        async move {
            match inner.body(body) {
                Ok(request) => answer_of(service.handle(request).await, awaited).await,
                Err(e) => Err(plain(StatusCode::BAD_REQUEST, &e.to_string())),
            }
        }
    });
    let mut session = None;
    let mut replies = Vec::new();
    for answer in futures_util::future::join_all(answers).await {
        match answer {
            Ok(answer) => {
                session = session.or(answer.session);
                replies.extend(answer.replies);
            }
            // The first refusal (a 404 on the session, say) answers it all.
            Err(refusal) => return refusal,
        }
    }
    if replies.is_empty() {
        return plain(StatusCode::ACCEPTED, "");
    }
    let mut reply = json(StatusCode::OK, &Value::Array(replies));
    if let Some(id) = session {
        reply.headers_mut().insert("mcp-session-id", id);
    }
    reply
}

/// A POST body, whole, within `body_timeout` and the size limit; else the
/// reply that refuses it.
async fn read_body(body: Incoming, body_timeout: Duration) -> Result<Bytes, Reply> {
    let collected = tokio::time::timeout(
        body_timeout,
        Limited::new(body, MAX_REQUEST_BYTES).collect(),
    );
    match collected.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        )),
        Err(_) => {
            let why = format!("request body not received within {body_timeout:?}");
            let mut reply = plain(StatusCode::REQUEST_TIMEOUT, &why);
            // What is left of the body would be read as the next request.
            reply.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            Err(reply)
        }
    }
}

/// What rmcp answered to one message of a batch.
struct Answer {
    replies: Vec<Value>,
    session: Option<hyper::header::HeaderValue>,
}

/// Reads rmcp's answer to one message: the response to `awaited` (from a
/// JSON body or an event stream, read only until it arrives), or the whole
/// answer back when it is a refusal.
async fn answer_of(response: Reply, awaited: Option<Value>) -> Result<Answer, Reply> {
    let (parts, mut body) = response.into_parts();
    let session = parts.headers.get("mcp-session-id").cloned();
    if !parts.status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Err(Response::from_parts(parts, Full::new(bytes).boxed()));
    }
    let event_stream = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut replies = Vec::new();
    let Some(awaited) = awaited else {
        return Ok(Answer { replies, session });
    };
    let mut parser = SseParser::new(MAX_REQUEST_BYTES);
    let mut json_body = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if !event_stream {
            json_body.extend_from_slice(&data);
            continue;
        }
        let mut parsed = Parsed::default();
        parser.push(&data, &mut parsed);
        for event in parsed.events {
            let Ok(message) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            let done = message.get("id") == Some(&awaited) && message.get("method").is_none();
            replies.push(message);
            if done {
                return Ok(Answer {
                    replies: only_responses(replies),
                    session,
                });
            }
        }
    }
    match serde_json::from_slice::<Value>(&json_body) {
        Ok(Value::Array(messages)) => replies.extend(messages),
        Ok(message) => replies.push(message),
        Err(_) => {}
    }
    Ok(Answer {
        replies: only_responses(replies),
        session,
    })
}

/// A batch reply holds responses only; what else the server said on the
/// way (progress, logging) has no place in it.
fn only_responses(messages: Vec<Value>) -> Vec<Value> {
    messages
        .into_iter()
        .filter(|m| m.get("method").is_none() && m.get("id").is_some())
        .collect()
}

fn json(status: StatusCode, value: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    reply
}

fn rpc_error(code: i64, message: &str) -> Reply {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message }
    });
    json(StatusCode::BAD_REQUEST, &body)
}

fn plain(status: StatusCode, text: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(text.to_string())).boxed());
    *reply.status_mut() = status;
    reply
}

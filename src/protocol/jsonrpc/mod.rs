//! JSON-RPC 2.0 framing for MCP: encoding prepared requests and classifying
//! one incoming line. Parsing reads only what the client needs (id, method,
//! error, `isError`, the negotiated version) and skips the rest without
//! building a tree, so the client's cost stays small beside the server's.

pub mod classify;
pub mod probe;

use super::escape::escape_line;
pub use classify::{
    classify, classify_bytes, classify_text, salvage_id, top_level_id, Incoming, Messages,
    ReplyError, RpcError, MAX_MESSAGE_CHARS,
};
pub use probe::{MetaProbe, ResultProbe, ServerInfo};
use serde_json::Value;

/// A request body with a hole for the id: `{"jsonrpc":"2.0","id":` N `<tail>`.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub method: &'static str,
    /// `,"method":"...","params":{...}}\n`
    tail: Vec<u8>,
    /// tools/call replies carry `isError`, which counts as a tool error.
    pub is_tool_call: bool,
    /// Where `params` starts in `tail`, to splice in a per-request `_meta`.
    params_at: usize,
    /// The tool, prompt or resource named (`params.name` or `params.uri`),
    /// for transports that route on it (the `Mcp-Name` header).
    pub target_name: Option<String>,
    /// Drop the reply's event stream and resume it (`resume_after`).
    pub resume: Option<ResumeAsk>,
}

/// A request whose reply stream is dropped after `after` events and
/// resumed, its figures filed under `label` (its operation).
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeAsk {
    pub plan: crate::protocol::resume::ResumePlan,
    pub label: std::sync::Arc<str>,
}

impl PreparedRequest {
    pub fn new(method: &'static str, params: &Value) -> PreparedRequest {
        let mut tail = Vec::with_capacity(64);
        tail.extend_from_slice(b",\"method\":");
        // Serializing a &str and a Value into a Vec cannot fail.
        serde_json::to_writer(&mut tail, method).unwrap_or_default();
        tail.extend_from_slice(b",\"params\":");
        let params_at = tail.len();
        serde_json::to_writer(&mut tail, params).unwrap_or_default();
        tail.extend_from_slice(b"}\n");
        let target_name = ["name", "uri"]
            .iter()
            .find_map(|k| params.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        PreparedRequest {
            method,
            tail,
            is_tool_call: method == "tools/call",
            params_at,
            target_name,
            resume: None,
        }
    }

    /// Drops and resumes its reply stream as `plan` says, when given.
    pub fn resuming(
        mut self,
        plan: Option<crate::protocol::resume::ResumePlan>,
        label: &str,
    ) -> PreparedRequest {
        self.resume = plan.map(|plan| ResumeAsk {
            plan,
            label: label.into(),
        });
        self
    }

    /// `encode` with `"_meta": meta` added to `params` (which must be an
    /// object, as every MCP request's is); `meta` is a serialized JSON object.
    pub fn encode_with_meta(&self, id: u64, meta: &[u8]) -> Vec<u8> {
        let at = self.params_at;
        if self.tail.get(at) != Some(&b'{') {
            return self.encode(id);
        }
        // Built in one buffer: the request path allocates once for its body.
        let mut buf = Vec::with_capacity(32 + self.tail.len() + meta.len() + 12);
        buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        push_digits(&mut buf, id);
        buf.extend_from_slice(&self.tail[..=at]);
        buf.extend_from_slice(b"\"_meta\":");
        buf.extend_from_slice(meta);
        if self.tail.get(at + 1) != Some(&b'}') {
            buf.push(b',');
        }
        buf.extend_from_slice(&self.tail[at + 1..]);
        buf
    }

    pub fn encode(&self, id: u64) -> Vec<u8> {
        let mut buf = Vec::with_capacity(32 + self.tail.len());
        buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        push_digits(&mut buf, id);
        buf.extend_from_slice(&self.tail);
        buf
    }

    pub fn len(&self) -> usize {
        self.tail.len() + 24
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Appends `n` in decimal, without a `String` of its own (`to_string`
/// would allocate one a request).
pub fn push_digits(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// The start of a line, for error messages, with control characters
/// escaped (it is whatever the server sent).
pub fn snippet(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        escape_line(text).into_owned()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", escape_line(&text[..end]), text.len())
    }
}

pub fn encode_reply(id: &Value, result: Result<Value, (i64, &str)>) -> Vec<u8> {
    let msg = match result {
        Ok(r) => serde_json::json!({ "jsonrpc": "2.0", "id": id, "result": r }),
        Err((code, message)) => serde_json::json!({
            "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message }
        }),
    };
    let mut buf = serde_json::to_vec(&msg).unwrap_or_default();
    buf.push(b'\n');
    buf
}

/// mcptop's answer to a request from the server: `ping` is answered, the
/// rest refused as not handled.
pub fn reply_to_server(id: &Value, method: &str) -> Vec<u8> {
    if method == "ping" {
        encode_reply(id, Ok(serde_json::json!({})))
    } else {
        encode_reply(id, Err((-32601, "mcptop does not handle this request")))
    }
}

/// One JSON-RPC batch (an array, newline-terminated) of encoded messages.
pub fn encode_batch(messages: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut buf = vec![b'['];
    for message in messages {
        if buf.len() > 1 {
            buf.push(b',');
        }
        buf.extend_from_slice(message.trim_ascii_end());
    }
    buf.extend_from_slice(b"]\n");
    buf
}

pub fn encode_notification(method: &str) -> Vec<u8> {
    let mut buf = serde_json::to_vec(&serde_json::json!({ "jsonrpc": "2.0", "method": method }))
        .unwrap_or_default();
    buf.push(b'\n');
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_request_with_id() {
        let p = PreparedRequest::new("tools/call", &serde_json::json!({"name": "echo"}));
        let bytes = p.encode(42);
        let text = String::from_utf8(bytes).expect("utf8");
        assert_eq!(
            text,
            "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}\n"
        );
        let v: Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(v["id"], 42);
        assert_eq!(
            String::from_utf8(p.encode(0))
                .expect("utf8")
                .matches("\"id\":0,")
                .count(),
            1
        );
    }

    #[test]
    fn splices_meta_into_params() {
        let p = PreparedRequest::new("tools/call", &serde_json::json!({"name": "echo"}));
        assert_eq!(p.target_name.as_deref(), Some("echo"));
        let text = String::from_utf8(p.encode_with_meta(5, b"{\"k\":1}")).expect("utf8");
        let v: Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(v["params"]["_meta"]["k"], 1);
        assert_eq!(v["params"]["name"], "echo");
        let empty = PreparedRequest::new("ping", &serde_json::json!({}));
        assert_eq!(empty.target_name, None);
        let text = String::from_utf8(empty.encode_with_meta(6, b"{}")).expect("utf8");
        let v: Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(v["params"]["_meta"], serde_json::json!({}));
        assert_eq!(v["id"], 6);
        let text = String::from_utf8(p.encode_with_meta(12_345, b"{}")).expect("utf8");
        assert_eq!(
            text,
            "{\"jsonrpc\":\"2.0\",\"id\":12345,\"method\":\"tools/call\",\
             \"params\":{\"_meta\":{},\"name\":\"echo\"}}\n"
        );
        let listed = PreparedRequest::new("x", &serde_json::json!([1]));
        assert_eq!(
            listed.encode_with_meta(7, b"{}"),
            listed.encode(7),
            "not an object"
        );
    }

    #[test]
    fn a_batch_is_one_array_line_of_the_encoded_requests() {
        let p = PreparedRequest::new("ping", &serde_json::json!({}));
        let line = encode_batch([p.encode(1), p.encode(2)]);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(line.last(), Some(&b'\n'));
        let v: Value = serde_json::from_slice(&line).expect("valid json");
        let ids: Vec<u64> = v
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|m| m["id"].as_u64())
            .collect();
        assert_eq!(ids, vec![1, 2]);
        assert_eq!(v[1]["method"], "ping");
    }

    #[test]
    fn snippets_escape_what_the_server_sent() {
        assert_eq!(snippet("a\x1b[2Jb"), "a\\x1b[2Jb");
    }

    #[test]
    fn snippet_cuts_long_lines_on_char_boundary() {
        let long = "é".repeat(200);
        let s = snippet(&long);
        assert!(s.contains("(400 bytes)"));
        assert!(s.len() < 200);
    }
}

//! JSON-RPC 2.0 framing for MCP: encoding prepared requests and classifying
//! one incoming line. Parsing reads only what the client needs (id, method,
//! error, `isError`, the negotiated version) and skips the rest without
//! building a tree, so the client's cost stays small beside the server's.

use serde::de::IgnoredAny;
use serde::Deserialize;
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
        }
    }

    /// `encode` with `"_meta": meta` added to `params` (which must be an
    /// object, as every MCP request's is); `meta` is a serialized JSON object.
    pub fn encode_with_meta(&self, id: u64, meta: &[u8]) -> Vec<u8> {
        let plain = self.encode(id);
        let at = plain.len() - self.tail.len() + self.params_at;
        if plain.get(at) != Some(&b'{') {
            return plain;
        }
        let mut buf = Vec::with_capacity(plain.len() + meta.len() + 12);
        buf.extend_from_slice(&plain[..=at]);
        buf.extend_from_slice(b"\"_meta\":");
        buf.extend_from_slice(meta);
        if plain.get(at + 1) != Some(&b'}') {
            buf.push(b',');
        }
        buf.extend_from_slice(&plain[at + 1..]);
        buf
    }

    pub fn encode(&self, id: u64) -> Vec<u8> {
        let mut buf = Vec::with_capacity(32 + self.tail.len());
        buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        let mut digits = itoa_buf(id);
        buf.append(&mut digits);
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

fn itoa_buf(mut n: u64) -> Vec<u8> {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    tmp[i..].to_vec()
}

/// A JSON-RPC error object as a server sent it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RpcError {
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServerInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// The few fields of a `result` the client looks at.
#[derive(Debug, Default, Deserialize)]
pub struct ResultProbe {
    #[serde(rename = "isError", default)]
    pub is_error: Option<bool>,
    #[serde(rename = "protocolVersion", default)]
    pub protocol_version: Option<String>,
    #[serde(rename = "serverInfo", default)]
    pub server_info: Option<ServerInfo>,
    /// `server/discover` (2026-07-28 and later).
    #[serde(rename = "supportedVersions", default)]
    pub supported_versions: Option<Vec<String>>,
    #[serde(rename = "_meta", default)]
    pub meta: Option<MetaProbe>,
}

/// The `_meta` fields the client reads.
#[derive(Debug, Default, Deserialize)]
pub struct MetaProbe {
    #[serde(rename = "io.modelcontextprotocol/serverInfo", default)]
    pub server_info: Option<ServerInfo>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    result: Option<ResultOrNull>,
    #[serde(default)]
    error: Option<RpcError>,
    #[serde(default)]
    #[allow(dead_code)]
    params: Option<IgnoredAny>,
}

/// `result` may legally be any JSON value; only an object has fields to probe.
#[derive(Debug)]
struct ResultOrNull(ResultProbe);

impl<'de> Deserialize<'de> for ResultOrNull {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        struct ProbeVisitor;
        impl<'de> Visitor<'de> for ProbeVisitor {
            type Value = ResultOrNull;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON-RPC result")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ResultOrNull, A::Error> {
                ResultProbe::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(ResultOrNull)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultOrNull, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_unit<E>(self) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
            fn visit_str<E>(self, _: &str) -> Result<ResultOrNull, E> {
                Ok(ResultOrNull(ResultProbe::default()))
            }
        }
        d.deserialize_any(ProbeVisitor)
    }
}

/// What one line from the server is.
#[derive(Debug)]
pub enum Incoming {
    Response {
        id: u64,
        outcome: Result<ResultProbe, RpcError>,
    },
    /// A request from the server (e.g. `ping`); must be answered.
    ServerRequest {
        id: Value,
        method: String,
    },
    Notification {
        method: String,
    },
    /// Not a valid JSON-RPC message: says what was wrong.
    Invalid(String),
}

/// What one line or body holds: a message, or a JSON-RPC batch of them.
#[derive(Debug)]
pub enum Messages {
    One(Incoming),
    Batch(Vec<Incoming>),
}

/// Classifies a line or body. An array is a batch reply, which is only
/// expected once mcptop sent a batch (`batch_sent`); otherwise it is invalid.
pub fn classify_text(text: &str, batch_sent: bool) -> Messages {
    let trimmed = text.trim();
    if !trimmed.starts_with('[') {
        return Messages::One(classify(trimmed));
    }
    if !batch_sent {
        return Messages::One(Incoming::Invalid(
            "unexpected JSON-RPC batch (mcptop sent no batch)".into(),
        ));
    }
    let items: Vec<Value> = match serde_json::from_str(trimmed) {
        Ok(items) => items,
        Err(e) => {
            return Messages::One(Incoming::Invalid(format!(
                "invalid JSON batch ({e}): {}",
                snippet(trimmed)
            )))
        }
    };
    if items.is_empty() {
        return Messages::One(Incoming::Invalid("empty JSON-RPC batch".into()));
    }
    Messages::Batch(
        items
            .into_iter()
            .map(|item| match Envelope::deserialize(&item) {
                Ok(env) => classify_envelope(env, &item.to_string()),
                Err(e) => Incoming::Invalid(format!(
                    "invalid message in a batch ({e}): {}",
                    snippet(&item.to_string())
                )),
            })
            .collect(),
    )
}

/// Classifies one message (not a batch).
pub fn classify(line: &str) -> Incoming {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Incoming::Invalid("empty line".into());
    }
    if trimmed.starts_with('[') {
        return Incoming::Invalid("unexpected JSON-RPC batch (mcptop sent no batch)".into());
    }
    match serde_json::from_str(trimmed) {
        Ok(env) => classify_envelope(env, trimmed),
        Err(e) => Incoming::Invalid(format!("invalid JSON ({e}): {}", snippet(trimmed))),
    }
}

fn classify_envelope(env: Envelope, raw: &str) -> Incoming {
    match (env.method, env.id) {
        (Some(method), Some(id)) => Incoming::ServerRequest { id, method },
        (Some(method), None) => Incoming::Notification { method },
        (None, Some(id)) => {
            let Some(id) = id.as_u64() else {
                return Incoming::Invalid(format!("response with an id mcptop never sent: {id}"));
            };
            match (env.result, env.error) {
                (Some(ResultOrNull(probe)), None) => Incoming::Response {
                    id,
                    outcome: Ok(probe),
                },
                (None, Some(err)) => Incoming::Response {
                    id,
                    outcome: Err(err),
                },
                (Some(_), Some(_)) => {
                    Incoming::Invalid(format!("response {id} has both result and error"))
                }
                (None, None) => {
                    Incoming::Invalid(format!("response {id} has neither result nor error"))
                }
            }
        }
        (None, None) => Incoming::Invalid(format!(
            "message with neither id nor method: {}",
            snippet(raw)
        )),
    }
}

/// The start of a line, for error messages.
pub fn snippet(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        text.to_string()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &text[..end], text.len())
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
    }

    #[test]
    fn classifies_responses_and_errors() {
        match classify(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":true}}"#) {
            Incoming::Response {
                id: 7,
                outcome: Ok(p),
            } => assert_eq!(p.is_error, Some(true)),
            other => panic!("unexpected {other:?}"),
        }
        match classify(r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}"#) {
            Incoming::Response {
                id: 3,
                outcome: Err(e),
            } => assert_eq!(e.code, -32601),
            other => panic!("unexpected {other:?}"),
        }
        match classify(r#"{"jsonrpc":"2.0","id":9,"result":{}}"#) {
            Incoming::Response {
                id: 9,
                outcome: Ok(p),
            } => assert_eq!(p.is_error, None),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn classifies_server_messages_and_garbage() {
        assert!(matches!(
            classify(r#"{"jsonrpc":"2.0","id":"s1","method":"ping"}"#),
            Incoming::ServerRequest { method, .. } if method == "ping"
        ));
        assert!(matches!(
            classify(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"x":1}}"#),
            Incoming::Notification { method } if method == "notifications/message"
        ));
        for bad in [
            "not json",
            "{\"id\":1}",
            "{\"id\":\"abc\",\"result\":{}}",
            "{}",
            "[1,2]",
            "{\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"\"}}",
        ] {
            assert!(
                matches!(classify(bad), Incoming::Invalid(_)),
                "{bad} should be invalid"
            );
        }
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
    fn arrays_are_batches_only_once_a_batch_was_sent() {
        let reply = r#"[{"jsonrpc":"2.0","id":2,"result":{}},{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}},{"id":"x"},5]"#;
        assert!(matches!(
            classify_text(reply, false),
            Messages::One(Incoming::Invalid(m)) if m.contains("sent no batch")
        ));
        let Messages::Batch(items) = classify_text(reply, true) else {
            panic!("a batch");
        };
        assert!(matches!(
            items[0],
            Incoming::Response {
                id: 2,
                outcome: Ok(_)
            }
        ));
        assert!(matches!(
            items[1],
            Incoming::Response {
                id: 1,
                outcome: Err(_)
            }
        ));
        assert!(matches!(&items[2], Incoming::Invalid(_)));
        assert!(matches!(&items[3], Incoming::Invalid(m) if m.contains("in a batch")));
        for bad in ["[]", "[{", "[1,"] {
            assert!(
                matches!(
                    classify_text(bad, true),
                    Messages::One(Incoming::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            classify_text(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#, true),
            Messages::One(Incoming::Response { id: 3, .. })
        ));
    }

    #[test]
    fn snippet_cuts_long_lines_on_char_boundary() {
        let long = "é".repeat(200);
        let s = snippet(&long);
        assert!(s.contains("(400 bytes)"));
        assert!(s.len() < 200);
    }
}

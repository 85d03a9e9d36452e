//! JSON-RPC 2.0 framing for MCP: encoding prepared requests and classifying
//! one incoming line. Parsing reads only what the client needs (id, method,
//! error, `isError`, the negotiated version) and skips the rest without
//! building a tree, so the client's cost stays small beside the server's.

use super::escape::escape_line;
pub use super::probe::{MetaProbe, ResultProbe, ServerInfo};
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

/// Why a reply to one of mcptop's requests is not a result.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyError {
    /// The server answered with a JSON-RPC error.
    Rpc(RpcError),
    /// The reply names the request's id but is not a valid response (no
    /// result nor error, bad JSON, not UTF-8, too long): says what was wrong.
    Malformed(String),
}

/// What one line from the server is.
// Nearly every line is a response: boxing its probe to shrink the rare
// variants would cost an allocation per reply.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Incoming {
    Response {
        id: u64,
        outcome: Result<ResultProbe, ReplyError>,
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
#[allow(clippy::large_enum_variant)] // as `Incoming`
#[derive(Debug)]
pub enum Messages {
    One(Incoming),
    Batch(Vec<Incoming>),
}

/// Classifies a line's bytes: `classify_text`, except that a line that is
/// not UTF-8 but names one of mcptop's ids fails that request.
pub fn classify_bytes(bytes: &[u8], batch_sent: bool) -> Messages {
    match std::str::from_utf8(bytes) {
        Ok(text) => classify_text(text, batch_sent),
        Err(e) => {
            let what = format!("line is not UTF-8 ({e})");
            Messages::One(match salvage_id(bytes) {
                Some(id) => malformed(id, what, &String::from_utf8_lossy(bytes)),
                None => Incoming::Invalid(format!(
                    "{what}: {}",
                    snippet(&String::from_utf8_lossy(bytes))
                )),
            })
        }
    }
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
            .map(|item| {
                let raw = item.to_string();
                match Envelope::deserialize(&item) {
                    Ok(env) => classify_envelope(env, &raw),
                    Err(e) => match item.get("id").and_then(Value::as_u64) {
                        Some(id) if item.get("method").is_none() => {
                            malformed(id, format!("invalid response ({e})"), &raw)
                        }
                        _ => Incoming::Invalid(format!(
                            "invalid message in a batch ({e}): {}",
                            snippet(&raw)
                        )),
                    },
                }
            })
            .collect(),
    )
}

/// Classifies one message (not a batch). A response that is malformed but
/// names its id is that request's failure, not an unmatched line.
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
        Err(e) => match salvage_id(trimmed.as_bytes()) {
            Some(id) => malformed(id, format!("invalid JSON ({e})"), trimmed),
            None => Incoming::Invalid(format!("invalid JSON ({e}): {}", snippet(trimmed))),
        },
    }
}

fn malformed(id: u64, what: String, raw: &str) -> Incoming {
    Incoming::Response {
        id,
        outcome: Err(ReplyError::Malformed(format!(
            "malformed response to id {id}: {what}: {}",
            snippet(raw)
        ))),
    }
}

fn classify_envelope(env: Envelope, raw: &str) -> Incoming {
    match (env.method, env.id) {
        (Some(method), Some(id)) => Incoming::ServerRequest { id, method },
        (Some(method), None) => Incoming::Notification { method },
        (None, Some(id)) => {
            let Some(id) = id.as_u64() else {
                return Incoming::Invalid(format!(
                    "response with an id mcptop never sent: {}",
                    snippet(&id.to_string())
                ));
            };
            match (env.result, env.error) {
                (Some(ResultOrNull(mut probe)), None) => {
                    if probe.is_error == Some(true) {
                        probe.error_text = super::probe::first_text(raw)
                            .map(|t| super::escape::escape_bounded(&t, MAX_MESSAGE_CHARS));
                    }
                    Incoming::Response {
                        id,
                        outcome: Ok(probe),
                    }
                }
                (None, Some(err)) => Incoming::Response {
                    id,
                    outcome: Err(ReplyError::Rpc(err)),
                },
                (Some(_), Some(_)) => malformed(id, "both result and error".into(), raw),
                (None, None) => malformed(id, "neither result nor error".into(), raw),
            }
        }
        (None, None) => Incoming::Invalid(format!(
            "message with neither id nor method: {}",
            snippet(raw)
        )),
    }
}

/// Longest server message kept in an error (characters, after escaping).
pub const MAX_MESSAGE_CHARS: usize = 240;

/// The id of a line that is meant as a response but cannot be parsed: the
/// number after a top-level `"id":` key, when the line is an object with
/// no `method` (a server's own request is never one of ours). Scans bytes,
/// so it works on invalid UTF-8 and on the head of an over-long line.
pub fn salvage_id(raw: &[u8]) -> Option<u64> {
    match top_level_id(raw) {
        (id, false) => id,
        (_, true) => None,
    }
}

/// The number after a top-level `"id":` key of what looks like a JSON
/// object (even a cut or broken one), and whether it has a `method` key.
pub fn top_level_id(raw: &[u8]) -> (Option<u64>, bool) {
    let skip_ws = |mut i: usize| {
        while raw.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if raw.get(i) != Some(&b'{') {
        return (None, false);
    }
    let (mut depth, mut id, mut has_method) = (0usize, None, false);
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < raw.len() && raw[end] != b'"' {
                    end += if raw[end] == b'\\' { 2 } else { 1 };
                }
                let Some(key) = raw.get(start..end) else {
                    break;
                };
                i = skip_ws(end + 1);
                if depth == 1 && raw.get(i) == Some(&b':') {
                    has_method |= key == b"method";
                    if key == b"id" && id.is_none() {
                        let at = skip_ws(i + 1).min(raw.len());
                        let digits = raw[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                        // `5,` `5}` `5 ` or the end of a cut line: a number, not `5.0` or `5x`.
                        let ends = raw
                            .get(at + digits)
                            .is_none_or(|b| matches!(b, b',' | b'}') || b.is_ascii_whitespace());
                        if ends {
                            id = std::str::from_utf8(&raw[at..at + digits])
                                .ok()
                                .and_then(|d| d.parse().ok());
                        }
                    }
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    (id, has_method)
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
            } => assert!(matches!(e, ReplyError::Rpc(RpcError { code: -32601, .. }))),
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
            "{\"id\":\"abc\",\"result\":{}}",
            "{}",
            "[1,2]",
            "{\"id\":2,\"method\":\"x\"",
        ] {
            assert!(
                matches!(classify(bad), Incoming::Invalid(_)),
                "{bad} should be invalid"
            );
        }
        // Malformed, but they name the request they answer: its failure.
        for bad in [
            "{\"id\":1}",
            "{\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"\"}}",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"isError\":\"yes\"}}",
            "{\"id\" : 1 , \"result\":{\"text\":\"cut here",
        ] {
            assert!(
                matches!(
                    classify(bad),
                    Incoming::Response { id: 1, outcome: Err(ReplyError::Malformed(ref m)) }
                        if m.contains("id 1")
                ),
                "{bad} should fail request 1"
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
    fn an_id_is_salvaged_only_from_a_top_level_response_key() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (br#"{"jsonrpc":"2.0","id":42,"result":{"#, Some(42)),
            (b"  { \"id\" :\t7 }", Some(7)),
            (br#"{"result":{"id":3,"x":"}"},"id":9}"#, Some(9)),
            (br#"{"result":{"id":3}}"#, None),
            (br#"{"a":"\"id\":5","id":6}"#, Some(6)),
            (br#"{"id":5,"method":"ping""#, None),
            (br#"{"id":5.5}"#, None),
            (br#"{"id":"5"}"#, None),
            (br#"{"id":"#, None),
            (br#"[{"id":1}]"#, None),
            (b"{\"id\":8,\"result\":\"\xff\xfe\"}", Some(8)),
        ];
        for (raw, id) in cases {
            assert_eq!(salvage_id(raw), *id, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn a_reply_that_is_not_utf8_fails_the_request_it_names() {
        let Messages::One(Incoming::Response {
            id: 8,
            outcome: Err(ReplyError::Malformed(m)),
        }) = classify_bytes(b"{\"id\":8,\"result\":{\"t\":\"\xff\"}}", false)
        else {
            panic!("request 8 fails");
        };
        assert!(m.contains("not UTF-8"), "{m}");
        assert!(matches!(
            classify_bytes(b"\xff\xfe", false),
            Messages::One(Incoming::Invalid(m)) if m.contains("not UTF-8")
        ));
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

//! Classifying what a server sends: one line (or body) is a response to
//! one of mcptop's requests, a request or notification of the server's own,
//! a JSON-RPC batch of those, or invalid. A response that is malformed but
//! names one of mcptop's ids (no result nor error, bad JSON, not UTF-8, cut
//! short) is that request's failure, so it fails at once instead of at its
//! timeout; `salvage_id` reads the id from the raw bytes.

use super::probe::ResultProbe;
use super::snippet;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

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
                        probe.error_text = super::probe::first_text(raw).map(|t| {
                            crate::protocol::escape::escape_bounded(&t, MAX_MESSAGE_CHARS)
                        });
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

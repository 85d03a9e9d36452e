//! Request headers for deployed servers (`[headers]` in a workload, `-H` on
//! the command line), with `${ENV_VAR}` expansion, and `Secret`: the type a
//! header value or credential lives in from the moment it is expanded, whose
//! `Debug` and `Display` print `***`, so no result file, report, log line or
//! error message can show it by accident. Only the transports read it
//! (`expose`), to put it on the wire.

use std::fmt;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

/// What a secret prints as.
pub const REDACTED: &str = "***";

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value itself, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A request header: the name is shown, the value never is.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub value: Secret,
}

/// Headers mcptop sets itself; a user's would clash with them.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
];

/// Expands every `${NAME}` in `text` from the environment (`$$` is a `$`).
/// An unset variable is an error naming it (never the text around it,
/// which may hold a secret).
pub fn expand_env(text: &str) -> Result<Secret, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Secret, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err("unterminated ${ (write $$ for a literal $)".into());
            };
            let name = &body[..end];
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(format!("${{{name}}} is not an environment variable name"));
            }
            let value =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Secret(out))
}

/// Checks a header name and expands its value; the error never holds the value.
pub fn header(name: &str, value: &str) -> Result<Header, String> {
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("{name:?} is not a header name"));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("{name} is set by mcptop itself"));
    }
    let value = expand_env(value.trim())?;
    if value
        .expose()
        .bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0)
    {
        return Err(format!(
            "the value of {name} has a line break or NUL (after expansion)"
        ));
    }
    Ok(Header {
        name: name.to_string(),
        value,
    })
}

/// Splits `-H "Name: value"`; the error never holds the value.
pub fn parse_flag(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
        None => Err("expected -H \"Name: value\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        let h = header("X-Key", "hunter2").expect("header");
        assert!(!format!("{h:?}").contains("hunter2"));
        assert_eq!(h.value.expose(), "hunter2");
    }

    #[test]
    fn env_references_expand_and_unset_ones_are_named() {
        let env = |n: &str| (n == "TOKEN").then(|| "abc".to_string());
        let out = expand_with("Bearer ${TOKEN}; $$5 $x", env).expect("ok");
        assert_eq!(out.expose(), "Bearer abc; $5 $x");
        let err = expand_with("k-${MISSING}", env).expect_err("unset");
        assert_eq!(err, "environment variable MISSING is not set");
        assert!(expand_with("${OPEN", env).is_err());
        assert!(expand_with("${A B}", env).is_err());
    }

    #[test]
    fn bad_names_reserved_names_and_injection_are_refused_without_the_value() {
        assert!(header("Bad Name", "v").is_err());
        let err = header("Content-Length", "5").expect_err("reserved");
        assert!(err.contains("set by mcptop"), "{err}");
        let err = header("X-A", "sec\r\nret").expect_err("crlf");
        assert!(!err.contains("sec"), "{err}");
        assert_eq!(
            parse_flag("Authorization: Bearer x").expect("ok"),
            ("Authorization".into(), "Bearer x".into())
        );
        assert!(parse_flag("nocolon").is_err());
    }
}

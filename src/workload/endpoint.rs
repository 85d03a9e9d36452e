//! Network addresses of targets, parsed from `http(s)://`, `ws(s)://` and
//! `tcp://` URLs. Only what mcptop needs (host, port, path, whether TLS);
//! no credentials in URLs.

/// Where a network target listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Starts with `/`; `/` when the URL had none.
    pub path: String,
    /// `https://` or `wss://`: the connection is TLS.
    pub tls: bool,
}

impl Endpoint {
    /// Parses `host:port[/path]` (the part after `scheme://`).
    pub fn parse(rest: &str, default_port: u16) -> Result<Endpoint, String> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some(end) = v6.find(']') else {
                return Err("unterminated [IPv6] host".into());
            };
            let port = v6[end + 1..].strip_prefix(':');
            (format!("[{}]", &v6[..end]), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err("no host given".into());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?,
            None => default_port,
        };
        Ok(Endpoint {
            host,
            port,
            path: path.to_string(),
            tls: false,
        })
    }

    /// `host:port`, as for `TcpStream::connect` and the `Host` header.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The whole URL with `scheme`, e.g. `ws://host:port/path` (`wss://`
    /// for a TLS endpoint).
    pub fn url(&self, scheme: &str) -> String {
        let secure = if self.tls { "s" } else { "" };
        format!("{scheme}{secure}://{}{}", self.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let e = Endpoint::parse("127.0.0.1:3001/mcp", 80).expect("ok");
        assert_eq!(
            e,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 3001,
                path: "/mcp".into(),
                tls: false,
            }
        );
        assert_eq!(Endpoint::parse("localhost", 80).expect("ok").port, 80);
        assert_eq!(Endpoint::parse("localhost", 80).expect("ok").path, "/");
        let v6 = Endpoint::parse("[::1]:9/x", 80).expect("ok");
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 9));
        assert_eq!(v6.authority(), "[::1]:9");
        assert_eq!(v6.url("ws"), "ws://[::1]:9/x");
        assert!(Endpoint::parse(":80", 80).is_err());
        assert!(Endpoint::parse("h:99999", 80).is_err());
        assert!(Endpoint::parse("u:p@h:1", 80).is_err());
    }
}

//! The protocol floor: what MCP and JSON-RPC say, with no I/O policy. The
//! eras (protocol versions) and what each allows, JSON-RPC messages
//! (encoding requests, classifying what a server sends, the few result
//! fields the client reads), the framings they travel in (newline-delimited
//! lines, server-sent events, WebSocket text messages), and how text a peer
//! controls is made safe to print. The client, the server, the transports
//! and workloads build on it; it imports none of them.

pub mod escape;
pub mod jsonrpc;
pub mod lines;
pub mod resume;
pub mod sse;
pub mod websocket;

use std::fmt;

/// A protocol era: one dated version of MCP, and what it allows. The
/// default is what a session offers when nothing says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Era {
    /// The HTTP+SSE transport's era.
    V2024_11_05,
    /// The only era with JSON-RPC batches (removed in 2025-06-18).
    V2025_03_26,
    V2025_06_18,
    /// The newest era with an `initialize` handshake.
    #[default]
    V2025_11_25,
    /// Stateless: no `initialize`, no sessions, no `ping`; every request
    /// carries its version and client in `_meta` (and, over HTTP, headers).
    V2026_07_28,
}

impl Era {
    /// Every era mcptop speaks, newest first.
    pub const ALL: [Era; 5] = [
        Era::V2026_07_28,
        Era::V2025_11_25,
        Era::V2025_06_18,
        Era::V2025_03_26,
        Era::V2024_11_05,
    ];
    /// What `auto` offers where there is no discovery (everything but HTTP).
    pub const NEWEST_WITH_INITIALIZE: Era = Era::V2025_11_25;
    /// The stateless era.
    pub const STATELESS: Era = Era::V2026_07_28;
    /// The era of JSON-RPC batches.
    pub const BATCHES: Era = Era::V2025_03_26;
    /// The era of the HTTP+SSE transport, which `auto` offers over `sse://`.
    pub const LEGACY_SSE: Era = Era::V2024_11_05;

    /// The version string on the wire.
    pub fn version(self) -> &'static str {
        match self {
            Era::V2024_11_05 => "2024-11-05",
            Era::V2025_03_26 => "2025-03-26",
            Era::V2025_06_18 => "2025-06-18",
            Era::V2025_11_25 => "2025-11-25",
            Era::V2026_07_28 => "2026-07-28",
        }
    }

    /// The era of a version string, if mcptop speaks it.
    pub fn parse(version: &str) -> Option<Era> {
        Era::ALL.into_iter().find(|e| e.version() == version)
    }

    /// The versions mcptop speaks, newest first, for messages.
    pub fn known() -> String {
        Era::ALL.map(Era::version).join(", ")
    }

    /// JSON-RPC batches (an array of requests in one message).
    pub fn has_batches(self) -> bool {
        self == Era::BATCHES
    }

    /// No handshake: `server/discover`, then `_meta` on every request.
    pub fn is_stateless(self) -> bool {
        self == Era::STATELESS
    }

    /// An `initialize` handshake, and sessions (`Mcp-Session-Id` over HTTP).
    pub fn has_sessions(self) -> bool {
        !self.is_stateless()
    }

    /// The `ping` request (gone in the stateless era).
    pub fn has_ping(self) -> bool {
        !self.is_stateless()
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.version())
    }
}

/// Which era a client asks for: one forced, or `auto` (negotiate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolChoice {
    /// Over HTTP, try the stateless era first and fall back to
    /// `initialize`; elsewhere offer the newest era with `initialize`.
    #[default]
    Auto,
    Forced(Era),
}

impl ProtocolChoice {
    /// The word that asks for negotiation.
    pub const AUTO: &'static str = "auto";

    /// `auto` or a version mcptop speaks.
    pub fn parse(text: &str) -> Option<ProtocolChoice> {
        if text == Self::AUTO {
            Some(ProtocolChoice::Auto)
        } else {
            Era::parse(text).map(ProtocolChoice::Forced)
        }
    }

    /// The era a session opens with where nothing is discovered first: the
    /// forced one, or for `auto` the newest with an `initialize` handshake.
    pub fn offered(self) -> Era {
        match self {
            ProtocolChoice::Auto => Era::NEWEST_WITH_INITIALIZE,
            ProtocolChoice::Forced(era) => era,
        }
    }

    pub fn is_auto(self) -> bool {
        self == ProtocolChoice::Auto
    }

    /// The stateless era is forced.
    pub fn is_stateless(self) -> bool {
        self == ProtocolChoice::Forced(Era::STATELESS)
    }
}

impl fmt::Display for ProtocolChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolChoice::Auto => f.write_str(Self::AUTO),
            ProtocolChoice::Forced(era) => era.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_round_trip_and_say_what_they_allow() {
        for era in Era::ALL {
            assert_eq!(Era::parse(era.version()), Some(era));
            assert_eq!(
                ProtocolChoice::parse(&era.to_string()),
                Some(ProtocolChoice::Forced(era))
            );
        }
        assert_eq!(Era::parse("2025-01-01"), None);
        assert_eq!(ProtocolChoice::parse("auto"), Some(ProtocolChoice::Auto));
        let batches: Vec<Era> = Era::ALL.into_iter().filter(|e| e.has_batches()).collect();
        assert_eq!(batches, vec![Era::V2025_03_26]);
        let stateless: Vec<Era> = Era::ALL.into_iter().filter(|e| e.is_stateless()).collect();
        assert_eq!(stateless, vec![Era::V2026_07_28]);
        assert!(!Era::STATELESS.has_ping() && !Era::STATELESS.has_sessions());
        assert!(Era::V2024_11_05.has_ping() && Era::V2025_11_25.has_sessions());
        assert_eq!(ProtocolChoice::Auto.offered(), Era::V2025_11_25);
        assert_eq!(
            Era::known(),
            "2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05"
        );
    }
}

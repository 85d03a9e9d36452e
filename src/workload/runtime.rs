//! The `runtime` setting: what the target server runs on (`node`, `python`,
//! `go`, `jvm`, `native`) or `auto` to guess it from the command. Only the
//! typed value lives here; guessing, GC reporting and profiler choice live
//! in `crate::runtime`.

use serde::{Deserialize, Serialize};

/// A server runtime mcptop knows how to look inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Node,
    Python,
    Go,
    Jvm,
    /// Compiled code without a garbage collector (C, C++, Rust, ...).
    Native,
}

impl Runtime {
    pub const ALL: [Runtime; 5] = [
        Runtime::Node,
        Runtime::Python,
        Runtime::Go,
        Runtime::Jvm,
        Runtime::Native,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::Python => "python",
            Runtime::Go => "go",
            Runtime::Jvm => "jvm",
            Runtime::Native => "native",
        }
    }
}

/// The `runtime` key (and `--runtime`): a runtime, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeChoice {
    /// Guess from the target's command (the default).
    #[default]
    Auto,
    Is(Runtime),
}

impl RuntimeChoice {
    /// `auto`, `node`, `python`, `go`, `jvm` or `native`.
    pub fn parse(text: &str) -> Result<RuntimeChoice, String> {
        let text = text.trim();
        if text == "auto" {
            return Ok(RuntimeChoice::Auto);
        }
        Runtime::ALL
            .iter()
            .find(|r| r.name() == text)
            .map(|r| RuntimeChoice::Is(*r))
            .ok_or_else(|| format!("expected auto, node, python, go, jvm or native, got {text:?}"))
    }

    pub fn name(self) -> &'static str {
        match self {
            RuntimeChoice::Auto => "auto",
            RuntimeChoice::Is(r) => r.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_a_typo_is_named() {
        for r in Runtime::ALL {
            assert_eq!(RuntimeChoice::parse(r.name()), Ok(RuntimeChoice::Is(r)));
        }
        assert_eq!(RuntimeChoice::parse(" auto "), Ok(RuntimeChoice::Auto));
        let err = RuntimeChoice::parse("nodejs").expect_err("typo");
        assert!(err.contains("\"nodejs\"") && err.contains("jvm"), "{err}");
    }
}

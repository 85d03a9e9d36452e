//! Colour on a terminal: the verdict words of the text summaries (`pass`,
//! `FAIL`, `PASS`, `REGRESSED`) in green or red when stdout is a terminal.
//! `NO_COLOR` (any value but empty) turns it off, `CLICOLOR_FORCE` (any
//! value but empty or `0`) turns it on where stdout is not a terminal.
//! Only the words are painted, so what a pipe or a file gets is unchanged.

use std::io::IsTerminal;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// Whether stdout gets colour, from the environment given.
pub fn wanted(no_color: Option<&str>, force: Option<&str>, terminal: bool) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    force.is_some_and(|v| !v.is_empty() && v != "0") || terminal
}

fn wanted_here() -> bool {
    wanted(
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("CLICOLOR_FORCE").ok().as_deref(),
        std::io::stdout().is_terminal(),
    )
}

/// `text` with its verdict words painted when stdout takes colour.
pub fn paint(text: &str) -> String {
    if !wanted_here() {
        return text.to_string();
    }
    paint_words(text)
}

/// The verdict words painted: at a line's start (`PASS:`, `FAIL:`), after
/// `: ` in threshold lines, and `REGRESSED` anywhere.
pub fn paint_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let painted = if let Some(rest) = line.strip_prefix("PASS:") {
            format!("{GREEN}PASS{RESET}:{rest}")
        } else if let Some(rest) = line.strip_prefix("FAIL:") {
            format!("{RED}FAIL{RESET}:{rest}")
        } else if line.starts_with("threshold ") {
            line.replacen(": pass (", &format!(": {GREEN}pass{RESET} ("), 1)
                .replacen(": FAIL (", &format!(": {RED}FAIL{RESET} ("), 1)
        } else {
            line.replace("REGRESSED", &format!("{RED}REGRESSED{RESET}"))
        };
        out.push_str(&painted);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_and_force_paints_a_pipe() {
        assert!(wanted(None, None, true));
        assert!(!wanted(None, None, false));
        assert!(!wanted(Some("1"), Some("1"), true));
        assert!(wanted(Some(""), None, true), "an empty NO_COLOR is unset");
        assert!(wanted(None, Some("1"), false));
        assert!(!wanted(None, Some("0"), false));
    }

    #[test]
    fn only_the_verdict_words_are_painted() {
        let text = "threshold p99 <= 10ms: FAIL (actual 12ms)\nthreshold x: pass (actual 1)\nPASS: 0 of 1\n";
        let painted = paint_words(text);
        assert!(painted.contains("\x1b[1;31mFAIL\x1b[0m (actual 12ms)"));
        assert!(painted.contains("\x1b[32mpass\x1b[0m (actual 1)"));
        assert!(painted.starts_with("threshold p99 <= 10ms: "));
        assert_eq!(
            painted
                .replace(RED, "")
                .replace(GREEN, "")
                .replace(RESET, ""),
            text
        );
    }
}

//! Text a target controls (its name and version, error messages, tool
//! output, stderr, the start of a bad line) made safe to print. A terminal
//! obeys control characters: an ESC in a server's name can retitle the
//! window, clear the screen or (OSC 52) write the clipboard. Every such
//! character is shown as a visible escape instead, so the text still says
//! what the server sent but can no longer steer the terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character escaped: C0 (newlines included),
/// DEL, C1, and the Unicode bidirectional overrides that reorder what a
/// reader sees. ESC becomes `\x1b`, a newline `\n`; other text is untouched.
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `escape_line`, but newlines stay: for multi-line text such as a stderr
/// tail or an error with its context. Carriage returns are still escaped
/// (one could overwrite the line before it).
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// `escape_line` cut to at most `max_chars` characters of output (an
/// ellipsis marks the cut), for messages kept in result files and tables.
pub fn escape_bounded(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut piece = [0u8; 4];
    for c in text.chars() {
        // An escape is never cut in half: it fits whole or not at all.
        let escaped = escape_line(c.encode_utf8(&mut piece));
        let width = escaped.chars().count();
        if chars + width > max_chars {
            out.push('…');
            return out;
        }
        chars += width;
        out.push_str(&escaped);
    }
    out
}

fn needs_escape(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' => !keep_newlines,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let Some(first) = text.find(|c| needs_escape(c, keep_newlines)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs_escape(c, keep_newlines) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// True when `text` holds nothing a terminal would act on.
pub fn is_safe(text: &str) -> bool {
    !text.chars().any(|c| needs_escape(c, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_become_visible_text() {
        let hostile = "evil\x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07\u{9b}31m\r\u{202e}x\u{7f}";
        let safe = escape_line(hostile);
        assert_eq!(
            safe,
            "evil\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;aGk=\\x07\\x9b31m\\r\\u{202e}x\\x7f"
        );
        assert!(is_safe(&safe));
        assert!(!is_safe(hostile));
    }

    #[test]
    fn plain_text_is_borrowed_and_newlines_are_kept_only_on_request() {
        assert!(matches!(escape_line("héllo wörld ✓"), Cow::Borrowed(_)));
        assert_eq!(escape_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(escape_text("a\nb\x1b[2Jc\r"), "a\nb\\x1b[2Jc\\r");
        // Escaping is idempotent: escaped text has nothing left to escape.
        let once = escape_line("x\x1by").into_owned();
        assert_eq!(escape_line(&once), once);
    }

    #[test]
    fn bounded_output_cuts_on_a_character() {
        assert_eq!(escape_bounded("ééééé", 3), "ééé…");
        assert_eq!(escape_bounded("\x1b\x1b", 5), "\\x1b…");
        assert_eq!(escape_bounded("ab\x1b", 3), "ab…");
        assert_eq!(escape_bounded("short", 10), "short");
    }
}

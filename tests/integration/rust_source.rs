//! Just enough of Rust's lexical rules for the architecture checks: source
//! text with comments, strings and character literals blanked out (so a
//! `crate::` in a doc comment or a message is not an import), the module
//! paths it names (`crate::x`, `super::` climbing out of a module), and
//! the functions it defines with their length.

use std::path::Path;

/// `text` with every comment, string and character literal replaced by
/// spaces (newlines kept, so line numbers still hold).
pub fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend(bytes.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
    };
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            block_comment_len(rest)
        } else if let Some(len) = raw_string_len(rest, i == 0 || !is_ident(b[i - 1])) {
            len
        } else if rest[0] == b'"' {
            quoted_len(rest, b'"')
        } else if rest[0] == b'\'' {
            char_literal_len(rest).unwrap_or(0)
        } else {
            0
        };
        if end == 0 {
            out.push(b[i]);
            i += 1;
        } else {
            blank(&mut out, &rest[..end]);
            i += end;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn block_comment_len(s: &[u8]) -> usize {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < s.len() {
        if s[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// `r"..."`, `r#"..."#`, `br"..."`: the length, when `s` starts one.
fn raw_string_len(s: &[u8], at_token_start: bool) -> Option<usize> {
    if !at_token_start {
        return None;
    }
    let start = match s {
        [b'r', ..] => 1,
        [b'b', b'r', ..] => 2,
        _ => return None,
    };
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = start + hashes + 1;
    let found = s[body..].windows(close.len()).position(|w| w == close)?;
    Some(body + found + close.len())
}

fn quoted_len(s: &[u8], quote: u8) -> usize {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// A character literal (`'a'`, `'\n'`, `'\u{1F600}'`), not a lifetime.
fn char_literal_len(s: &[u8]) -> Option<usize> {
    if s.get(1) == Some(&b'\\') {
        return Some(quoted_len(s, b'\''));
    }
    // One character, then the closing quote (a lifetime has none).
    let width = std::str::from_utf8(&s[1..s.len().min(5)])
        .ok()
        .or_else(|| {
            (2..=5)
                .rev()
                .find_map(|n| std::str::from_utf8(&s[1..s.len().min(n)]).ok())
        })?
        .chars()
        .next()?
        .len_utf8();
    (s.get(1 + width) == Some(&b'\'')).then_some(width + 2)
}

/// A module's path inside the crate, from its file: `src/a/b.rs` and
/// `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the root.
pub fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// One path a file names: the top-level module it reaches and the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub line: usize,
    /// The crate's top-level item reached (a module, or an item of the root).
    pub top: String,
}

/// Every top-level module (or root item) that `code` (from `code_only`)
/// names through `crate::` or through `super::` climbing out of `module`.
pub fn named_modules(code: &str, module: &[String]) -> Vec<Named> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut inline = InlineModules::default();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        inline.see(b, i);
        if c == b'\n' {
            line += 1;
        }
        let starts_word = i == 0 || !is_ident(b[i - 1]) && b[i - 1] != b':';
        if starts_word && b[i..].starts_with(b"crate::") {
            for top in path_heads(&b[i + 7..]) {
                found.push(Named { line, top });
            }
            i += 7;
            continue;
        }
        if starts_word && b[i..].starts_with(b"super::") {
            let mut ups = 0;
            let mut j = i;
            while b[j..].starts_with(b"super::") {
                ups += 1;
                j += 7;
            }
            // `super` inside an inline module first leaves that module; only a
            // chain that reaches the crate root leaves the top-level module.
            if ups == module.len() + inline.depth() {
                for top in path_heads(&b[j..]) {
                    found.push(Named { line, top });
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

/// The first segment of each path in `rest` (after `crate::`): `x::y` gives
/// `x`; a group `{x::y, z}` gives `x` and `z`.
fn path_heads(rest: &[u8]) -> Vec<String> {
    let skip_ws = |mut i: usize| {
        while rest.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let ident_at = |i: usize| -> String {
        let n = rest[i..].iter().take_while(|&&c| is_ident(c)).count();
        String::from_utf8_lossy(&rest[i..i + n]).into_owned()
    };
    let i = skip_ws(0);
    if rest.get(i) != Some(&b'{') {
        let head = ident_at(i);
        return if head.is_empty() { vec![] } else { vec![head] };
    }
    let mut heads = Vec::new();
    let (mut depth, mut j, mut expect) = (0usize, i, true);
    while j < rest.len() {
        match rest[j] {
            b'{' => {
                depth += 1;
                expect = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect = true,
            c if expect && depth == 1 && is_ident(c) => {
                let head = ident_at(j);
                j += head.len();
                if head != "self" {
                    heads.push(head);
                }
                expect = false;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    heads
}

/// Inline `mod name { ... }` blocks open at a point of a file.
#[derive(Default)]
struct InlineModules {
    braces: usize,
    /// The brace depth at which each open inline module began.
    open: Vec<usize>,
    pending: bool,
}

impl InlineModules {
    fn depth(&self) -> usize {
        self.open.len()
    }

    fn see(&mut self, b: &[u8], i: usize) {
        let starts_word = i == 0 || !is_ident(b[i - 1]);
        if starts_word && b[i..].starts_with(b"mod ") {
            let name_len = b[i + 4..].iter().take_while(|&&c| is_ident(c)).count();
            let after = b[i + 4 + name_len..]
                .iter()
                .find(|c| !c.is_ascii_whitespace());
            self.pending = name_len > 0 && after == Some(&b'{');
        }
        match b[i] {
            b'{' => {
                if self.pending {
                    self.open.push(self.braces);
                    self.pending = false;
                }
                self.braces += 1;
            }
            b'}' => {
                self.braces = self.braces.saturating_sub(1);
                if self.open.last() == Some(&self.braces) {
                    self.open.pop();
                }
            }
            _ => {}
        }
    }
}

/// A function defined in a file: where it starts, how many lines it spans,
/// and whether the comment above it says why it is long.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub line: usize,
    pub lines: usize,
    pub explained: bool,
}

/// What a comment above a long function says to be let off.
pub const LONG_FUNCTION_NOTE: &str = "Over 80 lines:";

/// Every function with a body in `text`, measured from its `fn` line to its
/// closing brace.
pub fn functions(text: &str) -> Vec<Function> {
    let code = code_only(text);
    let code_lines: Vec<&str> = code.lines().collect();
    let text_lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (n, l) in code_lines.iter().enumerate() {
        let Some(at) = find_fn(l) else { continue };
        let name: String = l[at + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(end) = body_end(&code_lines, n, at) else {
            continue;
        };
        let explained = text_lines[..n]
            .iter()
            .rev()
            .take_while(|t| {
                let t = t.trim_start();
                t.starts_with("//") || t.starts_with("#[")
            })
            .any(|t| t.contains(LONG_FUNCTION_NOTE));
        out.push(Function {
            name,
            line: n + 1,
            lines: end - n + 1,
            explained,
        });
    }
    out
}

fn find_fn(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(3))
        .find(|&i| b[i..].starts_with(b"fn ") && (i == 0 || !is_ident(b[i - 1])))
}

/// The line of the brace closing the body of the `fn` at `column` of line
/// `start`, or `None` when it has no body (a trait method's declaration).
fn body_end(lines: &[&str], start: usize, column: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut opened = false;
    // Parentheses first: a `;` or `{` inside the parameters is not the body.
    let mut parens = 0isize;
    for (n, l) in lines.iter().enumerate().skip(start) {
        let from = if n == start { column } else { 0 };
        for c in l[from..].chars() {
            match c {
                '(' | '[' => parens += 1,
                ')' | ']' => parens -= 1,
                ';' if !opened && parens == 0 => return None,
                '{' if parens == 0 => {
                    depth += 1;
                    opened = true;
                }
                '}' if parens == 0 => {
                    depth = depth.saturating_sub(1);
                    if opened && depth == 0 {
                        return Some(n);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[test]
fn the_lexer_blanks_comments_and_strings_and_keeps_lifetimes() {
    let text = "let a = \"crate::x\"; // crate::y\nfn f<'a>(c: char) { let _ = 'x'; r#\"crate::z\"#; }\n/* crate::w */";
    let code = code_only(text);
    assert!(!code.contains("crate::"), "{code}");
    assert!(code.contains("fn f<'a>"), "{code}");
    assert_eq!(code.lines().count(), text.lines().count());
}

#[test]
fn paths_are_resolved_to_their_top_module() {
    let module = vec!["engine".to_string(), "scheduler".to_string()];
    let code = code_only(
        "use crate::{metrics::Sample, transport::{self, Session}};\nuse super::mix;\nfn f() { crate::client::x(); super::super::cli::y(); }\nmod tests { use super::*; }",
    );
    let tops: Vec<(usize, String)> = named_modules(&code, &module)
        .into_iter()
        .map(|n| (n.line, n.top))
        .collect();
    assert_eq!(
        tops,
        vec![
            (1, "metrics".to_string()),
            (1, "transport".to_string()),
            (3, "client".to_string()),
            (3, "cli".to_string()),
        ]
    );
}

#[test]
fn functions_are_measured_from_fn_to_closing_brace() {
    let text = "// Over 80 lines: a table.\nfn long() {\n    let x = { 1 };\n}\ntrait T { fn decl(&self); }\nfn g(a: [u8; 2]) -> u8 { a[0] }\n";
    let found = functions(text);
    let summary: Vec<(&str, usize, usize, bool)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines, f.explained))
        .collect();
    assert_eq!(summary, vec![("long", 2, 3, true), ("g", 6, 1, false)]);
}

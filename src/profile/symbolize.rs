//! Names for the addresses a self-profile sampled, found in a child
//! process: mcptop re-executed as `mcptop __symbolize`, which maps the
//! binary's debug info in its own memory, names each address and exits.
//! Resolving in the run's process would load the line tables of the whole
//! binary (well over 100 MiB resident for a release build) into a cache kept
//! until the process ends. Addresses cross as places in files (a mapping's
//! path and the offset in it), since the child is loaded elsewhere.

use std::collections::HashMap;
use std::ffi::c_void;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

/// The first argument that makes `mcptop` a symbolizer (see `main.rs`).
pub const CHILD_ARG: &str = "__symbolize";

/// What the child prints first, so a program that is not a symbolizer (a
/// test harness re-executed, an older mcptop) is told apart.
const HEADER: &str = "mcptop-symbols 1";

/// One executable mapping of a process, from `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    offset: usize,
    path: String,
}

fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?;
            let offset = fields.next()?;
            let (_dev, _inode) = (fields.next()?, fields.next()?);
            let path = fields.next()?.trim_start();
            if !perms.contains('x') || path.is_empty() {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
                offset: usize::from_str_radix(offset, 16).ok()?,
                path: path.to_string(),
            })
        })
        .collect()
}

fn own_mappings() -> Vec<Mapping> {
    parse_maps(&std::fs::read_to_string("/proc/self/maps").unwrap_or_default())
}

/// `ip` as (path, offset in the file), or `None` outside any file mapping.
fn place(maps: &[Mapping], ip: usize) -> Option<(&str, usize)> {
    let m = maps.iter().find(|m| m.start <= ip && ip < m.end)?;
    Some((&m.path, ip - m.start + m.offset))
}

/// The address of (path, offset) in this process.
fn address(maps: &[Mapping], path: &str, offset: usize) -> Option<usize> {
    let m = maps
        .iter()
        .find(|m| m.path == path && m.offset <= offset && offset - m.offset < m.end - m.start)?;
    Some(m.start + offset - m.offset)
}

/// Each address's names (innermost first, as `backtrace::resolve` gives
/// them: inlined calls before the function they were inlined into), from a
/// child `mcptop __symbolize`. Addresses the child could not place are
/// absent from the map.
pub fn resolve_in_child(ips: &[usize]) -> Result<HashMap<usize, Vec<String>>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find mcptop's binary: {e}"))?;
    let maps = own_mappings();
    let mut asked = Vec::new();
    let mut input = String::new();
    for &ip in ips {
        if let Some((path, offset)) = place(&maps, ip) {
            input.push_str(&format!("{offset:x} {path}\n"));
            asked.push(ip);
        }
    }
    let mut child = Command::new(&exe)
        .arg(CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {} {CHILD_ARG}: {e}", exe.display()))?;
    // Written from a thread: the child answers while it reads, and both
    // pipes filling up would block the two processes on each other.
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(pipe) = stdin.as_mut() {
            let _ = pipe.write_all(input.as_bytes());
        }
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    let output = output.map_err(|e| format!("the symbolizer failed: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) || !output.status.success() {
        return Err(format!(
            "{} is not an mcptop symbolizer ({})",
            exe.display(),
            output.status
        ));
    }
    let answers: Vec<&str> = lines.collect();
    if answers.len() != asked.len() {
        return Err(format!(
            "the symbolizer answered {} of {} addresses",
            answers.len(),
            asked.len()
        ));
    }
    Ok(asked
        .into_iter()
        .zip(answers)
        .map(|(ip, line)| (ip, names_of_line(line)))
        .collect())
}

fn names_of_line(line: &str) -> Vec<String> {
    if line.is_empty() {
        return Vec::new();
    }
    line.split('\t').map(str::to_string).collect()
}

/// Names of the address `ip` of this process, as pprof names them
/// (`pprof::Symbol::name`, demangled), innermost first; "Unknown" for a
/// symbol without a name.
pub fn names_here(ip: usize) -> Vec<String> {
    let mut names = Vec::new();
    backtrace::resolve(ip as *mut c_void, |symbol| {
        let named = pprof::Symbol {
            name: symbol.name().map(|n| n.as_bytes().to_vec()),
            addr: None,
            lineno: None,
            filename: None,
        };
        // Tabs and line ends separate names and addresses on the pipe.
        names.push(named.name().replace(['\t', '\n', '\r'], " "));
    });
    names
}

/// The child's side: reads "OFFSET PATH" lines, answers each with the
/// tab-separated names of that place in this process (an empty line when
/// it has none). Returns the exit code.
pub fn serve(input: impl BufRead, mut out: impl Write) -> u8 {
    let maps = own_mappings();
    let answer = || -> std::io::Result<()> {
        writeln!(out, "{HEADER}")?;
        for line in input.lines() {
            let line = line?;
            let names = line
                .split_once(' ')
                .and_then(|(offset, path)| {
                    let offset = usize::from_str_radix(offset, 16).ok()?;
                    address(&maps, path, offset)
                })
                .map(names_here)
                .unwrap_or_default();
            writeln!(out, "{}", names.join("\t"))?;
        }
        out.flush()
    };
    match answer() {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

/// `mcptop __symbolize` on stdin and stdout.
pub fn child_main() -> u8 {
    serve(std::io::stdin().lock(), std::io::stdout().lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 123 /usr/bin/mcptop
55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 123 /usr/bin/mcptop
7f0000000000-7f0000100000 r-xp 00028000 fd:01 456 /usr/lib/libc.so.6
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
";

    #[test]
    fn addresses_cross_as_places_in_files() {
        let maps = parse_maps(MAPS);
        assert_eq!(maps.len(), 3, "{maps:?}");
        assert_eq!(maps[2].path, "[vdso]");
        let ip = 0x55d0c0123456;
        let (path, offset) = place(&maps, ip).expect("placed");
        assert_eq!((path, offset), ("/usr/bin/mcptop", 0x123456));
        // The same place, loaded elsewhere.
        let other = parse_maps(&MAPS.replace("55d0c0", "5600aa"));
        assert_eq!(address(&other, path, offset), Some(0x5600aa123456));
        assert_eq!(place(&maps, 0x7f0000200010), None, "not executable");
        assert_eq!(address(&other, "/usr/bin/other", offset), None);
    }

    #[test]
    fn the_child_names_a_function_of_this_binary() {
        // A return address inside the function (resolving looks one byte back).
        let ip = addresses_cross_as_places_in_files as fn() as usize + 1;
        let maps = own_mappings();
        let (path, offset) = place(&maps, ip).expect("placed");
        let input = format!("{offset:x} {path}\nzz /nowhere\n");
        let mut out = Vec::new();
        assert_eq!(serve(input.as_bytes(), &mut out), 0);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert!(
            lines[1].contains("addresses_cross_as_places_in_files"),
            "{text}"
        );
        assert_eq!(lines[2], "", "an unplaceable line is answered empty");
    }

    #[test]
    fn a_program_that_is_not_a_symbolizer_is_refused() {
        // current_exe is this test harness: it takes `__symbolize` as a
        // test filter and prints no header.
        let ip = addresses_cross_as_places_in_files as fn() as usize;
        let err = resolve_in_child(&[ip]).expect_err("not a symbolizer");
        assert!(err.contains("is not an mcptop symbolizer"), "{err}");
    }
}

//! Guessing a stdio server's runtime from its command (`runtime = "auto"`):
//! the program's name first (`node`, `npx`, `python3.12`, `uv`, `java`,
//! through `env`), then its file: a script's `#!` line names its
//! interpreter, and a Go binary carries Go's build information (the
//! `\xff Go buildinf:` block that `debug/buildinfo` looks for). Anything
//! else is native.

use crate::workload::runtime::Runtime;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The magic that starts a Go binary's build information block.
const GO_BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// How much of a binary is searched for it (the block sits near the start
/// of the data segment, well inside this for any real server).
const GO_SCAN_LIMIT: u64 = 256 << 20;

/// The runtime a command runs on.
pub fn detect(program: &str, args: &[String]) -> Runtime {
    detect_with_path(program, args, std::env::var_os("PATH").as_deref())
}

fn detect_with_path(program: &str, args: &[String], path: Option<&std::ffi::OsStr>) -> Runtime {
    // `env [-i] [NAME=value ...] COMMAND ...` runs COMMAND.
    if base_name(program) == "env" {
        let mut rest = args
            .iter()
            .skip_while(|a| a.starts_with('-') || a.contains('='));
        return match rest.next() {
            Some(command) => {
                let args: Vec<String> = rest.cloned().collect();
                detect_with_path(command, &args, path)
            }
            None => Runtime::Native,
        };
    }
    if let Some(runtime) = by_name(base_name(program)) {
        return runtime;
    }
    match locate(program, path) {
        Some(file) => by_content(&file, path),
        None => Runtime::Native,
    }
}

fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Runtimes known by the name of their launcher.
fn by_name(name: &str) -> Option<Runtime> {
    let name = name.strip_suffix(".exe").unwrap_or(name);
    match name {
        "node" | "nodejs" | "npx" | "npm" | "pnpm" | "yarn" | "tsx" | "ts-node" => {
            Some(Runtime::Node)
        }
        "uv" | "uvx" | "pipx" | "poetry" => Some(Runtime::Python),
        "java" | "javaw" => Some(Runtime::Jvm),
        _ if is_python(name) => Some(Runtime::Python),
        _ => None,
    }
}

/// `python`, `python3`, `python3.12`, `python3.13t`.
fn is_python(name: &str) -> bool {
    name.strip_prefix("python").is_some_and(|v| {
        v.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 't' || c == 'm')
    })
}

/// The file a program name runs: a path as given, else the first match on `PATH`.
fn locate(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn by_content(file: &Path, path: Option<&std::ffi::OsStr>) -> Runtime {
    let Ok(mut f) = std::fs::File::open(file) else {
        return Runtime::Native;
    };
    let mut head = [0u8; 256];
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = String::from_utf8_lossy(line);
        let line = line.lines().next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(interpreter) = words.next() else {
            return Runtime::Native;
        };
        let args: Vec<String> = words.map(str::to_string).collect();
        // A script naming itself would loop; its interpreter is enough.
        return match by_name(base_name(interpreter)) {
            Some(r) => r,
            None if base_name(interpreter) == "env" => detect_with_path(interpreter, &args, path),
            None => Runtime::Native,
        };
    }
    if head.starts_with(b"\x7fELF") && has_go_buildinfo(file) {
        return Runtime::Go;
    }
    Runtime::Native
}

/// True when the file holds Go's build information block.
fn has_go_buildinfo(file: &Path) -> bool {
    let Ok(f) = std::fs::File::open(file) else {
        return false;
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f.take(GO_SCAN_LIMIT));
    let mut window: Vec<u8> = Vec::with_capacity((1 << 20) + GO_BUILDINFO_MAGIC.len());
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        window.extend_from_slice(&chunk[..n]);
        if window
            .windows(GO_BUILDINFO_MAGIC.len())
            .any(|w| w == GO_BUILDINFO_MAGIC)
        {
            return true;
        }
        // Keep a magic's length minus one: a match may straddle two reads.
        let keep = GO_BUILDINFO_MAGIC.len() - 1;
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn launchers_are_known_by_name() {
        let none = None;
        for (program, args, runtime) in [
            ("node", vec!["server.js"], Runtime::Node),
            ("/usr/local/bin/npx", vec!["-y", "@x/server"], Runtime::Node),
            ("python3.12", vec!["-m", "srv"], Runtime::Python),
            ("python", vec![], Runtime::Python),
            ("uv", vec!["run", "server.py"], Runtime::Python),
            ("java", vec!["-jar", "s.jar"], Runtime::Jvm),
            ("env", vec!["-i", "A=1", "node", "s.js"], Runtime::Node),
            ("pythonista", vec![], Runtime::Native),
            ("/no/such/server", vec![], Runtime::Native),
        ] {
            assert_eq!(
                detect_with_path(program, &words(&args), none),
                runtime,
                "{program}"
            );
        }
    }

    #[test]
    fn scripts_by_their_interpreter_and_go_binaries_by_their_build_info() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = |name: &str, text: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p.display().to_string()
        };
        let js = script("server", b"#!/usr/bin/env node\nconsole.log(1)\n");
        assert_eq!(detect_with_path(&js, &[], None), Runtime::Node);
        let py = script("tool", b"#!/usr/bin/python3 -u\nprint(1)\n");
        assert_eq!(detect_with_path(&py, &[], None), Runtime::Python);
        let sh = script("run.sh", b"#!/bin/sh\nexec ./x\n");
        assert_eq!(detect_with_path(&sh, &[], None), Runtime::Native);
        // An ELF file with Go's build information block past the first read.
        let mut go = b"\x7fELF".to_vec();
        go.resize((1 << 20) - 5, 0);
        go.extend_from_slice(GO_BUILDINFO_MAGIC);
        go.extend_from_slice(&[8, 2]);
        let go = script("gosrv", &go);
        assert_eq!(detect_with_path(&go, &[], None), Runtime::Go);
        let mut c = b"\x7fELF".to_vec();
        c.resize(4096, 0);
        let c = script("csrv", &c);
        assert_eq!(detect_with_path(&c, &[], None), Runtime::Native);
        // Found on PATH, by name.
        let path = dir.path().as_os_str();
        assert_eq!(detect_with_path("gosrv", &[], Some(path)), Runtime::Go);
    }
}

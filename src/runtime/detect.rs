//! Guessing a stdio server's runtime from its command (`runtime = "auto"`):
//! the program's name first (`node`, `npx`, `python3.12`, `uv`, `java`,
//! through `env`), then its file: a script's `#!` line names its
//! interpreter, and a Go binary carries Go's build information in its
//! `.go.buildinfo` ELF section (what `debug/buildinfo` reads). Anything
//! else is native.

use crate::workload::runtime::Runtime;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The ELF section the Go linker puts the build information in (what
/// `debug/buildinfo` reads; its data starts with `\xff Go buildinf:`).
const GO_BUILDINFO_SECTION: &[u8] = b".go.buildinfo";

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

/// True when the file is a 64-bit little-endian ELF file with Go's
/// `.go.buildinfo` section. Section names, not a byte search: any program
/// that mentions the magic (this one does) would match a search.
fn has_go_buildinfo(file: &Path) -> bool {
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    elf_section_names(&bytes).is_some_and(|names| names.iter().any(|n| n == GO_BUILDINFO_SECTION))
}

/// The section names of a 64-bit little-endian ELF image (`None` if it is not one).
fn elf_section_names(b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    // ELFCLASS64, ELFDATA2LSB.
    if !b.starts_with(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return None;
    }
    let shoff = usize::try_from(u64_at(0x28)?).ok()?;
    let shentsize = usize::from(u16_at(0x3A)?);
    let shnum = usize::from(u16_at(0x3C)?);
    let shstrndx = usize::from(u16_at(0x3E)?);
    let header = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
    let strtab = usize::try_from(u64_at(header(shstrndx)? + 0x18)?).ok()?;
    let mut names = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let name = usize::try_from(u32_at(header(i)?)?).ok()?;
        let start = strtab.checked_add(name)?;
        let rest = b.get(start..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        names.push(rest[..end].to_vec());
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit little-endian ELF header and section headers naming
    /// `sections` (a string table section last), nothing else.
    fn tiny_elf(sections: &[&[u8]]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut offsets = Vec::new();
        for name in sections.iter().chain([&b".shstrtab"[..]].iter()) {
            offsets.push(strtab.len() as u32);
            strtab.extend_from_slice(name);
            strtab.push(0);
        }
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let strtab_at = 64u64;
        let shoff = strtab_at + strtab.len() as u64;
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        b[0x3C..0x3E].copy_from_slice(&(offsets.len() as u16).to_le_bytes());
        b[0x3E..0x40].copy_from_slice(&((offsets.len() - 1) as u16).to_le_bytes());
        b.extend_from_slice(&strtab);
        for name in offsets {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&strtab_at.to_le_bytes());
            b.extend_from_slice(&h);
        }
        b
    }

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
        // An ELF file with a `.go.buildinfo` section; one that only holds
        // the magic's bytes (as mcptop's own binary does) is not Go.
        let go = script("gosrv", &tiny_elf(&[b".text", GO_BUILDINFO_SECTION]));
        assert_eq!(detect_with_path(&go, &[], None), Runtime::Go);
        let mut c = tiny_elf(&[b".text", b".rodata"]);
        c.extend_from_slice(b"\xff Go buildinf:");
        let c = script("csrv", &c);
        assert_eq!(detect_with_path(&c, &[], None), Runtime::Native);
        // This test binary holds the magic's bytes (in the test above).
        let me = std::env::current_exe().expect("test binary");
        assert_eq!(
            detect_with_path(&me.display().to_string(), &[], None),
            Runtime::Native
        );
        // Found on PATH, by name.
        let path = dir.path().as_os_str();
        assert_eq!(detect_with_path("gosrv", &[], Some(path)), Runtime::Go);
    }
}

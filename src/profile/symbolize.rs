//! Names for the addresses a self-profile sampled, found in a child
//! process: mcptop re-executed as `mcptop __symbolize`, which maps the
//! binary's debug info in its own memory, names each address (then folds
//! the stacks and renders the graphs: `profile::offload`) and exits.
//! Resolving in the run's process would load the line tables of the whole
//! binary (well over 100 MiB resident for a release build) into a cache kept
//! until the process ends. Addresses cross as places in files (a mapping's
//! path and the offset in it), since the child is loaded elsewhere.

use std::ffi::c_void;

/// The first argument that makes `mcptop` a symbolizer (see `main.rs`).
pub const CHILD_ARG: &str = "__symbolize";

/// One executable mapping of a process, from `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mapping {
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

pub(super) fn own_mappings() -> Vec<Mapping> {
    parse_maps(&std::fs::read_to_string("/proc/self/maps").unwrap_or_default())
}

/// `ip` as (path, offset in the file), or `None` outside any file mapping.
pub(super) fn place(maps: &[Mapping], ip: usize) -> Option<(&str, usize)> {
    let m = maps.iter().find(|m| m.start <= ip && ip < m.end)?;
    Some((&m.path, ip - m.start + m.offset))
}

/// The address of (path, offset) in this process.
pub(super) fn address(maps: &[Mapping], path: &str, offset: usize) -> Option<usize> {
    let m = maps
        .iter()
        .find(|m| m.path == path && m.offset <= offset && offset - m.offset < m.end - m.start)?;
    Some(m.start + offset - m.offset)
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

/// `mcptop __symbolize` on stdin and stdout: names, folds and renders a
/// self-profile's stacks (`profile::offload`).
pub fn child_main() -> u8 {
    super::offload::serve(std::io::stdin().lock(), std::io::stdout().lock())
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
}

//! The house's shape, checked: imports only go down the declared layers
//! (`../shared/STYLE.md`, "Layers"), files stay under ~600 lines and
//! functions under ~80 (a longer one says why, in a comment above it
//! starting `Over 80 lines:`). Reads `src/` as text, so a wrong import
//! fails here with its file and line, before anyone has to notice.

use crate::rust_source::{code_only, functions, module_of, named_modules, LONG_FUNCTION_NOTE};
use std::path::{Path, PathBuf};

/// The floors, from the ground up; a module may import its own floor and
/// the ones below. The crate root (`lib.rs`: the dispatcher's entry) is on
/// the top floor with `cli`.
const LAYERS: &[&[&str]] = &[
    &["protocol", "pacer"],
    &["workload"],
    &["client"],
    &["transport", "server", "runtime"],
    &["metrics"],
    &["engine"],
    &["report"],
    &["check", "profile", "export"],
    &["run"],
    &["tui"],
    &["cli"],
];

/// Longest file, in lines.
const MAX_FILE_LINES: usize = 600;
/// Longest function, in lines, unless a comment above it says why.
const MAX_FUNCTION_LINES: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The floor of a top-level module (or of a root item, which is the top).
fn layer(top: &str) -> Option<usize> {
    LAYERS.iter().position(|floor| floor.contains(&top))
}

/// Every import in `src/` that goes up a floor, as `file:line: why`.
fn upward_imports(src: &Path) -> Vec<String> {
    let top_floor = LAYERS.len() - 1;
    let mut wrong = Vec::new();
    for file in rust_files(src) {
        let rel = file
            .strip_prefix(src)
            .unwrap_or(&file)
            .display()
            .to_string();
        if rel == "main.rs" {
            // The binary, above the library.
            continue;
        }
        let module = module_of(src, &file);
        let own = match module.first() {
            None => top_floor,
            Some(top) => match layer(top) {
                Some(floor) => floor,
                None => {
                    wrong.push(format!(
                        "src/{rel}: module `{top}` has no floor: add it to LAYERS in \
                         tests/integration/architecture.rs (and to STYLE.md's Layers)"
                    ));
                    continue;
                }
            },
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        for named in named_modules(&code_only(&text), &module) {
            // An item of the crate root (`crate::Exit`) is on the top floor.
            let floor = layer(&named.top).unwrap_or(top_floor);
            if floor > own {
                wrong.push(format!(
                    "src/{rel}:{}: `{}` (floor {own}) imports `{}` (floor {floor}): imports \
                     only go down; move the thing down or pass it in",
                    named.line,
                    module.first().map_or("crate root", String::as_str),
                    named.top
                ));
            }
        }
    }
    wrong
}

#[test]
fn imports_only_go_down_the_layers() {
    let wrong = upward_imports(&src());
    assert!(
        wrong.is_empty(),
        "{} import(s) against the layer order {LAYERS:?}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_wrong_import_is_caught() {
    // A copy of the real tree with one bad import added must fail.
    let copy = tempfile::tempdir().expect("temp dir");
    for file in rust_files(&src()) {
        let rel = file.strip_prefix(src()).expect("under src");
        let to = copy.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&file, &to).expect("copy");
    }
    let victim = copy.path().join("protocol/mod.rs");
    let mut text = std::fs::read_to_string(&victim).expect("read");
    text.push_str("\n#[allow(unused_imports)]\nuse crate::cli;\n");
    std::fs::write(&victim, text).expect("write");
    let wrong = upward_imports(copy.path());
    assert_eq!(wrong.len(), 1, "{wrong:#?}");
    assert!(
        wrong[0].contains("src/protocol/mod.rs:") && wrong[0].contains("imports `cli`"),
        "{}",
        wrong[0]
    );
}

#[test]
fn files_and_functions_stay_short() {
    let mut long = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The library and the examples; the tests' own helpers are held to the
    // same lengths by review, not here.
    let mut files = rust_files(&src());
    files.extend(rust_files(&root.join("examples")));
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read source");
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            long.push(format!("{rel}: {lines} lines (at most {MAX_FILE_LINES})"));
        }
        for f in functions(&text) {
            if f.lines > MAX_FUNCTION_LINES && !f.explained {
                long.push(format!(
                    "{rel}:{}: fn {} has {} lines (at most {MAX_FUNCTION_LINES}, or a comment \
                     above it starting `{LONG_FUNCTION_NOTE}` saying why)",
                    f.line, f.name, f.lines
                ));
            }
        }
    }
    assert!(long.is_empty(), "too long:\n{}", long.join("\n"));
}

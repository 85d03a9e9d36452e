//! What a stdio server's environment gets so that its runtime reports its
//! garbage collections on stderr and its frames can be named by a profiler,
//! and nothing else: each variable is extended, never replaced.
//!
//! | runtime | GC report | for a profiler |
//! |---|---|---|
//! | node | `NODE_OPTIONS=--require HOOK` (a `perf_hooks` GC observer) | `--perf-basic-prof --interpreted-frames-native-stack` |
//! | python | `PYTHONPATH=HOOKDIR` (a `sitecustomize` on `gc.callbacks`) | none (py-spy reads the interpreter) |
//! | go | `GODEBUG=gctrace=1` | none (Go keeps frame pointers) |
//! | jvm | `JAVA_TOOL_OPTIONS=-Xlog:gc:stderr:uptime,timemillis,level,tags` | `-XX:+PreserveFramePointer -XX:+DumpPerfMapAtExit` (`profile::jit_map`) |
//!
//! Node's own `--trace-gc` is refused in `NODE_OPTIONS` and writes to
//! stdout, where it would break the MCP stream; the JVM's `-Xlog:gc` also
//! defaults to stdout, hence `:stderr`. The hook files are written to a
//! private directory (mode 0700) that lives as long as the `RuntimeSetup`.

use super::gc::{jvm::ToolOptions, GcFormat};
use crate::workload::runtime::Runtime;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const NODE_HOOK: &str = include_str!("hooks/node_gc.cjs");
const PYTHON_HOOK: &str = include_str!("hooks/sitecustomize.py");
const NODE_HOOK_FILE: &str = "mcptop-node-gc.cjs";
/// `timemillis` places each pause by the JVM's wall clock (`runtime::gc::jvm`).
const JVM_GC_LOG: &str = "-Xlog:gc:stderr:uptime,timemillis,level,tags";
const JVM_FRAME_POINTERS: &str = "-XX:+PreserveFramePointer";
/// The JIT's perf map, written at exit (`profile::jit_map` reads it).
const JVM_PERF_MAP: &str = "-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit";
const NODE_PERF_MAP: &str = "--perf-basic-prof --interpreted-frames-native-stack";

/// How one run starts its stdio servers' runtime.
#[derive(Debug)]
pub struct RuntimeSetup {
    pub runtime: Runtime,
    pub gc_report: bool,
    /// Also what a profiler needs to name the runtime's frames.
    pub for_profiler: bool,
    hooks: Option<HookDir>,
}

impl RuntimeSetup {
    /// Writes the hook files the runtime needs, if any.
    pub fn new(
        runtime: Runtime,
        gc_report: bool,
        for_profiler: bool,
    ) -> std::io::Result<RuntimeSetup> {
        let hooks = match (runtime, gc_report) {
            (Runtime::Node, true) => Some(HookDir::create(&[(NODE_HOOK_FILE, NODE_HOOK)])?),
            (Runtime::Python, true) => Some(HookDir::create(&[("sitecustomize.py", PYTHON_HOOK)])?),
            _ => None,
        };
        Ok(RuntimeSetup {
            runtime,
            gc_report,
            for_profiler,
            hooks,
        })
    }

    /// How the GC is reported, for the result file; `None` when it is not.
    pub fn gc_method(&self) -> Option<&'static str> {
        if !self.gc_report {
            return None;
        }
        match self.runtime {
            Runtime::Node => Some("perf_hooks GC observer (NODE_OPTIONS=--require)"),
            Runtime::Python => Some("gc.callbacks (sitecustomize on PYTHONPATH)"),
            Runtime::Go => Some("GODEBUG=gctrace=1"),
            Runtime::Jvm => Some(
                "unified logging (JAVA_TOOL_OPTIONS=-Xlog:gc:stderr:uptime,timemillis,level,tags)",
            ),
            Runtime::Native => None,
        }
    }

    /// How GC reports look on the children's stderr, when they are on.
    pub fn gc_format(&self) -> Option<GcFormat> {
        if !self.gc_report && !self.changes_jvm_options() {
            return None;
        }
        GcFormat::for_runtime(self.runtime, self.jvm_tool_options(&current))
    }

    fn changes_jvm_options(&self) -> bool {
        self.runtime == Runtime::Jvm && (self.gc_report || self.for_profiler)
    }

    fn jvm_tool_options(&self, get: &dyn Fn(&str) -> Option<OsString>) -> ToolOptions {
        ToolOptions {
            original: get("JAVA_TOOL_OPTIONS").map(|v| v.to_string_lossy().into_owned()),
            added: self.jvm_added().join(" "),
        }
    }

    fn jvm_added(&self) -> Vec<&'static str> {
        let mut added = Vec::new();
        if self.gc_report {
            added.push(JVM_GC_LOG);
        }
        if self.for_profiler {
            added.push(JVM_FRAME_POINTERS);
            added.push(JVM_PERF_MAP);
        }
        added
    }

    /// The variables to set on a child, from this process's environment.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        self.env_from(&current)
    }

    fn env_from(&self, get: &dyn Fn(&str) -> Option<OsString>) -> Vec<(&'static str, OsString)> {
        let mut vars = Vec::new();
        match self.runtime {
            Runtime::Node => {
                let mut words = Vec::new();
                if let (true, Some(dir)) = (self.gc_report, &self.hooks) {
                    words.push(format!(
                        "--require {}",
                        node_quote(&dir.path.join(NODE_HOOK_FILE))
                    ));
                }
                if self.for_profiler {
                    words.push(NODE_PERF_MAP.to_string());
                }
                if !words.is_empty() {
                    vars.push(("NODE_OPTIONS", append(get("NODE_OPTIONS"), " ", &words)));
                }
            }
            Runtime::Python => {
                if let (true, Some(dir)) = (self.gc_report, &self.hooks) {
                    let mut paths = vec![dir.path.clone()];
                    if let Some(old) = get("PYTHONPATH").filter(|p| !p.is_empty()) {
                        paths.extend(std::env::split_paths(&old));
                    }
                    if let Ok(joined) = std::env::join_paths(paths) {
                        vars.push(("PYTHONPATH", joined));
                    }
                }
            }
            Runtime::Go => {
                if self.gc_report {
                    let words = vec!["gctrace=1".to_string()];
                    vars.push(("GODEBUG", append(get("GODEBUG"), ",", &words)));
                }
            }
            Runtime::Jvm => {
                let words: Vec<String> = self.jvm_added().iter().map(|w| w.to_string()).collect();
                if !words.is_empty() {
                    vars.push((
                        "JAVA_TOOL_OPTIONS",
                        append(get("JAVA_TOOL_OPTIONS"), " ", &words),
                    ));
                }
            }
            Runtime::Native => {}
        }
        vars
    }

    /// Sets the variables on a command.
    pub fn apply(&self, command: &mut tokio::process::Command) {
        for (name, value) in self.env() {
            command.env(name, value);
        }
    }
}

fn current(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// `old` followed by `words`, joined with `sep` (no leading separator).
fn append(old: Option<OsString>, sep: &str, words: &[String]) -> OsString {
    let mut value = old.filter(|v| !v.is_empty()).unwrap_or_default();
    for word in words {
        if !value.is_empty() {
            value.push(sep);
        }
        value.push(word);
    }
    value
}

/// A path as one `NODE_OPTIONS` word (Node splits on spaces outside quotes).
fn node_quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains([' ', '"', '\\']) {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text
    }
}

/// A private directory of hook files, removed when dropped.
#[derive(Debug)]
struct HookDir {
    path: PathBuf,
}

impl HookDir {
    fn create(files: &[(&str, &str)]) -> std::io::Result<HookDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        let path = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let candidate = base.join(format!("mcptop-runtime-{}-{n}", std::process::id()));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let dir = HookDir { path };
        for (name, text) in files {
            std::fs::write(dir.path.join(name), text)?;
        }
        Ok(dir)
    }
}

impl Drop for HookDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(setup: &RuntimeSetup, vars: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        setup
            .env_from(&lookup)
            .into_iter()
            .map(|(k, v)| (k, v.to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn each_runtime_extends_its_own_variable() {
        let go = RuntimeSetup::new(Runtime::Go, true, false).expect("setup");
        assert_eq!(
            env_of(&go, &[("GODEBUG", "madvdontneed=1")]),
            vec![("GODEBUG", "madvdontneed=1,gctrace=1".to_string())]
        );
        assert_eq!(env_of(&go, &[]), vec![("GODEBUG", "gctrace=1".to_string())]);
        let jvm = RuntimeSetup::new(Runtime::Jvm, true, true).expect("setup");
        assert_eq!(
            env_of(&jvm, &[("JAVA_TOOL_OPTIONS", "-Xmx1g")]),
            vec![(
                "JAVA_TOOL_OPTIONS",
                "-Xmx1g -Xlog:gc:stderr:uptime,timemillis,level,tags -XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit".to_string()
            )]
        );
        let native = RuntimeSetup::new(Runtime::Native, true, true).expect("setup");
        assert!(env_of(&native, &[]).is_empty());
        assert_eq!(native.gc_method(), None);
        let off = RuntimeSetup::new(Runtime::Go, false, false).expect("setup");
        assert!(env_of(&off, &[]).is_empty());
        assert_eq!(off.gc_format(), None);
    }

    #[test]
    fn node_and_python_load_hooks_from_a_private_directory_that_goes_away() {
        let node = RuntimeSetup::new(Runtime::Node, true, true).expect("setup");
        let vars = env_of(&node, &[("NODE_OPTIONS", "--max-old-space-size=512")]);
        let options = &vars[0].1;
        assert!(
            options.starts_with("--max-old-space-size=512 --require "),
            "{options}"
        );
        assert!(options.ends_with(NODE_PERF_MAP), "{options}");
        let dir = node.hooks.as_ref().expect("hooks").path.clone();
        let hook = std::fs::read_to_string(dir.join(NODE_HOOK_FILE)).expect("hook");
        assert!(hook.contains("mcptop-gc: reporting runtime=node"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(node);
        assert!(!dir.exists());

        let python = RuntimeSetup::new(Runtime::Python, true, false).expect("setup");
        let vars = env_of(&python, &[("PYTHONPATH", "/srv/lib")]);
        let dir = python.hooks.as_ref().expect("hooks").path.clone();
        assert_eq!(vars[0].1, format!("{}:/srv/lib", dir.display()));
        assert!(dir.join("sitecustomize.py").is_file());
    }

    #[test]
    fn paths_with_spaces_stay_one_node_option() {
        assert_eq!(
            node_quote(Path::new("/tmp/a b/h.cjs")),
            "\"/tmp/a b/h.cjs\""
        );
        assert_eq!(node_quote(Path::new("/tmp/ab/h.cjs")), "/tmp/ab/h.cjs");
    }
}

//! The target's runtime, seen from inside. `detect` guesses what a stdio
//! server runs on (Node, Python, Go, a JVM, or native code); `launch` sets
//! its environment so that the runtime reports its own garbage collections
//! on stderr (and so that a profiler can name its frames); `gc` reads those
//! reports in each runtime's format; `tap` takes them out of the child's
//! stderr, leaving every other line where it went before. The figures are
//! made in `metrics::gc`.

pub mod detect;
pub mod gc;
pub mod launch;
pub mod tap;

pub use crate::workload::runtime::{Runtime, RuntimeChoice};
pub use launch::RuntimeSetup;
pub use tap::{GcFeed, StderrSplitter};

use crate::workload::TargetSpec;
use std::sync::Arc;

/// What a run asks of the target's runtime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuntimeOptions {
    /// Turn the runtime's GC report on (stdio targets).
    pub gc_report: bool,
    /// Start the runtime so that a profiler can name its frames.
    pub for_profiler: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            gc_report: true,
            for_profiler: false,
        }
    }
}

/// Where a run's GC reports come from, as far as it knows before it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcSource {
    /// The runtime as resolved, when there is one to speak of.
    pub runtime: Option<Runtime>,
    /// How reporting is turned on; `None` when it is not.
    pub method: Option<&'static str>,
    /// Why nothing may be reported (said when nothing is).
    pub why_not: String,
}

/// A run's runtime settings: the children's, and where their reports go.
pub struct RuntimePlan {
    pub child: Option<ChildRuntime>,
    pub feed: GcFeed,
    pub source: GcSource,
}

/// The runtime settings of a run of `spec`.
pub fn plan(
    spec: &TargetSpec,
    choice: RuntimeChoice,
    options: RuntimeOptions,
) -> std::io::Result<RuntimePlan> {
    let feed = GcFeed::default();
    let TargetSpec::Stdio { program, args } = spec else {
        let why_not = match spec {
            TargetSpec::Builtin => {
                "the builtin target is mcptop itself (Rust, no garbage collector; see `allocator`)"
                    .to_string()
            }
            other => format!(
                "GC reports are read from the stderr of stdio servers mcptop starts, not from {}",
                other.describe()
            ),
        };
        let runtime = match choice {
            RuntimeChoice::Is(r) => Some(r),
            RuntimeChoice::Auto => None,
        };
        let source = GcSource {
            runtime,
            method: None,
            why_not,
        };
        return Ok(RuntimePlan {
            child: None,
            feed,
            source,
        });
    };
    let runtime = resolve(choice, program, args);
    let setup = RuntimeSetup::new(runtime, options.gc_report, options.for_profiler)?;
    let method = setup.gc_method();
    let why_not = match (runtime, method) {
        (Runtime::Native, _) => format!(
            "the target's runtime is {} (no garbage collector to report; name another with --runtime)",
            if choice == RuntimeChoice::Auto { "native, as guessed from its command" } else { "native" }
        ),
        (_, None) => "GC reporting was turned off (--no-gc-report)".to_string(),
        (r, Some(how)) => format!(
            "no GC report arrived on the target's stderr (runtime {}, by {how}; a launcher that \
             clears the environment or a runtime other than {} would explain it)",
            r.name(),
            r.name()
        ),
    };
    Ok(RuntimePlan {
        child: Some(ChildRuntime {
            setup: Arc::new(setup),
            feed: feed.clone(),
        }),
        feed,
        source: GcSource {
            runtime: Some(runtime),
            method,
            why_not,
        },
    })
}

/// The runtime `choice` names, or for `auto` the one the command runs on.
pub fn resolve(choice: RuntimeChoice, program: &str, args: &[String]) -> Runtime {
    match choice {
        RuntimeChoice::Is(runtime) => runtime,
        RuntimeChoice::Auto => detect::detect(program, args),
    }
}

/// What the stdio connector needs to start each child of a run: the
/// environment, and where its GC reports go.
#[derive(Clone)]
pub struct ChildRuntime {
    pub setup: Arc<RuntimeSetup>,
    pub feed: GcFeed,
}

impl ChildRuntime {
    /// Sets the child's environment.
    pub fn prepare(&self, command: &mut tokio::process::Command) {
        self.setup.apply(command);
    }

    /// The splitter for one session's stderr, when GC reports come on it.
    pub fn splitter(&self, session: u32) -> Option<StderrSplitter> {
        self.setup
            .gc_format()
            .map(|format| StderrSplitter::new(format, session, self.feed.clone()))
    }
}

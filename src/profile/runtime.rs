//! Which profiler fits a target's runtime: py-spy for Python (perf sees
//! only the interpreter's C frames), perf for the rest (Node started with
//! `--perf-basic-prof` so perf names its JavaScript frames, the JVM with
//! `-XX:+PreserveFramePointer`, native and Go code as they are). `--profiler`
//! overrides the choice.

use crate::runtime::Runtime;

/// A profiler for another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profiler {
    Perf,
    PySpy,
}

impl Profiler {
    /// `perf` or `py-spy`.
    pub fn parse(text: &str) -> Result<Profiler, String> {
        match text.trim() {
            "perf" => Ok(Profiler::Perf),
            "py-spy" | "pyspy" => Ok(Profiler::PySpy),
            other => Err(format!(
                "--profiler: expected perf or py-spy, got {other:?}"
            )),
        }
    }

    /// The profiler that names the frames of code on `runtime`.
    pub fn for_runtime(runtime: Runtime) -> Profiler {
        match runtime {
            Runtime::Python => Profiler::PySpy,
            Runtime::Node | Runtime::Go | Runtime::Jvm | Runtime::Native => Profiler::Perf,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profiler::Perf => "perf",
            Profiler::PySpy => "py-spy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_gets_py_spy_and_the_rest_perf_unless_told() {
        assert_eq!(Profiler::for_runtime(Runtime::Python), Profiler::PySpy);
        for r in [Runtime::Node, Runtime::Go, Runtime::Jvm, Runtime::Native] {
            assert_eq!(Profiler::for_runtime(r), Profiler::Perf, "{r:?}");
        }
        assert_eq!(Profiler::parse("py-spy"), Ok(Profiler::PySpy));
        assert_eq!(Profiler::parse("perf"), Ok(Profiler::Perf));
        let e = Profiler::parse("async-profiler").expect_err("unknown");
        assert!(
            e.contains("perf or py-spy") && e.contains("async-profiler"),
            "{e}"
        );
    }
}

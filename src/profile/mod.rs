//! Where a run's CPU time goes: CPU profiles rendered as flame graphs
//! (mcptop itself through `pprof`'s in-process sampler, other processes
//! through `perf`). `capture_self` is the one call a view needs to profile
//! mcptop while a run goes on; it blocks, so call it from a background
//! thread.

pub mod flame;
#[cfg(target_os = "linux")]
pub mod jit_map;
pub mod measured;
#[cfg(target_os = "linux")]
pub mod offload;
#[cfg(target_os = "linux")]
pub mod perf;
#[cfg(unix)]
pub mod pyspy;
pub mod runtime;
#[doc(hidden)]
pub mod stacks;
#[cfg(target_os = "linux")]
pub mod symbolize;

use flame::Folded;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default sampling frequency: not a multiple of common timer rates, so
/// samples do not lock step with periodic work.
pub const DEFAULT_HZ: u32 = 99;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("another profile is being captured in this process")]
    Busy,
    #[error("cannot start the CPU profiler: {0}")]
    Start(String),
    #[error("cannot read the CPU profile: {0}")]
    Report(String),
    #[error("CPU profiling of mcptop itself is not supported on this platform")]
    Unsupported,
    #[error(
        "the profile has no samples: the profiled process did not run on a CPU while \
         it was sampled (is it idle, or was the run too short?)"
    )]
    NoSamples,
    #[error("the run ended before measuring began; nothing was profiled")]
    NotMeasured,
    #[error("no target process to profile (is the target in-process?)")]
    NoTargetProcess,
    #[error("perf is not available: {0}")]
    PerfMissing(String),
    /// A profiler other than perf (py-spy) is missing: how to install it.
    #[error("the profiler is not available: {0}")]
    ProfilerMissing(String),
    #[error("perf may not profile the target: {0}")]
    PerfNotPermitted(String),
    #[error("perf failed: {0}")]
    Perf(String),
    #[error("cannot render the flame graph: {0}")]
    Render(String),
    /// The symbolizer child's capture failed; its message as it gave it.
    #[error("{0}")]
    Symbolizer(String),
    #[error("{0}: no folded stacks in this file")]
    NotFolded(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ProfileError {
    pub fn io(path: &Path, source: std::io::Error) -> ProfileError {
        ProfileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where a capture goes and how it is labelled.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Samples per second.
    pub frequency: u32,
    /// The SVG; the folded stacks go beside it with the extension `.folded`.
    pub svg: PathBuf,
    /// Start of the graph's title (workload, target); the duration and the
    /// sample count are appended.
    pub title: String,
    /// An earlier `.folded` capture to compare with (a differential graph).
    pub diff_against: Option<PathBuf>,
    /// The profiled processes are JVMs: name their JIT frames from perf maps
    /// (`profile::jit_map`).
    pub jvm: bool,
}

impl ProfileOptions {
    pub fn folded_path(&self) -> PathBuf {
        self.svg.with_extension("folded")
    }

    pub fn diff_path(&self) -> PathBuf {
        self.svg.with_extension("diff.svg")
    }
}

/// What a capture wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOutput {
    pub svg: PathBuf,
    pub folded: PathBuf,
    pub diff_svg: Option<PathBuf>,
    pub samples: u64,
    pub duration: Duration,
    /// Busiest functions by self time, with their sample counts.
    pub top: Vec<(String, u64)>,
    /// What the profiler could not do (frames left unnamed, and why).
    pub notes: Vec<String>,
}

/// Default SVG path: `profiles/NAME-TIMESTAMP.svg`.
pub fn default_svg(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    PathBuf::from("profiles").join(format!("{name}-{stamp}.svg"))
}

/// Writes the folded stacks and the SVG (and the differential graph when
/// asked for). Zero samples is an error: never an empty graph.
pub fn write_capture(
    stacks: &Folded,
    duration: Duration,
    options: &ProfileOptions,
) -> Result<ProfileOutput, ProfileError> {
    let samples = flame::total_samples(stacks);
    if samples == 0 {
        return Err(ProfileError::NoSamples);
    }
    let title = format!(
        "{}, {:.1} s, {samples} samples at {} Hz",
        options.title,
        duration.as_secs_f64(),
        options.frequency
    );
    let folded = options.folded_path();
    flame::write_flamegraph(stacks, &title, &folded, &options.svg)?;
    let diff_svg = match &options.diff_against {
        Some(old) => {
            let out = options.diff_path();
            let diff_title = format!("{title} (vs {})", old.display());
            flame::write_differential(old, &folded, &diff_title, &out)?;
            Some(out)
        }
        None => None,
    };
    Ok(ProfileOutput {
        svg: options.svg.clone(),
        folded,
        diff_svg,
        samples,
        duration,
        top: flame::top_self(stacks, 5),
        notes: Vec::new(),
    })
}

/// An in-process CPU profile of mcptop (every thread), running until `finish`.
#[cfg(unix)]
pub struct SelfProfiler {
    guard: pprof::ProfilerGuard<'static>,
    started: Instant,
}

/// One distinct sampled stack: its thread's name, its addresses (innermost
/// first, as the unwinder gave them) and how many samples it had.
pub(crate) type SampledStack = (String, Vec<usize>, u64);

/// Frames of pprof's signal handler and unwinder.
fn is_unwinder_frame(name: &str) -> bool {
    name.starts_with("backtrace::")
        || name.contains("pprof::")
        || name == "__restore_rt"
        || name.starts_with("<pprof::")
}

#[cfg(unix)]
impl SelfProfiler {
    pub fn start(frequency: u32) -> Result<SelfProfiler, ProfileError> {
        let hz = i32::try_from(frequency.clamp(1, 10_000)).unwrap_or(DEFAULT_HZ as i32);
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(hz)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(|e| match e {
                pprof::Error::Running => ProfileError::Busy,
                e => ProfileError::Start(e.to_string()),
            })?;
        // Whatever resolved symbols in this process before (a panic's
        // backtrace): its cache is not needed while sampling.
        give_back_symbols();
        Ok(SelfProfiler {
            guard,
            started: Instant::now(),
        })
    }

    /// Stops sampling, writes the graphs and says what they hold. The
    /// stacks are named, folded and rendered by a child `mcptop __symbolize`
    /// (`profile::offload`), so the run's memory never holds their text.
    pub fn finish(self, options: &ProfileOptions) -> Result<ProfileOutput, ProfileError> {
        let program = std::env::current_exe();
        let symbolizer = program
            .as_deref()
            .map_err(|e| format!("cannot find mcptop's binary: {e}"));
        self.finish_with(options, symbolizer)
    }

    /// `finish` with `symbolizer` as the program that names and renders
    /// (or why there is none): in-process when it cannot, with a note.
    pub fn finish_with(
        self,
        options: &ProfileOptions,
        symbolizer: Result<&Path, String>,
    ) -> Result<ProfileOutput, ProfileError> {
        let duration = self.started.elapsed();
        let stacks = self.sampled_stacks()?;
        drop(self.guard);
        crate::metrics::alloc::purge();
        if stacks.iter().all(|(_, _, n)| *n == 0) {
            return Err(ProfileError::NoSamples);
        }
        #[cfg(target_os = "linux")]
        let why = match symbolizer {
            Ok(program) => match offload::render_in_child(program, &stacks, duration, options) {
                Ok(output) => return Ok(output),
                Err(offload::Failed::Capture(e)) => return Err(e),
                Err(offload::Failed::CannotRun(why)) => why,
            },
            Err(why) => why,
        };
        #[cfg(not(target_os = "linux"))]
        let why =
            symbolizer.map_or_else(|e| e, |_| "no symbolizer process on this platform".into());
        let folded = fold_here(&stacks);
        let mut output = write_capture(&folded, duration, options)?;
        output.notes.push(format!(
            "frames were named in mcptop's own process and the graph rendered there ({why}): \
             its memory rose while it did"
        ));
        Ok(output)
    }

    /// Every distinct sampled stack so far, (thread, addresses, count). Each
    /// is kept as its addresses only (a few hundred bytes), not as pprof's
    /// 128-frame slot (4.2 KB), and pprof's temporary file of evicted stacks
    /// is read a buffer at a time: the memory this takes follows the stacks
    /// sampled, not the profile's length times 4.2 KB.
    fn sampled_stacks(&self) -> Result<Vec<SampledStack>, ProfileError> {
        // Keyed by the thread id followed by the addresses, so a lookup
        // borrows a reused scratch slice instead of allocating a key.
        let mut counts: std::collections::HashMap<Box<[usize]>, u64> = Default::default();
        let mut threads: std::collections::HashMap<u64, String> = Default::default();
        let mut key: Vec<usize> = Vec::with_capacity(pprof::MAX_DEPTH + 1);
        self.guard
            .report()
            .for_each_unresolved(|frames, count| {
                let count = u64::try_from(count).unwrap_or(0);
                key.clear();
                key.push(frames.thread_id as usize);
                key.extend(frames.frames.iter().map(|f| f.ip() as usize));
                match counts.get_mut(key.as_slice()) {
                    Some(n) => *n += count,
                    None => {
                        counts.insert(key.as_slice().into(), count);
                    }
                }
                threads.entry(frames.thread_id).or_insert_with(|| {
                    let name = &frames.thread_name[..frames.thread_name_length];
                    match String::from_utf8_lossy(name).into_owned() {
                        n if n.is_empty() => format!("{:?}", frames.thread_id),
                        n => n,
                    }
                });
            })
            .map_err(|e| ProfileError::Report(e.to_string()))?;
        Ok(counts
            .into_iter()
            .map(|(key, count)| {
                let id = key.first().map_or(0, |&t| t as u64);
                let thread = threads.get(&id).cloned().unwrap_or_default();
                (thread, key.get(1..).unwrap_or_default().to_vec(), count)
            })
            .collect())
    }
}

/// Drops the unwinder's symbol cache and gives the freed pages back.
#[cfg(unix)]
fn give_back_symbols() {
    backtrace::clear_symbol_cache();
    crate::metrics::alloc::purge();
}

/// The stacks named and folded in this process (when no child can do it),
/// with the symbol cache given back after.
#[cfg(unix)]
fn fold_here(stacks: &[SampledStack]) -> Folded {
    let mut ips: Vec<usize> = stacks
        .iter()
        .flat_map(|(_, ips, _)| ips.iter().copied())
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let names = ips.iter().map(|&ip| (ip, symbolize_here(ip))).collect();
    give_back_symbols();
    let mut folded = Folded::new();
    for (thread, ips, count) in stacks {
        *folded.entry(fold_stack(thread, ips, &names)).or_default() += count;
    }
    folded
}

#[cfg(all(unix, target_os = "linux"))]
fn symbolize_here(ip: usize) -> Vec<String> {
    symbolize::names_here(ip)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn symbolize_here(ip: usize) -> Vec<String> {
    let mut names = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        let named = pprof::Symbol {
            name: symbol.name().map(|n| n.as_bytes().to_vec()),
            addr: None,
            lineno: None,
            filename: None,
        };
        names.push(named.name());
    });
    names
}

/// One sampled stack as a folded line, thread first, as pprof's report
/// would name it: its signal handler's frame and the one after it are
/// skipped, frames without a symbol left out, inlined calls kept; then the
/// unwinder's own frames on top are dropped (the profiler, not the
/// profiled).
#[cfg(unix)]
pub(crate) fn fold_stack(
    thread: &str,
    ips: &[usize],
    names: &std::collections::HashMap<usize, Vec<String>>,
) -> String {
    let mut resolved: Vec<&[String]> = Vec::with_capacity(ips.len());
    let mut frames = ips.iter();
    while let Some(ip) = frames.next() {
        let symbols = names.get(ip).map(Vec::as_slice).unwrap_or_default();
        if symbols
            .iter()
            .any(|n| n == "perf_signal_handler" || n == "_perf_signal_handler")
        {
            frames.next();
            continue;
        }
        if !symbols.is_empty() {
            resolved.push(symbols);
        }
    }
    let mut names = vec![flame::clean_frame(thread)];
    for symbols in resolved.iter().rev() {
        for symbol in symbols.iter().rev() {
            names.push(flame::clean_frame(symbol));
        }
    }
    while names.len() > 1 && names.last().is_some_and(|n| is_unwinder_frame(n)) {
        names.pop();
    }
    names.join(";")
}

/// Profiles mcptop for `duration` and writes the graphs. Blocks the calling
/// thread (not the others): run it on a background thread during a run.
pub fn capture_self(
    duration: Duration,
    options: &ProfileOptions,
) -> Result<ProfileOutput, ProfileError> {
    #[cfg(unix)]
    {
        let profiler = SelfProfiler::start(options.frequency)?;
        std::thread::sleep(duration);
        profiler.finish(options)
    }
    #[cfg(not(unix))]
    {
        let _ = (duration, options);
        Err(ProfileError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwinder_frames_are_recognised() {
        assert!(is_unwinder_frame("backtrace::backtrace::libunwind::trace"));
        assert!(is_unwinder_frame(
            "<pprof::backtrace::backtrace_rs::Trace as pprof::backtrace::Trace>::trace"
        ));
        assert!(is_unwinder_frame("pprof::profiler::perf_signal_handler"));
        assert!(!is_unwinder_frame("mcptop::server::burn_cpu"));
    }

    #[test]
    fn zero_samples_is_an_error_not_an_empty_graph() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = ProfileOptions {
            frequency: 99,
            svg: dir.path().join("p.svg"),
            title: "t".into(),
            diff_against: None,
            jvm: false,
        };
        let err =
            write_capture(&Folded::new(), Duration::from_secs(1), &options).expect_err("empty");
        assert!(matches!(err, ProfileError::NoSamples), "{err:?}");
        assert!(!options.svg.exists());
        assert_eq!(options.folded_path(), dir.path().join("p.folded"));
        assert_eq!(options.diff_path(), dir.path().join("p.diff.svg"));
    }

    /// pprof samples the whole process: one profile at a time in these tests.
    static ONE_PROFILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[cfg(unix)]
    #[test]
    fn captures_a_busy_thread() {
        let _one = ONE_PROFILE.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("temp dir");
        let options = ProfileOptions {
            frequency: 199,
            svg: dir.path().join("busy.svg"),
            title: "busy test".into(),
            diff_against: None,
            jvm: false,
        };
        let busy = stacks::Busy::start(1, |_| {
            crate::server::burn_cpu(Duration::from_millis(5));
        });
        let out = capture_self(Duration::from_millis(800), &options);
        drop(busy);
        let out = out.expect("captured");
        assert!(out.samples > 10, "{out:?}");
        let stacks = flame::read_folded(&out.folded).expect("folded");
        assert!(
            flame::share_with_frame(&stacks, "burn_cpu") > 0.3,
            "{stacks:?}"
        );
        let svg = std::fs::read_to_string(&out.svg).expect("svg");
        assert!(svg.contains("busy test") && svg.contains("samples at 199 Hz"));
    }

    /// The run's process hands its stacks over as addresses and leaves
    /// naming, folding and rendering to the child (here a stand-in that
    /// writes no graph): it writes neither file, sends no name, and
    /// allocates little while it stops. Folding and rendering here cost
    /// tens of MiB at the end of a 30 s profile.
    #[cfg(all(target_os = "linux", feature = "jemalloc"))]
    #[test]
    fn stopping_hands_addresses_to_the_child_and_renders_nothing_here() {
        let _one = ONE_PROFILE.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("temp dir");
        let options = ProfileOptions {
            frequency: 199,
            svg: dir.path().join("busy.svg"),
            title: "handed over".into(),
            diff_against: None,
            jvm: false,
        };
        let busy = stacks::Busy::start(1, |_| {
            crate::server::burn_cpu(Duration::from_millis(5));
        });
        let profiler = SelfProfiler::start(199).expect("profiler");
        let sampled = |p: &SelfProfiler| {
            let stacks = p.sampled_stacks().expect("stacks");
            stacks.iter().map(|(_, _, n)| n).sum::<u64>()
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while sampled(&profiler) < 50 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(busy);
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_symbolizer.py");
        let allocated = || {
            tikv_jemalloc_ctl::thread::allocatedp::read()
                .map(|p| p.get())
                .expect("thread.allocatedp")
        };
        let before = allocated();
        let out = profiler.finish_with(&options, Ok(&fake)).expect("finished");
        let asked = allocated() - before;
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert!(out.samples >= 50, "{out:?}");
        assert_eq!(out.top, vec![("fake::busiest".to_string(), out.samples)]);
        assert!(
            !options.svg.exists() && !options.folded_path().exists(),
            "the run's process wrote the graphs itself"
        );
        let job = std::fs::read_to_string(dir.path().join("busy.svg.job")).expect("job");
        assert!(job.contains("title\thanded over\n"), "{job}");
        assert!(!job.contains("burn_cpu"), "names crossed: {job}");
        // Stopping pprof builds its next table (4.3 MB) before freeing the
        // old; naming here would load the binary's debug info (far more).
        assert!(
            asked < 8 << 20,
            "{asked} bytes allocated while stopping ({} of job)",
            job.len()
        );
    }

    /// pprof keeps a stack in a 128-frame slot (about 4.2 KB) and reads its
    /// file of evicted stacks whole; the stacks taken at stop must cost what
    /// their addresses need, not a slot each.
    #[cfg(all(unix, feature = "jemalloc"))]
    #[test]
    fn stopping_keeps_addresses_not_a_4_kb_slot_per_stack() {
        let _one = ONE_PROFILE.lock().unwrap_or_else(|e| e.into_inner());
        let busy = stacks::Busy::start(2, |path| stacks::descend(path, 12));
        let profiler = SelfProfiler::start(997).expect("profiler");
        // Sample until more distinct stacks than pprof's table holds (1,024),
        // so some went to its file; bounded in time.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = 0;
        while seen < 1_300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            seen = profiler.sampled_stacks().expect("stacks").len();
        }
        let allocated = || {
            tikv_jemalloc_ctl::thread::allocatedp::read()
                .map(|p| p.get())
                .expect("thread.allocatedp")
        };
        let before = allocated();
        let stacks = profiler.sampled_stacks().expect("stacks");
        let asked = allocated() - before;
        drop(busy);
        drop(profiler);
        assert!(
            stacks.len() >= 1_300,
            "only {} distinct stacks",
            stacks.len()
        );
        let deepest = stacks
            .iter()
            .map(|(_, ips, _)| ips.len())
            .max()
            .unwrap_or(0);
        let per_stack = asked / stacks.len() as u64;
        assert!(
            per_stack < 2_048,
            "{asked} bytes asked for {} stacks ({per_stack} each, deepest {deepest} frames)",
            stacks.len()
        );
    }
}

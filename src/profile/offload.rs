//! The end of a self-profile, done in a child `mcptop __symbolize`: the run's
//! process hands over its sampled stacks as addresses (a place in a file
//! each, written once, and per stack its thread, count and the places'
//! numbers), and the child names them, folds them, writes the `.folded` and
//! the SVG (and the differential graph when asked) and answers with the
//! little the run still needs: the sample count and the busiest frames.
//! Folded text repeats every frame's full name in every stack (megabytes for
//! a few hundred stacks) and inferno's rendering builds its tree and the SVG
//! in memory: in the run's process that was tens of MiB of peak RSS at stop.

use super::symbolize::{address, names_here, own_mappings, place};
use super::{flame, ProfileError, ProfileOptions, ProfileOutput, SampledStack};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the parent writes first.
const JOB: &str = "mcptop-stacks 1";
/// What the child answers first, so a program that is not a symbolizer (a
/// test harness re-executed, an older mcptop) is told apart.
const DONE: &str = "mcptop-rendered 1";

/// Why the child did not write the graphs.
#[derive(Debug)]
pub enum Failed {
    /// It could not run or did not answer: name and render in-process.
    CannotRun(String),
    /// It ran and the capture failed (a path not writable, a bad `--diff`):
    /// in-process would fail the same way.
    Capture(ProfileError),
}

/// `text` on one line of the job, or why it cannot be.
fn field(text: &str) -> Result<&str, Failed> {
    match text.contains(['\t', '\n', '\r']) {
        false => Ok(text),
        true => Err(Failed::CannotRun(format!(
            "{text:?} cannot be handed to the symbolizer"
        ))),
    }
}

fn path_field(path: &Path) -> Result<&str, Failed> {
    let text = path
        .to_str()
        .ok_or_else(|| Failed::CannotRun(format!("{} is not UTF-8", path.display())))?;
    field(text)
}

/// The job's text: header fields, the places (one per distinct address,
/// `-` for one outside any file), then one line per stack.
fn job_text(
    stacks: &[SampledStack],
    duration: Duration,
    options: &ProfileOptions,
) -> Result<String, Failed> {
    let maps = own_mappings();
    let mut text = format!(
        "{JOB}\nfrequency\t{}\nduration_us\t{}\ntitle\t{}\nsvg\t{}\n",
        options.frequency,
        duration.as_micros(),
        options.title.replace(['\t', '\n', '\r'], " "),
        path_field(&options.svg)?,
    );
    if let Some(old) = &options.diff_against {
        text.push_str(&format!("diff\t{}\n", path_field(old)?));
    }
    text.push_str("places\n");
    let mut numbers: HashMap<usize, usize> = HashMap::new();
    let mut lines = String::new();
    for (thread, ips, count) in stacks {
        lines.push_str(&format!(
            "{count}\t{}\t",
            thread.replace(['\t', '\n', '\r'], " ")
        ));
        for ip in ips {
            let next = numbers.len();
            let n = *numbers.entry(*ip).or_insert_with(|| {
                match place(&maps, *ip) {
                    Some((path, offset)) if field(path).is_ok() => {
                        text.push_str(&format!("{offset:x} {path}\n"));
                    }
                    _ => text.push_str("-\n"),
                }
                next
            });
            lines.push_str(&format!("{n} "));
        }
        lines.push('\n');
    }
    text.push_str("stacks\n");
    text.push_str(&lines);
    Ok(text)
}

/// Runs `program __symbolize` on the stacks; it writes the graphs.
pub fn render_in_child(
    program: &Path,
    stacks: &[SampledStack],
    duration: Duration,
    options: &ProfileOptions,
) -> Result<ProfileOutput, Failed> {
    let input = job_text(stacks, duration, options)?;
    let mut child = Command::new(program)
        .arg(super::symbolize::CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            Failed::CannotRun(format!(
                "cannot start {} {}: {e}",
                program.display(),
                super::symbolize::CHILD_ARG
            ))
        })?;
    // Written from a thread: a child that answers early (not a symbolizer)
    // must not leave this one blocked on a full pipe.
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(pipe) = stdin.as_mut() {
            let _ = pipe.write_all(input.as_bytes());
        }
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    let output = output.map_err(|e| Failed::CannotRun(format!("the symbolizer failed: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    if lines.next() != Some(DONE) {
        return Err(Failed::CannotRun(format!(
            "{} is not an mcptop symbolizer ({})",
            program.display(),
            output.status
        )));
    }
    let mut out = ProfileOutput {
        svg: options.svg.clone(),
        folded: options.folded_path(),
        diff_svg: options.diff_against.as_ref().map(|_| options.diff_path()),
        samples: 0,
        duration,
        top: Vec::new(),
        notes: Vec::new(),
    };
    for line in lines {
        match line.split_once('\t') {
            Some(("error", why)) => {
                return Err(Failed::Capture(ProfileError::Symbolizer(why.into())))
            }
            Some(("samples", n)) => out.samples = n.parse().unwrap_or(0),
            Some(("top", top)) => {
                if let Some((n, frame)) = top.split_once('\t') {
                    out.top.push((frame.to_string(), n.parse().unwrap_or(0)));
                }
            }
            _ => {}
        }
    }
    match out.samples {
        0 => Err(Failed::CannotRun(
            "the symbolizer gave no sample count".into(),
        )),
        _ => Ok(out),
    }
}

/// The job as the child reads it.
struct Job {
    options: ProfileOptions,
    duration: Duration,
    /// Each place's names (innermost first), by its number.
    names: HashMap<usize, Vec<String>>,
    /// (thread, place numbers, count).
    stacks: Vec<SampledStack>,
}

fn read_job(input: impl BufRead) -> Result<Job, String> {
    let maps = own_mappings();
    let mut job = Job {
        options: ProfileOptions {
            frequency: 0,
            svg: PathBuf::new(),
            title: String::new(),
            diff_against: None,
            jvm: false,
        },
        duration: Duration::ZERO,
        names: HashMap::new(),
        stacks: Vec::new(),
    };
    let mut section = "header";
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read the job: {e}"))?;
        let bad = || format!("line {} of the job is not understood: {line:?}", i + 1);
        if i == 0 {
            if line != JOB {
                return Err(bad());
            }
            continue;
        }
        match (section, line.as_str()) {
            (_, "places") => section = "places",
            (_, "stacks") => section = "stacks",
            ("header", _) => read_header(&mut job, &line).ok_or_else(bad)?,
            ("places", _) => {
                let names = match line.split_once(' ') {
                    None if line == "-" => Vec::new(),
                    Some((offset, path)) => usize::from_str_radix(offset, 16)
                        .ok()
                        .and_then(|offset| address(&maps, path, offset))
                        .map(names_here)
                        .unwrap_or_default(),
                    None => return Err(bad()),
                };
                job.names.insert(job.names.len(), names);
            }
            _ => job.stacks.push(read_stack(&line).ok_or_else(bad)?),
        }
    }
    match section {
        "stacks" => Ok(job),
        _ => Err("the job ended before its stacks".into()),
    }
}

fn read_header(job: &mut Job, line: &str) -> Option<()> {
    let (key, value) = line.split_once('\t')?;
    match key {
        "frequency" => job.options.frequency = value.parse().ok()?,
        "duration_us" => job.duration = Duration::from_micros(value.parse().ok()?),
        "title" => job.options.title = value.to_string(),
        "svg" => job.options.svg = PathBuf::from(value),
        "diff" => job.options.diff_against = Some(PathBuf::from(value)),
        _ => return None,
    }
    Some(())
}

fn read_stack(line: &str) -> Option<SampledStack> {
    let mut fields = line.splitn(3, '\t');
    let count = fields.next()?.parse().ok()?;
    let thread = fields.next()?.to_string();
    let places = fields
        .next()?
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    Some((thread, places, count))
}

/// The child's side: reads a job, writes the graphs, answers with the
/// sample count and the busiest frames (or the capture's error). Returns
/// the exit code.
pub fn serve(input: impl BufRead, mut out: impl Write) -> u8 {
    let (answer, code) = match read_job(input) {
        Ok(job) => (render(&job), 0),
        Err(why) => (format!("error\t{why}\n"), 2),
    };
    match write!(out, "{DONE}\n{answer}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => 2,
    }
}

fn render(job: &Job) -> String {
    let mut folded = flame::Folded::new();
    for (thread, places, count) in &job.stacks {
        let key = super::fold_stack(thread, places, &job.names);
        *folded.entry(key).or_default() += count;
    }
    match super::write_capture(&folded, job.duration, &job.options) {
        Ok(written) => {
            let mut answer = format!("samples\t{}\n", written.samples);
            for (frame, n) in &written.top {
                answer.push_str(&format!("top\t{n}\t{}\n", frame.replace('\t', " ")));
            }
            answer
        }
        Err(e) => format!("error\t{}\n", e.to_string().replace(['\t', '\n'], " ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_frame_the_child_names() -> usize {
        a_frame_the_child_names as fn() -> usize as usize
    }

    fn options(dir: &Path) -> ProfileOptions {
        ProfileOptions {
            frequency: 99,
            svg: dir.join("p.svg"),
            title: "offload test".into(),
            diff_against: None,
            jvm: false,
        }
    }

    #[test]
    fn the_child_names_folds_and_renders_the_stacks() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A return address inside the function (resolving looks one byte back).
        let ip = a_frame_the_child_names() + 1;
        let stacks = vec![
            ("worker".to_string(), vec![ip, 0x10], 7),
            ("main".to_string(), vec![ip], 3),
        ];
        let options = options(dir.path());
        let job = job_text(&stacks, Duration::from_secs(2), &options).expect("job");
        assert!(
            !job.contains("a_frame_the_child_names"),
            "names never cross: {job}"
        );
        let mut out = Vec::new();
        assert_eq!(serve(job.as_bytes(), &mut out), 0);
        let answer = String::from_utf8(out).expect("utf-8");
        assert!(
            answer.starts_with(&format!("{DONE}\nsamples\t10\ntop\t")),
            "{answer}"
        );
        let folded = flame::read_folded(&options.folded_path()).expect("folded");
        assert!(
            flame::share_with_frame(&folded, "a_frame_the_child_names") == 1.0,
            "{folded:?}"
        );
        let svg = std::fs::read_to_string(&options.svg).expect("svg");
        assert!(svg.contains("offload test, 2.0 s, 10 samples at 99 Hz"));
    }

    #[test]
    fn a_bad_job_and_a_failed_capture_are_answered_as_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Vec::new();
        assert_eq!(
            serve("mcptop-stacks 1\nstacks\nx\n".as_bytes(), &mut out),
            2
        );
        let answer = String::from_utf8(out).expect("utf-8");
        assert!(answer.contains("error\tline 3 of the job"), "{answer}");
        let mut options = options(dir.path());
        options.diff_against = Some(dir.path().join("missing.folded"));
        let stacks = vec![("main".to_string(), vec![a_frame_the_child_names() + 1], 5)];
        let job = job_text(&stacks, Duration::from_secs(1), &options).expect("job");
        let mut out = Vec::new();
        assert_eq!(serve(job.as_bytes(), &mut out), 0);
        let answer = String::from_utf8(out).expect("utf-8");
        assert!(
            answer.contains("error\t") && answer.contains("missing.folded"),
            "{answer}"
        );
    }

    #[test]
    fn a_program_that_is_not_a_symbolizer_is_refused() {
        // current_exe is this test harness: it takes `__symbolize` as a
        // test filter and prints no header.
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = std::env::current_exe().expect("exe");
        let stacks = vec![("main".to_string(), vec![a_frame_the_child_names()], 1)];
        let err = render_in_child(&exe, &stacks, Duration::from_secs(1), &options(dir.path()))
            .expect_err("not a symbolizer");
        assert!(
            matches!(&err, Failed::CannotRun(why) if why.contains("is not an mcptop symbolizer")),
            "{err:?}"
        );
    }
}

//! Reading a process's RSS, CPU time, threads and file descriptors from the
//! OS: `/proc` on Linux (cheap, no allocation-heavy crate on the hot path),
//! `sysinfo` elsewhere; a whole process group (a stdio child and what it
//! started) summed. Returns plain `ProcessReading`s; rates are computed in
//! `metrics::resources`.

use crate::metrics::resources::ProcessReading;

/// mcptop's own process.
pub fn read_self() -> Option<ProcessReading> {
    read_pid(std::process::id())
}

/// mcptop's CPU seconds so far (user + system, every thread): `getrusage`
/// on Unix (microseconds, one system call, cheap enough for every tick),
/// else the process reading.
pub fn self_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given; on success it is initialised.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: the call succeeded, so the struct is filled.
        let u = unsafe { usage.assume_init() };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(secs(u.ru_utime) + secs(u.ru_stime))
    }
    #[cfg(not(unix))]
    {
        read_self().map(|r| r.cpu_seconds)
    }
}

/// Several processes summed (RSS, CPU time, threads, fds); the first pid and
/// the smallest fd limit are kept. `None` when none of them can be read.
pub fn read_sum(pids: &[u32]) -> Option<ProcessReading> {
    let mut total: Option<ProcessReading> = None;
    for reading in pids.iter().filter_map(|&p| read_pid(p)) {
        total = Some(match total {
            None => reading,
            Some(t) => ProcessReading {
                pid: t.pid,
                rss_bytes: t.rss_bytes + reading.rss_bytes,
                cpu_seconds: t.cpu_seconds + reading.cpu_seconds,
                threads: t.threads + reading.threads,
                open_fds: t.open_fds + reading.open_fds,
                fd_limit: match (t.fd_limit, reading.fd_limit) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            },
        });
    }
    total
}

/// Every process of these groups (and the given single processes) summed;
/// a group's leader comes first, so a reading keeps its pid.
pub fn read_groups(groups: &[u32], singles: &[u32]) -> Option<ProcessReading> {
    let mut members = crate::transport::group::members_of(groups);
    members.sort_by_key(|&(g, p)| (p != g, p));
    let mut pids: Vec<u32> = members.into_iter().map(|(_, p)| p).collect();
    for &p in singles {
        if !pids.contains(&p) {
            pids.push(p);
        }
    }
    read_sum(&pids)
}

/// What is wrong with a process id given to watch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PidError {
    #[error("{0}: not a process id")]
    NotAPid(u32),
    #[error("{0}: no such process")]
    NoSuchProcess(u32),
}

/// `Ok` when `pid` names a process that exists (visible to this user or
/// not); else what is wrong with it.
pub fn check_pid(pid: u32) -> Result<(), PidError> {
    let Ok(id) = libc::pid_t::try_from(pid) else {
        return Err(PidError::NotAPid(pid));
    };
    if id <= 0 {
        return Err(PidError::NotAPid(pid));
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 checks that the process exists; nothing is sent.
        if unsafe { libc::kill(id, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        {
            return Err(PidError::NoSuchProcess(pid));
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
pub fn read_pid(pid: u32) -> Option<ProcessReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut reading = parse_stat(&stat, clock_ticks(), page_size())?;
    reading.pid = pid;
    reading.open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    reading.fd_limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|l| parse_fd_limit(&l));
    Some(reading)
}

/// mcptop's own RSS alone: what each connecting session reads. Counting
/// descriptors (`read_pid`) lists /proc/self/fd, as long as the sessions
/// open so far: done per session, connecting 10,000 took tens of seconds.
#[cfg(target_os = "linux")]
pub fn read_self_rss() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat, clock_ticks(), page_size()).map(|r| r.rss_bytes)
}

#[cfg(not(target_os = "linux"))]
pub fn read_self_rss() -> Option<u64> {
    read_self().map(|r| r.rss_bytes)
}

#[cfg(target_os = "linux")]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).unwrap_or(4096)
}

/// Parses `/proc/PID/stat`: CPU time, threads and RSS (the command name in
/// parentheses may hold spaces, so fields are counted after the last `)`).
pub fn parse_stat(stat: &str, ticks_per_s: f64, page_bytes: u64) -> Option<ProcessReading> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let (utime, stime) = (field(14)?, field(15)?);
    Some(ProcessReading {
        pid: 0,
        rss_bytes: field(24)? * page_bytes,
        cpu_seconds: (utime + stime) as f64 / ticks_per_s,
        threads: field(20)?,
        open_fds: 0,
        fd_limit: None,
    })
}

/// The soft "Max open files" limit from `/proc/PID/limits`.
pub fn parse_fd_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
pub fn read_pid(pid: u32) -> Option<ProcessReading> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let mut system = System::new();
    let target = Pid::from_u32(pid);
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[target]),
        true,
        ProcessRefreshKind::nothing().with_memory().with_cpu(),
    );
    let p = system.process(target)?;
    Some(ProcessReading {
        pid,
        rss_bytes: p.memory(),
        cpu_seconds: p.accumulated_cpu_time() as f64 / 1000.0,
        threads: p.tasks().map_or(0, |t| t.len() as u64),
        open_fds: p.open_files().map_or(0, u64::from),
        fd_limit: p.open_files_limit().map(|l| l as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "4242 (my server (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 50 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615";
        let r = parse_stat(stat, 100.0, 4096).expect("parsed");
        assert_eq!(r.cpu_seconds, 3.0);
        assert_eq!(r.threads, 7);
        assert_eq!(r.rss_bytes, 2560 * 4096);
        assert_eq!(parse_stat("garbage", 100.0, 4096), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_rss_alone_is_the_full_readings_rss() {
        // Other tests in this process allocate and free while it runs, so
        // RSS moves between reads (megabytes at a time): the lone reading
        // must lie between two full readings taken around it, within a MiB;
        // a few tries, as a jump can straddle one bracket.
        let mut seen = Vec::new();
        for _ in 0..20 {
            let before = read_self().expect("reads").rss_bytes;
            let alone = read_self_rss().expect("reads");
            let after = read_self().expect("reads").rss_bytes;
            let (lo, hi) = (before.min(after), before.max(after));
            if alone > 0 && alone + (1 << 20) >= lo && alone <= hi + (1 << 20) {
                return;
            }
            seen.push((before, alone, after));
        }
        panic!("the lone reading never lay between the full ones: {seen:?}");
    }

    #[test]
    fn parses_the_soft_fd_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63439                63439                processes\n\
                      Max open files            1024                 1048576              files\n";
        assert_eq!(parse_fd_limit(limits), Some(1024));
        assert_eq!(
            parse_fd_limit("Max open files  unlimited unlimited files"),
            None
        );
    }

    #[test]
    fn a_process_that_does_not_exist_is_refused() {
        assert_eq!(check_pid(std::process::id()), Ok(()));
        let err = check_pid(999_999_999).expect_err("absent").to_string();
        assert!(err.contains("999999999"), "{err}");
        assert!(check_pid(0).is_err());
        assert!(check_pid(u32::MAX).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let me = read_self().expect("own process");
        assert_eq!(me.pid, std::process::id());
        assert!(me.rss_bytes > 1024 * 1024, "{me:?}");
        assert!(me.threads >= 1 && me.open_fds >= 3, "{me:?}");
        assert!(me.fd_limit.is_some_and(|l| l > 0), "{me:?}");
        assert_eq!(
            read_sum(&[std::process::id(), u32::MAX]).map(|r| r.pid),
            Some(me.pid)
        );
        assert_eq!(read_sum(&[u32::MAX]), None);
    }
}

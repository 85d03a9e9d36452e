//! The open-file limit. Every session holds descriptors (a socket, or three
//! pipes for a child), so the soft limit (often 1024) is raised to the hard
//! one when mcptop starts, and running out anyway ("Too many open files")
//! is reported with the limit and how to raise it.

/// The soft and hard limits on open files, when they can be read.
pub fn fd_limits() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            return Some((lim.rlim_cur as u64, lim.rlim_max as u64));
        }
    }
    None
}

/// Raises the soft limit on open files to the hard limit; returns the limits
/// now in force.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let (soft, hard) = fd_limits()?;
        if soft < hard {
            let lim = libc::rlimit {
                rlim_cur: hard as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            // SAFETY: setrlimit reads the struct it is given; raising the
            // soft limit up to the hard one needs no privilege.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        }
    }
    fd_limits()
}

/// True for "too many open files" (this process's or the system's).
pub fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// An I/O error as a reason; out of descriptors, it names the limit and how
/// to raise it.
pub fn describe_io_error(e: &std::io::Error) -> String {
    if !is_fd_exhaustion(e) {
        return e.to_string();
    }
    let limit = match fd_limits() {
        Some((soft, _)) if soft < u64::from(u32::MAX) => format!("the limit is {soft}"),
        _ => "the limit is reached".into(),
    };
    format!(
        "{e}: out of file descriptors ({limit}; each session needs a few): \
         raise it with `ulimit -n` (e.g. `ulimit -n 65536`) or run fewer sessions"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_names_the_limit_and_ulimit() {
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        let text = describe_io_error(&e);
        assert!(text.contains("ulimit -n"), "{text}");
        let (soft, _) = fd_limits().expect("limits");
        assert!(text.contains(&format!("the limit is {soft}")), "{text}");
        let other = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(!describe_io_error(&other).contains("ulimit"));
    }
}

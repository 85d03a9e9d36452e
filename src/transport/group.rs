//! Process groups of stdio children. Each child leads a group of its own,
//! so a server behind a launcher (`python3 wrapper.py server.py`, `npx`,
//! `uv run`) is ended with everything it started: TERM to the group, then
//! KILL after a grace period. On Linux each child also gets a parent-death
//! signal, so it dies with mcptop even when mcptop is killed with SIGKILL.
//! A registry of live groups lets mcptop end them all on its way out (and at
//! once on a second stop signal).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a group has between TERM and KILL.
pub const GRACE: Duration = Duration::from_secs(2);
/// How often an ending group is looked at.
const POLL: Duration = Duration::from_millis(20);

/// Groups started and not yet seen gone.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes a command's child the leader of a new group and, on Linux, gives
/// it SIGKILL when mcptop dies.
pub fn configure(command: &mut tokio::process::Command) {
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec and
        // calls only async-signal-safe functions (prctl, getppid, raise).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // mcptop may have died before the prctl: then die now.
                if libc::getppid() != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
    }
}

/// Remembers a group a child now leads.
pub fn register(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        live().insert(pgid);
    }
}

fn signal(pgid: i32, sig: libc::c_int) {
    #[cfg(unix)]
    // SAFETY: kill(2) on a process group this process created.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Sends TERM to a registered group (nothing if it is already gone).
pub fn terminate(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if live().contains(&pgid) {
            signal(pgid, libc::SIGTERM);
        }
    }
}

/// The processes of a group that are not zombies.
pub fn members(pgid: u32) -> Vec<u32> {
    members_of(&[pgid])
        .into_iter()
        .map(|(_, pid)| pid)
        .collect()
}

/// `(group, pid)` for every process (not zombie) of these groups, in one
/// pass over the process table.
pub fn members_of(groups: &[u32]) -> Vec<(u32, u32)> {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let (state, group) = parse_state_and_pgid(&stat)?;
                (groups.contains(&group) && state != 'Z' && state != 'X').then_some((group, pid))
            })
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Without /proc: a group exists while it can be signalled.
        groups
            .iter()
            .copied()
            .filter(|&g| {
                // SAFETY: signal 0 only checks that the group exists.
                i32::try_from(g).is_ok_and(|id| unsafe { libc::kill(-id, 0) } == 0)
            })
            .map(|g| (g, g))
            .collect()
    }
}

/// State (field 3) and process group (field 5) from `/proc/PID/stat`; the
/// command name in parentheses may hold spaces, so fields count from the last `)`.
pub fn parse_state_and_pgid(stat: &str) -> Option<(char, u32)> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgid = fields.nth(1)?.parse().ok()?;
    Some((state, pgid))
}

/// Ends a group: TERM, up to `GRACE` for every member to leave, then KILL.
/// `leader_gone` resolves when the leader has exited (and been reaped).
pub async fn end(pgid: u32, leader_gone: impl std::future::Future<Output = ()>) {
    let Ok(id) = i32::try_from(pgid) else { return };
    signal(id, libc::SIGTERM);
    let deadline = tokio::time::Instant::now() + GRACE;
    let _ = tokio::time::timeout_at(deadline, leader_gone).await;
    while !members(pgid).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    if !members(pgid).is_empty() {
        signal(id, libc::SIGKILL);
    }
    live().remove(&id);
}

/// The end of a command that ran load, on its runtime (so a second stop
/// signal can still cut it short): TERM to every group still registered,
/// up to `GRACE` for them to leave, KILL for the rest.
pub async fn end_all_async() {
    let groups = terminate_all();
    let deadline = tokio::time::Instant::now() + GRACE;
    let mut remaining = still_alive(&groups);
    while !remaining.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        remaining = still_alive(&remaining);
    }
    kill_and_forget(&remaining);
}

/// The same on mcptop's way out, with no runtime left: blocks.
pub fn end_all() {
    let groups = terminate_all();
    let deadline = Instant::now() + GRACE;
    let mut remaining = still_alive(&groups);
    while !remaining.is_empty() && Instant::now() < deadline {
        std::thread::sleep(POLL);
        remaining = still_alive(&remaining);
    }
    kill_and_forget(&remaining);
}

fn terminate_all() -> Vec<i32> {
    let groups: Vec<i32> = live().iter().copied().collect();
    for &g in &groups {
        signal(g, libc::SIGTERM);
    }
    groups
}

fn still_alive(groups: &[i32]) -> Vec<i32> {
    if groups.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<u32> = groups.iter().map(|&g| g as u32).collect();
    let mut alive: Vec<i32> = members_of(&wanted)
        .into_iter()
        .map(|(g, _)| g as i32)
        .collect();
    alive.sort_unstable();
    alive.dedup();
    alive
}

fn kill_and_forget(remaining: &[i32]) {
    for &g in remaining {
        signal(g, libc::SIGKILL);
    }
    live().clear();
}

/// The second stop signal: KILL every group now.
pub fn kill_all() {
    for &g in live().iter() {
        signal(g, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_and_group_after_a_name_with_spaces() {
        let stat = "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560";
        assert_eq!(parse_state_and_pgid(stat), Some(('S', 4242)));
        let zombie = "77 (x) Z 1 70 70 0";
        assert_eq!(parse_state_and_pgid(zombie), Some(('Z', 70)));
        assert_eq!(parse_state_and_pgid("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_a_member_of_its_group() {
        // SAFETY: getpgrp has no preconditions.
        let pgid = unsafe { libc::getpgrp() } as u32;
        assert!(members(pgid).contains(&std::process::id()));
    }
}

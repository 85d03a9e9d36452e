#!/usr/bin/env python3
"""The hostile catalog: runs mcptop (a release build) against every hostile
case we know of and prints one row per case:

    case | exit code | result file ok | peak RSS | leftover processes | pass/FAIL

Each row states its expectation: the exit code, a result file that is valid
JSON (with what it must hold) or none at all, a bound on mcptop's peak RSS,
and zero leftover processes (anything in mcptop's session, or carrying the
case's marker on its command line, still alive after mcptop exits). Every
case runs under a timeout; past it mcptop's process group is killed and the
row fails. Exit code: 0 when every row passes, 1 otherwise.

usage: catalog.py MCPTOP_BINARY [--only SUBSTRING] [--list] [--keep]
(benches/hostile_catalog.sh builds the binary and calls this.)
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

USER_NOFILE = []


def user_limits():
    """In mcptop's child: the open-file limit the catalog was started with."""
    if USER_NOFILE:
        resource.setrlimit(resource.RLIMIT_NOFILE, tuple(USER_NOFILE))


# After mcptop exits, how long its children get to go before they count.
LEFTOVER_GRACE_S = 3.0


@dataclass
class Expect:
    """What a row must show."""
    exit: int
    # "json" (a result file that parses), "none" (no result file), or "any".
    result: str = "json"
    rss_mib: float = 64.0
    timeout_s: float = 30.0


@dataclass
class Outcome:
    code: int = -1
    wall_s: float = 0.0
    rss_mib: float = 0.0
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False
    leftovers: int = 0
    result: object = None
    result_ok: str = "-"
    problems: list = field(default_factory=list)
    figures: list = field(default_factory=list)


class Case:
    """One row: `setup` and `during` are optional steps, `check` looks at
    the outcome and returns what is wrong (or nothing)."""

    def __init__(self, name, args, expect, setup=None, during=None, check=None, result_file="r.json",
                 preexec=None):
        self.name = name
        self.preexec = preexec
        self.args = args
        self.expect = expect
        self.setup = setup
        self.during = during
        self.check = check
        self.result_file = result_file


class Ctx:
    """A case's temp directory, its peers, and the marker its children carry."""

    def __init__(self, binary, case, base):
        self.binary = binary
        self.case = case
        slug = "".join(c if c.isalnum() else "-" for c in case.name)[:40]
        self.dir = tempfile.mkdtemp(prefix=slug + "-", dir=base)
        self.marker = "--marker=hc-%d-%s" % (os.getpid(), slug)
        self.peers = []
        self.closables = []
        self.values = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def fixture(self, name):
        return os.path.join(HERE, name)

    def peer(self, argv):
        """Starts a scripted server the catalog owns; returns its first line."""
        out = open(self.path("peer-%d.out" % len(self.peers)), "w+")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.peers.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out.seek(0)
            line = out.readline()
            if line.endswith("\n"):
                return line.strip()
            if p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("peer %s did not start" % argv)

    def background(self, argv):
        """A process the catalog owns for the length of the case (load, say)."""
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.peers.append(p)
        return p

    def mcptop_setup(self, args, timeout_s=60):
        """A preparatory mcptop command (not the measured one)."""
        return subprocess.run([self.binary] + args, cwd=self.dir, capture_output=True, timeout=timeout_s)

    def cleanup(self):
        for c in self.closables:
            c.close()
        for p in self.peers:
            p.kill()
            p.wait()


def proc_stat(pid):
    """(state, pgid, sid) of a process, or None once it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[2]), int(fields[3])


def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def leftovers(sid, marker):
    """Live processes in mcptop's session or carrying the marker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = proc_stat(entry)
        if stat is None or stat[0] == "Z":
            continue
        if stat[2] == sid or marker in cmdline(entry):
            found.append(int(entry))
    return found


def wait_for(pid, deadline):
    """Waits for the child until the deadline: (status, rusage) or None."""
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got == pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def run_case(binary, case, base):
    ctx = Ctx(binary, case, base)
    out = Outcome()
    try:
        if case.setup:
            case.setup(ctx)
        run(ctx, case, out)
    except Exception as e:  # a broken step is a failed row, not a crash
        out.problems.append("%s: %s" % (type(e).__name__, e))
    finally:
        ctx.cleanup()
    return ctx, out


def run(ctx, case, out):
    args = [a(ctx) if callable(a) else a for a in case.args]
    stdout = open(ctx.path("stdout"), "wb")
    stderr = open(ctx.path("stderr"), "wb")
    start = time.monotonic()
    proc = subprocess.Popen([ctx.binary] + args, cwd=ctx.dir, stdout=stdout, stderr=stderr,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=case.preexec or user_limits)
    ctx.values["start"] = start
    ctx.values["pid"] = proc.pid
    deadline = start + case.expect.timeout_s
    try:
        if case.during:
            case.during(ctx, proc, out)
    except Exception as e:
        out.problems.append("during: %s: %s" % (type(e).__name__, e))
    waited = wait_for(proc.pid, deadline)
    if waited is None:
        out.timed_out = True
        out.problems.append("still running after %.0f s: killed" % case.expect.timeout_s)
        os.killpg(proc.pid, signal.SIGKILL)
        waited = wait_for(proc.pid, time.monotonic() + 10) or (signal.SIGKILL, None)
    proc.returncode = 0  # reaped above; keep Popen from waiting again
    status, usage = waited
    out.wall_s = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    out.code = 128 - code if code < 0 else code
    out.rss_mib = usage.ru_maxrss / 1024.0 if usage else 0.0
    stdout.close()
    stderr.close()
    out.stdout = open(ctx.path("stdout"), "rb").read()
    out.stderr = open(ctx.path("stderr"), "rb").read()
    left = settle(proc.pid, ctx.marker)
    out.leftovers = len(left)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    judge(ctx, case, out)


def settle(sid, marker):
    """Leftovers once they have had the grace period to exit."""
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while True:
        left = leftovers(sid, marker)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def judge(ctx, case, out):
    e = case.expect
    if out.code != e.exit:
        out.problems.append("exit %d, expected %d" % (out.code, e.exit))
    path = ctx.path(case.result_file)
    if e.result == "json":
        try:
            import json
            with open(path) as f:
                out.result = json.load(f)
            out.result_ok = "yes"
        except (OSError, ValueError) as err:
            out.result_ok = "NO"
            out.problems.append("result file: %s" % err)
    elif e.result == "none":
        exists = os.path.exists(path)
        out.result_ok = "NO" if exists else "none"
        if exists:
            out.problems.append("a result file was written")
    if out.rss_mib > e.rss_mib:
        out.problems.append("peak RSS %.0f MiB > %.0f MiB" % (out.rss_mib, e.rss_mib))
    if out.leftovers:
        out.problems.append("%d processes left behind" % out.leftovers)
    if case.check and not out.timed_out:
        try:
            problem = case.check(ctx, out)
        except Exception as err:
            problem = "check: %s: %s" % (type(err).__name__, err)
        if problem:
            out.problems.append(problem)


COLUMNS = ("case", "exit code", "result file ok", "peak RSS", "leftover processes", "pass/FAIL")
WIDTHS = (54, 16, 20, 10, 18, 9)


def row(cells):
    return " | ".join(str(c).ljust(w) for c, w in zip(cells, WIDTHS)).rstrip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the cases and their expectations")
    parser.add_argument("--keep", action="store_true", help="keep each case's directory")
    opts = parser.parse_args()
    from issue_cases import CASES as ISSUE
    from peer_cases import CASES as PEERS
    CASES = PEERS + ISSUE
    cases = [c for c in CASES if opts.only in c.name]
    if opts.list:
        for c in cases:
            e = c.expect
            print("%-52s exit %-3d result %-4s RSS <= %3.0f MiB  within %3.0f s" % (
                c.name, e.exit, e.result, e.rss_mib, e.timeout_s))
        return 0
    binary = os.path.abspath(opts.binary)
    # The serve cases hold thousands of client sockets; mcptop itself runs
    # with the limit the catalog was given.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    USER_NOFILE[:] = [soft, hard]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    base = tempfile.mkdtemp(prefix="mcptop-hostile-")
    print(row(COLUMNS))
    print(row("-" * w for w in WIDTHS))
    failed, notes = [], []
    for case in cases:
        ctx, out = run_case(binary, case, base)
        verdict = "FAIL" if out.problems else "pass"
        shown_code = "%d (want %d)" % (out.code, case.expect.exit)
        result = "%s (want %s)" % (out.result_ok, case.expect.result)
        rss = "%.0f MiB" % out.rss_mib
        print(row((case.name, shown_code, result, rss, out.leftovers, verdict)), flush=True)
        if out.problems:
            failed.append(case.name)
            notes.append("%s: %s (%.1f s; %s)" % (case.name, "; ".join(out.problems), out.wall_s, ctx.dir))
        for figure in out.figures:
            notes.append("%s: %s" % (case.name, figure))
        if not opts.keep and not out.problems:
            shutil.rmtree(ctx.dir, ignore_errors=True)
    print()
    for note in notes:
        print(note)
    print("\n%d of %d cases passed" % (len(cases) - len(failed), len(cases)))
    if not opts.keep and not failed:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

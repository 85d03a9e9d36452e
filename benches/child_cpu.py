"""Runs a command and writes the CPU time it used (user + system seconds) to
a file when it ends: `python3 benches/child_cpu.py OUT COMMAND ARGS...`.

A stdio server started by mcptop through this wrapper keeps its stdin and
stdout (inherited as they are). mcptop ends a session's process group with
SIGTERM; the wrapper survives it long enough to reap the server and write
its figure (GNU time would die of the same signal without writing)."""
import os
import signal
import subprocess
import sys

out, command = sys.argv[1], sys.argv[2:]
child = subprocess.Popen(command)
# The server got the group's TERM itself; the wrapper only waits for it.
signal.signal(signal.SIGTERM, lambda *_: None)
while True:
    try:
        _, _, usage = os.wait4(child.pid, 0)
        break
    except InterruptedError:
        continue
with open(out + ".tmp", "w") as f:
    f.write(f"{usage.ru_utime + usage.ru_stime:.6f}\n")
os.replace(out + ".tmp", out)

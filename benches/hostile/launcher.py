#!/usr/bin/env python3
"""A launcher in front of an MCP server, as `npx` or a wrapper script is:
starts the real server (stdio_peer.py echo) on its own stdin/stdout, plus a
worker process that does not read stdin, and waits for the server.

usage: launcher.py [--marker=TAG]
Both children carry the marker on their command line, so the catalog can
find them if they outlive the run.
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
marker = [a for a in sys.argv[1:] if a.startswith("--marker=")]
peer = os.path.join(here, "stdio_peer.py")
worker = subprocess.Popen([sys.executable, peer, "helper"] + marker, stdin=subprocess.DEVNULL)
server = subprocess.Popen([sys.executable, peer, "echo"] + marker)
sys.exit(server.wait())

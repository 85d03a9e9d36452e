#!/usr/bin/env bash
# The hostile catalog: every hostile case we know of (the hostile tests'
# peers as separate processes, one or more rows per item of issue 9) run
# against a release build of mcptop, one row each:
#
#   case | exit code | result file ok | peak RSS | leftover processes | pass/FAIL
#
# Each row states its expectation (exit code, a result file that is valid
# JSON or none, a peak-RSS bound, zero leftover processes of mcptop's) and
# runs under a timeout. Figures measured along the way (the 3000 half-sent
# HTTP heads) follow the table. Exit 0 when every row passes, 1 otherwise.
#
# Usage: benches/hostile_catalog.sh [--only SUBSTRING] [--list] [--keep]
#        MCPTOP=path/to/mcptop benches/hostile_catalog.sh   # skip the build
# Needs python3. Peak RSS is ru_maxrss of the mcptop process (wait4), which
# also covers the largest of its children it reaped. Leftovers are processes
# in mcptop's session or carrying the case's marker on their command line,
# still alive 3 s after mcptop exits (they are killed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MCPTOP:-}" ]; then
    cargo build --release --quiet --bin mcptop
    MCPTOP=${CARGO_TARGET_DIR:-target}/release/mcptop
fi
exec python3 benches/hostile/catalog.py "$MCPTOP" "$@"

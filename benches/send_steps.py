#!/usr/bin/env python3
"""Where an open-loop send's time goes (issue 17): reads the CSV that
MCPTOP_SEND_TRACE=<file> makes mcptop write and prints percentiles of each
step, in µs. Sends planned in the first `--skip` seconds (warm-up) are left out.

    MCPTOP_SEND_TRACE=/tmp/t.csv mcptop run w.toml ... ; python3 benches/send_steps.py /tmp/t.csv
"""
import csv
import sys


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    args = sys.argv[1:]
    skip = 1.0
    if len(args) >= 2 and args[0] == "--skip":
        skip = float(args[1])
        args = args[2:]
    rows = []
    with open(args[0]) as f:
        for r in csv.DictReader(f):
            r = {k: int(v) for k, v in r.items()}
            if r["planned_ns"] >= skip * 1e9:
                rows.append(r)
    if not rows:
        print("no rows")
        return
    base = rows[0]["planned_ns"]
    span = (rows[-1]["planned_ns"] - base) / 1e9 or 1
    print(f"{len(rows)} sends over {span:.1f} s ({len(rows) / span:.0f}/s)")
    steps = [
        ("pacer fired - planned", lambda r: r["fired_ns"] if r["fired_ns"] >= 0 else None),
        ("scheduler woke - fired", lambda r: r["woke_ns"] - r["fired_ns"] if r["fired_ns"] >= 0 else None),
        ("slot free - planned/woke", lambda r: r["slot_ns"] - max(r["woke_ns"], 0)),
        ("task ran (sent) - slot", lambda r: r["sent_ns"] - r["slot_ns"]),
        ("SEND LAG sent - planned", lambda r: r["sent_ns"]),
        ("written - sent (own task)", lambda r: r["written_ns"] - r["sent_ns"] if r.get("written_ns", -1) >= 0 else None),
        ("reply read - written", lambda r: r["done_ns"] - r["written_ns"] if r.get("written_ns", -1) >= 0 else None),
        ("reply read - sent (service)", lambda r: r["done_ns"] - r["sent_ns"]),
        ("task resumed - reply read", lambda r: r["recorded_ns"] - r["done_ns"]),
    ]
    print(f"{'step':30} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>9}  (µs)")
    for name, f in steps:
        vals = [v for v in (f(r) for r in rows) if v is not None]
        print(f"{name:30} " + " ".join(f"{pct(vals, q) / 1e3:8.1f}" for q in (0.5, 0.9, 0.99)) + f" {max(vals) / 1e3 if vals else 0:9.1f}  n={len(vals)}")
    if "written_ns" in rows[0]:
        queued = sum(1 for r in rows if r["written_ns"] < 0)
        print(f"written by the writer task, not the request's own (no written instant): {queued} ({100 * queued / len(rows):.1f} %)")
    waited = sum(1 for r in rows if r["woke_ns"] < 0)
    slot_wait = sum(1 for r in rows if r["slot_ns"] - max(r["woke_ns"], 0) > 5000)
    print(f"planned time already past at the scheduler (no pacer wait): {waited} ({100 * waited / len(rows):.1f} %)")
    print(f"waited > 5 µs for a slot (previous reply not yet recorded): {slot_wait} ({100 * slot_wait / len(rows):.1f} %)")
    # The previous request's whole cycle, planned -> recorded, against the gap.
    prev_late = sum(1 for a, b in zip(rows, rows[1:]) if a["planned_ns"] + a["recorded_ns"] > b["planned_ns"])
    print(f"previous send recorded after this one's planned time: {prev_late} ({100 * prev_late / len(rows):.1f} %)")


if __name__ == "__main__":
    main()

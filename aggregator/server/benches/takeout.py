#!/usr/bin/env python3
"""The takeout's speed and memory, side by side with DuckDB's own Parquet and CSV writers.

    hitkeep demo --data-dir /tmp/hk5m --hits 5000000 --days 90 --seed 1
    pip install duckdb
    python3 aggregator/server/benches/takeout.py /tmp/hk5m \
        --hitkeep ~/.cache/hitkeep-target/release/hitkeep --rounds 3

Each round runs `hitkeep export` of every site (no server: the command opens the database
itself, as an operator would with `serve` stopped) in each format, and, as the peer, DuckDB
1.x/2.x from PyPI copying the same events with the same joins (properties as a map, labels
for codes) to Parquet and CSV with `COPY ... TO` in a fresh process. Rounds alternate so
that the machine's changing speed hits both alike. Printed per format: median seconds, rows
per second, and the peak RSS of the process (from `wait4`), with the load average.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PEER = r"""
import sys, duckdb
db, out, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(db, read_only=True)
con.execute("SET threads = 2")
con.execute(f'''COPY (
  SELECT s.domain AS site, e.ts AS time, e.kind, e.name, e.hostname, e.path, e.referrer, e.source,
         e.channel, e.utm_source, e.utm_medium, e.utm_campaign, e.utm_content, e.utm_term,
         e.country, e.region, e.city, e.browser, e.browser_version, e.os, e.os_version, e.device,
         e.revenue_micros / 1e6 AS revenue, e.revenue_currency, e.interactive, p.props,
         lpad(lower(hex(e.visitor_id)), 16, '0') AS visitor_id,
         lpad(lower(hex(e.session_id)), 16, '0') AS session_id
  FROM events e JOIN sites s ON s.id = e.site_id
  LEFT JOIN (SELECT site_id, ts, session_id, name, map(list(key), list(value)) AS props
             FROM (SELECT site_id, ts, session_id, name, key, min(value) AS value FROM event_props GROUP BY ALL)
             GROUP BY ALL) p
    ON p.site_id = e.site_id AND p.ts = e.ts AND p.session_id = e.session_id AND p.name = e.name
  ORDER BY s.domain, e.ts, e.session_id
) TO '{out}' (FORMAT {fmt})''')
"""


def run(command):
    """Seconds and peak RSS (MiB) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()
    if status != 0:
        sys.exit(f"{command[0]} failed: {err.decode()}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--hitkeep", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default="parquet,csv,ndjson,json")
    args = parser.parse_args()
    formats = args.formats.split(",")
    work = tempfile.mkdtemp(prefix="hk-takeout-bench-")
    # The peer reads a copy: DuckDB opens a database one process at a time.
    results = {}
    rows = None
    for round_ in range(args.rounds):
        for fmt in formats:
            out = os.path.join(work, f"events.{fmt}")
            seconds, rss, text = run(
                [args.hitkeep, "export", "--data-dir", args.data_dir, "--output", out, "--quiet"]
            )
            rows = int(text.split()[1])
            results.setdefault(("hitkeep", fmt), []).append((seconds, rss, os.path.getsize(out)))
            if fmt in ("parquet", "csv"):
                peer_out = os.path.join(work, f"peer.{fmt}")
                db = os.path.join(args.data_dir, "hitkeep.db")
                seconds, rss, _ = run([sys.executable, "-c", PEER, db, peer_out, fmt])
                results.setdefault(("duckdb COPY", fmt), []).append((seconds, rss, os.path.getsize(peer_out)))
        print(f"round {round_ + 1} done, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(f"{rows:,} events, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    for (who, fmt), samples in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        seconds = statistics.median(s for s, _, _ in samples)
        rss = max(r for _, r, _ in samples)
        size = samples[-1][2]
        print(
            f"{fmt:8} {who:12} {seconds:6.2f} s  {rows / seconds / 1e6:5.2f} M rows/s  "
            f"peak RSS {rss:6.0f} MiB  file {size / 1e6:7.1f} MB"
        )


if __name__ == "__main__":
    main()

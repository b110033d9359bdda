#!/usr/bin/env python3
"""The dashboard's first view, side by side: Hitkeep's stats API against chDB (ClickHouse
in-process, what Plausible runs on) and plain SQL in DuckDB, on the same events.

    hitkeep demo --data-dir /tmp/hk10m --hits 10000000 --days 90 --seed 1
    pip install chdb duckdb
    python3 aggregator/server/benches/chdb_first_view.py /tmp/hk10m \
        --hitkeep ~/.cache/hitkeep-target/release/hitkeep --rounds 15

The first view is eleven queries on the largest site over its last 30 days (local days,
today included): top stats (six
metrics) and the same for the 30 days before, visitors per day, and eight breakdowns
(sources, pages, entry pages, exit pages, countries, devices, browsers, systems), nine rows
each. Hitkeep answers them over HTTP (`POST /api/sites/{domain}/stats`, one connection, one
after the other, as the numbers a dashboard shows). chDB and DuckDB answer the same
questions as plain SQL over the site's events (exported to Parquet, loaded into a
MergeTree table ordered by time for chDB), with visits folded by `GROUP BY session_id` and
`count(DISTINCT visitor_id)` per breakdown. Rounds alternate between the three, so that the
machine's changing speed hits them alike; the medians are printed, with the peak RSS of the
`hitkeep serve` process.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from zoneinfo import ZoneInfo



def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def largest_site(db_path):
    import duckdb

    con = duckdb.connect(db_path, read_only=True)
    site_id, events, last_ms = con.execute(
        "SELECT site_id, count(*), epoch_ms(max(ts)) FROM events GROUP BY site_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    domain, zone = con.execute("SELECT domain, timezone FROM sites WHERE id = ?", [site_id]).fetchone()
    con.close()
    return site_id, domain, zone, events, last_ms


def export_parquet(db_path, site_id, out):
    import duckdb

    con = duckdb.connect(db_path, read_only=True)
    con.execute(f"COPY (SELECT * FROM events WHERE site_id = {int(site_id)}) TO '{out}' (FORMAT parquet)")
    con.close()


def plain_queries(site_id, previous_ms, start_ms, end_ms, dialect):
    """The first view as plain SQL over `events`, in ClickHouse's or DuckDB's dialect."""
    ch = dialect == "clickhouse"
    ts = lambda ms: f"fromUnixTimestamp64Milli({ms})" if ch else f"make_timestamp({ms * 1000})"
    first = lambda col: f"argMin({col}, ts)" if ch else f"arg_min({col}, ts)"
    last = lambda col: f"argMax({col}, ts)" if ch else f"arg_max({col}, ts)"
    count_if = lambda cond: f"countIf({cond})" if ch else f"count(*) FILTER (WHERE {cond})"
    seconds = "dateDiff('second', st, en)" if ch else "date_diff('second', st, en)"
    day = "toDate(ts)" if ch else "CAST(ts AS DATE)"

    def where(s, e):
        return f"site_id = {site_id} AND ts >= {ts(s)} AND ts < {ts(e)} AND kind <> 2"

    def top(s, e):
        return (
            f"WITH s AS (SELECT session_id, any_value(visitor_id) AS v, min(ts) AS st, max(ts) AS en, "
            f"{count_if('kind = 0')} AS pv, {count_if('kind = 1 AND interactive')} AS ia "
            f"FROM events WHERE {where(s, e)} GROUP BY session_id) "
            f"SELECT count(DISTINCT v), count(*), sum(pv), sum(pv) / count(*), "
            f"100 * {count_if('pv <= 1 AND ia = 0')} / count(*), avg({seconds}) FROM s"
        ).replace("any_value(", "any(" if ch else "any_value(")

    def by_visit(expression):
        return (
            f"WITH s AS (SELECT session_id, any_value(visitor_id) AS v, {expression} AS d "
            f"FROM events WHERE {where(start_ms, end_ms)} GROUP BY session_id) "
            f"SELECT d, count(DISTINCT v) AS visitors, count(*) FROM s GROUP BY d ORDER BY visitors DESC LIMIT 9"
        ).replace("any_value(", "any(" if ch else "any_value(")

    def by_event(column):
        return (
            f"SELECT {column}, count(DISTINCT visitor_id) AS visitors, {count_if('kind = 0')} FROM events "
            f"WHERE {where(start_ms, end_ms)} GROUP BY {column} ORDER BY visitors DESC LIMIT 9"
        )

    return [
        top(start_ms, end_ms),
        top(previous_ms, start_ms),
        f"SELECT {day} AS d, count(DISTINCT visitor_id) FROM events WHERE {where(start_ms, end_ms)} GROUP BY d ORDER BY d",
        by_visit(first("source")),
        by_event("path"),
        by_visit(first("path")),
        by_visit(last("path")),
        by_event("country"),
        by_event("device"),
        by_event("browser"),
        by_event("os"),
    ]


def hitkeep_queries(start_date, end_date, previous_start, previous_end):
    top = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
    span = [start_date, end_date]
    queries = [
        {"metrics": top, "date_range": span},
        {"metrics": top, "date_range": [previous_start, previous_end]},
        {"metrics": ["visitors"], "date_range": span, "dimensions": ["time:day"]},
    ]
    for dimension, metrics in [
        ("visit:source", ["visitors"]),
        ("event:page", ["visitors", "pageviews", "bounce_rate"]),
        ("visit:entry_page", ["visitors", "visits"]),
        ("visit:exit_page", ["visitors", "visits"]),
        ("visit:country", ["visitors"]),
        ("visit:device", ["visitors"]),
        ("visit:browser", ["visitors"]),
        ("visit:os", ["visitors"]),
    ]:
        queries.append({"metrics": metrics, "date_range": span, "dimensions": [dimension], "pagination": {"limit": 9}})
    return queries


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir")
    parser.add_argument("--hitkeep", required=True, help="the hitkeep binary (a release build)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    import chdb.session
    import duckdb

    db_path = os.path.join(args.data_dir, "hitkeep.db")
    site_id, domain, zone, events, last_ms = largest_site(db_path)
    # The last 30 whole UTC days with events (the demo's sites differ in zone; the range is
    # the same instants for all three engines).
    # The last 30 days of the site's calendar, today included (the demo ends now), and the 30
    # before: local midnights, the same instants for all three engines.
    zoneinfo = ZoneInfo(zone)
    midnight = lambda date: int(dt.datetime.combine(date, dt.time.min, zoneinfo).timestamp() * 1000)
    end_date = dt.datetime.fromtimestamp(last_ms / 1000, zoneinfo).date() + dt.timedelta(days=1)
    start_date = end_date - dt.timedelta(days=30)
    previous_date = start_date - dt.timedelta(days=30)
    start_ms, end_ms, previous_ms = midnight(start_date), midnight(end_date), midnight(previous_date)
    work = tempfile.mkdtemp(prefix="hitkeep-chdb-")
    parquet = os.path.join(work, "events.parquet")
    export_parquet(db_path, site_id, parquet)
    in_range = duckdb.connect().execute(
        f"SELECT count(*) FROM '{parquet}' WHERE ts >= make_timestamp({start_ms * 1000}) AND ts < make_timestamp({end_ms * 1000})"
    ).fetchone()[0]
    print(f"site {domain} ({zone}): {events:,} events, {in_range:,} in the last 30 days")

    session = chdb.session.Session(os.path.join(work, "chdb"))
    session.query(
        f"CREATE TABLE events ENGINE = MergeTree ORDER BY (site_id, ts) AS SELECT * FROM file('{parquet}', Parquet)"
    )
    plain_duck = duckdb.connect()
    plain_duck.execute(f"CREATE TABLE events AS SELECT * FROM '{parquet}'")

    token_out = subprocess.run(
        [args.hitkeep, "token", "create", "--name", f"bench-{os.getpid()}", "--site", domain, "--scope", "read",
         "--data-dir", args.data_dir],
        check=True, capture_output=True, text=True,
    ).stdout
    token = token_out[token_out.index("hkt_"):].split()[0]
    port = free_port()
    server = subprocess.Popen(
        [args.hitkeep, "serve", "--data-dir", args.data_dir, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "wb"),
        env={**os.environ, "HITKEEP_NATS_LISTEN": "127.0.0.1:0"},
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", "/healthz")
                if connection.getresponse().read():
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("hitkeep serve did not come up")
            time.sleep(0.2)

        # The site's own days: the API resolves dates in the site's zone.
        one = dt.timedelta(days=1)
        ours = hitkeep_queries(str(start_date), str(end_date - one), str(previous_date), str(start_date - one))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        per_query = [[] for _ in ours]
        state = {"connection": connection}

        def post(body):
            """One query over the kept-alive connection (opened again if the server closed it)."""
            for attempt in range(2):
                try:
                    state["connection"].request(
                        "POST", f"/api/sites/{domain}/stats", body=json.dumps(body), headers=headers
                    )
                    response = state["connection"].getresponse()
                    return response.status, response.read()
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    if attempt:
                        raise
                    state["connection"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def run_hitkeep():
            for index, body in enumerate(ours):
                started = time.perf_counter()
                status, payload = post(body)
                per_query[index].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise SystemExit(f"hitkeep answered {status}: {payload[:300]!r}")

        ch_queries = plain_queries(site_id, previous_ms, start_ms, end_ms, "clickhouse")
        duck_queries = plain_queries(site_id, previous_ms, start_ms, end_ms, "duckdb")
        runs = {
            "hitkeep (HTTP API)": run_hitkeep,
            "chDB (plain SQL)": lambda: [session.query(sql) for sql in ch_queries],
            "DuckDB (plain SQL)": lambda: [plain_duck.execute(sql).fetchall() for sql in duck_queries],
        }
        for run in runs.values():  # warm every cache once
            run()
        times = {name: [] for name in runs}
        load_before = os.getloadavg()[0]
        for _ in range(args.rounds):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - started) * 1000)
        load_after = os.getloadavg()[0]
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"first view (11 queries), median of {args.rounds} alternating rounds, load {load_before:.1f} -> {load_after:.1f}:")
        for name, median in medians.items():
            spread = f"{min(times[name]):.0f}-{max(times[name]):.0f}"
            print(f"  {name:22} {median:8.1f} ms   (range {spread} ms)")
        names = ["top stats", "top stats, previous 30 days", "visitors per day"] + [
            body["dimensions"][0] for body in ours[3:]
        ]
        print("  hitkeep, each query over HTTP (median):")
        for name, values in zip(names, per_query):
            print(f"    {name:28} {statistics.median(values):6.1f} ms")
        rss_unfiltered = peak_rss_mib(server.pid)
        # The same view after a click on a source: every query filtered, so none is answered
        # from the daily rollups (Hitkeep alone).
        filtered = [{**body, "filters": [["is", "visit:source", ["Google"]]]} for body in ours]
        filtered_times = [[] for _ in filtered]
        for _ in range(max(3, args.rounds // 3)):
            for index, body in enumerate(filtered):
                started = time.perf_counter()
                post(body)
                filtered_times[index].append((time.perf_counter() - started) * 1000)
        medians_filtered = [statistics.median(values) for values in filtered_times]
        print(f"  hitkeep, the view filtered by visit:source = Google (read from the events): "
              f"{sum(medians_filtered):.0f} ms; each {min(medians_filtered):.0f}-{max(medians_filtered):.0f} ms")
        ratio = medians["chDB (plain SQL)"] / medians["hitkeep (HTTP API)"]
        print(f"  chDB / hitkeep: {ratio:.1f}x")
        print(f"  hitkeep serve peak RSS: {rss_unfiltered:.0f} MiB after the first views, "
              f"{peak_rss_mib(server.pid):.0f} MiB after the filtered ones")
    except Exception:
        with open(os.path.join(work, "serve.log"), "rb") as log:
            print(log.read()[-3000:].decode(errors="replace"))
        raise
    finally:
        server.terminate()
        server.wait(timeout=60)
        subprocess.run(
            [args.hitkeep, "token", "remove", f"bench-{os.getpid()}", "--data-dir", args.data_dir],
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

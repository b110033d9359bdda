"""Reads a Hitkeep takeout with tools independent of Hitkeep, and prints each row as one
canonical JSON object per line (time in microseconds, revenue in millionths, props as an
object), for the end-to-end test to compare with the events it sent.

    python3 takeout_read.py FORMAT FILE
    python3 takeout_read.py FORMAT URL TOKEN     # fetched with urllib, bearer token

Parquet is read with DuckDB's Python package (from PyPI, with its own Parquet reader),
CSV with the csv module, JSON and NDJSON with the json module.
"""

import csv
import datetime
import decimal
import io
import json
import sys
import urllib.request

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def micros(value):
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    else:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def amount(value):
    if value is None or value == "":
        return None
    return int(decimal.Decimal(str(value)) * 1_000_000)


def canonical(row):
    props = row.get("props")
    if isinstance(props, str):
        props = json.loads(props) if props else None
    if isinstance(props, list):  # DuckDB returns a MAP as a list of key/value pairs
        props = {entry["key"]: entry["value"] for entry in props}
    if isinstance(props, dict) and "key" in props and isinstance(props["key"], list):
        props = dict(zip(props["key"], props["value"]))
    out = {}
    for name, value in row.items():
        if value == "":
            value = None
        out[name] = value
    out["time"] = micros(row["time"])
    out["revenue"] = amount(row.get("revenue"))
    out["props"] = props or {}
    interactive = row["interactive"]
    out["interactive"] = interactive if isinstance(interactive, bool) else interactive == "true"
    out["schema_version"] = int(row["schema_version"])
    return out


def rows(fmt, data, path):
    if fmt == "parquet":
        import duckdb

        con = duckdb.connect()
        # The time as microseconds: no time zone library needed on the Python side.
        result = con.execute('SELECT * REPLACE (epoch_us("time") AS "time") FROM read_parquet(?)', [path])
        names = [d[0] for d in result.description]
        for values in result.fetchall():
            yield dict(zip(names, values))
    elif fmt == "csv":
        yield from csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    elif fmt == "json":
        yield from json.loads(data)
    elif fmt == "ndjson":
        for line in data.decode("utf-8").splitlines():
            if line.strip():
                yield json.loads(line)
    else:
        raise SystemExit(f"unknown format {fmt}")


def main():
    fmt, source = sys.argv[1], sys.argv[2]
    path = source
    if source.startswith("http"):
        request = urllib.request.Request(source, headers={"Authorization": f"Bearer {sys.argv[3]}"})
        with urllib.request.urlopen(request) as response:
            data = response.read()
            print(json.dumps({"rows_header": response.headers.get("x-export-rows")}))
        if fmt == "parquet":
            import tempfile

            downloaded = tempfile.NamedTemporaryFile(suffix=".parquet", delete=False)
            downloaded.write(data)
            downloaded.close()
            path = downloaded.name
    else:
        with open(source, "rb") as f:
            data = f.read()
    for row in rows(fmt, data, path):
        print(json.dumps(canonical(row), sort_keys=True, default=str))


if __name__ == "__main__":
    main()

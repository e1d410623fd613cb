"""`ctm backfill` as an operator runs it (one transaction per 30-day batch, the default) over a
year of events without impacts: the backfill function as migrated (JIT off, migration
20261206000400) vs the same function at the server's JIT default (how it ran before), alternated
in one run on one database. On PostgreSQL < 18 the function's enable_nestloop = off priced its
plans above jit_above_cost, so each batch was compiled by LLVM first; PostgreSQL 18 does not
price disabled plans that way, so there both variants should take the same time.

    python benchmarks/bench_backfill_batches.py [--server-url URL] [--events N] [--repeat N]
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import common
from bench_backfill import prepare

ROOT = Path(__file__).resolve().parents[1]
FUNCTION = (
    "public.backfill_customer_impacts_between(timestamptz, timestamptz, uuid, uuid, text, boolean)"
)
VARIANTS = {
    "JIT at the server default (before)": "RESET jit",
    "as migrated (jit off)": "SET jit = off",
}


def backfill_seconds(url: str, setting: str) -> tuple[float, str]:
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"ALTER FUNCTION {FUNCTION} {setting}")
            cur.execute("TRUNCATE event_customer_impact")
            cur.execute("VACUUM ANALYZE event_customer_impact")
    finally:
        conn.close()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ctm.cli", "backfill"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    created = next(line for line in done.stdout.splitlines() if line.startswith("impacts created"))
    return seconds, created


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--events", type=int, default=common.DEMO_GRID.events),
    )
    grid = dataclasses.replace(common.DEMO_GRID, events=args.events, seed=args.seed)
    runs: dict[str, list[float]] = {name: [] for name in VARIANTS}
    created_lines: set[str] = set()  # the summary line of every run: one if all agree
    with common.server(args.server_url) as server_url:
        print(
            f"PostgreSQL {common.server_version(server_url)}; {grid.events:,} events, "
            + common.load_line("start")
        )
        with common.temporary_database(server_url, "batches") as url:
            prepare(url, common.apply_ours, grid, common.event_rows(grid))
            conn = common.connect(url)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_jit_available()")
                print(f"JIT available on this server: {cur.fetchone()[0]}")
            conn.close()
            for round_number in range(args.repeat):
                order = list(VARIANTS.items())  # interleaved, first one alternating: AB BA AB
                for name, setting in order if round_number % 2 == 0 else order[::-1]:
                    seconds, created = backfill_seconds(url, setting)
                    runs[name].append(seconds)
                    created_lines.add(created)
            backfill_seconds(url, VARIANTS["as migrated (jit off)"])  # leave it as migrated
    rows = [
        [name, f"{common.median(times):.2f}", ", ".join(f"{t:.2f}" for t in times)]
        for name, times in runs.items()
    ]
    print(common.table(["variant", "median s", "all runs s"], rows))
    if len(created_lines) != 1:
        raise SystemExit(f"runs disagree on what they created: {created_lines}")
    print(created_lines.pop())
    before, after = (common.median(runs[name]) for name in VARIANTS)
    print(f"as migrated / before: {after / before:.2f}")


if __name__ == "__main__":
    main()

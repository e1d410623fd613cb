"""Backfill of 200,000 events starting from empty impacts: the plan's event-by-event DO block
(with its generate function, on its schema) vs ours `SELECT backfill_customer_impacts()`, then a
re-run of ours that finds nothing to do.

    python benchmarks/bench_backfill.py [--server-url URL] [--events N] [--repeat N]
"""

from __future__ import annotations

import dataclasses
import time

import common


def prepare(url: str, schema, grid: common.Grid, events: list[tuple]) -> None:
    """Schema, grid and events with no impacts, analysed like a database that has been running."""
    schema(url)
    common.load_grid(url, grid)
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "ALTER TABLE pq_events DISABLE TRIGGER trigger_auto_generate_customer_impacts"
            )
            common.copy_events(cur, events)
            cur.execute(
                "ALTER TABLE pq_events ENABLE TRIGGER trigger_auto_generate_customer_impacts"
            )
            cur.execute("TRUNCATE event_customer_impact")
            cur.execute("VACUUM ANALYZE")
            cur.execute("CHECKPOINT")
    finally:
        conn.close()


def timed(url: str, sql: str) -> float:
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            cur.execute(sql)
            return time.perf_counter() - t0
    finally:
        conn.close()


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--events", type=int, default=common.FULL_GRID.events),
    )
    grid = dataclasses.replace(common.FULL_GRID, events=args.events, seed=args.seed)
    events = common.event_rows(grid)
    runs: dict[str, list[float]] = {"plan loop": [], "ours": [], "ours re-run": []}
    impacts: dict[str, int] = {}
    with common.server(args.server_url) as server_url:
        print(
            f"PostgreSQL {common.server_version(server_url)}; {grid.events:,} events, "
            f"{grid.customers:,} customers over "
            f"{grid.substations * grid.circuits_per_substation:,} circuits"
        )
        for _ in range(args.repeat):
            with common.temporary_database(server_url, "plan") as url:
                prepare(url, common.apply_plan, grid, events)
                runs["plan loop"].append(timed(url, common.PLAN_BACKFILL_DO))
                impacts["plan loop"] = common.count(url, "event_customer_impact")
            with common.temporary_database(server_url, "ours") as url:
                prepare(url, common.apply_ours, grid, events)
                runs["ours"].append(timed(url, "SELECT public.backfill_customer_impacts()"))
                impacts["ours"] = common.count(url, "event_customer_impact")
                runs["ours re-run"].append(timed(url, "SELECT public.backfill_customer_impacts()"))
                impacts["ours re-run"] = common.count(url, "event_customer_impact")
    best = {name: min(times) for name, times in runs.items()}
    rows = [
        [name, f"{best[name]:.2f}", ", ".join(f"{t:.2f}" for t in runs[name]), f"{impacts[name]:,}"]
        for name in runs
    ]
    print(common.table(["variant", "best s", "all runs s", "impacts after"], rows))
    if len(set(impacts.values())) != 1:
        raise SystemExit(f"variants disagree on the impacts they produced: {impacts}")
    speedup = best["plan loop"] / best["ours"]
    rerun = best["ours re-run"] / best["ours"]
    print(
        f"ours vs plan loop: {speedup:.2f}x faster (goal >= 1.5x) "
        f"{'OK' if speedup >= 1.5 else 'MISSED'}"
    )
    print(f"re-run / first run: {rerun:.1%} (goal < 10 %) {'OK' if rerun < 0.10 else 'MISSED'}")


if __name__ == "__main__":
    main()

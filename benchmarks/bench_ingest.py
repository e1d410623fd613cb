"""Bulk ingest of 200,000 events by COPY: the plan's design vs ours vs the floor (ours with the
trigger disabled and one set-based INSERT ... SELECT of the impacts afterwards).

    python benchmarks/bench_ingest.py [--server-url URL] [--events N] [--repeat N]
"""

from __future__ import annotations

import dataclasses
import time

import common


def run_plan(url: str, events: list[tuple]) -> float:
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            cur.execute("BEGIN")
            common.copy_events(cur, events)
            cur.execute("COMMIT")
            return time.perf_counter() - t0
    finally:
        conn.close()


run_ours = run_plan  # same client work; the difference is all in the database


def run_floor(url: str, events: list[tuple]) -> float:
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "ALTER TABLE pq_events DISABLE TRIGGER trigger_auto_generate_customer_impacts"
            )
            t0 = time.perf_counter()
            cur.execute("BEGIN")
            common.copy_events(cur, events)
            cur.execute(common.FLOOR_INSERT)
            cur.execute("COMMIT")
            return time.perf_counter() - t0
    finally:
        conn.close()


VARIANTS = {
    "plan": (common.apply_plan, run_plan),
    "ours": (common.apply_ours, run_ours),
    "floor": (common.apply_ours, run_floor),
}


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--events", type=int, default=common.FULL_GRID.events),
    )
    grid = dataclasses.replace(common.FULL_GRID, events=args.events, seed=args.seed)
    events = common.event_rows(grid)
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    impacts: dict[str, int] = {}
    with common.server(args.server_url) as server_url:
        print(
            f"PostgreSQL {common.server_version(server_url)}; {grid.events:,} events, "
            f"{grid.customers:,} customers over "
            f"{grid.substations * grid.circuits_per_substation:,} circuits"
        )
        for _ in range(args.repeat):
            for name, (schema, run) in VARIANTS.items():
                with common.temporary_database(server_url, name) as url:
                    schema(url)
                    common.load_grid(url, grid)
                    common.checkpoint(url)
                    results[name].append(run(url, events))
                    impacts[name] = common.count(url, "event_customer_impact")
    best = {name: min(times) for name, times in results.items()}
    rows = [
        [
            name,
            f"{best[name]:.2f}",
            ", ".join(f"{t:.2f}" for t in results[name]),
            f"{impacts[name]:,}",
        ]
        for name in VARIANTS
    ]
    print(common.table(["variant", "best s", "all runs s", "impacts"], rows))
    if len(set(impacts.values())) != 1:
        raise SystemExit(f"variants disagree on the impacts they produced: {impacts}")
    speedup = best["plan"] / best["ours"]
    to_floor = best["ours"] / best["floor"]
    print(
        f"ours vs plan: {speedup:.2f}x faster (goal >= 1.5x) {'OK' if speedup >= 1.5 else 'MISSED'}"
    )
    print(f"ours / floor: {to_floor:.2f} (goal <= 1.2) {'OK' if to_floor <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    main()

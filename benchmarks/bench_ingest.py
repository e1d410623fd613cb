"""Bulk ingest of 200,000 events by COPY, impacts created in the same transaction: the current
schema vs round 1 (the migrations of commit f7fa19a, from git history) in a second database, run
interleaved in the same run, --repeat rounds (default 5); optionally (--all) the plan's design, the
floor (current schema, trigger disabled, one INSERT ... SELECT afterwards) and the current schema
without the analytics summary's insert triggers (what the summary costs); optionally (--marks) the
current schema without the customer summaries' mark triggers (what the marks cost).

    python benchmarks/bench_ingest.py [--server-url URL] [--events N] [--repeat N] [--all] [--marks]
"""

from __future__ import annotations

import dataclasses
import time

import common


def run_copy(url: str, events: list[tuple]) -> float:
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


def apply_ours_without_summary(url: str) -> None:
    """The current schema with the analytics summary's insert triggers disabled: what the summary
    costs a bulk load (issue 11)."""
    common.apply_ours(url)
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE pq_events DISABLE TRIGGER analytics_monthly_events_insert")
            cur.execute(
                "ALTER TABLE event_customer_impact DISABLE TRIGGER analytics_monthly_impacts_insert"
            )
    finally:
        conn.close()


def apply_ours_without_customer_marks(url: str) -> None:
    """The current schema without the triggers that mark events for the customer and circuit
    summaries (migration 20261206000200): what those marks cost a bulk load."""
    common.apply_ours(url)
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            for table, trigger in (
                ("pq_events", "analytics_customer_events_insert"),
                ("pq_events", "zz_analytics_customer_events_insert_done"),
                ("event_customer_impact", "analytics_customer_impacts_insert"),
            ):
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    finally:
        conn.close()


VARIANTS = {
    "round 1": (common.apply_round1, run_copy),
    "current": (common.apply_ours, run_copy),
}
EXTRA_VARIANTS = {
    "plan": (common.apply_plan, run_copy),
    "floor": (common.apply_ours, run_floor),
    "no summary": (apply_ours_without_summary, run_copy),
}
GOAL = 1.10


def main() -> None:
    def extra(p):
        p.add_argument("--events", type=int, default=common.FULL_GRID.events)
        p.add_argument("--all", action="store_true", help="also the plan's design and the floor")
        p.add_argument(
            "--marks", action="store_true", help="also the current schema without customer marks"
        )
        p.set_defaults(repeat=5)

    args = common.parse_args(__doc__.splitlines()[0], extra)
    grid = dataclasses.replace(common.FULL_GRID, events=args.events, seed=args.seed)
    events = common.event_rows(grid)
    variants = dict(VARIANTS, **(EXTRA_VARIANTS if args.all else {}))
    if args.marks:
        variants["no customer marks"] = (apply_ours_without_customer_marks, run_copy)
    results: dict[str, list[float]] = {name: [] for name in variants}
    impacts: dict[str, int] = {}
    print(common.load_line("started"))
    with common.server(args.server_url) as server_url:
        print(
            f"PostgreSQL {common.server_version(server_url)}; {grid.events:,} events, "
            f"{grid.customers:,} customers over "
            f"{grid.substations * grid.circuits_per_substation:,} circuits; "
            f"{args.repeat} rounds, variants interleaved in each"
        )
        for n in range(args.repeat):
            # Alternate the order so neither variant always runs first in a round.
            order = list(variants) if n % 2 == 0 else list(reversed(variants))
            for name in order:
                schema, run = variants[name]
                with common.temporary_database(server_url, name.replace(" ", "")) as url:
                    schema(url)
                    common.load_grid(url, grid)
                    common.checkpoint(url)
                    results[name].append(run(url, events))
                    impacts[name] = common.count(url, "event_customer_impact")
            print(
                f"  round {n + 1}: "
                + ", ".join(f"{name} {results[name][-1]:.2f} s" for name in variants)
                + f"  ({common.load_line('at').split('load average: ')[1]})"
            )
    median = {name: common.median(times) for name, times in results.items()}
    rows = [
        [
            name,
            f"{median[name]:.2f}",
            f"{min(results[name]):.2f}",
            ", ".join(f"{t:.2f}" for t in results[name]),
            f"{impacts[name]:,}",
        ]
        for name in variants
    ]
    print(common.table(["variant", "median s", "best s", "all runs s", "impacts"], rows))
    if len(set(impacts.values())) != 1:
        raise SystemExit(f"variants disagree on the impacts they produced: {impacts}")
    ratio = median["current"] / median["round 1"]
    paired = common.median(
        [c / r for c, r in zip(results["current"], results["round 1"], strict=True)]
    )
    print(
        f"current / round 1, median of runs: {ratio:.3f}; median of the per-round ratios:"
        f" {paired:.3f} (goal <= {GOAL}) {'OK' if ratio <= GOAL else 'MISSED'}"
    )
    if args.marks:
        marks = common.median(
            [c / n for c, n in zip(results["current"], results["no customer marks"], strict=True)]
        )
        print(
            f"current / no customer marks, median of runs:"
            f" {median['current'] / median['no customer marks']:.3f}; median of the per-round"
            f" ratios: {marks:.3f}"
        )
    if args.all:
        print(f"current / no summary: {median['current'] / median['no summary']:.3f}")
        print(f"current vs plan: {median['plan'] / median['current']:.2f}x faster")
        print(f"current / floor: {median['current'] / median['floor']:.2f}")
    print(common.load_line("finished"))


if __name__ == "__main__":
    main()

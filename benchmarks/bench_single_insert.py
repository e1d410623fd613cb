"""A live monitor: 2,000 events inserted one per statement (autocommit) on demo-sized data, each
with its impacts: the current schema vs round 1 (the migrations of commit f7fa19a, from git
history) vs the current schema with the impact trigger disabled; p50/p95/p99 latency.

The variants live in databases prepared alike and are driven in turns — one insert here, one
there — so that whatever else the machine is doing slows all of them equally. --repeat rounds
(default 5), each with fresh databases; the medians over the rounds are reported.

    python benchmarks/bench_single_insert.py [--server-url URL] [--inserts N] [--repeat N] [--rated]

The generated events carry a magnitude but no remaining voltage, so the summary rates only the
interruptions among them (residual 0). --rated gives every live dip and interruption a residual
of 10-95 % and every swell one of 105-150 %: half the events then take the summary's full upsert
(SARFI, ride-through), the costliest path.
"""

from __future__ import annotations

import dataclasses
import time

import common

INSERT = (
    f"INSERT INTO pq_events ({common.EVENT_COLUMNS}, remaining_voltage)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
EXPLAIN = "EXPLAIN (ANALYZE, TIMING OFF) " + INSERT
WARM_UP = 100
VARIANTS = ("current", "round 1", "trigger disabled")
P50_GOAL = 1.25


def residual(event_type: str, rated: bool, n: int) -> float | None:
    """The remaining voltage (%) of the n-th live event: none unless --rated."""
    if not rated or event_type not in ("voltage_dip", "voltage_swell", "interruption"):
        return None
    if event_type == "voltage_swell":
        return 105 + (n * 7.3) % 45
    return 10 + (n * 13.7) % 85


def prepare(url: str, grid: common.Grid, preload: list[tuple], *, trigger: bool, schema=None):
    """A database with the demo-sized grid and events; returns an autocommit connection to it."""
    (schema or common.apply_ours)(url)
    common.load_grid(url, grid)
    conn = common.connect(url)
    with conn.cursor() as cur:
        common.copy_events(cur, preload)
        cur.execute("VACUUM ANALYZE")
        if not trigger:
            cur.execute(
                "ALTER TABLE pq_events DISABLE TRIGGER trigger_auto_generate_customer_impacts"
            )
        cur.execute("CHECKPOINT")
    return conn


def one_round(conns: dict, rows: list[tuple]) -> dict[str, tuple[list[float], list[float]]]:
    """Per variant: client milliseconds per INSERT (round trip and commit included) and server
    milliseconds (EXPLAIN ANALYZE execution time of the same kind of insert: triggers included, no
    round trip, no commit — the part a busy machine's scheduler and disk disturb least)."""
    cursors = {name: conn.cursor() for name, conn in conns.items()}
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in conns}
    for row in rows[:WARM_UP]:
        for cur in cursors.values():
            cur.execute(INSERT, row)
    for row in rows[WARM_UP:]:
        for name, cur in cursors.items():
            t0 = time.perf_counter()
            cur.execute(INSERT, row)
            out[name][0].append((time.perf_counter() - t0) * 1000)
    for row in rows[WARM_UP:]:
        for name, cur in cursors.items():
            cur.execute(EXPLAIN, row)
            last = cur.fetchall()[-1][0]  # "Execution Time: 0.123 ms"
            out[name][1].append(float(last.split(":")[1].split()[0]))
    return out


def main() -> None:
    def extra(p):
        p.add_argument("--inserts", type=int, default=2_000)
        p.add_argument("--rated", action="store_true", help="live events with a residual voltage")
        p.set_defaults(repeat=5)

    args = common.parse_args(__doc__.splitlines()[0], extra)
    grid = dataclasses.replace(common.DEMO_GRID, seed=args.seed)
    preload = common.event_rows(grid)
    live = [
        (*row, residual(row[0], args.rated, n))
        for n, row in enumerate(
            common.event_rows(
                dataclasses.replace(grid, events=args.inserts + WARM_UP), seed_offset=1
            )
        )
    ]
    rounds: list[dict[str, tuple[list[float], list[float]]]] = []
    impacts: dict[str, int] = {}
    print(common.load_line("started"))
    with common.server(args.server_url) as server_url:
        print(
            f"PostgreSQL {common.server_version(server_url)}; demo-sized data: "
            f"{grid.customers:,} customers over "
            f"{grid.substations * grid.circuits_per_substation} circuits, "
            f"{grid.events:,} events preloaded; {args.inserts:,} single-row INSERTs (autocommit)"
            f" per variant and round, {args.repeat} rounds"
            + ("; live dips, swells and interruptions with a residual" if args.rated else "")
        )
        for n in range(args.repeat):
            with (
                common.temporary_database(server_url, "single_current") as current,
                common.temporary_database(server_url, "single_round1") as round1,
                common.temporary_database(server_url, "single_off") as off,
            ):
                conns = {
                    "current": prepare(current, grid, preload, trigger=True),
                    "round 1": prepare(
                        round1, grid, preload, trigger=True, schema=common.apply_round1
                    ),
                    "trigger disabled": prepare(off, grid, preload, trigger=False),
                }
                if n % 2:  # alternate who goes first in each turn
                    conns = dict(reversed(list(conns.items())))
                try:
                    rounds.append(one_round(conns, live))
                finally:
                    for conn in conns.values():
                        conn.close()
                impacts = {
                    name: common.count(url, "event_customer_impact")
                    for name, url in (("current", current), ("round 1", round1))
                }
            r = rounds[-1]
            print(
                f"  round {n + 1}: p50 "
                + ", ".join(f"{name} {common.percentile(r[name][0], 50):.3f}" for name in VARIANTS)
                + " ms; p99 "
                + ", ".join(f"{name} {common.percentile(r[name][0], 99):.3f}" for name in VARIANTS)
                + f" ms ({common.load_line('at').split('load average: ')[1]})"
            )
    if impacts["current"] != impacts["round 1"]:
        raise SystemExit(f"current and round 1 disagree on the impacts they produced: {impacts}")

    def med(name: str, which: int, p: float) -> float:
        return common.median([common.percentile(r[name][which], p) for r in rounds])

    rows = []
    for name in VARIANTS:
        rows.append(
            [name]
            + [f"{med(name, 0, p):.3f}" for p in (50, 95, 99)]
            + [f"{common.median([max(r[name][0]) for r in rounds]):.3f}"]
            + [f"{med(name, 1, p):.3f}" for p in (50, 99)]
        )
    headers = ["variant", "p50 ms", "p95 ms", "p99 ms", "max ms", "server p50", "server p99"]
    print(common.table(headers, rows))
    print(
        "Medians over the rounds. p50..max: client-side, round trip and commit included; server:"
        " EXPLAIN ANALYZE execution time of as many more inserts (trigger included, no commit)."
        f" {impacts['current'] / (grid.events + WARM_UP + 2 * args.inserts):.1f} impacts per"
        " event."
    )
    p50_ratio = med("current", 0, 50) / med("round 1", 0, 50)
    server_ratio = med("current", 1, 50) / med("round 1", 1, 50)
    p99 = med("current", 0, 99)
    print(
        f"p50 current / round 1: {p50_ratio:.3f} (goal <= {P50_GOAL})"
        f" {'OK' if p50_ratio <= P50_GOAL else 'MISSED'}; server p50 ratio {server_ratio:.3f};"
        f" p99 current {p99:.3f} ms (goal < 2 ms) {'OK' if p99 < 2 else 'MISSED'}"
    )
    print(common.load_line("finished"))


if __name__ == "__main__":
    main()

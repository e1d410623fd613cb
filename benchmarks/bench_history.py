"""History speed: the History page's first page + exact count (`ctm.history.list_history`, 50 rows,
as a viewer under row-level security) over 1,000,000 history rows for each filter, and the
past-events preview (`ctm.mappings.past_events`) of a mapping on a circuit with 5,000 events.

    python benchmarks/bench_history.py [--server-url URL] [--runs 20] [--output PATH]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import common  # also puts the repository on sys.path
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc
from ctm.history import SYSTEM, HistoryFilter, list_history

HERE = Path(__file__).resolve().parent
HISTORY_ROWS = 1_000_000
CUSTOMERS = 50_000
SUBSTATIONS = 30
USERS = 20
CIRCUIT_EVENTS = 5_000
OTHER_EVENTS = 50_000
CIRCUIT_MAPPINGS = 40
PAGE = 50


def build_history(url: str) -> dict:
    """Substations, customers, users and 1,000,000 history rows spread over two years (written
    directly as the owner: the triggers' own speed is measured by the ingest benchmarks)."""
    engine = db.get_engine(url)
    with db.owner_transaction(engine, source="cli") as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            sa.text(
                "INSERT INTO substations (name, code) SELECT 'Substation ' || g, 'S' || g"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": SUBSTATIONS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO profiles (full_name, role) SELECT 'User ' || g,"
                " (ARRAY['admin','operator','viewer'])[1 + g % 3] FROM generate_series(1, :n) AS g"
            ),
            {"n": USERS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name) SELECT 'AC' || lpad(g::text, 6, '0'),"
                " 'Customer ' || g FROM generate_series(1, :n) AS g"
            ),
            {"n": CUSTOMERS},
        )
        conn.execute(
            sa.text(
                """
                WITH s AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n
                           FROM substations),
                     c AS (SELECT id, row_number() OVER (ORDER BY account_number) - 1 AS n
                           FROM customers),
                     p AS (SELECT id, row_number() OVER (ORDER BY full_name) - 1 AS n
                           FROM profiles),
                     g AS (SELECT g FROM generate_series(1, :rows) AS g)
                INSERT INTO audit_log (table_name, row_id, action, old_values, new_values,
                                       changed_by, changed_at, source, batch_id,
                                       substation_id, customer_id)
                SELECT 'customer_transformer_matching', md5(g::text)::uuid::text,
                       (ARRAY['INSERT','UPDATE','UPDATE','DELETE'])[1 + g % 4],
                       jsonb_build_object('circuit_id', 'H' || (g % 12), 'active', true,
                                          'substation_id', s.id, 'customer_id', c.id),
                       jsonb_build_object('circuit_id', 'H' || ((g + 1) % 12), 'active', g % 7 > 0,
                                          'substation_id', s.id, 'customer_id', c.id),
                       CASE WHEN g % 10 = 0 THEN NULL ELSE p.id END,
                       now() - make_interval(secs => (g * 63)::double precision),
                       (ARRAY['app','import','cli','sql'])[1 + g % 4],
                       CASE WHEN g % 4 = 1 THEN md5('batch' || (g / 5000))::uuid END,
                       s.id, c.id
                FROM g
                JOIN s ON s.n = g.g % :subs
                JOIN c ON c.n = g.g % :customers
                JOIN p ON p.n = g.g % :users
                """
            ),
            {"rows": HISTORY_ROWS, "subs": SUBSTATIONS, "customers": CUSTOMERS, "users": USERS},
        )
        row = conn.execute(
            sa.text(
                "SELECT row_id, customer_id, substation_id, batch_id FROM audit_log"
                " WHERE batch_id IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).one()
        user = conn.scalar(sa.text("SELECT id FROM profiles ORDER BY full_name LIMIT 1"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE audit_log"))
    return {"row": row, "user": user}


def build_circuit(url: str) -> dict:
    """One circuit with 5,000 events over three years and 40 customers mapped before them, plus
    50,000 events elsewhere; then a new customer is mapped with no start date."""
    engine = db.get_engine(url)
    with db.owner_transaction(engine, source="cli") as conn:
        sub = conn.scalar(
            sa.text("INSERT INTO substations (name, code) VALUES ('Bench', 'BEN') RETURNING id")
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " SELECT id, :s, 'H1' FROM customers ORDER BY account_number LIMIT :n"
            ),
            {"s": sub, "n": CIRCUIT_MAPPINGS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") SELECT :s, 'H1', (ARRAY['critical','high','low'])[1 + g % 3],"
                " 1000 + g, now() - make_interval(hours => g * 5) FROM generate_series(1, :n) g"
            ),
            {"s": sub, "n": CIRCUIT_EVENTS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") SELECT :s, 'H' || (2 + g % 10), 'low', 500,"
                " now() - make_interval(hours => g) FROM generate_series(1, :n) g"
            ),
            {"s": sub, "n": OTHER_EVENTS},
        )
        customer = conn.scalar(
            sa.text("SELECT id FROM customers ORDER BY account_number DESC LIMIT 1")
        )
        admin = conn.scalar(sa.text("SELECT id FROM profiles WHERE role = 'admin' LIMIT 1"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE pq_events, event_customer_impact"))
    who = db.Identity(user_id=admin, username="admin", role="admin")
    change = svc.connect_mapping(engine, who, customer, sub, "H1")
    return {"mapping": change.mapping, "who": who, "customer": customer}


def timed(fn, runs: int):
    fn()  # warm-up
    times = []
    result = None
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
            p.add_argument("--output", default=str(HERE / "RESULTS_history.md")),
        ),
    )
    with (
        common.server(args.server_url) as server_url,
        common.temporary_database(server_url, "history") as url,
    ):
        common.apply_ours(url)
        t0 = time.perf_counter()
        ids = build_history(url)
        load_s = time.perf_counter() - t0
        engine = db.get_engine(url)
        with db.owner_transaction(engine) as conn:
            viewer = conn.scalar(sa.text("SELECT id FROM profiles WHERE role = 'viewer' LIMIT 1"))
            total_rows = conn.scalar(sa.text("SELECT count(*) FROM audit_log"))
        who = db.Identity(user_id=viewer, username="viewer", role="viewer")
        row = ids["row"]
        today = date.today()
        cases = [
            ("none (newest first)", HistoryFilter()),
            ("who = one user", HistoryFilter(who=ids["user"])),
            ("who = system", HistoryFilter(who=SYSTEM)),
            (
                "table + action",
                HistoryFilter(table_name="customer_transformer_matching", action="DELETE"),
            ),
            ("substation", HistoryFilter(substation_id=row.substation_id)),
            ("customer", HistoryFilter(customer_id=row.customer_id)),
            ("row id (a mapping's history)", HistoryFilter(row_id=row.row_id)),
            ("batch", HistoryFilter(batch_id=row.batch_id)),
            ("last 30 days", HistoryFilter(date_from=today - timedelta(days=30))),
            (
                "substation + last 30 days + action",
                HistoryFilter(
                    substation_id=row.substation_id,
                    date_from=today - timedelta(days=30),
                    action="UPDATE",
                ),
            ),
        ]
        load_before = os.getloadavg()[0]
        results = []
        for label, f in cases:
            times, page = timed(lambda f=f: list_history(engine, who, f, limit=PAGE), args.runs)
            results.append(
                [
                    label,
                    f"{page.total:,}",
                    f"{statistics.median(times):.1f}",
                    f"{common.percentile(times, 95):.1f}",
                ]
            )
            print(" | ".join(results[-1]), file=sys.stderr)

        t0 = time.perf_counter()
        circuit = build_circuit(url)
        circuit_s = time.perf_counter() - t0
        mapping = circuit["mapping"]
        add_times, preview = timed(
            lambda: svc.past_events(engine, circuit["who"], mapping.id, "add"), args.runs
        )
        assert preview.count == CIRCUIT_EVENTS, preview.count
        # The reverse: apply, end the mapping 500 days ago, preview the events after that day.
        svc.apply_past_events(engine, circuit["who"], preview)
        svc.end_mapping(
            engine, circuit["who"], mapping.id, mapping.version, today - timedelta(days=500)
        )
        remove_times, reverse = timed(
            lambda: svc.past_events(engine, circuit["who"], mapping.id, "remove"), args.runs
        )
        apply_times, _ = timed(lambda: svc.apply_past_events(engine, circuit["who"], reverse), 3)
        version = common.server_version(url)
        load_after = os.getloadavg()[0]
        db.dispose_engines()

    server = "embedded PostgreSQL" if not args.server_url else "PostgreSQL at --server-url"
    command = " ".join(["python", "benchmarks/bench_history.py", *sys.argv[1:]])
    md = [
        "# History page and past-events preview",
        "",
        f"Command: `{command}`",
        "",
        (
            f"{total_rows:,} history rows (written by SQL in {load_s:.1f} s: two years, {USERS} users,"
            f" {SUBSTATIONS} substations, {CUSTOMERS:,} customers), {server} {version}. Each call is"
            f" `ctm.history.list_history` as a viewer under row-level security: the first page of"
            f" {PAGE} rows with names looked up and 'what changed' written, plus the exact count,"
            f" in one REPEATABLE READ transaction, timed from Python; {args.runs} runs after one"
            " warm-up. Goal: < 200 ms."
        ),
        "",
        "| filter | matches | median ms | p95 ms |",
        "|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in results),
        "",
        (
            f"Past-events preview (`ctm.mappings.past_events`, as an admin): a circuit with"
            f" {CIRCUIT_EVENTS:,} events over {CIRCUIT_EVENTS * 5 // 24:,} days and"
            f" {CIRCUIT_MAPPINGS} mapped customers (their {CIRCUIT_EVENTS * CIRCUIT_MAPPINGS:,}"
            f" impacts), {OTHER_EVENTS:,} events on the substation's other circuits (built in"
            f" {circuit_s:.1f} s). Goal: < 300 ms."
        ),
        "",
        "| preview | events | median ms | p95 ms |",
        "|---|---|---|---|",
        (
            f"| add: a new mapping (no start date) | {preview.count:,} |"
            f" {statistics.median(add_times):.1f} | {common.percentile(add_times, 95):.1f} |"
        ),
        (
            f"| remove: ended 500 days ago | {reverse.count:,} |"
            f" {statistics.median(remove_times):.1f} | {common.percentile(remove_times, 95):.1f} |"
        ),
        "",
        (
            f"Applying the reverse preview ({reverse.count:,} impacts removed, then 0 on the"
            f" repeats): first {apply_times[0]:.0f} ms (3 calls after a warm-up that did the work)."
            if apply_times
            else ""
        ),
        "",
        (
            f"Machine load average (1 min): {load_before:.1f} before the history runs, "
            f"{load_after:.1f} after (2 CPUs shared with other work)."
        ),
        "",
    ]
    Path(args.output).write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()

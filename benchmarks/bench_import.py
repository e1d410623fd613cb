"""Bulk import speed: a 50,000-row .xlsx of mappings (new customers, new mappings for known
customers, ended mappings, unchanged rows) previewed and applied as an operator under RLS on the
embedded server, against the grid's per-row services for the same kind of rows; then the applied
import is undone from its batch (preview, then the undo itself).

Wall-clock times on a shared machine follow its load; the CPU seconds spent by this process and
by the database server (every process of a server on this machine, exited workers included) are
printed beside them and compare runs made at different loads.

The per-row baseline (one transaction per row: insert the customer when new, then
mappings.create_mapping / mappings.deactivate_mapping, as the grid's dialogs do) runs on a sample
of the rows (--per-row-sample, default 2,000, same mix) and is extrapolated linearly to the file;
--per-row-sample 0 runs it on every row.

    python benchmarks/bench_import.py [--server-url URL] [--rows 50000] [--per-row-sample 2000]
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from pathlib import Path

import common
import pandas as pd
import sqlalchemy as sa

from ctm import db, mappings
from ctm.excel import frames_to_xlsx
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import apply_import, preview_import
from ctm.imports.undo import preview_undo, undo_import

SUBSTATIONS, CIRCUITS = 200, 20


def prepare(url: str, existing: int, seed: int) -> tuple[db.Identity, dict]:
    """Substations, registered circuits, `existing` customers with one current mapping each and
    an operator; returns the operator and the grid's names."""
    common.apply_ours(url)
    engine = sa.create_engine(db._sqlalchemy_url(url))
    rng = random.Random(seed)
    operator = db.Identity(user_id=uuid.uuid4(), username="bench-operator", role="operator")
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO profiles (id, full_name, role) VALUES (:id, 'Bench', 'operator')"),
            {"id": operator.user_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO substations (name, code) SELECT 'Substation ' || g, 'S' || g"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": SUBSTATIONS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO substation_circuits (substation_id, circuit_id)"
                " SELECT s.id, 'H' || c FROM substations AS s, generate_series(1, :c) AS c"
            ),
            {"c": CIRCUITS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name, customer_type)"
                " SELECT lpad(g::text, 8, '0'), 'Customer ' || g, 'commercial'"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": existing},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " SELECT c.id, s.id, 'H' || (1 + (c.account_number::int / :s) % :c)"
                " FROM customers AS c JOIN substations AS s"
                "  ON s.code = 'S' || (1 + c.account_number::int % :s)"
            ),
            {"c": CIRCUITS, "s": SUBSTATIONS},
        )
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    del rng
    return operator, {}


def file_rows(rows: int, existing: int, seed: int) -> pd.DataFrame:
    """The file: 40 % unchanged, 10 % ended, 20 % new mappings of known customers, 30 % new
    customers, shuffled."""
    rng = random.Random(seed)
    out = []
    unchanged, ended, moved = int(rows * 0.4), int(rows * 0.1), int(rows * 0.2)
    known = rng.sample(range(1, existing + 1), unchanged + ended + moved)
    for k, n in enumerate(known):
        place = f"S{1 + n % SUBSTATIONS}"
        circuit = 1 + (n // SUBSTATIONS) % CIRCUITS
        if k >= unchanged + ended:  # a second circuit for a known customer
            circuit = 1 + (circuit % CIRCUITS)
        out.append(
            {
                "Account number": f"{n:08d}",
                "Customer name": f"Customer {n}",
                "Substation": place,
                "Circuit": f"H{circuit}",
                "Active": "no" if unchanged <= k < unchanged + ended else "yes",
            }
        )
    for n in range(rows - len(out)):
        out.append(
            {
                "Account number": f"N{n:07d}",
                "Customer name": f"New customer {n}",
                "Substation": f"Substation {1 + n % SUBSTATIONS}",
                "Circuit": f"h{1 + n % CIRCUITS}",
                "Active": "",
            }
        )
    rng.shuffle(out)
    return pd.DataFrame(out)


def per_row(engine, operator: db.Identity, frame: pd.DataFrame) -> float:
    """The grid's way: one service call (and transaction) per row. Returns seconds."""
    with engine.connect() as conn:
        substations = dict(conn.execute(sa.text("SELECT code, id FROM substations")).all())
        substations.update(dict(conn.execute(sa.text("SELECT name, id FROM substations")).all()))
    started = time.perf_counter()
    for row in frame.itertuples(index=False):
        account, name, place, circuit, active = row
        substation_id = substations[place]
        circuit = circuit.strip().upper()
        with db.user_transaction(engine, operator) as conn:
            customer = conn.execute(
                sa.text("SELECT id FROM customers WHERE account_number = :a"), {"a": account}
            ).scalar()
            if customer is None:
                customer = conn.execute(
                    sa.text(
                        "INSERT INTO customers (account_number, name, critical_customer)"
                        " VALUES (:a, :n, true) RETURNING id"
                    ),
                    {"a": account, "n": name},
                ).scalar()
            current = conn.execute(
                sa.text(
                    "SELECT id, version FROM customer_transformer_matching WHERE customer_id = :c"
                    " AND substation_id = :s AND circuit_id = :k AND active"
                ),
                {"c": customer, "s": substation_id, "k": circuit},
            ).first()
        if active == "no" and current is not None:
            mappings.deactivate_mapping(engine, operator, current.id, current.version)
        elif active != "no" and current is None:
            mappings.create_mapping(engine, operator, customer, substation_id, circuit)
    return time.perf_counter() - started


def server_cpu(engine) -> float | None:
    """CPU seconds used so far by the server `engine` talks to: the postmaster and its children
    (live ones and, through the postmaster's cutime, exited ones). None when the server is not a
    process of this machine."""
    with engine.connect() as conn:
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    try:
        postmaster = _stat(backend)[1]
        total = sum(_stat(postmaster)[2:])
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = _stat(int(entry))
                except OSError:
                    continue
                if fields[1] == postmaster:
                    total += sum(fields[2:])
    except OSError:
        return None
    return total / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, ...]:
    """(pid, ppid, utime, stime, cutime, cstime) of a process from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (pid, int(fields[1]), *(int(v) for v in fields[11:15]))


def cpu_now(engine) -> tuple[float, float | None]:
    return time.process_time(), server_cpu(engine)


def cpu_text(before: tuple[float, float | None], after: tuple[float, float | None]) -> str:
    client = after[0] - before[0]
    server = "?" if before[1] is None or after[1] is None else f"{after[1] - before[1]:.2f}"
    return f"{client:.2f} + {server}"


def clone(server_url: str, template: str, name: str) -> str:
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return common._with_database(server_url, name)


def main() -> None:
    args = common.parse_args(
        __doc__.split("\n\n")[0],
        extra=lambda p: (
            p.add_argument("--rows", type=int, default=50_000),
            p.add_argument("--existing", type=int, default=60_000),
            p.add_argument("--per-row-sample", type=int, default=2_000),
        ),
    )
    with (
        common.server(args.server_url) as server_url,
        common.temporary_database(server_url, "import") as url,
    ):
        operator, _ = prepare(url, args.existing, args.seed)
        frame = file_rows(args.rows, args.existing, args.seed)
        folder = Path(tempfile.mkdtemp(prefix="ctm-bench-import-"))
        path = folder / "mappings.xlsx"
        path.write_bytes(frames_to_xlsx([("Mappings", frame, None)]))
        size = path.stat().st_size
        template = sa.engine.make_url(db._sqlalchemy_url(url)).database
        db.dispose_engines()
        results = []
        apply_url = clone(server_url, template, template + "_apply")
        row_url = clone(server_url, template, template + "_rows")
        engine = db.get_engine(url)
        load = os.getloadavg()[0]
        for repeat in range(args.repeat):
            c0 = cpu_now(engine)
            t0 = time.perf_counter()
            table = read_import_file(path, kinds.MAPPINGS)
            t1 = time.perf_counter()
            preview = preview_import(engine, operator, table)
            t2 = time.perf_counter()
            used = cpu_text(c0, cpu_now(engine))
            results.append(("preview", t1 - t0, t2 - t1, t2 - t0, preview, used))
        apply_engine = db.get_engine(apply_url)
        c0 = cpu_now(apply_engine)
        t0 = time.perf_counter()
        table = read_import_file(path, kinds.MAPPINGS)
        t1 = time.perf_counter()
        applied = apply_import(apply_engine, operator, table)
        t2 = time.perf_counter()
        apply_cpu = cpu_text(c0, cpu_now(apply_engine))
        undo_plan = preview_undo(apply_engine, operator, applied.batch_id)
        t3 = time.perf_counter()
        undone = undo_import(apply_engine, operator, applied.batch_id)
        t4 = time.perf_counter()
        best = min(results, key=lambda r: r[3])
        sample = frame if args.per_row_sample <= 0 else frame.head(args.per_row_sample)
        row_engine = db.get_engine(row_url)
        c0 = cpu_now(row_engine)
        row_seconds = per_row(row_engine, operator, sample)
        row_cpu = cpu_text(c0, cpu_now(row_engine))
        per_row_total = row_seconds * len(frame) / len(sample)
        db.dispose_engines()
        for name in (template + "_apply", template + "_rows"):
            admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    p = best[4]
    extrapolated = " → extrapolated" if len(sample) < len(frame) else ""
    print(
        f"PostgreSQL {common.server_version(url) if args.server_url else 'embedded'};"
        f" load average at start {load:.1f}"
    )
    print(
        f"file: {len(frame):,} rows, {size / 1e6:.1f} MB .xlsx; existing: {args.existing:,}"
        " customers with one current mapping each"
    )
    print(f"outcome: {p.summary_line()}; applied: {applied.summary_line()}")
    print(f"undo: {undone.summary_line()} (preview: {undo_plan.summary_line()})")
    print(
        common.table(
            ["step", "read", "match / write", "total", "CPU s (this process + server)", "goal"],
            [
                [
                    f"preview (best of {args.repeat})",
                    f"{best[1]:.2f} s",
                    f"{best[2]:.2f} s",
                    f"{best[3]:.2f} s",
                    best[5],
                    "< 5 s",
                ],
                [
                    "apply",
                    f"{t1 - t0:.2f} s",
                    f"{t2 - t1:.2f} s",
                    f"{t2 - t0:.2f} s",
                    apply_cpu,
                    "< 10 s",
                ],
                ["undo preview", "", f"{t3 - t2:.2f} s", f"{t3 - t2:.2f} s", "", ""],
                ["undo", "", f"{t4 - t3:.2f} s", f"{t4 - t3:.2f} s", "", ""],
                [
                    f"per-row services ({len(sample):,} rows{extrapolated})",
                    "",
                    f"{row_seconds:.2f} s",
                    f"{per_row_total:.1f} s",
                    f"{row_cpu} ({len(sample):,} rows)",
                    "",
                ],
            ],
        )
    )
    print(f"ratio: per-row / set-based apply = {per_row_total / (t2 - t0):.0f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

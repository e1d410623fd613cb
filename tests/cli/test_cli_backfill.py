"""`ctm backfill`: batches over time, the printed summary equals what SQL finds, a re-run creates
nothing, --since limits the events, events without a place are not scanned."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from clihelpers import rows, run_ctm, scalar

from ctm import db

SEVERITIES = ["critical", "high", "medium", "low", None, "unknown"]


@pytest.fixture
def events_without_impacts(engine):
    """Two substations, 40 events over ~200 days, mappings added after the events (so the
    trigger made no impacts), plus events without substation or circuit."""
    with db.owner_transaction(engine) as conn:
        north, south = (
            conn.scalar(
                sa.text("INSERT INTO substations (name) VALUES (:n) RETURNING id"), {"n": n}
            )
            for n in ("North", "South")
        )
        for i in range(40):
            conn.execute(
                sa.text(
                    "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity,"
                    " duration_ms) VALUES (TIMESTAMPTZ '2025-01-01 12:00+00' + :d * interval"
                    " '5 days', :s, :c, :sev, :ms)"
                ),
                {
                    "d": i,
                    "s": north if i % 2 else south,
                    "c": f"H{i % 3 + 1}",
                    "sev": SEVERITIES[i % len(SEVERITIES)],
                    "ms": 1000 * i,
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity) VALUES"
                " ('2025-02-01', NULL, 'H1', 'critical'), ('2025-02-02', :s, NULL, 'critical')"
            ),
            {"s": north},
        )
        for k in range(6):
            cust = conn.scalar(
                sa.text(
                    "INSERT INTO customers (account_number, name) VALUES (:a, :n) RETURNING id"
                ),
                {"a": f"AC-{k}", "n": f"Customer {k}"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                    " circuit_id, active) VALUES (:c, :s, :h, :a)"
                ),
                {"c": cust, "s": north if k < 3 else south, "h": f"H{k % 3 + 1}", "a": k != 5},
            )
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    return engine


EXPECTED = """
    SELECT public.impact_level_for_severity(e.severity), count(*)
    FROM pq_events e JOIN customer_transformer_matching m
      ON m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id AND m.active
    WHERE e.timestamp >= :since GROUP BY 1"""


def _summary(stdout: str) -> dict[str, int]:
    scanned = re.search(r"events scanned:\s+([\d,]+)", stdout).group(1)
    m = re.search(
        r"impacts created: ([\d,]+) \(severe ([\d,]+), moderate ([\d,]+), minor ([\d,]+)\)", stdout
    )
    n = [int(x.replace(",", "")) for x in m.groups()]
    return {
        "events": int(scanned.replace(",", "")),
        "created": n[0],
        "severe": n[1],
        "moderate": n[2],
        "minor": n[3],
    }


def test_summary_matches_sql_and_rerun_creates_nothing(events_without_impacts, db_url):
    engine = events_without_impacts
    expected = dict(rows(engine, EXPECTED, since="-infinity"))
    result = run_ctm("backfill", "--batch-days", "7", url=db_url)
    assert result.returncode == 0, result.stderr
    summary = _summary(result.stdout)
    assert summary["events"] == 40  # the two events without a place are not scanned
    assert summary["created"] == sum(expected.values()) > 0
    for level in ("severe", "moderate", "minor"):
        assert summary[level] == expected.get(level, 0)
    stored = dict(
        rows(engine, "SELECT impact_level, count(*) FROM event_customer_impact GROUP BY 1")
    )
    assert stored == expected
    # Downtime follows the rule: 90 000 ms → 1.50 min.
    assert rows(
        engine,
        "SELECT DISTINCT i.estimated_downtime_min = round(e.duration_ms / 60000.0, 2)"
        " FROM event_customer_impact i JOIN pq_events e ON e.id = i.event_id",
    ) == [(True,)]

    again = run_ctm("backfill", url=db_url)
    assert again.returncode == 0, again.stderr
    assert _summary(again.stdout) == {
        "events": 40,
        "created": 0,
        "severe": 0,
        "moderate": 0,
        "minor": 0,
    }
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == sum(expected.values())


def test_batch_size_does_not_change_the_result(events_without_impacts, db_url):
    engine = events_without_impacts
    one_batch = _summary(run_ctm("backfill", "--batch-days", "3650", url=db_url).stdout)
    fingerprint = scalar(
        engine,
        "SELECT md5(string_agg(concat_ws(',', event_id, customer_id,"
        " impact_level), '|' ORDER BY event_id, customer_id))"
        " FROM event_customer_impact",
    )
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM event_customer_impact"))
    daily = _summary(run_ctm("backfill", "--batch-days", "1", url=db_url).stdout)
    assert daily == one_batch
    assert fingerprint == scalar(
        engine,
        "SELECT md5(string_agg(concat_ws(',', event_id,"
        " customer_id, impact_level), '|' ORDER BY event_id, customer_id))"
        " FROM event_customer_impact",
    )


def test_since_limits_the_events(events_without_impacts, db_url):
    engine = events_without_impacts
    result = run_ctm("backfill", "--since", "2025-04-01", url=db_url)
    assert result.returncode == 0, result.stderr
    summary = _summary(result.stdout)
    assert summary["events"] == scalar(
        engine,
        "SELECT count(*) FROM pq_events WHERE timestamp >= '2025-04-01'"
        " AND substation_id IS NOT NULL AND circuit_id IS NOT NULL",
    )
    expected = dict(rows(engine, EXPECTED, since="2025-04-01"))
    assert summary["created"] == sum(expected.values()) > 0
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM event_customer_impact i JOIN pq_events e"
            " ON e.id = i.event_id WHERE e.timestamp < '2025-04-01'",
        )
        == 0
    )


def test_an_empty_database_has_nothing_to_scan(engine, db_url):
    result = run_ctm("backfill", url=db_url)
    assert result.returncode == 0, result.stderr
    assert "no events to scan" in result.stdout
    assert _summary(result.stdout)["created"] == 0


def test_bad_options_are_refused(db_url):
    assert run_ctm("backfill", "--batch-days", "0", url=db_url).returncode == 2
    bad_date = run_ctm("backfill", "--since", "yesterday", url=db_url)
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr


# Scope, dry run and validity ---------------------------------------------------------------------


def _summary_any(stdout: str) -> dict[str, int]:
    return _summary(stdout.replace("impacts to create:", "impacts created:"))


def test_dry_run_counts_by_level_and_writes_nothing(events_without_impacts, db_url):
    engine = events_without_impacts
    dry = run_ctm("backfill", "--dry-run", url=db_url)
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing written" in dry.stdout
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    real = run_ctm("backfill", url=db_url)
    assert _summary_any(dry.stdout) == _summary(real.stdout)
    assert _summary(real.stdout)["created"] > 0


def test_customer_scope_creates_only_that_customers_impacts(events_without_impacts, db_url):
    engine = events_without_impacts
    result = run_ctm("backfill", "--customer", "AC-1", url=db_url)
    assert result.returncode == 0, result.stderr
    created = _summary(result.stdout)["created"]
    per_customer = rows(
        engine,
        "SELECT c.account_number, count(*) FROM event_customer_impact i"
        " JOIN customers c ON c.id = i.customer_id GROUP BY 1",
    )
    assert per_customer == [("AC-1", created)] and created > 0
    # Events scanned: those on circuits AC-1 is mapped to (north / H2).
    assert _summary(result.stdout)["events"] == scalar(
        engine,
        "SELECT count(*) FROM pq_events e JOIN substations s ON s.id = e.substation_id"
        " WHERE s.name = 'North' AND e.circuit_id = 'H2'",
    )


def test_substation_by_name_or_code_and_circuit_scope(events_without_impacts, db_url):
    engine = events_without_impacts
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("UPDATE substations SET code = 'STH' WHERE name = 'South'"))
    by_code = run_ctm("backfill", "--substation", "sth", "--circuit", " h1", url=db_url)
    assert by_code.returncode == 0, by_code.stderr
    made = rows(
        engine,
        "SELECT DISTINCT s.name, e.circuit_id FROM event_customer_impact i"
        " JOIN pq_events e ON e.id = i.event_id JOIN substations s ON s.id = e.substation_id",
    )
    assert made == [("South", "H1")]
    by_name = run_ctm("backfill", "--substation", "north", url=db_url)
    assert by_name.returncode == 0, by_name.stderr
    assert {
        r[0]
        for r in rows(
            engine,
            "SELECT DISTINCT s.name FROM event_customer_impact i"
            " JOIN pq_events e ON e.id = i.event_id JOIN substations s ON s.id = e.substation_id",
        )
    } == {"North", "South"}


def test_backfill_honours_validity_dates(events_without_impacts, db_url):
    """A mapping ended on 2025-03-01 gets the impacts of the events before that day only."""
    engine = events_without_impacts
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching m SET active = false,"
                " disconnected_on = '2025-03-01' FROM customers c"
                " WHERE c.id = m.customer_id AND c.account_number = 'AC-0'"
            )
        )
    result = run_ctm("backfill", "--customer", "AC-0", url=db_url)
    assert result.returncode == 0, result.stderr
    latest = scalar(
        engine,
        "SELECT max(e.timestamp) FROM event_customer_impact i JOIN pq_events e"
        " ON e.id = i.event_id",
    )
    assert latest is not None and latest.isoformat() < "2025-03-01"
    assert _summary(result.stdout)["created"] == scalar(
        engine,
        "SELECT count(*) FROM pq_events e JOIN substations s ON s.id = e.substation_id"
        " WHERE s.name = 'North' AND e.circuit_id = 'H1' AND e.timestamp < '2025-03-01'",
    )


def test_unknown_scope_is_refused_by_name(events_without_impacts, db_url):
    for args, words in [
        (("--customer", "NOPE"), "no customer with account number 'NOPE'"),
        (("--substation", "Atlantis"), "no substation named or coded 'Atlantis'"),
    ]:
        result = run_ctm("backfill", *args, url=db_url)
        assert result.returncode != 0
        assert words in result.stderr
    assert scalar(events_without_impacts, "SELECT count(*) FROM event_customer_impact") == 0

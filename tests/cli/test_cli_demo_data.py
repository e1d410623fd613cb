"""`ctm demo-data`: the demo grid's size and realism, determinism per seed, refusal without
--force, and --force replacing only the rows an earlier demo-data created."""

from __future__ import annotations

import re
import time

import bcrypt
import pytest
import sqlalchemy as sa
from clihelpers import rows, run_ctm, scalar

from ctm import db, users

AS_OF = "2026-06-30"


def _load(url: str, *extra: str):
    started = time.perf_counter()
    result = run_ctm("demo-data", "--as-of", AS_OF, *extra, url=url)
    return result, time.perf_counter() - started


def _snapshot(engine) -> dict[str, str]:
    """One fingerprint per table over every column that demo-data decides."""
    queries = {
        "substations": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM substations t",
        "customers": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM customers t",
        "mappings": "SELECT md5(string_agg(t::text, '|' ORDER BY id))"
        " FROM customer_transformer_matching t",
        "events": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM pq_events t",
        "impacts": "SELECT md5(string_agg(concat_ws(',', event_id, customer_id, impact_level,"
        " estimated_downtime_min), '|' ORDER BY event_id, customer_id))"
        " FROM event_customer_impact",
        "profiles": "SELECT md5(string_agg(concat_ws(',', id, role, full_name, email), '|'"
        " ORDER BY id)) FROM profiles",
    }
    return {name: scalar(engine, sql) for name, sql in queries.items()}


@pytest.fixture
def demo_db(db_url):
    result, seconds = _load(db_url)
    assert result.returncode == 0, result.stderr
    return db_url, result, seconds


def test_demo_grid_has_the_promised_size_and_mix(demo_db):
    url, result, _seconds = demo_db
    engine = db.get_engine(url)
    assert scalar(engine, "SELECT count(*) FROM substations") == 30
    assert scalar(engine, "SELECT count(*) FROM customers") == 3000
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching") == 2500
    inactive = scalar(engine, "SELECT count(*) FROM customer_transformer_matching WHERE NOT active")
    assert 100 <= inactive <= 150  # ~5 %
    assert scalar(engine, "SELECT count(*) FROM pq_events") == 20000
    circuits = scalar(
        engine,
        "SELECT count(*) FROM (SELECT substation_id, circuit_id FROM pq_events UNION"
        " SELECT substation_id, circuit_id FROM customer_transformer_matching) c",
    )
    assert circuits == 300
    assert rows(engine, "SELECT DISTINCT circuit_id ~ '^H[0-9]+$' FROM pq_events") == [(True,)]
    # Blind spots exist: some circuits have events but no active mapping.
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM (SELECT DISTINCT substation_id, circuit_id FROM pq_events) e"
            " WHERE NOT EXISTS (SELECT 1 FROM customer_transformer_matching m WHERE m.active"
            " AND m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id)",
        )
        > 0
    )

    # The summary reports exactly what the database holds.
    impacts = scalar(engine, "SELECT count(*) FROM event_customer_impact")
    assert impacts > 50_000
    printed = re.search(r"impacts\s+([\d,]+)", result.stdout).group(1)
    assert int(printed.replace(",", "")) == impacts
    # Every impact is what the trigger makes of a mapping that applied on the event's date
    # (ended demo mappings still count for the events before their end).
    assert impacts == scalar(
        engine,
        "SELECT count(*) FROM pq_events e CROSS JOIN LATERAL mappings_applying("
        "e.substation_id, e.circuit_id, ctm_local_date(e.timestamp)) m",
    )
    ended = scalar(
        engine,
        "SELECT count(*) FROM customer_transformer_matching"
        " WHERE NOT active AND disconnected_on IS NOT NULL",
    )
    assert ended >= inactive - 5  # the demo's inactive mappings are ended periods

    severity = dict(
        rows(engine, "SELECT severity, count(*) * 100.0 / 20000 FROM pq_events GROUP BY 1")
    )
    for level, share in {"low": 45, "medium": 30, "high": 18, "critical": 7}.items():
        assert abs(float(severity[level]) - share) < 2.5, (level, severity[level])
    types = dict(rows(engine, "SELECT event_type, count(*) FROM pq_events GROUP BY 1"))
    assert max(types, key=types.get) == "voltage_dip"
    assert set(types) == {
        "voltage_dip",
        "voltage_swell",
        "harmonic",
        "interruption",
        "transient",
        "flicker",
    }
    lo, hi, dip_median, cut_median = rows(
        engine,
        "SELECT min(duration_ms), max(duration_ms),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)"
        "   FILTER (WHERE event_type = 'voltage_dip'),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)"
        "   FILTER (WHERE event_type = 'interruption') FROM pq_events",
    )[0]
    assert lo >= 20 and hi <= 600_000
    assert cut_median > 50 * dip_median  # interruptions last far longer than dips
    first, last = rows(engine, "SELECT min(timestamp), max(timestamp) FROM pq_events")[0]
    assert (last - first).days >= 360
    assert last.date().isoformat() <= AS_OF
    assert {c for (c,) in rows(engine, "SELECT DISTINCT customer_type FROM customers")} == {
        "industrial",
        "commercial",
        "residential",
    }
    assert rows(engine, "SELECT DISTINCT account_number ~ '^AC-[0-9]{6}$' FROM customers") == [
        (True,)
    ]
    voltages = {v for (v,) in rows(engine, "SELECT DISTINCT voltage_level FROM substations")}
    assert voltages == {"132kV", "33kV", "11kV"}
    # Around one city (Hong Kong).
    assert rows(engine, "SELECT min(latitude) > 22, max(latitude) < 23 FROM substations") == [
        (True, True)
    ]


def test_demo_users_can_log_in_and_are_shown_only_in_a_demo_database(demo_db, db_url):
    url, result, _ = demo_db
    engine = db.get_engine(url)
    logins = users.demo_logins(engine)
    assert [(u, r) for u, _, r in logins] == [
        ("admin", "admin"),
        ("operator", "operator"),
        ("viewer", "viewer"),
    ]
    creds = users.login_credentials(engine)["usernames"]
    for username, password, role in logins:
        assert bcrypt.checkpw(password.encode(), creds[username]["password"].encode())
        assert creds[username]["roles"] == [role]
        assert f"login {username} / {password}" in result.stdout
        assert users.identity_for(engine, username).role == role
    # Mappings carry a real editor.
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching m JOIN ctm_private.user_credentials c"
            " ON c.profile_id = m.updated_by WHERE c.username IN ('admin', 'operator')",
        )
        == 2500
    )


def test_no_demo_logins_in_a_database_not_made_by_demo_data(engine):
    users.add_user(engine, "admin", "admin", "a-real-password")
    assert users.demo_logins(engine) == []


def test_refuses_without_force_and_changes_nothing(demo_db):
    url, _, _ = demo_db
    engine = db.get_engine(url)
    before = _snapshot(engine)
    result, _ = _load(url)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "already holds 30 substations, 3,000 customers, 2,500 mappings and 20,000 events" in line
    assert "--force" in line
    assert _snapshot(engine) == before


def test_refuses_a_database_with_only_foreign_rows(engine, db_url):
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO customers (account_number, name) VALUES ('X-1', 'Mine')"))
    result, _ = _load(db_url)
    assert result.returncode == 2
    assert "already holds 1 customers" in result.stderr


def test_same_seed_with_force_gives_identical_rows_and_another_seed_does_not(demo_db):
    url, _, _ = demo_db
    engine = db.get_engine(url)
    first = _snapshot(engine)
    again, _ = _load(url, "--force")
    assert again.returncode == 0, again.stderr
    # 30 substations, 300 circuits, 300 meters, 3,000 customers, 2,500 mappings, 20,000 events.
    assert "removed 26,130 rows of the earlier demo data" in again.stdout
    assert _snapshot(engine) == first
    other, _ = _load(url, "--force", "--seed", "7")
    assert other.returncode == 0, other.stderr
    changed = _snapshot(engine)
    assert changed["events"] != first["events"] and changed["customers"] != first["customers"]
    assert scalar(engine, "SELECT count(*) FROM pq_events") == 20000


def test_force_keeps_rows_it_did_not_create(demo_db):
    url, _, _ = demo_db
    engine = db.get_engine(url)
    with db.owner_transaction(engine) as conn:
        sub = conn.scalar(
            sa.text(
                "INSERT INTO substations (name, code) VALUES ('Foreign Sub', 'FOREIGN') RETURNING id"
            )
        )
        cust = conn.scalar(
            sa.text(
                "INSERT INTO customers (account_number, name) VALUES ('F-1', 'Foreign Co') RETURNING id"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H1')"
            ),
            {"c": cust, "s": sub},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity, duration_ms)"
                " VALUES (now(), :s, 'H1', 'critical', 90000)"
            ),
            {"s": sub},
        )
    users.add_user(engine, "alice", "operator", "alice-password")
    # The demo admin edited the foreign mapping and changed its own password since.
    admin_id = users.identity_for(engine, "admin").user_id
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET updated_by = :a WHERE customer_id = :c"
            ),
            {"a": admin_id, "c": cust},
        )
    users.set_password(engine, "admin", "changed-by-hand")
    assert [u for u, _, _ in users.demo_logins(engine)] == ["operator", "viewer"]
    foreign = """
        SELECT (SELECT count(*) FROM substations WHERE code = 'FOREIGN'),
               (SELECT count(*) FROM customers WHERE account_number = 'F-1'),
               (SELECT count(*) FROM customer_transformer_matching m JOIN customers c
                  ON c.id = m.customer_id WHERE c.account_number = 'F-1'),
               (SELECT count(*) FROM pq_events e JOIN substations s ON s.id = e.substation_id
                  WHERE s.code = 'FOREIGN'),
               (SELECT string_agg(impact_level || ':' || estimated_downtime_min, ',')
                  FROM event_customer_impact i JOIN customers c ON c.id = i.customer_id
                  WHERE c.account_number = 'F-1')"""
    before = rows(engine, foreign)
    assert before == [(1, 1, 1, 1, "severe:1.50")]

    result, _ = _load(url, "--force")
    assert result.returncode == 0, result.stderr
    assert rows(engine, foreign) == before
    assert users.identity_for(engine, "alice").role == "operator"
    # Demo users are reset in place: same profile, so the foreign mapping still names its editor.
    assert users.identity_for(engine, "admin").user_id == admin_id
    assert (
        scalar(
            engine,
            "SELECT updated_by FROM customer_transformer_matching WHERE customer_id = :c",
            c=cust,
        )
        == admin_id
    )
    assert [u for u, _, _ in users.demo_logins(engine)] == ["admin", "operator", "viewer"]
    creds = users.login_credentials(engine)["usernames"]["admin"]
    assert bcrypt.checkpw(b"admin-demo", creds["password"].encode())
    assert scalar(engine, "SELECT count(*) FROM substations") == 31
    assert scalar(engine, "SELECT count(*) FROM pq_events") == 20001


def test_force_refuses_when_foreign_rows_depend_on_demo_rows(demo_db):
    url, _, _ = demo_db
    engine = db.get_engine(url)
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity)"
                " SELECT now(), id, 'H1', 'low' FROM substations ORDER BY code LIMIT 1"
            )
        )
    before = _snapshot(engine)
    result, _ = _load(url, "--force")
    assert result.returncode == 2
    assert "1 events not made by demo-data are on demo substations" in result.stderr
    assert _snapshot(engine) == before


def test_a_real_user_named_admin_is_left_alone(engine, db_url):
    users.add_user(engine, "admin", "viewer", "my-own-password", full_name="Real Admin")
    result, _ = _load(db_url)
    assert result.returncode == 0, result.stderr
    assert "user admin already existed and was left unchanged" in result.stdout
    assert [u for u, _, _ in users.demo_logins(engine)] == ["operator", "viewer"]
    creds = users.login_credentials(engine)["usernames"]["admin"]
    assert creds["name"] == "Real Admin" and creds["roles"] == ["viewer"]
    assert bcrypt.checkpw(b"my-own-password", creds["password"].encode())

"""Mapping validity (DESIGN.md "Mapping validity"): the one rule mapping_applies_on, used alike by
the insert trigger, the update trigger, generate_customer_impacts_for_event and the backfills; the
period rules the database enforces whoever writes; the stored time zone decides an event's date;
max_mapped_customers refuses one more current mapping."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from dbhelpers import add_event, impacts, pgcode, run, scalar

from ctm import db

INSERT_MAPPING = (
    "INSERT INTO customer_transformer_matching"
    " (customer_id, substation_id, circuit_id, active, connected_since, disconnected_on)"
    " VALUES (:c, :s, :k, :a, :since, :until) RETURNING id"
)


def add_mapping(engine, customer, substation, circuit, active=True, since=None, until=None):
    return scalar(
        engine,
        INSERT_MAPPING,
        c=customer,
        s=substation,
        k=circuit,
        a=active,
        since=since,
        until=until,
    )


def mapping(engine, mapping_id) -> sa.Row:
    return run(engine, "SELECT * FROM customer_transformer_matching WHERE id = :i", i=mapping_id)[0]


def event_at(engine, substation, circuit, at, severity="high") -> object:
    return scalar(
        engine,
        'INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms, "timestamp")'
        " VALUES (:s, :c, :sev, 60000, :t) RETURNING id",
        s=substation,
        c=circuit,
        sev=severity,
        t=at,
    )


def today(engine) -> date:
    return scalar(engine, "SELECT ctm_local_date(now())")


def set_zone(engine, zone: str) -> None:
    run(engine, "UPDATE ctm_settings SET value = :z WHERE key = 'time_zone'", z=zone)


# The rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "since", "until", "day", "applies"),
    [
        (True, None, None, "2020-01-01", True),
        (False, None, None, "2020-01-01", False),  # inserted inactive without dates: nothing
        (True, "2025-03-01", None, "2025-02-28", False),
        (True, "2025-03-01", None, "2025-03-01", True),  # first day included
        (False, None, "2025-03-01", "2025-02-28", True),  # ended rows still count before the end
        (False, None, "2025-03-01", "2025-03-01", False),  # end day excluded
        (True, "2025-01-01", "2025-03-01", "2025-02-01", True),
        (False, "2025-01-01", "2025-03-01", "2024-12-31", False),
    ],
)
def test_mapping_applies_on(engine, active, since, until, day, applies):
    got = scalar(
        engine,
        "SELECT mapping_applies_on(:a, CAST(:s AS date), CAST(:u AS date), CAST(:d AS date))",
        a=active,
        s=since,
        u=until,
        d=day,
    )
    assert got is applies


def test_rule_is_one_inlinable_sql_function(engine):
    row = run(
        engine,
        "SELECT l.lanname, p.provolatile, p.prosecdef, p.proconfig FROM pg_proc p"
        " JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'mapping_applies_on'",
    )
    assert [tuple(r) for r in row] == [("sql", "i", False, None)]
    # Written once: the impact writers reach it through mappings_applying, nobody copies it.
    bodies = run(
        engine,
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proname IN ('trigger_generate_customer_impacts',"
        " 'trigger_regenerate_customer_impacts', 'generate_customer_impacts_for_event',"
        " 'backfill_customer_impacts_between', 'mappings_applying')",
    )
    for name, body in bodies:
        if name == "mappings_applying":
            assert "mapping_applies_on" in body
        else:
            assert "mappings_applying" in body and "disconnected_on" not in body, name


# The same answer from every writer ---------------------------------------------------------------


@pytest.fixture
def periods(engine, grid):
    """North/H4: p (until 2025-06-01), q (from 2025-06-01), r (2025-03-01 .. 2025-09-01),
    s inserted inactive without dates, t active without dates."""
    out = {}
    for key, active, since, until in [
        ("p", False, None, "2025-06-01"),
        ("q", True, "2025-06-01", None),
        ("r", False, "2025-03-01", "2025-09-01"),
        ("s", False, None, None),
        ("t", True, None, None),
    ]:
        customer = scalar(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:a, :a) RETURNING id",
            a=f"P-{key}",
        )
        add_mapping(engine, customer, grid.north, "H4", active, since, until)
        out[key] = customer
    return out


DAYS = {
    "2025-01-15T12:00Z": "pt",
    "2025-04-01T12:00Z": "prt",
    "2025-06-01T00:00Z": "qrt",
    "2025-10-01T12:00Z": "qt",
}


def expected(periods, keys: str) -> set:
    return {periods[k] for k in keys}


def test_insert_trigger_single_and_multi_row_follow_the_rule(engine, grid, periods):
    for at, keys in DAYS.items():
        assert set(impacts(engine, event_at(engine, grid.north, "H4", at))) == expected(
            periods, keys
        )
    ids = run(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, \"timestamp\") SELECT :n, 'H4', t"
        ' FROM unnest(CAST(:ts AS timestamptz[])) AS t RETURNING id, "timestamp"',
        n=grid.north,
        ts=list(DAYS),
    )
    by_day = {
        r.timestamp.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ"): r.id for r in ids
    }
    for at, keys in DAYS.items():
        assert set(impacts(engine, by_day[at])) == expected(periods, keys)


def test_generate_and_backfill_give_what_the_trigger_gives(engine, grid, periods):
    events = {at: event_at(engine, grid.north, "H4", at) for at in DAYS}
    triggered = {at: impacts(engine, e) for at, e in events.items()}
    run(engine, "TRUNCATE event_customer_impact")
    for e in events.values():
        run(engine, "SELECT generate_customer_impacts_for_event(:e)", e=e)
    assert {at: impacts(engine, e) for at, e in events.items()} == triggered
    run(engine, "TRUNCATE event_customer_impact")
    created = scalar(engine, "SELECT backfill_customer_impacts()")
    assert {at: impacts(engine, e) for at, e in events.items()} == triggered
    assert created == sum(len(v) for v in triggered.values()) == 10


def test_correcting_the_timestamp_regenerates_the_impacts(engine, grid, periods):
    event = event_at(engine, grid.north, "H4", "2025-01-15T12:00Z")
    assert set(impacts(engine, event)) == expected(periods, "pt")
    run(engine, "UPDATE pq_events SET \"timestamp\" = '2025-10-01T12:00Z' WHERE id = :e", e=event)
    assert set(impacts(engine, event)) == expected(periods, "qt")


def test_moving_an_event_uses_the_rule_on_the_new_circuit(engine, grid, periods):
    event = event_at(engine, grid.north, "H1", "2025-04-01T12:00Z")
    run(engine, "UPDATE pq_events SET circuit_id = 'H4' WHERE id = :e", e=event)
    assert set(impacts(engine, event)) == expected(periods, "prt")


def test_a_late_event_of_last_year_counts_a_mapping_ended_last_month(engine, grid):
    now = today(engine)
    ended = now.replace(day=1) - timedelta(days=10)
    customer = grid.d
    add_mapping(engine, customer, grid.north, "H6", False, None, ended)
    late = event_at(engine, grid.north, "H6", f"{now.year - 1}-07-01T12:00Z")
    assert set(impacts(engine, late)) == {customer}
    assert impacts(engine, add_event(engine, grid.north, "H6")) == {}


def test_row_inserted_inactive_without_dates_counts_for_nothing(engine, grid):
    # grid.e is such a row on north/H1.
    for at in ("2000-01-01T00:00Z", "2025-06-01T00:00Z"):
        assert grid.e not in impacts(engine, event_at(engine, grid.north, "H1", at))
    assert (
        scalar(
            engine,
            "SELECT generate_customer_impacts_for_event(:e)",
            e=add_event(engine, grid.north, "H1"),
        )
        == 0
    )
    run(engine, "TRUNCATE event_customer_impact")
    run(engine, "SELECT backfill_customer_impacts()")
    assert (
        scalar(
            engine, "SELECT count(*) FROM event_customer_impact WHERE customer_id = :c", c=grid.e
        )
        == 0
    )


def test_the_stored_time_zone_decides_the_event_date(engine, grid):
    """2026-01-01T17:00Z is 2026-01-02 in Hong Kong: a mapping connected since 2026-01-02 applies
    there, not in UTC."""
    add_mapping(engine, grid.d, grid.north, "H7", True, "2026-01-02", None)
    utc_event = event_at(engine, grid.north, "H7", "2026-01-01T17:00Z")
    assert impacts(engine, utc_event) == {}
    set_zone(engine, "Asia/Hong_Kong")
    hk_event = event_at(engine, grid.north, "H7", "2026-01-01T17:00Z")
    assert set(impacts(engine, hk_event)) == {grid.d}
    assert scalar(engine, "SELECT generate_customer_impacts_for_event(:e)", e=utc_event) == 1
    run(engine, "DELETE FROM event_customer_impact")
    assert tuple(run(engine, "SELECT * FROM backfill_customer_impacts_between(NULL, NULL)")[0])[
        1:
    ] == (0, 2, 0)
    multi = run(
        engine,
        'INSERT INTO pq_events (substation_id, circuit_id, "timestamp") VALUES'
        " (:n, 'H7', '2026-01-01T15:59Z'), (:n, 'H7', '2026-01-01T16:00Z') RETURNING id",
        n=grid.north,
    )
    assert [bool(impacts(engine, r.id)) for r in multi] == [False, True]


# Period rules ------------------------------------------------------------------------------------


def test_deactivating_sets_disconnected_on_today(engine, grid):
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c",
        c=grid.a,
    )
    row = run(
        engine, "SELECT * FROM customer_transformer_matching WHERE customer_id = :c", c=grid.a
    )[0]
    assert (row.active, row.disconnected_on) == (False, today(engine))


def test_deactivating_keeps_a_given_end_date(engine, grid):
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false, disconnected_on = '2025-05-01'"
        " WHERE customer_id = :c",
        c=grid.a,
    )
    assert scalar(
        engine,
        "SELECT disconnected_on FROM customer_transformer_matching WHERE customer_id = :c",
        c=grid.a,
    ) == date(2025, 5, 1)


def test_new_active_row_after_an_ended_period_starts_today(engine, grid):
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false, disconnected_on = '2025-05-01'"
        " WHERE customer_id = :c",
        c=grid.a,
    )
    again = add_mapping(engine, grid.a, grid.north, "H1")
    assert mapping(engine, again).connected_since == today(engine)
    # Without an ended period nothing is invented.
    fresh = add_mapping(engine, grid.a, grid.south, "H1")
    assert mapping(engine, fresh).connected_since is None


def test_overlapping_periods_are_refused_naming_the_other_mapping(engine, grid):
    first = add_mapping(engine, grid.c, grid.south, "H3", False, "2025-01-01", "2025-06-01")
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.c, grid.south, "H3", False, "2025-05-01", "2025-08-01")
    assert pgcode(err) == "23P01"
    assert str(first) in str(err.value)
    assert err.value.orig.diag.constraint_name == "customer_transformer_matching_no_overlap"
    # Adjacent periods are fine, and so is another circuit or customer.
    add_mapping(engine, grid.c, grid.south, "H3", False, "2025-06-01", "2025-08-01")
    add_mapping(engine, grid.d, grid.south, "H3", False, "2025-05-01", "2025-08-01")


def test_an_update_that_overlaps_is_refused(engine, grid):
    first = add_mapping(engine, grid.c, grid.south, "H3", False, "2025-01-01", "2025-06-01")
    second = add_mapping(engine, grid.c, grid.south, "H3", False, "2025-06-01", "2025-08-01")
    run(
        engine,
        "UPDATE customer_transformer_matching SET connected_since = '2024-12-01' WHERE id = :i",
        i=first,
    )
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "UPDATE customer_transformer_matching SET disconnected_on = '2025-07-01' WHERE id = :i",
            i=first,
        )
    assert pgcode(err) == "23P01"
    assert str(second) in str(err.value)


def test_an_open_active_row_overlapping_an_ended_one_is_refused(engine, grid):
    ended = add_mapping(engine, grid.c, grid.south, "H3", False, "2025-01-01", "2025-06-01")
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.c, grid.south, "H3", True, "2025-03-01", None)
    assert pgcode(err) == "23P01"
    assert str(ended) in str(err.value)


def test_second_plain_active_row_is_still_a_unique_violation(engine, grid):
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.a, grid.north, "H1")
    assert pgcode(err) == "23505"


def test_period_order_is_checked(engine, grid):
    for since, until in [("2025-06-01", "2025-06-01"), ("2025-07-01", "2025-06-01")]:
        with pytest.raises(sa.exc.IntegrityError) as err:
            add_mapping(engine, grid.c, grid.south, "H3", False, since, until)
        assert pgcode(err) == "23514"


def test_reactivating_an_ended_row_is_refused(engine, grid):
    mapping_id = scalar(
        engine, "SELECT id FROM customer_transformer_matching WHERE customer_id = :c", c=grid.a
    )
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE id = :i",
        i=mapping_id,
    )
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "UPDATE customer_transformer_matching SET active = true WHERE id = :i",
            i=mapping_id,
        )
    assert pgcode(err) == "23514"
    assert err.value.orig.diag.constraint_name == "customer_transformer_matching_no_reactivation"
    # A new period is a new row.
    again = add_mapping(engine, grid.a, grid.north, "H1")
    assert mapping(engine, again).connected_since == today(engine)


def test_active_row_with_a_future_end_is_scheduled_and_current(engine, grid):
    until = today(engine) + timedelta(days=30)
    scheduled = add_mapping(engine, grid.c, grid.south, "H3", True, None, until)
    row = mapping(engine, scheduled)
    assert (row.active, row.disconnected_on) == (True, until)
    assert set(impacts(engine, add_event(engine, grid.south, "H3"))) == {grid.c}


def test_writers_as_users_get_the_same_rules(engine, grid, make_user):
    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c"
            ),
            {"c": grid.b},
        )
    assert scalar(
        engine,
        "SELECT disconnected_on FROM customer_transformer_matching WHERE customer_id = :c",
        c=grid.b,
    ) == today(engine)


# Migration of existing rows ----------------------------------------------------------------------


def test_migration_ends_existing_inactive_rows_on_their_updated_at_date(empty_database):
    """Rows made before the validity migration: inactive ones end on their updated_at date, an
    active row after them starts there, so the periods of one customer and circuit chain."""
    from ctm.migrate import load_migrations, migrate

    url = empty_database()
    engine = sa.create_engine(db._sqlalchemy_url(url))
    try:
        before = [m for m in load_migrations() if m.filename < "20261126000200"]
        folder = _folder_with(before)
        migrate(engine, folder, log=lambda _: None)
        with engine.begin() as conn:
            sub = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('Old') RETURNING id"))
            cust = conn.scalar(
                sa.text(
                    "INSERT INTO customers (account_number, name) VALUES ('1', 'A') RETURNING id"
                )
            )
            conn.execute(
                sa.text(
                    "ALTER TABLE customer_transformer_matching"
                    " DISABLE TRIGGER trigger_customer_transformer_matching_stamp"
                )
            )
            for active, updated in [
                (False, "2024-03-05 10:00Z"),
                (False, "2025-02-01 10:00Z"),
                (True, "2025-03-01 10:00Z"),
            ]:
                conn.execute(
                    sa.text(
                        "INSERT INTO customer_transformer_matching"
                        " (customer_id, substation_id, circuit_id, active)"
                        " VALUES (:c, :s, 'H1', :a)"
                    ),
                    {"c": cust, "s": sub, "a": active},
                )
                conn.execute(
                    sa.text(
                        "UPDATE customer_transformer_matching SET updated_at = :u"
                        " WHERE updated_at > '2026-01-01' AND active = :a"
                    ),
                    {"u": updated, "a": active},
                )
            conn.execute(
                sa.text(
                    "ALTER TABLE customer_transformer_matching"
                    " ENABLE TRIGGER trigger_customer_transformer_matching_stamp"
                )
            )
        migrate(engine, log=lambda _: None)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT active, connected_since, disconnected_on, updated_at"
                    " FROM customer_transformer_matching ORDER BY updated_at"
                )
            ).all()
        assert [(r.active, r.connected_since, r.disconnected_on) for r in rows] == [
            (False, None, date(2024, 3, 5)),
            (False, date(2024, 3, 5), date(2025, 2, 1)),
            (True, date(2025, 2, 1), None),
        ]
        assert rows[0].updated_at == datetime(2024, 3, 5, 10, tzinfo=ZoneInfo("UTC"))
    finally:
        engine.dispose()


def _folder_with(migrations):
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="ctm-mig-"))
    for m in migrations:
        (folder / m.filename).write_text(m.sql)
    return folder


# max_mapped_customers ----------------------------------------------------------------------------


def set_limit(engine, substation, circuit, limit):
    run(
        engine,
        "UPDATE substation_circuits SET max_mapped_customers = :m"
        " WHERE substation_id = :s AND circuit_id = :c",
        s=substation,
        c=circuit,
        m=limit,
    )


def test_one_more_current_mapping_than_the_limit_is_refused(engine, grid):
    set_limit(engine, grid.north, "H1", 2)  # a and b are current; e is not
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.c, grid.north, "H1")
    assert pgcode(err) == "23514"
    assert err.value.orig.diag.constraint_name == "substation_circuits_max_mapped_customers"
    assert "limit of 2" in str(err.value)
    # Ended and future rows are not current: allowed.
    add_mapping(engine, grid.c, grid.north, "H1", False, None, "2025-01-01")
    add_mapping(engine, grid.d, grid.north, "H1", True, today(engine) + timedelta(days=5), None)
    # Moving a mapping onto the full circuit is refused too; ending one makes room.
    newcomer = scalar(
        engine, "INSERT INTO customers (account_number, name) VALUES ('Z', 'Z') RETURNING id"
    )
    moving = add_mapping(engine, newcomer, grid.north, "H2")
    move = "UPDATE customer_transformer_matching SET circuit_id = 'H1' WHERE id = :i"
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(engine, move, i=moving)
    assert err.value.orig.diag.constraint_name == "substation_circuits_max_mapped_customers"
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c",
        c=grid.b,
    )
    run(engine, move, i=moving)


def test_multi_row_insert_over_the_limit_is_refused_whole(engine, grid):
    set_limit(engine, grid.south, "H1", 2)  # d is current
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
            " VALUES (:a, :s, 'H1'), (:b, :s, 'H1')",
            a=grid.a,
            b=grid.b,
            s=grid.south,
        )
    assert err.value.orig.diag.constraint_name == "substation_circuits_max_mapped_customers"
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE substation_id = :s",
            s=grid.south,
        )
        == 1
    )


def test_multi_row_update_onto_a_full_circuit_is_refused_whole(engine, grid):
    """The limit is checked once per statement: two rows moved by one UPDATE onto a circuit with
    one free place are refused together, and nothing moves."""
    set_limit(engine, grid.south, "H1", 2)  # d is current: one place left
    moving = [add_mapping(engine, customer, grid.south, "H9") for customer in (grid.a, grid.b)]
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "UPDATE customer_transformer_matching SET circuit_id = 'H1'"
            " WHERE id = ANY(CAST(:ids AS uuid[]))",
            ids=[str(i) for i in moving],
        )
    assert err.value.orig.diag.constraint_name == "substation_circuits_max_mapped_customers"
    assert "circuit H1 of substation" in str(err.value) and "limit of 2" in str(err.value)
    assert {mapping(engine, i).circuit_id for i in moving} == {"H9"}
    run(
        engine,
        "UPDATE customer_transformer_matching SET circuit_id = 'H1' WHERE id = :i",
        i=moving[0],
    )
    assert mapping(engine, moving[0]).circuit_id == "H1"


def test_rows_already_current_on_a_full_circuit_can_still_be_edited(engine, grid):
    """A limit lowered below the current count refuses newcomers, not edits of rows that were
    current on the circuit already (a bulk touch of every row of the circuit included)."""
    set_limit(engine, grid.north, "H1", 1)  # a and b are current: over the new limit
    run(
        engine,
        "UPDATE customer_transformer_matching SET connected_since = DATE '2020-01-01'"
        " WHERE substation_id = :s AND circuit_id = 'H1' AND active",
        s=grid.north,
    )
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.c, grid.north, "H1")
    assert err.value.orig.diag.constraint_name == "substation_circuits_max_mapped_customers"


def test_overlap_within_one_multi_row_insert_is_refused_naming_the_other_row(engine, grid):
    """Periods are checked row by row against the rows before them in the same statement, so a
    bulk insert with two overlapping periods of one pair gets the named refusal."""
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "INSERT INTO customer_transformer_matching"
            " (customer_id, substation_id, circuit_id, active, connected_since, disconnected_on)"
            " VALUES (:c, :s, 'H7', false, '2024-01-01', '2024-06-01'),"
            " (:c, :s, 'H7', false, '2024-03-01', '2024-09-01')",
            c=grid.c,
            s=grid.south,
        )
    assert pgcode(err) == "23P01"
    assert "overlaps mapping" in str(err.value)
    assert "from 2024-01-01 until 2024-06-01 (exclusive)" in str(err.value)
    assert not scalar(
        engine,
        "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :c"
        " AND circuit_id = 'H7'",
        c=grid.c,
    )

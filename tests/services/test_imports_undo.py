"""Undoing an import by its batch: the database back as before the import, written as a new batch
in the History; refused whole (nothing written) when a row changed since, when undone already, for
roles that may not import that kind; row-level security holds for a direct call."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from importfiles import HEADER, make_grid, write_csv

from ctm import db
from ctm.errors import NotFound, PermissionDenied, StaleEdit, ValidationError
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import apply_import
from ctm.imports.undo import import_run, preview_undo, undo_import

# What a person sees of each table (bookkeeping such as version and updated_at left out).
STATE = {
    "customers": "SELECT account_number, name, customer_type, critical_customer, address"
    " FROM customers ORDER BY 1",
    "mappings": "SELECT c.account_number, s.name, m.circuit_id, m.active, m.connected_since,"
    " m.disconnected_on FROM customer_transformer_matching m"
    " JOIN customers c ON c.id = m.customer_id JOIN substations s ON s.id = m.substation_id ORDER BY 1, 2, 3, 5 NULLS FIRST",
    "circuits": "SELECT s.name, r.circuit_id, r.customers_served, r.description"
    " FROM substation_circuits r JOIN substations s ON s.id = r.substation_id ORDER BY 1, 2",
    "substations": "SELECT name, code, voltage_level, region, status FROM substations ORDER BY 1",
}


def state(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(sql))] for k, sql in STATE.items()}


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def as_user(engine, identity, sql: str, **params):
    with db.user_transaction(engine, identity) as conn:
        return conn.execute(sa.text(sql), params)


def mappings_file(tmp_path, rows, name="m.csv"):
    header = [*HEADER, "active"]
    return read_import_file(write_csv(tmp_path / name, [header, *rows]), kinds.MAPPINGS)


@pytest.fixture
def imported(engine, make_user, tmp_path):
    """An operator's import: a new customer with its mapping, a new mapping of a known customer,
    and ACC-2's current mapping ended. Returns (operator, batch id, state before the import)."""
    make_grid(engine)
    operator = make_user("operator", "olga")
    before = state(engine)
    file = mappings_file(
        tmp_path,
        [
            ["ACC-9", "South", "H1", "Nine Ltd", ""],
            ["ACC-1", "North", "H10", None, ""],
            ["ACC-2", "North", "H2", None, "no"],
        ],
    )
    result = apply_import(engine, operator, file)
    assert (result.new, result.changed) == (2, 1)
    assert state(engine) != before
    return operator, result.batch_id, before


def test_undo_puts_the_database_back_and_is_a_new_batch_in_the_history(engine, imported):
    operator, batch, before = imported
    audit_before = scalar(engine, "SELECT count(*) FROM audit_log")

    preview = preview_undo(engine, operator, batch)
    assert (preview.removed, preview.restored, preview.kept) == (
        {"customer_transformer_matching": 2, "customers": 1},
        {"customer_transformer_matching": 1},
        (),
    )
    assert not preview.applied
    assert scalar(engine, "SELECT count(*) FROM audit_log") == audit_before  # preview wrote nothing
    assert state(engine) != before

    done = undo_import(engine, operator, batch)
    assert done.applied and done.undo_batch_id != batch
    assert done.summary_line() == "removed 2 mappings, 1 customer; restored 1 mapping"
    assert state(engine) == before

    with engine.connect() as conn:
        entries = conn.execute(
            sa.text(
                "SELECT table_name, action, source, changed_by FROM audit_log"
                " WHERE batch_id = :b ORDER BY table_name, action"
            ),
            {"b": done.undo_batch_id},
        ).all()
        record = conn.execute(
            sa.text(
                "SELECT kind, undoes_batch, imported_by, file_name FROM import_runs"
                " WHERE batch_id = :b"
            ),
            {"b": done.undo_batch_id},
        ).one()
    assert [(e.table_name, e.action) for e in entries] == [
        ("customer_transformer_matching", "DELETE"),
        ("customer_transformer_matching", "DELETE"),
        ("customer_transformer_matching", "UPDATE"),
        ("customers", "DELETE"),
    ]
    assert {(e.source, e.changed_by) for e in entries} == {("import", operator.user_id)}
    assert tuple(record) == ("undo", batch, operator.user_id, "m.csv")
    run = import_run(engine, operator, batch)
    assert run.undone_by_batch == done.undo_batch_id and run.undone_by == "Olga"


def test_a_row_changed_after_the_import_refuses_the_whole_undo(engine, imported):
    operator, batch, _before = imported
    # Someone ends the new customer's mapping in the app after the import.
    as_user(
        engine,
        operator,
        "UPDATE customer_transformer_matching m SET active = false FROM customers c"
        " WHERE c.id = m.customer_id AND c.account_number = 'ACC-9'",
    )
    after_edit = state(engine)
    audit = scalar(engine, "SELECT count(*) FROM audit_log")
    for attempt in (preview_undo, undo_import):
        with pytest.raises(StaleEdit) as refused:
            attempt(engine, operator, batch)
        message = str(refused.value)
        assert "1 of its rows changed after it" in message
        assert "Nine Ltd (ACC-9) · South / H1" in message and "nothing was changed" in message
    assert state(engine) == after_edit
    assert scalar(engine, "SELECT count(*) FROM audit_log") == audit
    assert scalar(engine, "SELECT count(*) FROM import_runs WHERE kind = 'undo'") == 0


def test_undo_twice_is_refused(engine, imported):
    operator, batch, before = imported
    done = undo_import(engine, operator, batch)
    with pytest.raises(ValidationError, match="was undone already") as refused:
        undo_import(engine, operator, batch)
    assert str(done.undo_batch_id) in str(refused.value)
    with pytest.raises(ValidationError, match="an undo cannot be undone"):
        undo_import(engine, operator, done.undo_batch_id)
    with pytest.raises(NotFound, match="No import has the batch id"):
        undo_import(engine, operator, uuid.uuid4())
    assert state(engine) == before
    assert scalar(engine, "SELECT count(*) FROM import_runs WHERE kind = 'undo'") == 1


def test_viewer_and_no_profile_are_refused_and_rls_holds(engine, make_user, imported):
    operator, batch, _before = imported
    imported_state = state(engine)
    for who in (make_user("viewer"), make_user(None)):
        with pytest.raises(PermissionDenied):
            undo_import(engine, who, batch)
        # Calling the removal directly gains nothing: the database refuses it too.
        with pytest.raises(sa.exc.DBAPIError) as refused:
            as_user(engine, who, "SELECT * FROM undo_import_remove(:b)", b=batch)
        assert refused.value.orig.pgcode == "42501"
    # The operator still cannot delete customers or mappings outside an undo.
    as_user(engine, operator, "DELETE FROM customers WHERE account_number = 'ACC-9'")
    as_user(engine, operator, "DELETE FROM customer_transformer_matching")
    assert state(engine) == imported_state


def test_a_customer_something_else_refers_to_now_is_kept(engine, imported):
    operator, batch, before = imported
    # After the import, ACC-9 gets a second mapping of its own (not a change of the import's rows).
    as_user(
        engine,
        operator,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " SELECT c.id, s.id, 'H2' FROM customers c, substations s"
        " WHERE c.account_number = 'ACC-9' AND s.name = 'North'",
    )
    done = undo_import(engine, operator, batch)
    assert done.removed == {"customer_transformer_matching": 2}
    assert done.kept == ("Customer Nine Ltd (ACC-9)",)
    assert "kept 1 row(s) other rows refer to now: Customer Nine Ltd (ACC-9)" in done.summary_line()
    now = state(engine)
    assert [c for c in now["customers"] if c[0] == "ACC-9"] == [
        ("ACC-9", "Nine Ltd", "residential", True, None)
    ]
    assert [m[:3] for m in now["mappings"] if m[0] == "ACC-9"] == [("ACC-9", "North", "H2")]
    assert now["customers"] != before["customers"]


def test_admin_undoes_sync_and_registered_circuits(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    before = state(engine)
    file = mappings_file(tmp_path, [["ACC-1", "North", "h9", None, ""]])
    # Registers North / H9 and ends the two North mappings the file does not list.
    result = apply_import(engine, admin, file, sync=True)
    assert ("North", "H9", None, None) in state(engine)["circuits"]
    # An operator may undo a mapping import, circuits registered by it included.
    done = undo_import(engine, make_user("operator"), result.batch_id)
    assert done.removed == {"substation_circuits": 1, "customer_transformer_matching": 1}
    assert done.restored == {"customer_transformer_matching": 2}
    assert state(engine) == before


def test_admin_kinds_undo_only_for_admins(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    before = state(engine)
    path = write_csv(
        tmp_path / "s.csv",
        [["Name", "Code", "Region"], ["North", "NTH", "Kowloon"], ["East", "EST", "Islands"]],
    )
    result = apply_import(engine, admin, read_import_file(path, kinds.SUBSTATIONS), "substations")
    operator = make_user("operator")
    with pytest.raises(PermissionDenied, match="does not allow undoing an import of substations"):
        undo_import(engine, operator, result.batch_id)
    with pytest.raises(sa.exc.DBAPIError) as refused:
        as_user(engine, operator, "SELECT * FROM undo_import_remove(:b)", b=result.batch_id)
    assert refused.value.orig.pgcode == "42501"
    done = undo_import(engine, admin, result.batch_id)
    assert (done.removed, done.restored) == ({"substations": 1}, {"substations": 1})
    assert state(engine) == before


def test_a_period_added_since_on_a_mapping_the_import_ended_refuses_clearly(engine, imported):
    operator, batch, _before = imported
    # The import ended ACC-2's North / H2; someone maps ACC-2 there again (a new row, a new period).
    as_user(
        engine,
        operator,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " SELECT c.id, s.id, 'H2' FROM customers c, substations s"
        " WHERE c.account_number = 'ACC-2' AND s.name = 'North'",
    )
    now = state(engine)
    with pytest.raises(StaleEdit) as refused:
        undo_import(engine, operator, batch)
    message = str(refused.value)
    assert "cannot get their old period back" in message
    assert "Mapping Bolt Foods (ACC-2) · North / H2 (a period from" in message
    assert "nothing was changed" in message
    assert state(engine) == now

"""The history service: filters, paging and count, readable "what changed", Excel export and the
30-day summary, over changes made through the services and by raw SQL."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from ctm import db
from ctm import history as hist
from ctm import mappings as svc
from ctm.errors import ValidationError
from ctm.history import HistoryFilter


@pytest.fixture
def changes(engine, world):
    """An operator maps Acme to North/H1 and moves it to H2; an admin renames Bolt; an import
    batch adds two customers."""
    made = svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")
    moved = svc.update_mapping(engine, world.operator, made.id, made.version, circuit_id="H2")
    with db.user_transaction(engine, world.admin) as conn:
        conn.execute(
            sa.text("UPDATE customers SET name = 'Bolt Foods Ltd' WHERE id = :id"),
            {"id": world.bolt},
        )
    batch = uuid.uuid4()
    with db.owner_transaction(engine, source="import", batch_id=batch) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name) VALUES ('IMP-1', 'Imp One'),"
                " ('IMP-2', 'Imp Two')"
            )
        )
    return {"mapping": made.id, "moved": moved, "batch": batch}


def test_history_names_who_what_and_how_it_changed(engine, world, changes):
    page = hist.list_history(engine, world.viewer, HistoryFilter(row_id=str(changes["mapping"])))
    assert page.total == 2
    newest, oldest = page.rows.iloc[0], page.rows.iloc[1]
    assert (newest.action, newest.changed_by_name, newest.source) == ("UPDATE", "Otto", "app")
    assert newest.changes == "Circuit H1 → H2"
    assert newest.subject == "Acme Steel (ACC-1001) · North / H2"
    assert oldest.action == "INSERT" and "Circuit H1" in oldest.changes
    assert "Active yes" in oldest.changes
    renamed = hist.list_history(
        engine, world.viewer, HistoryFilter(customer_id=world.bolt, action="UPDATE")
    )
    assert renamed.total == 1
    assert renamed.rows.iloc[0].changes == "Name Bolt Foods → Bolt Foods Ltd"
    assert renamed.rows.iloc[0].changed_by_name == "Ada"


def test_every_filter_narrows_the_list(engine, world, changes):
    def total(**kw) -> int:
        return hist.list_history(engine, world.admin, HistoryFilter(**kw)).total

    everything = total()
    assert everything >= 8  # world's setup (owner) and the changes above
    assert total(who=world.operator.user_id) == 2
    assert total(who=world.admin.user_id) == 1
    assert total(who=hist.SYSTEM) == everything - 3
    assert total(table_name="customers", action="INSERT") == 5  # 3 from the world + 2 imported
    assert total(batch_id=changes["batch"]) == 2
    assert total(source="import") == 2
    assert total(substation_id=world.north, table_name="customer_transformer_matching") == 2
    assert total(customer_id=world.acme) == 3  # its own insert and the two mapping changes
    today = date.today()
    assert (
        total(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1)) == everything
    )
    assert total(date_to=today - timedelta(days=2)) == 0
    with pytest.raises(ValidationError, match="before"):
        total(date_from=today, date_to=today - timedelta(days=1))
    with pytest.raises(ValidationError, match="not recorded"):
        total(table_name="profiles")


def test_paging_returns_disjoint_pages_newest_first(engine, world, changes):
    first = hist.list_history(engine, world.admin, HistoryFilter(), limit=3, offset=0)
    second = hist.list_history(engine, world.admin, HistoryFilter(), limit=3, offset=3)
    assert len(first.rows) == 3 and first.total == second.total
    assert not set(first.rows["id"]) & set(second.rows["id"])
    stamps = list(first.rows["changed_at"]) + list(second.rows["changed_at"])
    assert stamps == sorted(stamps, reverse=True)


def test_a_user_without_a_profile_sees_no_history(engine, world, changes):
    page = hist.list_history(engine, world.nobody, HistoryFilter())
    assert page.total == 0 and page.rows.empty


def test_a_deleted_row_is_still_named(engine, world, changes):
    with db.user_transaction(engine, world.admin) as conn:
        conn.execute(sa.text("DELETE FROM customers WHERE id = :id"), {"id": world.acme})
    page = hist.list_history(
        engine, world.admin, HistoryFilter(customer_id=world.acme, action="DELETE")
    )
    subjects = set(page.rows["subject"])
    assert "Acme Steel (ACC-1001)" in subjects  # the customer
    assert any("North / H2" in s for s in subjects)  # its cascaded mapping


def test_describe_change_reads_like_a_sentence():
    text = hist.describe_change(
        "customer_transformer_matching",
        "UPDATE",
        {"circuit_id": "H2", "active": True, "version": 1},
        {"circuit_id": "H5", "active": False, "version": 2},
    )
    assert text == "Circuit H2 → H5; Active yes → no"
    assert hist.describe_change("substations", "UPDATE", {"region": None}, {"region": "East"}) == (
        "Region — → East"
    )


def test_export_is_a_real_workbook_with_readable_columns(engine, world, changes):
    data = hist.history_xlsx(engine, world.viewer, HistoryFilter(row_id=str(changes["mapping"])))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == (
        "Changed at (UTC)",  # the stored time zone, named
        "Changed by",
        "Source",
        "What",
        "Action",
        "Row",
        "What changed",
    )
    assert len(rows) == 3
    assert rows[1][1] == "Otto" and rows[1][6] == "Circuit H1 → H2"


def test_summary_counts_the_last_30_days_by_user_and_action(engine, world, changes):
    summary = hist.change_summary(engine, world.viewer, days=30, latest=10)
    by_user = dict(zip(summary.by_user["user"], summary.by_user["changes"], strict=True))
    assert by_user["Otto"] == 2 and by_user["Ada"] == 1
    by_action = dict(zip(summary.by_action["action"], summary.by_action["changes"], strict=True))
    assert by_action["Changed"] == 2  # the circuit move and the rename
    assert summary.total == sum(by_user.values())
    assert len(summary.latest) == 10
    assert (
        summary.latest.iloc[0]["subject"] == "Imp Two (IMP-2)"
        or summary.latest.iloc[0]["subject"] == "Imp One (IMP-1)"
    )

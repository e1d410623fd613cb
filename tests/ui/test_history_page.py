"""The History page per role with AppTest: the changes with a readable 'what changed', filters
from the link (as "History" from a mapping or a customer opens it), paging, export, and restore
for admins and operators only."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc
from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/history.py"


def open_page(identity, **query):
    """The page opened by its link, e.g. /history?customer=ACC-7."""
    at = logged_in(identity)
    at.run()
    at.switch_page(PAGE)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def changed(engine, login_user, app_env):
    """North with events on H1 and H2; an operator maps Customer A to H1, then corrects it to H2."""
    operator = login_user("operator", "olga")
    with db.owner_transaction(engine) as conn:
        north = conn.scalar(
            sa.text("INSERT INTO substations (name, code) VALUES ('North', 'N') RETURNING id")
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") SELECT :n, c, 'critical', 1000, now() - interval '3 days'"
                " FROM unnest(ARRAY['H1', 'H2']) AS c"
            ),
            {"n": north},
        )
        customer = conn.scalar(
            sa.text(
                "INSERT INTO customers (account_number, name) VALUES ('ACC-7', 'Customer A')"
                " RETURNING id"
            )
        )
        for g in range(60):  # enough history for two pages
            conn.execute(
                sa.text("INSERT INTO customers (account_number, name) VALUES (:a, :n)"),
                {"a": f"FILL-{g}", "n": f"Filler {g}"},
            )
    made = svc.connect_mapping(db.get_engine(app_env), operator, customer, north, "H1")
    svc.correct_mapping(db.get_engine(app_env), operator, made.mapping.id, 1, north, "H2")
    return {"mapping": made.mapping.id, "north": north, "customer": customer, "operator": operator}


def table(at):
    return at.dataframe[0].value


def test_viewer_reads_history_without_restore(login_user, changed):
    at = open_page(login_user("viewer"))
    frame = table(at)
    assert len(frame) == 50  # one page
    assert "Page 1 of 2" in texts(at)
    assert any("Export to Excel" in str(el.proto) for el in at.get("download_button"))
    assert "Restore a mapping" not in texts(at)
    assert not [b for b in at.button if b.key == "restore_confirm"]


def test_history_of_one_mapping_from_the_link(login_user, changed):
    at = open_page(login_user("viewer"), row=str(changed["mapping"]))
    frame = table(at)
    assert list(frame["action_label"]) == ["Changed", "Added"]
    assert frame["changes"].iloc[0] == "Circuit H1 → H2"
    assert frame["changed_by_name"].iloc[0] == "Operator Person"
    assert frame["subject"].iloc[0] == "Customer A (ACC-7) · North / H2"


def test_history_of_a_customer_from_the_link_and_filters(login_user, changed):
    at = open_page(login_user("admin"), account="ACC-7")
    assert len(table(at)) == 3  # the customer row and the two mapping changes
    at.selectbox(key="action").select("UPDATE").run()
    assert len(table(at)) == 1
    at = open_page(login_user("admin"), account="NOPE")
    assert "no customer has the account number 'NOPE'" in texts(at)


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_restore_a_mapping_as_a_correction_and_offer_past_events(login_user, changed, engine, role):
    at = open_page(login_user(role), row=str(changed["mapping"]))
    frame = table(at)
    inserted = int(frame.loc[frame["action"] == "INSERT", "id"].iloc[0])
    at.selectbox(key="restore_entry").select(inserted).run()
    assert "Now: North / H2" in texts(at)
    at.radio(key="restore_how").set_value("correction").run()
    at.button(key="restore_confirm").click().run()
    assert not at.exception
    circuit = scalar(
        engine,
        "SELECT circuit_id FROM customer_transformer_matching WHERE id = :id",
        id=changed["mapping"],
    )
    assert circuit == "H1"
    assert "Circuit H2 → H1" in list(table(at)["changes"])
    # The restored circuit's past event does not list the customer yet: offered, not done.
    assert "1 past events on North / H1" in texts(at)
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    at.button(key="apply_past_events_0").click().run()
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 1


def test_restore_a_mapping_as_a_move_on_a_date(login_user, changed, engine):
    """'Moved on a date' asks for the date; the current row ends there and the restored circuit
    starts there, so events before the date stay with the old circuit."""
    at = open_page(login_user("operator"), row=str(changed["mapping"]))
    frame = table(at)
    inserted = int(frame.loc[frame["action"] == "INSERT", "id"].iloc[0])
    at.selectbox(key="restore_entry").select(inserted).run()
    assert not [d for d in at.date_input if d.key == "restore_how_on"]  # a correction has no date
    at.radio(key="restore_how").set_value("moved").run()
    moved_on = date.today() - timedelta(days=1)
    assert at.date_input(key="restore_how_on").proto.format == "YYYY-MM-DD"
    at.date_input(key="restore_how_on").set_value(moved_on).run()
    at.button(key="restore_confirm").click().run()
    assert not at.exception, at.exception
    periods = sa.text(
        "SELECT circuit_id, connected_since, disconnected_on, active"
        " FROM customer_transformer_matching"
        " WHERE customer_id = :c ORDER BY connected_since NULLS FIRST, id"
    )
    with db.owner_transaction(engine) as conn:
        rows = [tuple(r) for r in conn.execute(periods, {"c": changed["customer"]})]
    assert rows[-1] == ("H1", moved_on, None, True)
    assert [(r[0], r[2]) for r in rows[:-1]] == [("H2", moved_on)]


def test_an_operator_restores_a_mapping_an_admin_deleted(login_user, changed, engine, app_env):
    admin = login_user("admin", "ada")
    svc.delete_mapping(db.get_engine(app_env), admin, changed["mapping"], 2)
    at = open_page(login_user("operator"), row=str(changed["mapping"]))
    frame = table(at)
    assert list(frame["action_label"]) == ["Deleted", "Changed", "Added"]
    deleted = int(frame.loc[frame["action"] == "DELETE", "id"].iloc[0])
    at.selectbox(key="restore_entry").select(deleted).run()
    assert not at.exception, at.exception
    assert "Now: deleted" in texts(at)
    assert not [r for r in at.radio if r.key == "restore_how"]
    at.button(key="restore_confirm").click().run()
    assert not at.exception, at.exception
    restored = scalar(
        engine,
        "SELECT circuit_id || ' ' || active FROM customer_transformer_matching WHERE id = :id",
        id=changed["mapping"],
    )
    assert restored == "H2 true"
    frame = table(at)
    assert list(frame["action_label"]) == ["Added", "Deleted", "Changed", "Added"]
    assert frame["changed_by_name"].iloc[0] == "Operator Person"
    # Its circuit's past event is offered, not applied.
    assert "1 past events on North / H2" in texts(at)
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    # The same entry now shows the mapping as it is (restoring it again is a normal restore).
    at.selectbox(key="restore_entry").select(deleted).run()
    assert "Now: North / H2" in texts(at)


def test_statistics_shows_the_last_30_days_of_changes(login_user, changed, engine):
    at = logged_in(login_user("viewer"))
    at.run()
    at.switch_page("views/statistics.py").run()
    assert not at.exception, at.exception
    assert "Changes in the last 30 days" in [s.value for s in at.subheader]
    latest = next(d.value for d in at.dataframe if "changes" in d.value.columns)
    assert len(latest) == 10
    assert latest["changes"].iloc[0] == "Circuit H1 → H2"
    recorded = scalar(engine, "SELECT count(*) FROM audit_log")
    assert f"{recorded:,} change(s)" in texts(at)
    titles = [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]
    assert {"Changes by user", "Changes by action"} <= set(titles)

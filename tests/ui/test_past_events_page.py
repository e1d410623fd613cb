"""The past-events flow on the mapping page with AppTest: adding a mapping offers the circuit's past
events that do not list the customer, nothing changes until the button is pressed, the button adds
exactly those impacts; deactivating on a past day offers the reverse; the grid shows the dates."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from ctm import db
from tests.ui.conftest import scalar, texts
from tests.ui.test_mappings_page import grid, open_page


def impacts_of(engine, account: str) -> int:
    return scalar(
        engine,
        "SELECT count(*) FROM event_customer_impact i JOIN customers c ON c.id = i.customer_id"
        " WHERE c.account_number = :a",
        a=account,
    )


def test_add_offers_past_events_and_one_click_applies_exactly_those(login_user, grid_data, engine):
    with db.owner_transaction(engine) as conn:  # two older events on South / H1
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") VALUES (:s, 'H1', 'critical', 1000, now() - interval '40 days'),"
                " (:s, 'H1', 'high', 1000, now() - interval '400 days')"
            ),
            {"s": grid_data["south"]},
        )
    at = open_page(login_user("operator"), substation="South")
    at.button(key="open_add").click().run()
    at.text_input(key="add_customer_text").input("ACC0001").run()
    at.selectbox(key="add_customer").select_index(0).run()
    at.selectbox(key="add_circuit").select("H1").run()
    at.date_input(key="add_connected_since").set_value(date.today() - timedelta(days=100)).run()
    at.button(key="add_confirm").click().run()
    assert not at.exception
    since = (date.today() - timedelta(days=100)).isoformat()
    assert (
        f"2 past events on South / H1 since {since} do not list Customer 0001 (ACC0001) yet"
        " — 1 severe, 0 moderate, 1 minor"
    ) in texts(at)
    assert impacts_of(engine, "ACC0001") == 0  # nothing without the click
    apply = at.button(key="apply_past_events_0")
    assert apply.label == "Add these 2 impact(s)"
    apply.click().run()
    assert impacts_of(engine, "ACC0001") == 2
    assert "2 past event(s) added to Customer 0001 (ACC0001)'s impacts" in texts(at)
    assert not [b for b in at.button if b.key == "apply_past_events_0"]
    # The grid shows the new mapping's period.
    view = grid(at).view
    row = view.loc[view["account_number"] == "ACC0001"].iloc[0]
    assert (row["connected_since"], row["disconnected_on"]) == (since, "")


def test_dismiss_leaves_past_events_alone(login_user, grid_data, engine):
    at = open_page(login_user("admin"), substation="North")
    at.button(key="open_add").click().run()
    at.text_input(key="add_customer_text").input("ACC0250").run()
    at.selectbox(key="add_customer").select_index(0).run()
    at.selectbox(key="add_circuit").select("H2").run()
    at.button(key="add_confirm").click().run()
    assert "1 past events on North / H2 in the whole history" in texts(at)
    at.button(key="dismiss_past_events_0").click().run()
    assert "past events on North / H2" not in texts(at)
    assert impacts_of(engine, "ACC0250") == 0


def test_deactivating_on_a_past_day_offers_to_remove_later_events(login_user, grid_data, engine):
    at = open_page(login_user("admin"), substation="South")
    target = grid(at).view.iloc[0]
    # The mapping started long ago and the South / H1 event lists its customer.
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET connected_since = CURRENT_DATE - 30"
                " WHERE id = :id"
            ),
            {"id": target["id"]},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") VALUES (:s, 'H1', 'low', 10, now() - interval '2 days')"
            ),
            {"s": grid_data["south"]},
        )
    at = open_page(login_user("admin"), substation="South")
    target = grid(at).view.iloc[0]
    at.selectbox(key=f"target-{grid(at).key}").select(target["id"]).run()
    at.button(key="open_deactivate").click().run()
    at.date_input(key="deactivate_on").set_value(date.today() - timedelta(days=5)).run()
    at.button(key="deactivate_confirm").click().run()
    assert not at.exception
    account = target["account_number"]
    assert impacts_of(engine, account) == 1  # the event of 2 days ago, after the end
    assert "list " + target["customer"] in texts(at) and "Remove them?" in texts(at)
    at.button(key="apply_past_events_0").click().run()
    assert impacts_of(engine, account) == 0  # every South / H1 event is after the end

"""The Customer Transformer Matching page per role, driven through AppTest against PostgreSQL."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from ctm import db
from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/mappings.py"


def open_page(identity, **query):
    at = logged_in(identity)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def grid(at):
    return at.session_state["ctm_grid"]


def edit(at, edited_rows: dict):
    """What the browser sends after the user typed into the grid (positions of this run)."""
    at.session_state[grid(at).key] = {
        "edited_rows": edited_rows,
        "added_rows": [],
        "deleted_rows": [],
    }


def row_of(engine, mapping_id):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text(
                "SELECT circuit_id, active, version, updated_by FROM customer_transformer_matching"
                " WHERE id = :id"
            ),
            {"id": mapping_id},
        ).one()


def caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Page "))


def test_viewer_sees_the_data_read_only_with_no_edit_control(login_user, grid_data):
    at = open_page(login_user("viewer"))
    assert not at.get("data_editor")
    assert len(at.dataframe) >= 1 and len(at.dataframe[0].value) == 100
    labels = [b.label for b in at.button]
    assert labels == ["Log out"]
    assert "Read-only" in texts(at)
    assert caption(at) == "Page 1 of 3 · rows 1–100 of 240"


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_admins_and_operators_get_the_editor_and_actions(login_user, grid_data, role):
    at = open_page(login_user(role))
    assert len(at.get("data_editor")) == 1
    labels = {b.label for b in at.button}
    assert {"Add mapping", "Save changes", "Deactivate…"} <= labels
    assert ("Delete permanently…" in labels) == (role == "admin")
    bulk = at.button(key="bulk_import")
    assert not bulk.disabled
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Active mappings"] == "240"


def test_filters_change_the_rows_and_come_from_the_link(login_user, grid_data):
    admin = login_user("admin")
    at = open_page(admin)
    at.selectbox(key="substation").select(grid_data["south"]).run()
    assert caption(at) == "Page 1 of 1 · rows 1–10 of 10"
    assert set(grid(at).view["substation_name"]) == {"South"}
    at.text_input(key="customer").input("ACC0245").run()
    assert list(grid(at).view["account_number"]) == ["ACC0245"]

    # A shared link: /mappings?substation=North&circuit=H2&inactive=true&page=2
    at = open_page(admin, substation="North", circuit="H1", inactive="true", page="2")
    view = grid(at).view
    assert set(view["substation_name"]) == {"North"} and set(view["circuit_id"]) == {"H1"}
    assert caption(at).startswith("Page 1 of 1 · rows 1–80 of 80")  # page 2 clamps to the last
    assert (~view["active"]).sum() == 10


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_empty_validity_dates_show_empty_not_none(login_user, grid_data, engine, role):
    """The grid renders a missing date as the text "None": the dates go to it as text, empty
    when there is none."""
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET connected_since = DATE '2026-01-15'"
                " WHERE customer_id = (SELECT id FROM customers WHERE account_number = 'ACC0002')"
            )
        )
    at = open_page(login_user(role), customer="ACC000")
    shown = (at.dataframe[0] if role == "viewer" else at.get("data_editor")[0]).value
    shown = shown.set_index("account_number")
    assert shown.loc["ACC0002", "connected_since"] == "2026-01-15"
    assert shown.loc["ACC0003", "connected_since"] == ""
    assert set(shown["disconnected_on"]) == {""}


def test_paging_shows_other_rows(login_user, grid_data):
    at = open_page(login_user("admin"))
    first = set(grid(at).view["id"])
    at.number_input(key="page").set_value(3).run()
    assert caption(at) == "Page 3 of 3 · rows 201–240 of 240"
    assert not first & set(grid(at).view["id"])


def test_grid_edit_saves_through_the_service_and_reports_each_row(login_user, grid_data, engine):
    admin = login_user("admin")
    at = open_page(admin, substation="North")
    view, old_key = grid(at).view, grid(at).key
    target, other = view.iloc[0], view.iloc[1]
    new_circuit = "H3" if target["circuit_id"] != "H3" else "H1"
    edit(at, {0: {"circuit_id": new_circuit}, 1: {"active": False}, 2: {"circuit_id": "H9"}})
    at.button(key="save").click().run()
    assert not at.exception

    changed = row_of(engine, target["id"])
    assert (changed.circuit_id, changed.version, changed.updated_by) == (
        new_circuit,
        2,
        admin.user_id,
    )
    assert row_of(engine, other["id"]).active is False
    # Said once: one warning with the count, and only the refused row with its reason.
    outcome = at.dataframe[0].value
    assert list(outcome["Result"]) == ["Refused"]
    assert "H9" in outcome["Details"].iloc[0]
    warnings = [w.value for w in at.warning]
    assert [w for w in warnings if w.startswith("Saved")] == ["Saved 2 change(s); 1 refused:"]
    # The circuit correction reaches past events on the new circuit: offered, never applied.
    assert any("past events on North / H3" in w for w in warnings), warnings
    assert not at.toast and not at.success
    # The grid reloaded from the database under a new key (no pending edit can carry over).
    assert grid(at).key != old_key
    assert other["id"] not in set(grid(at).view["id"])  # now inactive, so filtered out

    # Pressing Save again writes nothing twice.
    at.button(key="save").click().run()
    assert any("Nothing to save" in i.value for i in at.info)
    assert row_of(engine, target["id"]).version == 2


def test_a_circuit_changed_as_a_move_ends_the_old_row_on_the_date(login_user, grid_data, engine):
    """'Moved on a date': the customer's old circuit ends on that day and the new one starts
    there (a correction would change the row in place)."""
    at = open_page(login_user("operator"), substation="North")
    target = grid(at).view.iloc[0]
    new_circuit = "H3" if target["circuit_id"] != "H3" else "H1"
    assert not [d for d in at.date_input if d.key == "circuit_change_on"]
    at.radio(key="circuit_change").set_value("moved").run()
    moved_on = date.today() - timedelta(days=2)
    assert at.date_input(key="circuit_change_on").proto.format == "YYYY-MM-DD"
    at.date_input(key="circuit_change_on").set_value(moved_on).run()
    edit(at, {0: {"circuit_id": new_circuit}})
    at.button(key="save").click().run()
    assert not at.exception, at.exception
    with db.owner_transaction(engine) as conn:
        periods = conn.execute(
            sa.text(
                "SELECT m.circuit_id, m.connected_since, m.disconnected_on FROM"
                " customer_transformer_matching m JOIN customer_transformer_matching t"
                " ON t.customer_id = m.customer_id AND t.substation_id = m.substation_id"
                " WHERE t.id = :id ORDER BY m.connected_since NULLS FIRST"
            ),
            {"id": target["id"]},
        ).all()
    assert [tuple(p) for p in periods] == [
        (target["circuit_id"], None, moved_on),
        (new_circuit, moved_on, None),
    ]


def test_a_save_with_nothing_refused_says_so_once(login_user, grid_data, engine):
    at = open_page(login_user("admin"), substation="North")
    target = grid(at).view.iloc[0]
    edit(at, {0: {"active": False}})
    at.button(key="save").click().run()
    assert not at.exception
    assert row_of(engine, target["id"]).active is False
    # One toast; no banner and no per-row table repeating it.
    assert [t.value for t in at.toast] == ["Saved 1 change(s)"]
    assert not at.success and not at.warning
    assert not [d for d in at.dataframe if "Result" in getattr(d.value, "columns", ())]


def test_a_stale_edit_is_refused_and_names_who_changed_it(login_user, grid_data, engine):
    admin = login_user("admin")
    at = open_page(admin, substation="North")
    target = grid(at).view.iloc[0]
    with db.owner_transaction(engine) as conn:  # another session saves first
        conn.execute(
            sa.text("UPDATE customer_transformer_matching SET active = false WHERE id = :id"),
            {"id": target["id"]},
        )
    edit(at, {0: {"circuit_id": "H2" if target["circuit_id"] != "H2" else "H1"}})
    at.button(key="save").click().run()
    outcome = at.dataframe[0].value
    assert list(outcome["Result"]) == ["Refused"]
    assert row_of(engine, target["id"]).circuit_id == target["circuit_id"]


def test_a_duplicate_mapping_is_refused_with_the_services_message(login_user, grid_data, engine):
    admin = login_user("admin")
    at = open_page(admin, substation="North", inactive="true")
    view = grid(at).view
    inactive = view.loc[~view["active"]].iloc[0]
    position = int(view.index[view["id"] == inactive["id"]][0])
    with db.owner_transaction(engine) as conn:  # the same customer is mapped there again
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " SELECT customer_id, substation_id, circuit_id FROM customer_transformer_matching"
                " WHERE id = :id"
            ),
            {"id": inactive["id"]},
        )
    edit(at, {position: {"active": True}})
    at.button(key="save").click().run()
    outcome = at.dataframe[0].value
    assert list(outcome["Result"]) == ["Refused"]
    assert "is already mapped to North" in outcome["Details"].iloc[0]


def test_add_mapping_dialog_creates_one_and_shows_errors_inside(login_user, grid_data, engine):
    admin = login_user("admin")
    at = open_page(admin, substation="South")
    at.button(key="open_add").click().run()
    at.text_input(key="add_customer_text").input("ACC0001").run()
    customer = at.selectbox(key="add_customer")
    assert len(customer.options) == 1
    customer.select_index(0).run()
    assert at.selectbox(key="add_substation").value == grid_data["south"]
    at.selectbox(key="add_circuit").select("H1").run()
    at.button(key="add_confirm").click().run()
    assert not at.exception
    count = scalar(
        engine,
        "SELECT count(*) FROM customer_transformer_matching m JOIN customers c"
        " ON c.id = m.customer_id WHERE c.account_number = 'ACC0001'"
        " AND m.substation_id = :s AND m.active",
        s=grid_data["south"],
    )
    assert count == 1
    assert any("Mapped Customer 0001" in t.value for t in at.toast)
    assert caption(at) == "Page 1 of 1 · rows 1–11 of 11"

    # The same again: refused, the message stays in the dialog and nothing is added.
    at.button(key="open_add").click().run()
    at.text_input(key="add_customer_text").input("ACC0001").run()
    at.selectbox(key="add_customer").select_index(0).run()
    at.selectbox(key="add_circuit").select("H1").run()
    at.button(key="add_confirm").click().run()
    assert any("already mapped to South / H1" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching") == 251


def test_deactivate_asks_first_naming_customer_and_circuit(login_user, grid_data, engine):
    operator = login_user("operator")
    at = open_page(operator, substation="South")
    target = grid(at).view.iloc[0]
    at.selectbox(key=f"target-{grid(at).key}").select(target["id"]).run()
    at.button(key="open_deactivate").click().run()
    question = "\n".join(m.value for m in at.markdown)
    assert target["customer"] in question and f"South / {target['circuit_id']}" in question
    at.button(key="deactivate_cancel").click().run()
    assert row_of(engine, target["id"]).active is True

    at.selectbox(key=f"target-{grid(at).key}").select(target["id"]).run()
    at.button(key="open_deactivate").click().run()
    at.button(key="deactivate_confirm").click().run()
    assert not at.exception
    assert row_of(engine, target["id"]).active is False
    assert caption(at) == "Page 1 of 1 · rows 1–9 of 9"


def test_permanent_delete_is_admin_only_and_needs_the_account_number(login_user, grid_data, engine):
    admin = login_user("admin")
    at = open_page(admin, substation="South")
    target = grid(at).view.iloc[0]
    at.selectbox(key=f"target-{grid(at).key}").select(target["id"]).run()
    at.button(key="open_delete").click().run()
    assert at.button(key="delete_confirm").disabled
    at.text_input(key="delete_account").input("wrong").run()
    assert at.button(key="delete_confirm").disabled
    at.text_input(key="delete_account").input(target["account_number"]).run()
    at.button(key="delete_confirm").click().run()
    assert not at.exception
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE id = :id",
            id=target["id"],
        )
        == 0
    )


def test_export_button_is_there_for_every_role(login_user, grid_data):
    for role in ("viewer", "operator"):
        at = open_page(login_user(role))
        assert any("Export to Excel" in str(el.proto) for el in at.get("download_button"))

"""Undo an import from the History (AppTest against PostgreSQL): the import panel links to the
History filtered to its batch; there an operator sees the import, opens "Undo this import", sees
how many rows are removed and restored, applies it, and the rows are gone; viewers see no button;
a row changed since the import makes the dialog say which and offer no Undo."""

from __future__ import annotations

import sqlalchemy as sa
from importfiles import HEADER, csv_text, make_grid

from ctm import db
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import apply_import
from tests.ui.conftest import logged_in, texts
from tests.ui.test_history_page import open_page

ROWS = [HEADER, ["NEW-1", "North", "H2", "New One"], ["ACC-1", "South", "H1", None]]


def new_accounts(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT c.account_number, m.circuit_id FROM customers c"
                    " LEFT JOIN customer_transformer_matching m ON m.customer_id = c.id"
                    " WHERE c.account_number = 'NEW-1' OR m.substation_id IN"
                    " (SELECT id FROM substations WHERE name = 'South') ORDER BY 1"
                )
            )
        ]


def imported(engine, identity, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(csv_text(ROWS), encoding="utf-8")
    return apply_import(engine, identity, read_import_file(path, kinds.MAPPINGS)).batch_id


def buttons(at) -> set[str]:
    return {b.key for b in at.button}


def test_the_import_panel_links_to_its_batch_in_the_history(engine, login_user):
    make_grid(engine)
    at = logged_in(login_user("operator"))
    at.run()
    at.switch_page("views/mappings.py").run()
    at.button(key="bulk_import").click().run()
    at.file_uploader[0].set_value(("m.csv", csv_text(ROWS).encode(), "text/csv")).run()
    at.button(key="import_apply").click().run()
    assert not at.exception, at.exception
    with engine.connect() as conn:
        batch = conn.scalar(sa.text("SELECT batch_id FROM import_runs"))
    links = [el.proto for el in at.get("page_link")]
    link = next(p for p in links if p.label == "See this import in the History")
    assert link.page == "history" and link.query_string == f"batch={batch}"


def test_operator_undoes_an_import_from_the_history(engine, login_user, tmp_path):
    make_grid(engine)
    operator = login_user("operator")
    before = new_accounts(engine)
    batch = imported(engine, operator, tmp_path)
    assert new_accounts(engine) != before

    at = open_page(operator, batch=str(batch))
    assert "Import of mappings** from **m.csv**" in texts(at)
    assert len(at.dataframe[0].value) == 3  # the customer and two mappings
    at.button(key="undo_import").click().run()
    at.button(key="undo_cancel").click().run()  # changed one's mind: nothing happens
    assert not at.exception, at.exception
    assert "Rows removed" not in {m.label for m in at.metric}
    assert new_accounts(engine) != before
    at.button(key="undo_import").click().run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Rows removed"], shown["Rows restored"], shown["Rows kept"]) == ("3", "0", "0")
    assert "removes 2 mappings, 1 customer" in texts(at)
    assert new_accounts(engine) != before  # the preview wrote nothing

    at.button(key="undo_confirm").click().run()
    assert not at.exception, at.exception
    assert "Undid the import of m.csv: removed 2 mappings, 1 customer" in texts(at)
    assert new_accounts(engine) == before
    assert "undo_import" not in buttons(at)  # undone: no second undo
    assert "Undone on" in texts(at)
    at.button(key="undo_see_undo").click().run()
    assert "**Undo** of the import of **m.csv**" in texts(at)
    assert set(at.dataframe[0].value["action_label"]) == {"Deleted"}


def test_viewer_sees_the_import_but_no_undo(engine, login_user, tmp_path):
    make_grid(engine)
    batch = imported(engine, login_user("operator"), tmp_path)
    at = open_page(login_user("viewer"), batch=str(batch))
    assert "Import of mappings** from **m.csv**" in texts(at)
    assert "undo_import" not in buttons(at)


def test_a_row_changed_since_the_import_is_named_and_nothing_is_undone(
    engine, login_user, tmp_path
):
    make_grid(engine)
    operator = login_user("operator")
    batch = imported(engine, operator, tmp_path)
    with db.user_transaction(engine, operator) as conn:
        conn.execute(
            sa.text("UPDATE customers SET name = 'Renamed' WHERE account_number = 'NEW-1'")
        )
    at = open_page(login_user("admin"), batch=str(batch))
    at.button(key="undo_import").click().run()
    assert not at.exception, at.exception
    assert "cannot be undone: 1 of its rows changed after it" in texts(at)
    assert "Customer Renamed (NEW-1)" in texts(at)
    assert "undo_confirm" not in buttons(at)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM import_runs WHERE kind = 'undo'")) == 0

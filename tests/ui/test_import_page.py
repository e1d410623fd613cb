"""The bulk import on the mapping page (AppTest against PostgreSQL): upload, preview with counts
and every row's outcome, Apply only without errors, sync for admins only."""

from __future__ import annotations

import sqlalchemy as sa
from importfiles import HEADER, counts, csv_text, make_grid

from tests.ui.conftest import logged_in, texts

PAGE = "views/mappings.py"


def open_import(identity):
    at = logged_in(identity)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    at.button(key="bulk_import").click().run()
    assert not at.exception, at.exception
    return at


def upload(at, name: str, rows: list[list]):
    at.file_uploader[0].set_value((name, csv_text(rows).encode("utf-8"), "text/csv")).run()
    assert not at.exception, at.exception


def preview_table(at):
    return next(d.value for d in at.dataframe if "Outcome" in d.value.columns)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_operator_previews_fixes_and_applies(engine, login_user):
    make_grid(engine)
    at = open_import(login_user("operator"))
    assert "import_sync" not in [c.key for c in at.checkbox]  # sync is for admins
    assert {"Template (.xlsx)", "Template (.csv)"} <= {
        d.proto.label for d in at.get("download_button")
    }
    before = counts(engine)
    upload(
        at,
        "mappings.csv",
        [
            HEADER,
            ["ACC-1", "North", "H1", None],
            ["NEW-1", "North", "H2", "New One"],
            ["NEW-2", "Nowhere", "H1", "X"],
        ],
    )
    shown = metrics(at)
    assert (shown["New"], shown["Unchanged"], shown["Errors"]) == ("1", "1", "1")
    assert at.button(key="import_apply").disabled
    table = preview_table(at)
    assert list(table["Outcome"]) == ["error"]  # errors first
    assert "Nowhere" in table["Reason"].iloc[0]
    at.multiselect(key="import_filter").set_value(["new", "unchanged", "error"]).run()
    assert len(preview_table(at)) == 3

    upload(
        at,
        "mappings.csv",
        [HEADER, ["ACC-1", "North", "H1", None], ["NEW-1", "North", "H2", "New One"]],
    )
    assert metrics(at)["Errors"] == "0"
    assert counts(engine) == before  # the preview wrote nothing
    at.button(key="import_apply").click().run()
    assert not at.exception, at.exception
    assert "Imported mappings.csv: 2 rows: 1 new, 0 changed, 1 unchanged, 0 errors" in texts(at)
    with engine.connect() as conn:
        assert (
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM customer_transformer_matching m JOIN customers c"
                    " ON c.id = m.customer_id WHERE c.account_number = 'NEW-1' AND m.active"
                )
            )
            == 1
        )


def test_admin_sync_shows_what_it_ends_and_bad_files_say_why(engine, login_user):
    make_grid(engine)
    at = open_import(login_user("admin"))
    at.checkbox(key="import_sync").check().run()
    upload(at, "s.csv", [HEADER, ["ACC-1", "North", "H1", None]])
    assert metrics(at)["Ended by sync"] == "1"
    assert not at.button(key="import_apply").disabled
    at.file_uploader[0].set_value(("bad.csv", b"foo,bar\n1,2\n", "text/csv")).run()
    assert "no header row" in texts(at)

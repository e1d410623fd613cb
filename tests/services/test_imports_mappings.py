"""Importing mappings: matching by account, substation name or code, circuit; preview outcomes;
all-or-nothing apply as the user under row-level security; --sync; the import record."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from importfiles import HEADER, counts, make_grid, write_csv, write_xlsx

from ctm.errors import PermissionDenied
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import ImportRefused, apply_import, preview_import


def read(path, **kw):
    return read_import_file(path, kinds.MAPPINGS, **kw)


def mapped(engine, account):
    with engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT s.name, m.circuit_id, m.active FROM customer_transformer_matching m"
                    " JOIN customers c ON c.id = m.customer_id"
                    " JOIN substations s ON s.id = m.substation_id WHERE c.account_number = :a"
                ),
                {"a": account},
            )
        )


def test_preview_counts_and_reasons_then_apply_as_operator(engine, make_user, tmp_path):
    make_grid(engine)
    operator = make_user("operator")
    path = write_xlsx(
        tmp_path / "m.xlsx",
        [
            HEADER,
            ["ACC-1", "north", "h1", None],  # unchanged
            ["ACC-2", "NTH", "H10", None],  # new mapping for a known customer (by code)
            ["ACC-9", " South ", "H1", "Nine Ltd"],  # new customer
        ],
    )
    before = counts(engine)
    preview = preview_import(engine, operator, read(path))
    assert (preview.new, preview.changed, preview.unchanged, preview.error_rows) == (2, 0, 1, 0)
    assert preview.summary_line() == "3 rows: 2 new, 0 changed, 1 unchanged, 0 errors"
    assert list(preview.outcomes["outcome"]) == ["unchanged", "new", "new"]
    assert "new customer" in preview.outcomes["reason"].iloc[2]
    assert counts(engine) == before  # a preview writes nothing

    result = apply_import(engine, operator, read(path))
    assert result.applied and result.new == 2
    assert mapped(engine, "ACC-9") == [("South", "H1", True)]
    assert mapped(engine, "ACC-2") == [("North", "H10", True), ("North", "H2", True)]
    with engine.connect() as conn:
        run = conn.execute(sa.text("SELECT * FROM import_runs")).one()
        customer = conn.execute(
            sa.text("SELECT name, critical_customer FROM customers WHERE account_number='ACC-9'")
        ).one()
        editors = conn.scalars(
            sa.text(
                "SELECT DISTINCT updated_by FROM customer_transformer_matching m"
                " JOIN customers c ON c.id = m.customer_id WHERE c.account_number = 'ACC-9'"
            )
        ).all()
    assert (run.kind, run.rows_total, run.rows_new, run.imported_by) == (
        "mappings",
        3,
        2,
        operator.user_id,
    )
    assert run.batch_id == result.batch_id and run.file_name == "m.xlsx"
    assert tuple(customer) == ("Nine Ltd", True)
    assert editors == [operator.user_id]


def test_row_errors_refuse_everything_customers_included(engine, make_user, tmp_path):
    make_grid(engine)
    operator = make_user("operator")
    path = write_csv(
        tmp_path / "bad.csv",
        [
            HEADER,
            ["NEW-1", "North", "H1", "Valid New Customer"],  # fine on its own (line 2)
            ["123", "North", "H1", "Not Zero Padded"],  # 00123 exists (line 3)
            ["NEW-2", "Nowhere", "H1", "X"],  # unknown substation (line 4)
            ["NEW-3", "North", "H9", "Y"],  # circuit unknown for an operator (line 5)
            ["NEW-4", "North", "H1", None],  # new account without a name (line 6)
            ["NEW-1", "north ", "h1", "Valid New Customer"],  # same as line 2 (line 7)
        ],
    )
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        apply_import(engine, operator, read(path))
    assert counts(engine) == before
    lines = refused.value.preview.error_lines()
    joined = "\n".join(lines)
    assert "line 3, column account_number" in joined and "00123" in joined
    assert "line 4, column substation" in joined and "Nowhere" in joined
    assert "line 5, column circuit" in joined and "did you mean H2, H1?" in joined
    assert "line 6, column customer_name" in joined
    assert "line 7" in joined and "line 2" in joined  # the duplicate names both rows
    assert refused.value.preview.error_rows == 5
    assert refused.value.preview.summary_line() == "6 rows: 1 new, 0 changed, 0 unchanged, 5 errors"


def test_unknown_circuit_is_registered_for_admins(engine, make_user, tmp_path):
    grid = make_grid(engine)
    admin = make_user("admin")
    path = write_csv(tmp_path / "a.csv", [HEADER, ["ACC-1", "North", "h9 ", None]])
    preview = preview_import(engine, admin, read(path))
    assert preview.error_rows == 0 and "will be registered" in preview.outcomes["reason"][0]
    apply_import(engine, admin, read(path))
    with engine.connect() as conn:
        assert (
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM substation_circuits WHERE substation_id = :s"
                    " AND circuit_id = 'H9'"
                ),
                {"s": grid.north},
            )
            == 1
        )


def test_viewer_and_no_profile_cannot_import(engine, make_user, tmp_path):
    make_grid(engine)
    path = write_csv(tmp_path / "a.csv", [HEADER, ["ACC-1", "North", "H1", None]])
    with pytest.raises(PermissionDenied):
        apply_import(engine, make_user("viewer"), read(path))
    with pytest.raises(PermissionDenied):
        preview_import(engine, make_user(None), read(path))
    with pytest.raises(PermissionDenied):
        apply_import(engine, make_user("operator"), read(path), sync=True)


def test_sync_ends_unlisted_current_mappings_of_the_files_substations(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    path = write_csv(tmp_path / "s.csv", [HEADER, ["ACC-1", "North", "H1", None]])
    preview = preview_import(engine, admin, read(path), sync=True)
    assert list(preview.ended_by_sync["account_number"]) == ["ACC-2"]
    assert preview.summary_line().endswith("; 1 ended by --sync")
    assert mapped(engine, "ACC-2") == [("North", "H2", True)]
    apply_import(engine, admin, read(path), sync=True)
    assert mapped(engine, "ACC-2") == [("North", "H2", False)]
    assert mapped(engine, "ACC-1") == [("North", "H1", True)]


def test_active_false_ends_and_dates_change(engine, make_user, tmp_path):
    make_grid(engine)
    operator = make_user("operator")
    path = write_csv(
        tmp_path / "e.csv",
        [
            ["account_number", "substation", "circuit", "active", "connected_since"],
            ["ACC-1", "North", "H1", "no", ""],
            ["ACC-2", "North", "H2", "yes", "3/2/2024"],
        ],
    )
    preview = apply_import(engine, operator, read(path))
    assert (preview.new, preview.changed, preview.unchanged) == (0, 2, 0)
    assert mapped(engine, "ACC-1") == [("North", "H1", False)]
    with engine.connect() as conn:
        since = conn.scalar(
            sa.text(
                "SELECT m.connected_since FROM customer_transformer_matching m"
                " JOIN customers c ON c.id = m.customer_id WHERE c.account_number = 'ACC-2'"
            )
        )
    assert since.isoformat() == "2024-02-03"
    # The same file again changes nothing.
    again = preview_import(engine, operator, read(path))
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)


def test_history_carries_source_import_and_the_batch_id(engine, make_user, tmp_path):
    make_grid(engine)
    path = write_csv(tmp_path / "a.csv", [HEADER, ["NEW-1", "North", "H1", "New"]])
    result = apply_import(engine, make_user("operator"), read(path))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT table_name, source FROM audit_log WHERE batch_id = :b"),
            {"b": result.batch_id},
        ).all()
    assert sorted(r.table_name.split(".")[-1] for r in rows) == [
        "customer_transformer_matching",
        "customers",
    ]
    assert {r.source for r in rows} == {"import"}

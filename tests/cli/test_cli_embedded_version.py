"""The embedded server refuses a data folder written by another PostgreSQL major, with one line
that says which majors and what to do, before starting anything."""

from __future__ import annotations

import pytest
from clihelpers import run_ctm

from ctm import db


def test_ctm_refuses_a_data_folder_of_another_major(tmp_path):
    pgdata = tmp_path / "ctm-data" / "pgdata"
    pgdata.mkdir(parents=True)
    other = db.embedded_major() - 1
    (pgdata / "PG_VERSION").write_text(f"{other}\n")
    result = run_ctm("migrate", env={"CTM_DATA_DIR": str(tmp_path / "ctm-data")})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"PostgreSQL {other}" in line and f"PostgreSQL {db.embedded_major()}" in line
    assert str(pgdata) in line
    assert not (pgdata / "postmaster.pid").exists()


def test_same_major_and_new_folders_pass(tmp_path):
    db.check_data_folder_major(tmp_path / "new")  # no PG_VERSION yet: initdb will write it
    (tmp_path / "PG_VERSION").write_text("18\n")
    db.check_data_folder_major(tmp_path, major=18)
    with pytest.raises(db.DatabaseUnavailable, match="PostgreSQL 18.*PostgreSQL 19"):
        db.check_data_folder_major(tmp_path, major=19)

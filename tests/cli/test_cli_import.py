"""`ctm import`: the contract of DESIGN.md "Import" — exit codes 0/1/2, one line per row error
naming the row and column, the summary as the last line of standard output, messages on standard
error, nothing written unless every row is fine."""

from __future__ import annotations

import re

from clihelpers import run_ctm, scalar
from importfiles import HEADER, counts, make_grid, write_csv, write_xlsx

from ctm import users

SUMMARY = re.compile(
    r"^(\d+) rows: (\d+) new, (\d+) changed, (\d+) unchanged, (\d+) errors(; (\d+) ended by --sync)?$"
)


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def test_apply_exit_0_summary_last_on_stdout_messages_on_stderr(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_xlsx(
        tmp_path / "mappings.xlsx",
        [HEADER, ["ACC-1", "North", "H1", None], ["NEW-1", "south", "h1", "New One"]],
    )
    result = run_ctm("import", str(path), url=db_url)
    assert result.returncode == 0, result.stderr
    assert last_line(result.stdout) == "2 rows: 1 new, 0 changed, 1 unchanged, 0 errors"
    assert SUMMARY.match(last_line(result.stdout))
    assert "applied as batch" in result.stderr and "mappings.xlsx" in result.stderr
    assert scalar(engine, "SELECT count(*) FROM customers WHERE account_number = 'NEW-1'") == 1
    assert scalar(engine, "SELECT count(*) FROM import_runs WHERE kind = 'mappings'") == 1
    # The same file again: nothing new.
    again = run_ctm("import", str(path), url=db_url)
    assert last_line(again.stdout) == "2 rows: 0 new, 0 changed, 2 unchanged, 0 errors"


def test_dry_run_exit_0_writes_nothing(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_csv(tmp_path / "m.csv", [HEADER, ["NEW-1", "North", "H2", "New One"]])
    before = counts(engine)
    result = run_ctm("import", str(path), "--dry-run", url=db_url)
    assert result.returncode == 0, result.stderr
    assert last_line(result.stdout) == "1 rows: 1 new, 0 changed, 0 unchanged, 0 errors"
    assert "would apply" in result.stderr
    assert counts(engine) == before
    assert scalar(engine, "SELECT count(*) FROM import_runs") == 0


def test_row_errors_exit_1_one_line_each_nothing_written(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_csv(
        tmp_path / "bad.csv",
        [
            HEADER,
            ["NEW-1", "North", "H1", "Fine"],
            ["123", "North", "H1", "Padded"],
            ["NEW-2", "Nowhere", "H1", "X"],
            ["NEW-1", "North", "H1", "Fine"],
        ],
    )
    before = counts(engine)
    result = run_ctm("import", str(path), url=db_url)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.rstrip("\n").splitlines()
    assert lines[-1] == "4 rows: 1 new, 0 changed, 0 unchanged, 3 errors"
    errors = lines[:-1]
    assert len(errors) == 3
    assert errors[0].startswith("line 3, column account_number: ") and "00123" in errors[0]
    assert errors[1].startswith("line 4, column substation: ") and "Nowhere" in errors[1]
    assert errors[2].startswith("line 5: ") and "line 2" in errors[2]
    assert "nothing was written" in result.stderr
    assert counts(engine) == before


def test_xlsx_row_errors_name_the_excel_row(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_xlsx(
        tmp_path / "m.xlsx",
        [[*HEADER, "connected_since"], ["ACC-1", "North", "H1", None, "31/31/2024"]],
        above=[["Mappings to load"], []],
    )
    result = run_ctm("import", str(path), "--dry-run", url=db_url)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("row 4, column connected_since: ")


def test_file_and_usage_errors_exit_2(engine, db_url, tmp_path):
    make_grid(engine)
    missing = run_ctm("import", str(tmp_path / "nope.csv"), url=db_url)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
    assert missing.stdout == ""
    no_column = write_csv(tmp_path / "c.csv", [["account_number", "substation"], ["A", "North"]])
    result = run_ctm("import", str(no_column), url=db_url)
    assert result.returncode == 2
    assert "missing required column circuit" in result.stderr
    assert "account_number, substation" in result.stderr
    bad_kind = run_ctm("import", str(no_column), "--kind", "widgets", url=db_url)
    assert bad_kind.returncode == 2
    nobody = write_csv(tmp_path / "ok.csv", [HEADER, ["ACC-1", "North", "H1", None]])
    unknown_user = run_ctm("import", str(nobody), "--as", "ghost", url=db_url)
    assert unknown_user.returncode == 2 and "ghost" in unknown_user.stderr
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert run_ctm("import", str(empty), url=db_url).returncode == 2
    down = run_ctm("import", str(nobody), url="postgresql://nobody@127.0.0.1:1/none")
    assert down.returncode == 2 and "cannot connect" in down.stderr


def test_as_user_runs_under_rls_and_operator_rules(engine, db_url, tmp_path):
    make_grid(engine)
    users.add_user(engine, "otto", "operator", "operator-pass-1", "Otto Operator")
    path = write_csv(tmp_path / "m.csv", [HEADER, ["NEW-1", "North", "H2", "New One"]])
    result = run_ctm("import", str(path), "--as", "otto", url=db_url)
    assert result.returncode == 0, result.stderr
    editor = scalar(
        engine,
        "SELECT p.full_name FROM customer_transformer_matching m JOIN customers c"
        " ON c.id = m.customer_id JOIN profiles p ON p.id = m.updated_by"
        " WHERE c.account_number = 'NEW-1'",
    )
    assert editor == "Otto Operator"
    unknown_circuit = write_csv(tmp_path / "u.csv", [HEADER, ["ACC-1", "North", "H77", None]])
    refused = run_ctm("import", str(unknown_circuit), "--as", "otto", url=db_url)
    assert refused.returncode == 1
    assert refused.stdout.startswith("line 2, column circuit: circuit H77 is not registered")
    sync = run_ctm("import", str(path), "--as", "otto", "--sync", url=db_url)
    assert sync.returncode == 2 and "admins" in sync.stderr


def test_sync_summary_and_database_url_after_the_command(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_csv(tmp_path / "s.csv", [HEADER, ["ACC-1", "North", "H1", None]])
    result = run_ctm("import", str(path), "--sync", "--database-url", db_url)
    assert result.returncode == 0, result.stderr
    assert (
        last_line(result.stdout)
        == "1 rows: 0 new, 0 changed, 1 unchanged, 0 errors; 1 ended by --sync"
    )
    assert "ACC-2" in result.stderr
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching WHERE active") == 1


def test_encoding_option_and_report(engine, db_url, tmp_path):
    make_grid(engine)
    path = write_csv(
        tmp_path / "b.csv", [HEADER, ["TW-1", "North", "H1", "台灣電力公司"]], encoding="big5"
    )
    result = run_ctm("import", str(path), "--encoding", "big5", url=db_url)
    assert result.returncode == 0, result.stderr
    assert "encoding big5" in result.stderr
    assert (
        scalar(engine, "SELECT name FROM customers WHERE account_number = 'TW-1'") == "台灣電力公司"
    )


def test_a_terminal_gets_a_progress_bar_redrawn_in_place(engine, db_url, tmp_path):
    """On a terminal the steps (match and check, write) advance one bar on one line; to a pipe
    the same steps are plain timestamped lines (the other tests read those)."""
    import os
    import pty
    import subprocess
    import sys

    from clihelpers import REPO

    make_grid(engine)
    path = write_csv(tmp_path / "m.csv", [HEADER, ["NEW-1", "North", "H2", "New One"]])
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CTM_DATA_DIR"}
    env.update(DATABASE_URL=db_url, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    process = subprocess.run(
        [sys.executable, "-m", "ctm.cli", "import", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    terminal = b"".join(chunks).decode()
    assert process.returncode == 0, terminal
    assert "\r[" + "-" * 20 + "] 0/2 matching 1 rows" in terminal
    assert "\r[" + "#" * 10 + "-" * 10 + "] 1/2 writing" in terminal
    assert "\r[" + "#" * 20 + "] 2/2 written" in terminal
    # The file's own messages come before the bar, each on its own line.
    assert "m.csv: 1 rows" in terminal.split("\r[")[0]
    assert last_line(process.stdout.decode()) == "1 rows: 1 new, 0 changed, 0 unchanged, 0 errors"

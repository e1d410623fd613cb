"""Wrong input to `ctm` commands ends in one line on standard error and a non-zero exit status —
never a traceback — and writes nothing; odd but valid input (a huge --batch-days, events dated in
year 1 by another system) just works."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa
from clihelpers import REPO, run_ctm, scalar

from ctm import db


def run_bytes(*args: str, url: str, stdin: bytes) -> subprocess.CompletedProcess:
    """Like run_ctm, with raw bytes on standard input (a password that is not UTF-8)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CTM_DATA_DIR")}
    env.update(PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", DATABASE_URL=url)
    done = subprocess.run(
        [sys.executable, "-m", "ctm.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


ADD = ("users", "add", "mallory", "--role", "viewer", "--password-stdin")

# (id, argv, stdin bytes, exit status, text in the last stderr line)
CASES = [
    ("password of spaces", ADD, b"     \n", 2, "only spaces"),
    ("empty password", ADD, b"\n", 2, "only spaces"),
    ("no password at all", ADD, b"", 2, "no password"),
    ("password not UTF-8", ADD, b"caf\xe9-latin1\n", 2, "not UTF-8"),
    ("password with NUL", ADD, b"abc\x00defgh\n", 2, "NUL"),
    (
        "set-password spaces",
        ("users", "set-password", "alice", "--password-stdin"),
        b"  \n",
        2,
        "only spaces",
    ),
    (
        "set-password not UTF-8",
        ("users", "set-password", "alice", "--password-stdin"),
        b"\xff\xfe\n",
        2,
        "not UTF-8",
    ),
    ("unknown role", ("users", "add", "x", "--role", "root"), b"", 2, "root"),
    ("batch days zero", ("backfill", "--batch-days", "0"), b"", 2, "batch-days"),
    ("batch days text", ("backfill", "--batch-days", "ten"), b"", 2, "batch-days"),
    ("since not a date", ("backfill", "--since", "yesterday"), b"", 2, "since"),
    ("unknown time zone", ("time-zone", "Mars/Olympus_Mons"), b"", 2, "time zone"),
    (
        "not a postgres url",
        ("migrate", "--database-url", "mysql://u@h/db"),
        b"",
        2,
        "not a PostgreSQL URL",
    ),
]


@pytest.fixture
def alice(db_url):
    result = run_ctm(
        "users",
        "add",
        "alice",
        "--role",
        "admin",
        "--password-stdin",
        url=db_url,
        input="old password\n",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "status", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_wrong_input_is_one_clear_line_and_writes_nothing(db_url, alice, args, stdin, status, text):
    engine = db.get_engine(db_url)
    users_before = scalar(engine, "SELECT count(*) FROM ctm_private.user_credentials")
    hash_before = scalar(
        engine, "SELECT password_hash FROM ctm_private.user_credentials WHERE username = 'alice'"
    )
    result = run_bytes(*args, url=db_url, stdin=stdin)
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert text in result.stderr.strip().splitlines()[-1]
    assert scalar(engine, "SELECT count(*) FROM ctm_private.user_credentials") == users_before
    assert (
        scalar(
            engine,
            "SELECT password_hash FROM ctm_private.user_credentials WHERE username = 'alice'",
        )
        == hash_before
    )


def _batches(stderr: str) -> int:
    match = re.search(r"scanned in ([\d,]+) batch", stderr)
    assert match, stderr
    return int(match.group(1).replace(",", ""))


@pytest.fixture
def far_apart_events(engine):
    """Two events 2,025 years apart (another system stored one dated in year 1), both on a
    circuit with a mapping added afterwards, so both lack their impact."""
    with db.owner_transaction(engine) as conn:
        s = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('Far') RETURNING id"))
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (timestamp, substation_id, circuit_id, severity) VALUES"
                " ('0001-06-01 00:00+00', :s, 'H1', 'high'), (now() - interval '1 day', :s, 'H1', 'low')"
            ),
            {"s": s},
        )
        c = conn.scalar(
            sa.text(
                "INSERT INTO customers (account_number, name) VALUES ('F1', 'Far Co') RETURNING id"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id) VALUES (:c, :s, 'H1')"
            ),
            {"c": c, "s": s},
        )


def test_backfill_batches_only_where_events_are(db_url, far_apart_events):
    result = run_ctm("backfill", "--batch-days", "30", url=db_url, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "events scanned:  2" in result.stdout
    assert "impacts created: 2" in result.stdout
    assert _batches(result.stderr) <= 3  # not 24,000


@pytest.mark.parametrize("days", ["1000000000000", "99999999999999999999"])
def test_a_huge_batch_days_is_one_batch_not_a_traceback(db_url, far_apart_events, days):
    result = run_ctm("backfill", "--batch-days", days, url=db_url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "impacts created: 2" in result.stdout
    assert _batches(result.stderr) == 1


def test_since_is_midnight_in_the_stored_time_zone(db_url, engine):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text("UPDATE ctm_settings SET value = 'Asia/Hong_Kong' WHERE key = 'time_zone'")
        )
        s = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('HK') RETURNING id"))
        # 2026-03-01 20:00 UTC is 2026-03-02 04:00 in Hong Kong: on or after --since 2026-03-02.
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (timestamp, substation_id, circuit_id) VALUES"
                " ('2026-03-01 20:00+00', :s, 'H1'), ('2026-03-01 15:00+00', :s, 'H1')"
            ),
            {"s": s},
        )
    result = run_ctm("backfill", "--since", "2026-03-02", url=db_url)
    assert result.returncode == 0, result.stderr
    assert "events scanned:  1" in result.stdout

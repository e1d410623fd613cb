"""`ctm users add / set-role / set-password / list`: bcrypt hashes that streamlit-authenticator's
credentials verify, the rules for usernames, roles and passwords, the demo-password bookkeeping,
and the interactive prompt on a real terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import bcrypt
import pytest
import sqlalchemy as sa
from clihelpers import REPO, run_ctm, scalar

from ctm import db, users


def _verifies(engine, username: str, password: str) -> bool:
    entry = users.login_credentials(engine)["usernames"][username]
    return bcrypt.checkpw(password.encode(), entry["password"].encode())


def test_add_from_stdin_then_list_and_log_in(engine, db_url):
    result = run_ctm(
        "users",
        "add",
        "alice",
        "--role",
        "operator",
        "--name",
        "Alice Chan",
        "--email",
        "alice@example.com",
        "--password-stdin",
        url=db_url,
        input="correct horse\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "added user alice (operator)"
    assert (
        run_ctm(
            "users",
            "add",
            "bob",
            "--role",
            "viewer",
            "--password-stdin",
            url=db_url,
            input="bobs-password\n",
        ).returncode
        == 0
    )

    listing = run_ctm("users", "list", url=db_url).stdout.splitlines()
    assert listing[0].split() == [
        "USERNAME",
        "ROLE",
        "NAME",
        "EMAIL",
        "CREATED",
        "LAST_LOGIN",
        "STATE",
        "DEMO",
    ]
    assert listing[1].split()[:5] == ["alice", "operator", "Alice", "Chan", "alice@example.com"]
    assert listing[2].split()[:3] == ["bob", "viewer", "bob"]

    creds = users.login_credentials(engine)
    assert creds["usernames"]["alice"]["name"] == "Alice Chan"
    assert creds["usernames"]["alice"]["email"] == "alice@example.com"
    assert creds["usernames"]["alice"]["roles"] == ["operator"]
    assert creds["usernames"]["alice"]["password"].startswith("$2")
    assert _verifies(engine, "alice", "correct horse")
    assert not _verifies(engine, "alice", "correct horse ")
    identity = users.identity_for(engine, "alice")
    assert identity.role == "operator" and identity.full_name == "Alice Chan"
    assert (
        scalar(engine, "SELECT role FROM profiles WHERE id = :i", i=identity.user_id) == "operator"
    )
    assert users.identity_for(engine, "nobody") is None


def test_hashes_are_not_readable_by_authenticated(engine):
    users.add_user(engine, "carol", "admin", "carols-password")
    admin = users.identity_for(engine, "carol")
    with (
        pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
        db.user_transaction(engine, admin) as conn,
    ):
        conn.execute(sa.text("SELECT password_hash FROM ctm_private.user_credentials"))


def test_set_role_and_set_password(engine, db_url):
    users.add_user(engine, "dave", "viewer", "first-password")
    result = run_ctm("users", "set-role", "dave", "admin", url=db_url)
    assert result.returncode == 0, result.stderr
    assert users.identity_for(engine, "dave").role == "admin"
    assert users.login_credentials(engine)["usernames"]["dave"]["roles"] == ["admin"]

    result = run_ctm(
        "users", "set-password", "dave", "--password-stdin", url=db_url, input="second-password\n"
    )
    assert result.returncode == 0, result.stderr
    assert _verifies(engine, "dave", "second-password")
    assert not _verifies(engine, "dave", "first-password")


def test_changing_a_demo_user_hides_its_password_from_the_login_page(engine, db_url):
    with db.owner_transaction(engine) as conn:
        for name, role in (("admin", "admin"), ("viewer", "viewer")):
            users.add_user_in(conn, name, role, users.hash_password(f"{name}-demo"))
            conn.execute(
                sa.text("INSERT INTO ctm_private.demo_users VALUES (:u, :p)"),
                {"u": name, "p": f"{name}-demo"},
            )
    assert [u for u, _, _ in users.demo_logins(engine)] == ["admin", "viewer"]
    assert (
        run_ctm(
            "users", "set-password", "admin", "--password-stdin", url=db_url, input="a-new-secret\n"
        ).returncode
        == 0
    )
    assert [u for u, _, _ in users.demo_logins(engine)] == ["viewer"]
    assert run_ctm("users", "set-role", "viewer", "operator", url=db_url).returncode == 0
    assert users.demo_logins(engine) == []
    listing = run_ctm("users", "list", url=db_url).stdout
    assert "yes" not in listing


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("add", "Bad Name", "--role", "admin", "--password-stdin"),
            "password1\n",
            "username 'Bad Name' is not allowed",
        ),
        (
            ("add", "x", "--role", "admin", "--password-stdin"),
            "password1\n",
            "username 'x' is not allowed",
        ),
        (("add", "erin", "--role", "admin", "--password-stdin"), "short\n", "too short"),
        (
            ("add", "erin", "--role", "admin", "--password-stdin"),
            "é" * 37 + "\n",
            "at most 72 bytes",
        ),
        (
            ("add", "erin", "--role", "admin", "--password-stdin"),
            "",
            "no password on standard input",
        ),
        (
            ("add", "erin", "--role", "admin"),
            "password1\n",
            "standard input is not a terminal",
        ),
        (("set-password", "ghost", "--password-stdin"), "password1\n", "there is no user 'ghost'"),
        (("set-role", "ghost", "admin"), "", "there is no user 'ghost'"),
        (("set-password", "ghost"), "password1\n", "there is no user 'ghost'"),
    ],
)
def test_bad_input_is_one_clear_line(engine, db_url, args, stdin, message):
    result = run_ctm("users", *args, url=db_url, input=stdin)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line
    assert scalar(engine, "SELECT count(*) FROM ctm_private.user_credentials") == 0


def test_unknown_role_and_duplicate_user(engine, db_url):
    bad_role = run_ctm(
        "users",
        "add",
        "erin",
        "--role",
        "boss",
        "--password-stdin",
        url=db_url,
        input="password1\n",
    )
    assert bad_role.returncode == 2
    assert "'boss' is not one of 'admin', 'operator', 'viewer'" in bad_role.stderr
    assert (
        run_ctm(
            "users",
            "add",
            "erin",
            "--role",
            "viewer",
            "--password-stdin",
            url=db_url,
            input="password1\n",
        ).returncode
        == 0
    )
    again = run_ctm(
        "users",
        "add",
        "erin",
        "--role",
        "admin",
        "--password-stdin",
        url=db_url,
        input="password2\n",
    )
    assert again.returncode == 2
    assert "user 'erin' already exists" in again.stderr
    assert users.identity_for(engine, "erin").role == "viewer"
    assert _verifies(engine, "erin", "password1")


def test_a_72_byte_password_is_fine(engine):
    password = "p" * 72
    users.add_user(engine, "frank", "viewer", password)
    assert _verifies(engine, "frank", password)


def test_empty_user_list_says_how_to_add_one(db_url):
    result = run_ctm("users", "list", url=db_url)
    assert result.returncode == 0
    assert "ctm users add USERNAME --role admin" in result.stdout


def _interact(db_url: str, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run ctm on a pseudo-terminal and answer each prompt in turn."""
    main, child = pty.openpty()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PYTHONPATH": str(REPO),
        "PYTHONWARNINGS": "ignore",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctm.cli", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=REPO,
        close_fds=True,
        start_new_session=True,  # no controlling terminal: getpass uses this pty
    )
    os.close(child)
    output = b""
    pending = list(answers)
    answered_at = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if pending and output[answered_at:].rstrip().endswith(b":"):
                os.write(main, pending.pop(0).encode() + b"\n")
                answered_at = len(output)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(main)
    return proc.returncode, output.decode(errors="replace")


def test_on_a_terminal_the_password_is_asked_twice_and_hidden(engine, db_url):
    code, output = _interact(
        db_url, ["users", "add", "gina", "--role", "admin"], ["tty-password-1", "tty-password-1"]
    )
    assert code == 0, output
    assert "Password:" in output and "Repeat the password:" in output
    assert "tty-password-1" not in output  # hidden input is not echoed
    assert _verifies(engine, "gina", "tty-password-1")


def test_on_a_terminal_a_mismatch_asks_again(engine, db_url):
    code, output = _interact(
        db_url,
        ["users", "add", "hugo", "--role", "viewer"],
        ["first-try-1", "different-2", "second-try-3", "second-try-3"],
    )
    assert code == 0, output
    assert "do not match" in output
    assert _verifies(engine, "hugo", "second-try-3")


def test_disable_enable_unlock_remove_without_a_shell_into_the_database(engine, db_url):
    from ctm import sessions

    key = "k" * 40
    users.add_user(engine, "root", "admin", "root-password")
    users.add_user(engine, "ivan", "operator", "ivan-password")
    token = sessions.log_in(engine, "ivan", "ivan-password", key).token
    result = run_ctm("users", "disable", "ivan", url=db_url)
    assert result.returncode == 0 and result.stdout.strip() == "ivan is disabled"
    assert sessions.resolve(engine, token, key) is None
    assert not sessions.log_in(engine, "ivan", "ivan-password", key).ok
    assert "disabled" in run_ctm("users", "list", url=db_url).stdout
    assert run_ctm("users", "enable", "ivan", url=db_url).returncode == 0
    assert sessions.log_in(engine, "ivan", "ivan-password", key).ok

    for _ in range(5):
        sessions.log_in(engine, "ivan", "guess", key)
    assert sessions.log_in(engine, "ivan", "ivan-password", key).locked_minutes == 15
    assert "locked" in run_ctm("users", "list", url=db_url).stdout
    result = run_ctm("users", "unlock", "ivan", url=db_url)
    assert result.returncode == 0 and result.stdout.strip() == "ivan is unlocked"
    assert sessions.log_in(engine, "ivan", "ivan-password", key).ok

    assert run_ctm("users", "remove", "ivan", url=db_url).returncode == 0
    assert users.identity_for(engine, "ivan") is None
    last = run_ctm("users", "remove", "root", url=db_url)
    assert last.returncode == 2 and "last administrator" in last.stderr
    for command in (("disable", "root"), ("set-role", "root", "viewer")):
        refused = run_ctm("users", *command, url=db_url)
        assert refused.returncode == 2 and "last administrator" in refused.stderr
    assert users.identity_for(engine, "root").role == "admin"

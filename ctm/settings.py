"""Settings the app reads from its environment: the login cookie's signing key, login pacing,
how long an idle session lives and when repeated failed logins lock a username.

The cookie key is never a constant in the code: an explicit secret (from .streamlit/secrets.toml),
else CTM_COOKIE_KEY, else a random key generated once and kept in the data folder.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

from ctm import db

COOKIE_KEY_FILE = "cookie_key"
MIN_COOKIE_KEY_BYTES = 32
DEFAULT_LOGIN_SLEEP_SECONDS = 0.7  # pause after a failed login (never on other runs)
DEFAULT_SESSION_IDLE_HOURS = 12.0
DEFAULT_LOGIN_MAX_FAILURES = 5
DEFAULT_LOGIN_FAILURE_WINDOW_MINUTES = 15.0
DEFAULT_LOGIN_LOCK_MINUTES = 15.0


class SettingsError(Exception):
    """A setting is present but unusable; the message says which and why."""


def cookie_key(secret: str | None = None, data_dir: Path | None = None) -> str:
    """The key that signs the re-login cookie: `secret`, else CTM_COOKIE_KEY, else the key file."""
    for source, value in (
        ("secrets.toml cookie_key", secret),
        ("CTM_COOKIE_KEY", os.environ.get("CTM_COOKIE_KEY")),
    ):
        if value:
            if len(value.encode()) < MIN_COOKIE_KEY_BYTES:
                raise SettingsError(
                    f"{source} is too short: use at least {MIN_COOKIE_KEY_BYTES} characters"
                )
            return value
    return _stored_cookie_key(data_dir or db.default_data_dir())


def _stored_cookie_key(data_dir: Path) -> str:
    path = data_dir / COOKIE_KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a key others can read signs cookies anyone could forge
        key = path.read_text().strip()
        if len(key.encode()) >= MIN_COOKIE_KEY_BYTES:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with owner-only rights before the key is written, so it is never readable by others;
    # an existing file (e.g. left with loose rights by hand) is tightened before it is rewritten.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _number(name: str, default: float, unit: str, *, positive: bool = False) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of {unit}, not {raw!r}") from None
    if value < 0 or (positive and value == 0) or not math.isfinite(value):
        raise SettingsError(
            f"{name} must be a {'positive' if positive else 'non-negative'} number of {unit}, not {raw!r}"
        )
    return value


def login_sleep_seconds() -> float:
    """Pause after each failed login (CTM_LOGIN_SLEEP_SECONDS; tests set 0)."""
    return _number("CTM_LOGIN_SLEEP_SECONDS", DEFAULT_LOGIN_SLEEP_SECONDS, "seconds")


def session_idle_hours() -> float:
    """A login session unused this long ends (CTM_SESSION_IDLE_HOURS, default 12)."""
    return _number("CTM_SESSION_IDLE_HOURS", DEFAULT_SESSION_IDLE_HOURS, "hours", positive=True)


def login_max_failures() -> int:
    """Failed logins within the window that lock a username (CTM_LOGIN_MAX_FAILURES, default 5)."""
    value = _number("CTM_LOGIN_MAX_FAILURES", DEFAULT_LOGIN_MAX_FAILURES, "attempts", positive=True)
    return max(1, int(value))


def login_failure_window_minutes() -> float:
    """How far back failed logins count (CTM_LOGIN_FAILURE_WINDOW_MINUTES, default 15)."""
    return _number(
        "CTM_LOGIN_FAILURE_WINDOW_MINUTES",
        DEFAULT_LOGIN_FAILURE_WINDOW_MINUTES,
        "minutes",
        positive=True,
    )


def login_lock_minutes() -> float:
    """How long a locked username stays locked (CTM_LOGIN_LOCK_MINUTES, default 15)."""
    return _number("CTM_LOGIN_LOCK_MINUTES", DEFAULT_LOGIN_LOCK_MINUTES, "minutes", positive=True)

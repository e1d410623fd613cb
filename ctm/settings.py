"""Settings the app reads from its environment: the login cookie's signing key and login pacing.

The cookie key is never a constant in the code: an explicit secret (from .streamlit/secrets.toml),
else CTM_COOKIE_KEY, else a random key generated once and kept in the data folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ctm import db

COOKIE_KEY_FILE = "cookie_key"
MIN_COOKIE_KEY_BYTES = 32
DEFAULT_LOGIN_SLEEP_SECONDS = 0.7  # streamlit-authenticator's own pause against password guessing


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
        key = path.read_text().strip()
        if len(key.encode()) >= MIN_COOKIE_KEY_BYTES:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with owner-only rights before the key is written, so it is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def login_sleep_seconds() -> float:
    """Pause on each logged-out run (CTM_LOGIN_SLEEP_SECONDS; tests set 0)."""
    raw = os.environ.get("CTM_LOGIN_SLEEP_SECONDS")
    if raw is None or raw == "":
        return DEFAULT_LOGIN_SLEEP_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"CTM_LOGIN_SLEEP_SECONDS must be a number of seconds, not {raw!r}")
    if value < 0:
        raise SettingsError("CTM_LOGIN_SLEEP_SECONDS cannot be negative")
    return value

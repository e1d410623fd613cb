"""The login cookie key: from secrets, the environment, or generated once and kept private."""

import stat

import pytest

from ctm import settings


def test_explicit_secret_wins_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CTM_COOKIE_KEY", "e" * 40)
    assert settings.cookie_key("s" * 40, data_dir=tmp_path) == "s" * 40
    assert settings.cookie_key(None, data_dir=tmp_path) == "e" * 40
    assert not (tmp_path / settings.COOKIE_KEY_FILE).exists()


def test_generated_once_kept_in_the_data_folder_readable_by_owner_only(monkeypatch, tmp_path):
    monkeypatch.delenv("CTM_COOKIE_KEY", raising=False)
    first = settings.cookie_key(None, data_dir=tmp_path)
    assert len(first) >= 32
    assert settings.cookie_key(None, data_dir=tmp_path) == first
    mode = stat.S_IMODE((tmp_path / settings.COOKIE_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert settings.cookie_key(None, data_dir=tmp_path / "other") != first


def test_a_short_key_is_refused_with_its_source(monkeypatch, tmp_path):
    monkeypatch.setenv("CTM_COOKIE_KEY", "short")
    with pytest.raises(settings.SettingsError, match="CTM_COOKIE_KEY is too short"):
        settings.cookie_key(None, data_dir=tmp_path)


def test_login_pause_is_configurable_and_sane_by_default(monkeypatch):
    monkeypatch.delenv("CTM_LOGIN_SLEEP_SECONDS", raising=False)
    assert settings.login_sleep_seconds() == settings.DEFAULT_LOGIN_SLEEP_SECONDS
    monkeypatch.setenv("CTM_LOGIN_SLEEP_SECONDS", "0")
    assert settings.login_sleep_seconds() == 0
    monkeypatch.setenv("CTM_LOGIN_SLEEP_SECONDS", "soon")
    with pytest.raises(settings.SettingsError, match="number of seconds"):
        settings.login_sleep_seconds()


@pytest.mark.parametrize("existing", ["short\n", "k" * 48 + "\n"])
def test_an_existing_key_file_with_loose_rights_ends_owner_only(monkeypatch, tmp_path, existing):
    """A key file left readable by others (by hand, an old version, a restore) is tightened
    whether it is rewritten (too short) or kept."""
    monkeypatch.delenv("CTM_COOKIE_KEY", raising=False)
    path = tmp_path / settings.COOKIE_KEY_FILE
    path.write_text(existing)
    path.chmod(0o644)
    key = settings.cookie_key(None, data_dir=tmp_path)
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_session_and_lockout_settings_have_defaults_and_refuse_nonsense(monkeypatch):
    for name in (
        "CTM_SESSION_IDLE_HOURS",
        "CTM_LOGIN_MAX_FAILURES",
        "CTM_LOGIN_FAILURE_WINDOW_MINUTES",
        "CTM_LOGIN_LOCK_MINUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.session_idle_hours() == 12
    assert settings.login_max_failures() == 5
    assert settings.login_failure_window_minutes() == 15
    assert settings.login_lock_minutes() == 15
    monkeypatch.setenv("CTM_SESSION_IDLE_HOURS", "0.5")
    assert settings.session_idle_hours() == 0.5
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("CTM_SESSION_IDLE_HOURS", bad)
        with pytest.raises(settings.SettingsError, match="CTM_SESSION_IDLE_HOURS"):
            settings.session_idle_hours()

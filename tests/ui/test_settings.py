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

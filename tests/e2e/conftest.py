"""End-to-end fixtures: a database with demo data, `streamlit run app.py` on a free local port,
and Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctm import db
from ctm.demo import load_demo_data

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Each running server's log, so a failing test's report can show what the server said.
_SERVER_LOGS: dict[str, Path] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports what the page showed and the server's last log lines: a
    failure on a CI machine is then explained by its own output, not by a rerun that passes."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    tab = item.funcargs.get("page")
    if tab is not None:
        try:
            text = tab.locator("[data-testid=stApp]").inner_text(timeout=5_000)
            report.sections.append((f"page text at {tab.url}", text[-4_000:]))
        except Exception as error:  # noqa: BLE001 - a report must not fail the report
            report.sections.append(("page text", f"unreadable: {error}"))
    log = _SERVER_LOGS.get(item.funcargs.get("app_url", ""))
    if log is not None and log.exists():
        report.sections.append(("streamlit log (tail)", log.read_text()[-4_000:]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_db_url(server_url, template_url):
    """A migrated database of its own holding `ctm demo-data`'s rows; dropped afterwards."""
    name = f"ctm_e2e_{os.getpid()}_{int(time.time())}"
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    template = sa.engine.make_url(db._sqlalchemy_url(template_url)).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = (
        sa.engine.make_url(db._sqlalchemy_url(server_url))
        .set(database=name)
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg2://", "postgresql://")
    )
    load_demo_data(db.get_engine(url))
    yield url
    db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def app_env() -> dict[str, str]:
    """Extra environment for the module's server; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def app_url(demo_db_url, tmp_path_factory, app_env):
    """A freshly started `streamlit run app.py`; stopped (by its pid) after the module."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": demo_db_url,
        "CTM_COOKIE_KEY": "e2e-cookie-key-" + "x" * 32,
        "CTM_LOGIN_SLEEP_SECONDS": "0",
        "CTM_DATA_DIR": str(tmp_path_factory.mktemp("e2e-data")),
        **app_env,
    }
    log_path = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    log = open(log_path, "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _SERVER_LOGS[url] = log_path
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        _SERVER_LOGS.pop(url, None)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def settle(page) -> None:
    """Wait until Streamlit is connected and the script has stayed idle for a moment (a component
    mounting, e.g. the login cookie reader, starts one more run right after the first)."""
    app = "[data-testid=stApp]"
    page.wait_for_selector(f"{app}[data-test-connection-state=CONNECTED]")
    idle_checks = 0
    while idle_checks < 2:
        page.wait_for_timeout(400)
        page.wait_for_selector(f"{app}[data-test-script-state=notRunning]")
        state = page.locator(app).get_attribute("data-test-script-state")
        idle_checks = idle_checks + 1 if state == "notRunning" else 0


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, url: str, username: str, password: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    settle(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    settle(page)

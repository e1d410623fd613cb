"""How long a person waits for a deep link when the login cookie is already there.

Starts `streamlit run app.py` from --app-dir (default: this checkout; point it at an unpacked older
version to compare) on a database holding `ctm demo-data`, logs in once through the form to get
the cookie, then opens /mappings N times in fresh browser contexts that carry only that cookie.
A run is done when the mapping grid is visible, no login form is on screen and the app reports
its script as not running. Debian's Chromium via Playwright.

    python benchmarks/bench_login_deep_link.py --database-url URL [--app-dir DIR] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = "[data-testid=stApp]"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(app_dir: Path, database_url: str, sleep: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CTM_COOKIE_KEY": "bench-cookie-key-" + "x" * 32,
        "CTM_LOGIN_SLEEP_SECONDS": sleep,
        "CTM_DATA_DIR": tempfile.mkdtemp(prefix="ctm-bench-"),
        "PYTHONPATH": str(app_dir),
    }
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
        cwd=app_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("streamlit did not start")


def wait_done(tab) -> None:
    tab.wait_for_selector(f"{APP}[data-test-connection-state=CONNECTED]")
    tab.wait_for_selector("[data-testid=stDataFrame]", state="visible", timeout=60_000)
    while True:
        tab.wait_for_selector(f"{APP}[data-test-script-state=notRunning]")
        if tab.get_by_role("textbox", name="Username").count() == 0:
            return
        tab.wait_for_timeout(20)


def measure(app_dir: Path, database_url: str, runs: int, sleep: str) -> list[float]:
    from playwright.sync_api import sync_playwright

    process, url = start_app(app_dir, database_url, sleep)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"]
            )
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            tab = context.new_page()
            tab.goto(f"{url}/")
            tab.get_by_role("textbox", name="Username").fill("admin")
            tab.get_by_role("textbox", name="Password").fill("admin-demo")
            tab.get_by_role("button", name="Log in").click()
            wait_done(tab)
            tab.wait_for_timeout(1500)  # the cookie is written by the browser
            [cookie] = [c for c in context.cookies() if c["name"] == "ctm_login"]
            context.close()
            times = []
            for i in range(runs + 1):
                fresh = browser.new_context(viewport={"width": 1400, "height": 900})
                fresh.add_cookies(
                    [{"name": "ctm_login", "value": cookie["value"], "url": f"{url}/"}]
                )
                page = fresh.new_page()
                page.set_default_timeout(60_000)
                start = time.perf_counter()
                page.goto(f"{url}/mappings")
                wait_done(page)
                elapsed = time.perf_counter() - start
                if i:  # the first one warms the server's caches
                    times.append(elapsed)
                fresh.close()
            browser.close()
        return times
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--login-sleep", default="0.7", help="CTM_LOGIN_SLEEP_SECONDS")
    args = parser.parse_args()
    times = measure(args.app_dir, args.database_url, args.runs, args.login_sleep)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"{args.app_dir}: deep link /mappings by cookie, {len(times)} runs: "
        f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"min {times[0] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()

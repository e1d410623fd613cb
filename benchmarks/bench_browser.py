"""Speed as a person sees it: ctm in headless Chromium against a minimal Streamlit app with the
same three URLs (benchmarks/minimal_app/), run interleaved (A B A B) in the same run.

    python benchmarks/bench_browser.py [--runs 20] [--quick] [--server-url URL] [--output PATH]

Data: 100,000 mappings and 500,000 events (bench_pages.build; --quick: 5,000 and 20,000), plus
200 recent events loaded with the impact trigger on so a selected event has customers. The user
(an operator) is logged in by the login cookie, as a returning user is. Each run opens a fresh
browser context per app and times, from the action to "done": a deep link to each page, a
reload, a sidebar switch, a filter change, a page change, opening a dialog and selecting an
event. Done = the app connected, its script not running for QUIET_MS, and the action's main
element visible; the time taken is that of the last script-state change (or the element's
appearance, whichever is later), so the quiet period itself is not counted. A run too quick to
show a state change is seen by the first change of the page's content, and timed by it. Each
action also counts the elements (delta messages) the server sent for it, read from the websocket:
what the browser had to draw (benchmarks/bench_browser_elements.py measures what one costs).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common  # also puts the repository on sys.path

from ctm import db, users

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHROMIUM = "/usr/bin/chromium"
COOKIE_KEY = "bench-browser-cookie-key-" + "x" * 32
USERNAME, PASSWORD = "bench-operator", "bench-password-123"
QUIET_MS = 600
TIMEOUT_S = 180
VIEWPORT = {"width": 1400, "height": 900}
APP = "[data-testid=stApp]"
TABLE = "[data-testid=stMain] [data-testid=stDataFrame]"

# Records every change of the app's script state with its wall-clock time, and the first change
# of the page's content after the mark. A quick rerun can go from running to not running within
# one browser frame, leaving no state change to see: the content's change (the new table, the
# dialog) then shows that the action was answered, and when.
OBSERVER = """
const HEADER = '[data-testid=stHeader], [data-testid=stStatusWidget], [data-testid=stToolbar]';
window.__ctm = {changes: [], mark: 0, dom: {first: 0}};
new MutationObserver((records) => {
  const now = Date.now();
  for (const r of records) {
    if (r.type === 'attributes' && r.attributeName === 'data-test-script-state') {
      window.__ctm.changes.push({t: now, state: r.target.getAttribute(r.attributeName)});
    } else if (now >= window.__ctm.mark) {
      // The page's content (the dialog's is added to the body): not the header's running
      // indicator, which comes and goes on its own timer.
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const dom = window.__ctm.dom;
      if (node && !node.closest(HEADER) && dom.first < window.__ctm.mark) dom.first = now;
    }
  }
}).observe(document, {subtree: true, attributes: true, childList: true, characterData: true});
"""
PROBE = """
(selector) => {
  const app = document.querySelector('[data-testid=stApp]');
  const target = document.querySelector(selector);
  let visible = false;
  if (target) {
    const box = target.getBoundingClientRect();
    const style = getComputedStyle(target);
    visible = box.width > 0 && box.height > 0 && style.visibility !== 'hidden'
      && !target.closest('[data-stale=true]');
  }
  const changes = window.__ctm.changes.filter((c) => c.t >= window.__ctm.mark);
  const first = window.__ctm.dom.first >= window.__ctm.mark ? window.__ctm.dom.first : null;
  // Without a state change to see (a run within one frame), the answer's first drawing is when
  // the run ended.
  const last = changes.length ? changes[changes.length - 1].t : first;
  return {
    connected: !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED',
    state: app ? app.getAttribute('data-test-script-state') : null,
    visible: visible,
    changes: changes.length + (first === null ? 0 : 1),
    last: last,
    now: Date.now(),
  };
}
"""


@dataclass(frozen=True)
class Target:
    """How one app spells the pieces an action touches."""

    name: str
    url: str
    main: dict[str, str]  # page path → selector of the page's main element
    filter_label: str
    filter_option: str
    dialog_button: str
    selected: str  # what appears once an event (a row) is selected


def ctm_target(url: str) -> Target:
    return Target(
        name="ctm",
        url=url,
        main={"mappings": TABLE, "events": TABLE, "statistics": TABLE},
        filter_label="Substation",
        filter_option="Substation 07",
        dialog_button="Add mapping",
        selected="[data-testid=stMain] [data-testid=stTabs]",
    )


def minimal_target(url: str) -> Target:
    return Target(
        name="minimal",
        url=url,
        main={"mappings": TABLE, "events": TABLE, "statistics": TABLE},
        filter_label="Filter",
        filter_option="Substation 07",
        dialog_button="Open dialog",
        selected="[data-testid=stMain] h3",
    )


def wait_done(tab, selector: str, started_ms: float, *, need_run: bool) -> float:
    """Seconds from started_ms until the app was idle with `selector` visible."""
    deadline = time.monotonic() + TIMEOUT_S
    visible_since = None
    while True:
        s = tab.evaluate(PROBE, selector)
        if s["visible"] and visible_since is None:
            visible_since = s["now"]
        elif not s["visible"]:
            visible_since = None
        ran = s["changes"] > 0 or not need_run
        quiet = s["last"] is None or s["now"] - s["last"] >= QUIET_MS
        if s["connected"] and s["state"] == "notRunning" and s["visible"] and ran and quiet:
            end = max(s["last"] or 0, visible_since or 0)
            return (end - started_ms) / 1000
        if time.monotonic() > deadline:
            shot = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-browser-timeout.png"
            tab.screenshot(path=str(shot), full_page=True)
            history = tab.evaluate("() => window.__ctm.changes")
            raise TimeoutError(f"{selector} not ready: {s}; changes {history}; see {shot}")
        tab.wait_for_timeout(40)


class Elements:
    """Counts the elements (delta messages) the server sends a tab: what the browser must draw.
    Reading Streamlit's own message type needs its protobuf classes, installed with it."""

    def __init__(self, tab) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.count = 0
        self.begun = 0
        _ELEMENTS[tab] = self

        def frame(payload) -> None:
            if isinstance(payload, bytes | bytearray):
                message = ForwardMsg()
                message.ParseFromString(payload)
                self.count += message.WhichOneof("type") == "delta"

        tab.on("websocket", lambda socket: socket.on("framereceived", frame))

    def begin(self) -> None:
        self.begun = self.count

    @property
    def sent(self) -> int:
        """Elements sent since the last action began."""
        return self.count - self.begun


_ELEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _begin(tab) -> None:
    if tab in _ELEMENTS:
        _ELEMENTS[tab].begin()


def mark(tab) -> float:
    _begin(tab)
    return tab.evaluate("() => (window.__ctm.mark = Date.now())")


def navigate(tab, url: str, selector: str) -> float:
    started = time.time() * 1000
    _begin(tab)
    tab.goto(url, wait_until="commit")
    tab.evaluate("(t) => (window.__ctm.mark = t)", started)
    return wait_done(tab, selector, started, need_run=False)


def act(tab, action: Callable[[], None], selector: str) -> float:
    started = mark(tab)
    action()
    return wait_done(tab, selector, started, need_run=True)


def select_first_row(tab) -> None:
    box = tab.locator(TABLE).first.bounding_box()
    # Row marker column (~30 px wide) of the first data row (the header is ~35 px high).
    tab.mouse.click(box["x"] + 15, box["y"] + 35 + 17)


class Timed(dict):
    """Action → seconds; storing a time also notes the elements sent for that action."""

    def __init__(self, elements: Elements, counted: dict[str, int]) -> None:
        super().__init__()
        self._elements, self._counted = elements, counted

    def __setitem__(self, action: str, seconds: float) -> None:
        super().__setitem__(action, seconds)
        self._counted[action] = self._elements.sent


def one_run(
    browser, target: Target, cookie: dict | None
) -> tuple[dict[str, float], dict[str, int]]:
    """Every action once, in a fresh browser context (a new session): seconds per action, and
    the elements the server sent for it."""
    context = browser.new_context(viewport=VIEWPORT)
    if cookie:
        context.add_cookies([{**cookie, "url": target.url}])
    context.add_init_script(OBSERVER)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_S * 1000)
    elements = Elements(tab)
    counted: dict[str, int] = {}
    times = Timed(elements, counted)
    main = target.main
    try:
        times["deep link /mappings"] = navigate(tab, f"{target.url}/mappings", main["mappings"])
        times["page change"] = act(
            tab,
            lambda: tab.locator(
                "[data-testid=stMain] [data-testid=stNumberInputStepUp]"
            ).first.click(),
            main["mappings"],
        )
        times["open dialog"] = act(
            tab,
            lambda: tab.get_by_role("button", name=target.dialog_button).click(),
            "[role=dialog]",
        )
        tab.keyboard.press("Escape")
        tab.locator("[role=dialog]").wait_for(state="detached")
        # Closing a dialog may rerun the app (ctm forgets which dialog was open): let that run
        # start and end before the next action, or the next click lands on a page being redrawn.
        tab.wait_for_timeout(QUIET_MS)
        wait_done(tab, main["mappings"], mark(tab), need_run=False)
        selectbox = tab.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").filter(
            has_text=target.filter_label
        )
        selectbox.click()
        option = tab.get_by_role("option", name=target.filter_option, exact=True)
        times["filter change"] = act(tab, option.click, main["mappings"])
        times["sidebar switch"] = act(
            tab,
            lambda: tab.locator('[data-testid=stSidebarNav] a[href$="/events"]').click(),
            main["events"],
        )
        times["select event"] = act(tab, lambda: select_first_row(tab), target.selected)
        times["deep link /events"] = navigate(tab, f"{target.url}/events", main["events"])
        times["deep link /statistics"] = navigate(
            tab, f"{target.url}/statistics", main["statistics"]
        )
        started = time.time() * 1000
        _begin(tab)
        tab.reload(wait_until="commit")
        tab.evaluate("(t) => (window.__ctm.mark = t)", started)
        times["reload"] = wait_done(tab, main["statistics"], started, need_run=False)
    finally:
        context.close()
    return dict(times), counted


def login_cookie(url: str, key: str) -> dict:
    """The cookie a login leaves: a server-side session of the benchmark user, its id signed."""
    from ctm import sessions

    engine = db.get_engine(url)
    who = users.identity_for(engine, USERNAME)
    with db.owner_transaction(engine) as conn:
        token = sessions.create_session_in(conn, who.user_id, key)
    return {"name": "ctm_login", "value": token}


def recent_events_with_impacts(url: str, count: int, seed: int) -> None:
    """A few events of the last hours, inserted with the trigger on: the newest rows of the list,
    each with its customers, so 'select an event' opens a real Customer Impact tab."""
    rng = random.Random(seed)
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM public.substations ORDER BY name")
            subs = [r[0] for r in cur.fetchall()]
            now = datetime.now(UTC)
            rows = [
                (
                    str(uuid.uuid4()),
                    subs[rng.randrange(len(subs))],
                    f"H{1 + rng.randrange(12)}",
                    (now - timedelta(minutes=5 + i)).isoformat(),
                    rng.choice(["low", "medium", "high", "critical"]),
                    rng.randrange(50, 120_000),
                    "voltage_dip",
                    round(rng.uniform(10, 90), 1),
                )
                for i in range(count)
            ]
            common._copy(
                cur,
                "pq_events",
                "id, substation_id, circuit_id, timestamp, severity, duration_ms, event_type, "
                "remaining_voltage",
                rows,
            )
            cur.execute("ANALYZE")
    finally:
        conn.close()


def prepare(url: str, seed: int) -> float:
    """Migrate and fill the database unless it holds data already; seconds spent building."""
    common.apply_ours(url)
    if common.count(url, "public.substations"):
        return 0.0
    t0 = time.perf_counter()
    import bench_pages

    bench_pages.build(url, seed)
    recent_events_with_impacts(url, 200, seed)
    engine = db.get_engine(url)
    users.add_user(engine, USERNAME, "operator", PASSWORD, full_name="Bench Operator")
    db.dispose_engines()
    return time.perf_counter() - t0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(script: str, env: dict[str, str], log_path: Path) -> tuple:
    port = _free_port()
    log = open(log_path, "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
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
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return process, url, log
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start; see {log_path}")
        time.sleep(0.3)


def stop(process, log) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


ACTIONS = (
    "deep link /mappings",
    "deep link /events",
    "deep link /statistics",
    "reload",
    "sidebar switch",
    "filter change",
    "page change",
    "open dialog",
    "select event",
)
LOADS = {"deep link /mappings", "deep link /events", "deep link /statistics", "reload"}


def report(
    results: dict[str, dict[str, list[float]]],
    sent: dict[str, dict[str, list[int]]],
    meta: list[str],
) -> str:
    pct = common.percentile
    med = common.median
    minimal_rerun = med(
        results["minimal"]["filter change"]
        + results["minimal"]["page change"]
        + results["minimal"]["select event"]
    )
    rows = []
    for action in ACTIONS:
        ours, base = results["ctm"][action], results["minimal"][action]
        ratio = med(ours) / med(base)
        if action in LOADS:
            goal, ok = "≤ 1.15×", ratio <= 1.15
        else:
            ratio = med(ours) / minimal_rerun
            goal, ok = "≤ 1.3× rerun", ratio <= 1.3
        drawn = f"{med(sent['ctm'][action]):.0f} / {med(sent['minimal'][action]):.0f}"
        rows.append(
            f"| {action} | {med(ours):.2f} s | {pct(ours, 95):.2f} s | {med(base):.2f} s | "
            f"{pct(base, 95):.2f} s | {ratio:.2f} | {goal} {'met' if ok else 'not met'} | {drawn} |"
        )
    return "\n".join(
        [
            "# Browser benchmark: ctm against a minimal Streamlit app",
            "",
            *meta,
            "",
            (
                "| action | ctm median | ctm p95 | minimal median | minimal p95 | ctm / minimal "
                "| goal | elements sent, ctm / minimal |"
            ),
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            (
                f"Minimal app's rerun (median of its filter, page and row-selection reruns): "
                f"{minimal_rerun:.2f} s; interactions are compared with it, page loads with the "
                "minimal app's same load. Elements sent: the delta messages (one per element "
                "drawn or redrawn) the server sent for the action, median."
            ),
            "",
        ]
    )


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument("--runs", type=int, default=20),
            p.add_argument("--quick", action="store_true", help="5,000 mappings, 20,000 events"),
            p.add_argument("--output", default=str(HERE / "RESULTS_browser.md")),
            p.add_argument(
                "--database-url",
                help="use (and keep) this database: built here if it holds no substation yet",
            ),
            p.add_argument(
                "--login-sleep",
                help="CTM_LOGIN_SLEEP_SECONDS for the ctm server (default: the app's default)",
            ),
        ),
    )
    import bench_pages

    if args.quick:
        bench_pages.CUSTOMERS = bench_pages.MAPPINGS = 5_000
        bench_pages.EVENTS = 20_000
    from playwright.sync_api import sync_playwright

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"ctm-bench-browser-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.database_url:
            url = args.database_url
        else:
            server_url = stack.enter_context(common.server(args.server_url))
            url = stack.enter_context(common.temporary_database(server_url, "browser"))
        load_s = prepare(url, args.seed)
        env = {
            "DATABASE_URL": url,
            "CTM_COOKIE_KEY": COOKIE_KEY,
            "CTM_DATA_DIR": str(tmp / "data"),
        }
        if args.login_sleep is not None:
            env["CTM_LOGIN_SLEEP_SECONDS"] = args.login_sleep
        ctm_proc, ctm_url, ctm_log = start_streamlit("app.py", env, tmp / "ctm.log")
        min_proc, min_url, min_log = start_streamlit(
            "benchmarks/minimal_app/app.py", {}, tmp / "minimal.log"
        )
        failed: list[str] = []
        results: dict[str, dict[str, list[float]]] = {
            name: {a: [] for a in ACTIONS} for name in ("ctm", "minimal")
        }
        sent: dict[str, dict[str, list[int]]] = {
            name: {a: [] for a in ACTIONS} for name in ("ctm", "minimal")
        }
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
                )
                targets = [
                    (ctm_target(ctm_url), login_cookie(url, COOKIE_KEY)),
                    (minimal_target(min_url), None),
                ]
                for target, cookie in targets:  # warm-up: engine, caches, first imports
                    one_run(browser, target, cookie)
                for i in range(args.runs):
                    try:
                        pair = [(t.name, one_run(browser, t, c)) for t, c in targets]
                    except Exception as exc:  # noqa: BLE001 - a run lost to a timeout is skipped
                        failed.append(f"run {i + 1}: {exc}"[:300])
                        print(f"run {i + 1} skipped: {exc}"[:300], file=sys.stderr, flush=True)
                        continue
                    for name, (times, elements) in pair:
                        for action, seconds in times.items():
                            results[name][action].append(seconds)
                            sent[name][action].append(elements[action])
                    print(f"run {i + 1}/{args.runs} done", file=sys.stderr, flush=True)
                    # The table so far, so a long run interrupted still leaves its figures.
                    Path(args.output).write_text(
                        report(results, sent, [f"(partial: {i + 1} runs)"])
                    )
                browser.close()
        finally:
            stop(ctm_proc, ctm_log)
            stop(min_proc, min_log)
        version = common.server_version(url)

    sizes = (
        f"{bench_pages.MAPPINGS:,} mappings, {bench_pages.EVENTS:,} events (+200 recent events "
        "with their impacts)"
    )
    meta = [
        (
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python benchmarks/bench_browser.py"
            f" --runs {args.runs}{' --quick' if args.quick else ''}` on PostgreSQL {version} "
            f"({'given database' if args.database_url else 'given server' if args.server_url else 'embedded server'}), headless Chromium "
            f"{VIEWPORT['width']}×{VIEWPORT['height']}, {os.cpu_count()} CPUs, load average at the "
            f"end {os.getloadavg()[0]:.1f}."
        ),
        (
            f"Data: {sizes}; built in {load_s:.0f} s (0: an existing database). ctm runs as an operator logged in by cookie; "
            f"login pause {args.login_sleep if args.login_sleep is not None else 'as configured'}."
        ),
        (
            f"Each of {args.runs} runs opens a fresh browser context per app, alternating ctm and the "
            "minimal app (A B A B). Done = script not running, connected, the action's main element "
            f"visible (the {QUIET_MS} ms quiet period that proves it is not counted)."
        ),
        f"Runs completed: {len(results['ctm']['reload'])} of {args.runs}"
        + (f"; skipped: {'; '.join(failed)}" if failed else "")
        + ".",
    ]
    text = report(results, sent, meta)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())

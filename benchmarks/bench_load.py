"""Load: 50 simulated users at once, each repeating what one rerun of the mapping, events and
statistics pages asks of the services, with 5–10 s of think time, against 100,000 mappings and
500,000 events (the data of bench_pages.py). Not part of CI.

    python benchmarks/bench_load.py [--minutes 5] [--users 50] [--server-url URL]
                                    [--pool-size N --max-overflow M] [--output PATH]

Reports p50/p95 per page-equivalent, errors, pool timeouts (a rerun that waited longer than the
pool's timeout for a connection) and the peak number of the app's connections in
pg_stat_activity. Pass: 0 errors and 0 pool timeouts. The statistics page caches its figures for
300 s and its recent changes for 60 s per user (st.cache_data in views/statistics.py and
ui/recent_changes.py), so a simulated
user recomputes them only when its own cache has expired — as the real page does.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench_pages  # the 100k mappings / 500k events generator
import common  # also puts the repository on sys.path
import sqlalchemy as sa

from ctm import clock, db, events, history, mappings, reference, stats
from ctm.events import EventFilter
from ctm.mappings import MappingFilter

HERE = Path(__file__).resolve().parent
STATS_CACHE_SECONDS = 300
CHANGES_CACHE_SECONDS = 60


def mapping_page(engine, who, rng, subs, cache: dict) -> None:
    """One rerun of the mapping page: zone, substations, the tiles (kept 300 s per user by
    ui/mapping_grid.statistics), the filtered page, circuits."""
    sub = rng.choice(subs) if rng.random() < 0.5 else None
    clock.time_zone_for(engine, who)
    reference.list_substations(engine, who)
    now = time.monotonic()
    if now - cache.get("tiles", -1e9) > STATS_CACHE_SECONDS:
        mappings.mapping_statistics(engine, who)
        cache["tiles"] = now
    page = rng.choice([0, 0, 0, 1, 5, 40])
    mappings.list_mappings(
        engine, who, MappingFilter(substation_id=sub), limit=100, offset=page * 100
    )
    if sub is not None:
        mappings.circuits_of_substation(engine, who, sub)


def events_page(engine, who, rng, subs, cache: dict) -> None:
    """One rerun of the events page: zone, substations, the last 30 days' first page."""
    zone = clock.time_zone_for(engine, who)
    reference.list_substations(engine, who)
    today = datetime.now(zone).date()
    sub = rng.choice(subs) if rng.random() < 0.3 else None
    page = events.list_events(
        engine,
        who,
        EventFilter(date_from=today - timedelta(days=30), date_to=today, substation_id=sub),
        limit=100,
    )
    if sub is not None:
        mappings.circuits_of_substation(engine, who, sub)
    if len(page.rows) and rng.random() < 0.3:  # a selected event's details
        event_id = page.rows["id"].iloc[0]
        events.get_event(engine, who, event_id)
        events.event_impacts(engine, who, event_id)


def statistics_page(engine, who, rng, subs, cache: dict) -> None:
    """One rerun of the statistics page: its figures come from a per-user cache of 300 s
    (views/statistics.py CACHE_SECONDS), the recent changes from one of 60 s (ui/recent_changes.py)."""
    now = time.monotonic()
    if now - cache.get("figures", -1e9) > STATS_CACHE_SECONDS:
        stats.coverage_statistics(engine, who)
        cache["figures"] = now
    if now - cache.get("changes", -1e9) > CHANGES_CACHE_SECONDS:
        history.change_summary(engine, who, days=30, latest=10)
        cache["changes"] = now


PAGES = {"mappings": mapping_page, "events": events_page, "statistics": statistics_page}


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.pool_timeouts = 0
        self.first_errors: list[str] = []

    def ok(self, page: str, seconds: float) -> None:
        with self.lock:
            self.times[page].append(seconds)

    def failed(self, page: str, exc: BaseException) -> None:
        with self.lock:
            if isinstance(exc, sa.exc.TimeoutError):
                self.pool_timeouts += 1
            else:
                self.errors[page] += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(f"{page}: {type(exc).__name__}: {exc}"[:300])


def user_loop(engine, who, subs, stop_at: float, seed: int, think: tuple[float, float], rec):
    rng = random.Random(seed)
    cache: dict = {}
    order = list(PAGES)
    rng.shuffle(order)
    time.sleep(rng.uniform(0, think[1]))  # users do not all arrive in the same second
    n = 0
    while time.monotonic() < stop_at:
        page = order[n % len(order)]
        n += 1
        t0 = time.perf_counter()
        try:
            PAGES[page](engine, who, rng, subs, cache)
        except Exception as exc:  # noqa: BLE001 — counted and reported, the user goes on
            rec.failed(page, exc)
        else:
            rec.ok(page, time.perf_counter() - t0)
        time.sleep(rng.uniform(*think))


def sample_connections(url: str, stop: threading.Event, peak: list[int]) -> None:
    conn = common.connect(url)
    dbname = sa.engine.make_url(db._sqlalchemy_url(url)).database
    try:
        while not stop.is_set():
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = 'ctm'",
                    (dbname,),
                )
                peak[0] = max(peak[0], cur.fetchone()[0])
            stop.wait(0.25)
    finally:
        conn.close()


def make_users(engine, n: int) -> list[db.Identity]:
    """Profiles of the simulated users: a third each admin, operator, viewer."""
    people = []
    with db.owner_transaction(engine) as conn:
        for i in range(n):
            role = ("admin", "operator", "viewer")[i % 3]
            uid = uuid.uuid4()
            conn.execute(
                sa.text("INSERT INTO profiles (id, full_name, role) VALUES (:i, :n, :r)"),
                {"i": uid, "n": f"Load user {i}", "r": role},
            )
            people.append(db.Identity(uid, f"load{i}", role, f"Load user {i}"))
    return people


def main() -> None:
    args = common.parse_args(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument("--minutes", type=float, default=5.0),
            p.add_argument("--users", type=int, default=50),
            p.add_argument("--think-min", type=float, default=5.0),
            p.add_argument("--think-max", type=float, default=10.0),
            p.add_argument("--pool-size", type=int, default=None),
            p.add_argument("--max-overflow", type=int, default=None),
            p.add_argument("--output", default=str(HERE / "RESULTS_load.md")),
        ),
    )
    with (
        common.server(args.server_url) as server_url,
        common.temporary_database(server_url, "load") as url,
    ):
        common.apply_ours(url)
        t0 = time.perf_counter()
        bench_pages.build(url, args.seed)
        load_s = time.perf_counter() - t0
        pool = {}
        if args.pool_size is not None:
            pool["pool_size"] = args.pool_size
        if args.max_overflow is not None:
            pool["max_overflow"] = args.max_overflow
        engine = db.get_engine(url, **pool)
        people = make_users(engine, args.users)
        subs = list(
            reference.list_substations(engine, people[0])
        )  # warm the pool and the plans once
        sub_ids = [s.id for s in subs]
        rec = Recorder()
        stop = threading.Event()
        peak = [0]
        sampler = threading.Thread(target=sample_connections, args=(url, stop, peak), daemon=True)
        sampler.start()
        stop_at = time.monotonic() + args.minutes * 60
        threads = [
            threading.Thread(
                target=user_loop,
                args=(
                    engine,
                    who,
                    sub_ids,
                    stop_at,
                    args.seed + i,
                    (args.think_min, args.think_max),
                    rec,
                ),
                daemon=True,
            )
            for i, who in enumerate(people)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        size = engine.pool.size()
        overflow = getattr(engine.pool, "_max_overflow", None)

    rows = []
    for page in PAGES:
        values = rec.times.get(page, [])
        rows.append(
            [
                page,
                f"{len(values):,}",
                f"{common.percentile(values, 50) * 1000:,.0f} ms" if values else "—",
                f"{common.percentile(values, 95) * 1000:,.0f} ms" if values else "—",
                f"{rec.errors.get(page, 0)}",
            ]
        )
    report = [
        f"# Load benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        (
            f"`python benchmarks/bench_load.py --minutes {args.minutes:g} --users {args.users}`"
            f" — {args.users} users, think time {args.think_min:g}–{args.think_max:g} s,"
            f" {elapsed / 60:.1f} min, data loaded in {load_s:.0f} s (100,000 mappings, 500,000"
            f" events); pool_size {size}, max_overflow {overflow}; {common.load_line('during the run')}"
        ),
        "",
        common.table(["page rerun", "count", "p50", "p95", "errors"], rows),
        "",
        f"Pool timeouts: {rec.pool_timeouts}. Peak app connections (pg_stat_activity): {peak[0]}.",
    ]
    if rec.first_errors:
        report += ["", "First errors:", *[f"- {e}" for e in rec.first_errors]]
    text = "\n".join(report) + "\n"
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

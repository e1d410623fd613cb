"""The first start of the embedded default, said step by step: starting PostgreSQL, applying the
migrations, loading the demo data. Each step shows in the browser (st.status) and on the terminal
that runs `streamlit run`, instead of a blank page and a spinner for ten seconds or more."""

from __future__ import annotations

import logging
import sys
import threading
import time

import streamlit as st

from ctm import db

log = logging.getLogger("ctm.app")

_lock = threading.Lock()
_ready: set[str] = set()  # data folders prepared by this process


def _terminal(message: str) -> None:
    print(f"ctm: {message}", file=sys.stderr, flush=True)
    log.info(message)


def ensure_embedded_ready() -> None:
    """Start the embedded server, migrate it and (on an empty database) load the demo data, once
    per process, narrating each step; later runs return at once. A second session arriving
    meanwhile says that the first one is preparing the database and waits for it."""
    folder = str(db.default_data_dir())
    if folder in _ready:
        return
    if not _lock.acquire(blocking=False):
        with st.spinner("Another browser tab is preparing the database (first start)…"):
            _lock.acquire()
    try:
        if folder in _ready:
            return
        _prepare()
        _ready.add(folder)
    finally:
        _lock.release()


def _prepare() -> None:
    from ctm import demo
    from ctm.migrate import migrate

    started = time.perf_counter()
    status = st.status("Preparing the database…", expanded=True)

    def step(message: str) -> None:
        elapsed = time.perf_counter() - started
        _terminal(f"{message} ({elapsed:.1f} s)")
        status.update(label=f"Preparing the database: {message}…")
        status.write(
            f"{message[:1].upper()}{message[1:]}…"
        )  # capitalize() would lower "PostgreSQL"

    step("starting the embedded PostgreSQL (the first start creates its data folder)")
    engine = db.get_engine(db.embedded_server_url())
    step("applying the database migrations")
    applied: list[str] = []
    migrate(engine, log=applied.append)
    if demo.database_is_empty(engine):
        demo.load_demo_data(engine, progress=lambda m: step(f"demo data: {m}"))
        done = f"Database ready with demo data ({time.perf_counter() - started:.1f} s)"
    else:
        done = f"Database ready ({time.perf_counter() - started:.1f} s)"
    _terminal(done)
    status.update(label=done, state="complete", expanded=False)

"""Helpers for the CLI tests: run the real `ctm` in a subprocess; small SQL shortcuts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]


def run_ctm(
    *args: str,
    url: str | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """`python -m ctm.cli ARGS` with DATABASE_URL=url; stdin is a pipe (not a terminal)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CTM_DATA_DIR")}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env["PYTHONWARNINGS"] = "ignore"
    if url is not None:
        full_env["DATABASE_URL"] = url
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ctm.cli", *args],
        check=False,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
    )


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]

"""Ride-through curves: every corner of ITIC, SEMI F47-0706 and IEC 61000-4-34 class 3, and one
point on each side of it, classified by hand; the SQL CASE generated from the same data agrees
with Python on a grid of points in a real PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import curves, db
from ctm.curves import Verdict

W, O, N = Verdict.WITHIN, Verdict.OUTSIDE, Verdict.NOT_COVERED
EPS_MS = 0.5  # "one point on each side" in duration
EPS_PCT = 0.5  # and in residual voltage

# (residual %, duration ms, expected) — corners of each curve and their neighbours.
ITIC_CASES = [
    # lower: 0 % up to 20 ms
    (0, 20, W),
    (0, 20 + EPS_MS, O),
    (0, 20 - EPS_MS, W),
    (70, 20 + EPS_MS, W),
    (70 - EPS_PCT, 20 + EPS_MS, O),
    # 70 % up to 0.5 s
    (70, 500, W),
    (70 - EPS_PCT, 500, O),
    (70, 500 + EPS_MS, O),
    (80, 500 + EPS_MS, W),
    (80 - EPS_PCT, 500 + EPS_MS, O),
    # 80 % up to 10 s, then 90 %
    (80, 10_000, W),
    (80 - EPS_PCT, 10_000, O),
    (80, 10_000 + EPS_MS, O),
    (90, 10_000 + EPS_MS, W),
    (90 - EPS_PCT, 10_000 + EPS_MS, O),
    (90, 3_600_000, W),
    # upper: 200 % at 1 ms, 140 % at 3 ms, 120 % up to 0.5 s, then 110 %
    (200, 1, W),
    (200 + EPS_PCT, 1, O),
    (150, 1 - 0.1, N),  # below 1 ms: impulse region, not an RMS event
    (140, 3, W),
    (140 + EPS_PCT, 3, O),
    (140, 3 + EPS_MS, O),
    (120, 3 + EPS_MS, W),
    (120 + EPS_PCT, 3 + EPS_MS, O),
    (120, 500, W),
    (120 + EPS_PCT, 500, O),
    (120, 500 + EPS_MS, O),
    (110, 500 + EPS_MS, W),
    (110 + EPS_PCT, 500 + EPS_MS, O),
    (170, 1.7320508, W),  # on the sloped line: 200 - 60·ln(√3)/ln 3 = 170
    (171, 1.7320508, O),
    (100, 0, W),
    (100, 50_000, W),
]

SEMI_CASES = [
    (0, 50 - EPS_MS, N),  # nothing required below 50 ms
    (50, 50, W),
    (50 - EPS_PCT, 50, O),
    (50, 200, W),
    (50 - EPS_PCT, 200, O),
    (50, 200 + EPS_MS, O),
    (70, 200 + EPS_MS, W),
    (70, 500, W),
    (70 - EPS_PCT, 500, O),
    (70, 500 + EPS_MS, O),
    (80, 500 + EPS_MS, W),
    (80, 1000, W),
    (80 - EPS_PCT, 1000, O),
    (80, 1000 + EPS_MS, N),  # nothing required beyond 1 s
    (10, 1000 + EPS_MS, N),
    (130, 100, N),  # swells are not covered
]

IEC_50HZ_CASES = [
    (0, 10, W),  # ½ cycle
    (0, 20, W),  # 1 cycle
    (0, 20 + EPS_MS, O),
    (40, 20 + EPS_MS, W),
    (40, 200, W),  # 10 cycles
    (40 - EPS_PCT, 200, O),
    (40, 200 + EPS_MS, O),
    (70, 200 + EPS_MS, W),
    (70, 500, W),  # 25 cycles
    (70 - EPS_PCT, 500, O),
    (70, 500 + EPS_MS, O),
    (80, 500 + EPS_MS, W),
    (80, 5000, W),  # 250 cycles
    (80 - EPS_PCT, 5000, O),
    (80, 5000 + EPS_MS, N),
    (120, 100, N),
]

IEC_60HZ_CASES = [
    (0, 1000 / 60, W),  # 1 cycle at 60 Hz
    (0, 1000 / 60 + EPS_MS, O),
    (40, 200, W),  # 12 cycles
    (40, 200 + EPS_MS, O),
    (70, 500, W),  # 30 cycles
    (80, 5000, W),  # 300 cycles
    (80, 5000 + EPS_MS, N),
]


@pytest.mark.parametrize(("residual", "duration", "expected"), ITIC_CASES)
def test_itic_corners(residual, duration, expected):
    assert curves.classify("itic", residual, duration) is expected


@pytest.mark.parametrize(("residual", "duration", "expected"), SEMI_CASES)
def test_semi_f47_corners(residual, duration, expected):
    assert curves.classify("semi_f47", residual, duration) is expected


@pytest.mark.parametrize(("residual", "duration", "expected"), IEC_50HZ_CASES)
def test_iec_class3_corners_50hz(residual, duration, expected):
    assert curves.classify("iec_61000_4_34", residual, duration) is expected


@pytest.mark.parametrize(("residual", "duration", "expected"), IEC_60HZ_CASES)
def test_iec_class3_corners_60hz(residual, duration, expected):
    assert curves.classify("iec_61000_4_34", residual, duration, frequency_hz=60) is expected


def test_missing_values_are_not_covered():
    for key in curves.CURVE_KEYS:
        assert curves.classify(key, None, 100) is N
        assert curves.classify(key, 50, None) is N


def test_unknown_frequency_is_refused():
    with pytest.raises(ValueError, match="50 or 60"):
        curves.curves(55)


def _grid():
    durations = [
        0,
        0.5,
        1,
        1.5,
        2,
        3,
        3.5,
        10,
        16.6667,
        19.5,
        20,
        20.5,
        49.5,
        50,
        100,
        199.5,
        200,
        200.5,
        499.5,
        500,
        500.5,
        999.5,
        1000,
        1000.5,
        4999.5,
        5000,
        5000.5,
        9999.5,
        10_000,
        10_000.5,
        60_000,
    ]
    residuals = [
        0,
        0.5,
        10,
        39.5,
        40,
        49.5,
        50,
        69.5,
        70,
        79.5,
        80,
        89.5,
        90,
        99,
        100,
        105,
        110,
        110.5,
        119.5,
        120,
        120.5,
        139.5,
        140,
        140.5,
        170,
        199.5,
        200,
        200.5,
    ]
    return [(r, d) for r in residuals for d in durations]


@pytest.mark.parametrize("frequency", [50.0, 60.0])
def test_sql_classification_agrees_with_python(engine, frequency):
    points = _grid()
    columns = ", ".join(
        f"{curves.classification_sql(key, 'p.r', 'p.d', frequency)} AS {key}"
        for key in curves.CURVE_KEYS
    )
    sql = (
        f"SELECT p.r, p.d, {columns} FROM unnest(CAST(:r AS float8[]), CAST(:d AS float8[]))"
        " AS p(r, d)"
    )
    with db.owner_transaction(engine) as conn:
        rows = conn.execute(
            sa.text(sql), {"r": [p[0] for p in points], "d": [p[1] for p in points]}
        ).fetchall()
    assert len(rows) == len(points)
    mismatches = []
    for row in rows:
        for key in curves.CURVE_KEYS:
            expected = curves.classify(key, row.r, row.d, frequency).value
            if getattr(row, key) != expected:
                mismatches.append((key, row.r, row.d, getattr(row, key), expected))
    assert mismatches == []

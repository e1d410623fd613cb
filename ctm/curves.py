"""Voltage ride-through curves as data (ITIC, SEMI F47-0706, IEC 61000-4-34 class 3) and the one
classification of an event's (residual %, duration ms) against each: within, outside or not covered.

Python classifies single events; `classification_sql()` turns the same data into a SQL CASE so the
database counts millions of events with exactly the same rule (tests compare both on a grid).

All levels are residual voltage in % of nominal (not depth). Boundaries are inclusive: a point on
a curve is within it; at a step the more tolerant level applies to the step's own duration.
These are equipment-terminal requirements; applied to feeder measurements they are indicative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_FREQUENCY_HZ = 50.0
FREQUENCIES_HZ = (50.0, 60.0)


class Verdict(StrEnum):
    WITHIN = "within"
    OUTSIDE = "outside"
    NOT_COVERED = "not covered"


@dataclass(frozen=True)
class Step:
    """For durations in (after_ms, up_to_ms] the residual must stay at or above `min_residual`
    (dips) or at or below `max_residual` (swells). `up_to_ms` None = no end. When `slope_to` is
    set the level runs straight (on a log-duration axis) from the level at after_ms to slope_to."""

    after_ms: float
    up_to_ms: float | None
    level: float
    slope_to: float | None = None

    def level_at(self, duration_ms: float) -> float:
        if self.slope_to is None or self.up_to_ms is None:
            return self.level
        span = math.log(self.up_to_ms / self.after_ms)
        share = math.log(duration_ms / self.after_ms) / span
        return self.level + (self.slope_to - self.level) * share


@dataclass(frozen=True)
class Curve:
    """A ride-through curve: the lower boundary (dips), the upper one (swells, or none), and the
    durations the curve says nothing about (outside its steps = not covered)."""

    key: str
    name: str
    source: str
    lower: tuple[Step, ...]
    upper: tuple[Step, ...]
    # First step starts at (not after) its after_ms: durations from 0 (or the curve's first
    # duration) are covered inclusively.
    lower_starts_inclusive: bool = True
    upper_starts_inclusive: bool = True


def _cycles_ms(cycles: float, frequency_hz: float) -> float:
    return 1000.0 * cycles / frequency_hz


def itic() -> Curve:
    return Curve(
        key="itic",
        name="ITIC (CBEMA) curve",
        # ITI (CBEMA) Curve Application Note, Information Technology Industry Council, rev. 2000
        # (figure "ITI (CBEMA) Curve" and the text of its regions).
        source="ITI (CBEMA) Curve Application Note, ITIC 2000",
        lower=(
            # "Dropout": no voltage (0 %) for up to 20 ms (1.2 cycles at 60 Hz).
            Step(0.0, 20.0, 0.0),
            # "Voltage sags": 70 % of nominal for up to 0.5 s.
            Step(20.0, 500.0, 70.0),
            # "Voltage sags": 80 % of nominal for up to 10 s.
            Step(500.0, 10_000.0, 80.0),
            # "Steady-state tolerance": ±10 % (90 %) beyond 10 s.
            Step(10_000.0, None, 90.0),
        ),
        upper=(
            # Swell/transient boundary: from 200 % at 1 ms down to 140 % at 3 ms (straight line
            # on the application note's log-time axis). Below 1 ms the curve continues into the
            # impulse region, which RMS event records cannot represent: not covered.
            Step(1.0, 3.0, 200.0, slope_to=140.0),
            # "Voltage swell": 120 % for up to 0.5 s (from 3 ms).
            Step(3.0, 500.0, 120.0),
            # "Steady-state tolerance": 110 % beyond 0.5 s.
            Step(500.0, None, 110.0),
        ),
    )


def semi_f47() -> Curve:
    return Curve(
        key="semi_f47",
        name="SEMI F47-0706",
        # SEMI F47-0706, "Specification for Semiconductor Processing Equipment Voltage Sag
        # Immunity", Table 1 / Figure R1-1: required ride-through of single- and two-phase sags.
        source="SEMI F47-0706, Table 1 (required sag immunity)",
        lower=(
            # 50 % residual from 0.05 s (nothing is required for shorter sags) up to 0.2 s.
            Step(50.0, 200.0, 50.0),
            # 70 % residual up to 0.5 s.
            Step(200.0, 500.0, 70.0),
            # 80 % residual up to 1 s; nothing is required beyond 1 s.
            Step(500.0, 1_000.0, 80.0),
        ),
        upper=(),  # sags only: swells are not covered
    )


def iec_61000_4_34_class3(frequency_hz: float = DEFAULT_FREQUENCY_HZ) -> Curve:
    """Class 3 test levels as a staircase: an event no deeper and no longer than some test level
    is within; deeper-than-tested is outside; longer than the longest test is not covered."""
    fifty = frequency_hz == 50.0
    return Curve(
        key="iec_61000_4_34",
        name="IEC 61000-4-34 class 3",
        # IEC 61000-4-34:2005+A1:2009, Table 1 "Preferred test levels and durations for voltage
        # dips", class 3 (levels given as residual voltage in % of Ut; some summaries quote the
        # dip depth 100/60/30/20 % instead — converted here to residual 0/40/70/80 %).
        source="IEC 61000-4-34:2005+A1:2009, Table 1, class 3",
        lower=(
            # 0 % residual for ½ and 1 cycle (the 1-cycle test covers shorter events).
            Step(0.0, _cycles_ms(1, frequency_hz), 0.0),
            # 40 % residual for 10 cycles (50 Hz) / 12 cycles (60 Hz).
            Step(_cycles_ms(1, frequency_hz), _cycles_ms(10 if fifty else 12, frequency_hz), 40.0),
            # 70 % residual for 25 cycles (50 Hz) / 30 cycles (60 Hz).
            Step(
                _cycles_ms(10 if fifty else 12, frequency_hz),
                _cycles_ms(25 if fifty else 30, frequency_hz),
                70.0,
            ),
            # 80 % residual for 250 cycles (50 Hz) / 300 cycles (60 Hz).
            Step(
                _cycles_ms(25 if fifty else 30, frequency_hz),
                _cycles_ms(250 if fifty else 300, frequency_hz),
                80.0,
            ),
        ),
        upper=(),  # dips only: swells are not covered
    )


CURVE_KEYS = ("itic", "semi_f47", "iec_61000_4_34")
CURVE_LABELS = {
    "itic": "ITIC",
    "semi_f47": "SEMI F47-0706",
    "iec_61000_4_34": "IEC 61000-4-34 class 3",
}


def curves(frequency_hz: float = DEFAULT_FREQUENCY_HZ) -> dict[str, Curve]:
    """The three curves keyed by CURVE_KEYS, cycles converted at `frequency_hz`."""
    if frequency_hz not in FREQUENCIES_HZ:
        raise ValueError(f"nominal frequency {frequency_hz!r} Hz: use 50 or 60")
    return {
        "itic": itic(),
        "semi_f47": semi_f47(),
        "iec_61000_4_34": iec_61000_4_34_class3(frequency_hz),
    }


def _find_step(steps: tuple[Step, ...], duration_ms: float, starts_inclusive: bool) -> Step | None:
    for index, step in enumerate(steps):
        lower_ok = duration_ms > step.after_ms or (
            index == 0 and starts_inclusive and duration_ms >= step.after_ms
        )
        upper_ok = step.up_to_ms is None or duration_ms <= step.up_to_ms
        if lower_ok and upper_ok:
            return step
    return None


def classify(
    curve: Curve | str,
    residual_pct: float | None,
    duration_ms: float | None,
    frequency_hz: float = DEFAULT_FREQUENCY_HZ,
) -> Verdict:
    """Where an event with this residual voltage and duration lies against `curve`.

    Missing residual or duration → not covered (nothing to place). Residual exactly 100 % is
    within wherever the curve has a boundary for that duration.
    """
    if isinstance(curve, str):
        curve = curves(frequency_hz)[curve]
    if residual_pct is None or duration_ms is None:
        return Verdict.NOT_COVERED
    residual, duration = float(residual_pct), float(duration_ms)
    if residual <= 100.0:
        step = _find_step(curve.lower, duration, curve.lower_starts_inclusive)
        if step is None:
            return Verdict.NOT_COVERED
        return Verdict.WITHIN if residual >= step.level_at(duration) else Verdict.OUTSIDE
    step = _find_step(curve.upper, duration, curve.upper_starts_inclusive)
    if step is None:
        return Verdict.NOT_COVERED
    return Verdict.WITHIN if residual <= step.level_at(duration) else Verdict.OUTSIDE


def _sql_number(value: float) -> str:
    text = repr(float(value))
    return f"{text}::float8"


def _sql_level(step: Step, duration_sql: str) -> str:
    if step.slope_to is None or step.up_to_ms is None:
        return _sql_number(step.level)
    span = math.log(step.up_to_ms / step.after_ms)
    return (
        f"({_sql_number(step.level)} + ({_sql_number(step.slope_to - step.level)})"
        f" * ln(({duration_sql}) / {_sql_number(step.after_ms)}) / {_sql_number(span)})"
    )


def _sql_side(
    steps: tuple[Step, ...], starts_inclusive: bool, residual: str, duration: str, dips: bool
) -> str:
    if not steps:
        return f"'{Verdict.NOT_COVERED.value}'"
    compare = ">=" if dips else "<="
    branches = []
    for index, step in enumerate(steps):
        start_op = ">=" if index == 0 and starts_inclusive else ">"
        condition = f"{duration} {start_op} {_sql_number(step.after_ms)}"
        if step.up_to_ms is not None:
            condition += f" AND {duration} <= {_sql_number(step.up_to_ms)}"
        branches.append(
            f"WHEN {condition} THEN CASE WHEN {residual} {compare} "
            f"{_sql_level(step, duration)} THEN '{Verdict.WITHIN.value}' "
            f"ELSE '{Verdict.OUTSIDE.value}' END"
        )
    return f"CASE {' '.join(branches)} ELSE '{Verdict.NOT_COVERED.value}' END"


def classification_sql(
    curve: Curve | str,
    residual_sql: str,
    duration_sql: str,
    frequency_hz: float = DEFAULT_FREQUENCY_HZ,
) -> str:
    """A SQL expression (text 'within' / 'outside' / 'not covered') that classifies exactly as
    `classify()`, for the given residual and duration expressions (trusted SQL, not user input)."""
    if isinstance(curve, str):
        curve = curves(frequency_hz)[curve]
    r = f"(({residual_sql})::float8)"
    d = f"(({duration_sql})::float8)"
    lower = _sql_side(curve.lower, curve.lower_starts_inclusive, r, d, dips=True)
    upper = _sql_side(curve.upper, curve.upper_starts_inclusive, r, d, dips=False)
    return (
        f"(CASE WHEN {r} IS NULL OR {d} IS NULL THEN '{Verdict.NOT_COVERED.value}' "
        f"WHEN {r} <= 100.0::float8 THEN {lower} ELSE {upper} END)"
    )


def outline(curve: Curve, max_duration_ms: float = 100_000.0) -> list[dict]:
    """Points to draw the curve (duration ms, residual %, side) for charts: each step's level from
    its start to its end, so vertical jumps at the steps appear between consecutive points."""
    points: list[dict] = []
    for side, steps in (("lower", curve.lower), ("upper", curve.upper)):
        for step in steps:
            start = max(step.after_ms, 0.1)
            end = step.up_to_ms if step.up_to_ms is not None else max_duration_ms
            points.append(
                {
                    "curve": curve.name,
                    "side": side,
                    "duration_ms": start,
                    "residual_pct": step.level_at(start),
                }
            )
            points.append(
                {
                    "curve": curve.name,
                    "side": side,
                    "duration_ms": end,
                    "residual_pct": step.level_at(end),
                }
            )
    return points

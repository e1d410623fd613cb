"""Durations and event types as a person reads them (ctm/units.py): the unit that fits, words
for codes, and nothing printed for a missing value (never 'None' or 'nan')."""

import math

import pytest

from ctm.units import duration_text, event_type_text, minutes_text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (20, "20 ms"),
        (999, "999 ms"),
        (1_500, "1.5 s"),
        (45_000, "45.0 s"),
        (90_000, "1.5 min"),
        (4_320_000, "1.2 h"),
        (None, ""),
        (math.nan, ""),
    ],
)
def test_duration_reads_in_the_unit_that_fits(ms, text):
    assert duration_text(ms) == text


def test_stored_minutes_read_the_same_way():
    assert minutes_text(1.5) == "1.5 min"
    assert minutes_text(0.002) == "120 ms"
    assert minutes_text(None) == ""


def test_event_types_read_as_words():
    assert event_type_text("voltage_dip") == "Voltage dip"
    assert event_type_text("interruption") == "Interruption"
    assert event_type_text("new_kind") == "New kind"
    assert event_type_text(None) == "" and event_type_text(math.nan) == ""

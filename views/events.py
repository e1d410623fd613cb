"""Events → the PQ event list (filters in the sidebar and the URL, one page at a time); selecting
an event shows its details with tabs Overview and Customer Impact (with an Excel download).
Admins and operators can record an event by hand and see the customers it hit at once."""

from __future__ import annotations

import re
import time as clock_time
from datetime import datetime, time, timedelta
from uuid import UUID

import pandas as pd
import streamlit as st

from ctm import events
from ctm.clock import time_zone_for
from ctm.errors import NotFound
from ctm.events import EventFilter, EventPage, NewEvent
from ctm.mappings import circuits_of_substation
from ctm.reference import list_substations
from ctm.roles import Action, can
from ctm.units import duration_text, event_type_text, minutes_text
from ui import downloads
from ui.dates import day_input
from ui.empty_states import first_steps
from ui.feedback import service_errors
from ui.place_filters import substation_and_circuit, substation_labels
from ui.session import require_user, user_fragment

engine, identity = require_user()
can_record = can(identity.role, Action.RECORD_EVENTS)
# Every date on this page is a date in the product's stored zone (`ctm time-zone`).
zone = time_zone_for(engine, identity)

PAGE_SIZE = 100
DEFAULT_DAYS = 30
# Widget keys double as query parameter names: /events?substation=North&circuit=H1&severity=high
DATES, SEVERITY, PAGE = "dates", "severity", "page"
EVENT = "event"  # the selected event's id, kept in the URL so a link opens its details
SHOWN = "events_shown"  # (table key, selected positions, row ids) of the last run's table
GENERATION = "events_generation"  # bumped when an event is recorded: a fresh table, no stale pick
RECORD_OPEN = "events_record_open"
TOAST = "events_toast"
LOADED = "events_loaded"  # (what, loaded at, value): the list page and the open event's details
# A selection or a tab click reruns the page: reuse what this session read for this very view for
# a few seconds instead of querying the list (and the event) again. New rows show within that.
REUSE_SECONDS = 20

COLUMN_TITLES = {
    "timestamp": "Time",
    "substation_name": "Substation",
    "circuit_id": "Circuit",
    "event_type": "Type",
    "severity": "Severity",
    "duration": "Duration",
    "magnitude": "Magnitude",
    "remaining_voltage": "Remaining voltage (%)",
    "status": "Status",
    "customers_affected": "Customers affected",
}
IMPACT_TITLES = {
    "customer_name": "Customer",
    "account_number": "Account number",
    "customer_type": "Customer type",
    "impact_level": "Impact level",
    "estimated_downtime": "Estimated downtime",
}
# The Excel file: the readable duration and the same value in seconds, a number to add up
# (the stored minutes round every dip shorter than 0.3 s to 0.00).
IMPACT_EXPORT_TITLES = {**IMPACT_TITLES, "estimated_downtime_s": "Estimated downtime (s)"}
MAGNITUDE_HELP = (
    "Optional: the value as the PQ system reports it (kept as sent; ctm applies no rule to it)."
)
REMAINING_HELP = (
    "Optional: the residual voltage of the event's characteristic phase (lowest phase for dips "
    "and interruptions, highest for swells) in % of the declared voltage, e.g. 62 for a dip to "
    "62 %."
)


def _number_text(value: object, digits: int) -> str:
    """A stored number as a person reads it; '—' when the event has none (not 'None')."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{digits}f}".rstrip("0").rstrip(".")


def _reused(what: tuple, load):
    """This session's last value for `what` while it is younger than REUSE_SECONDS, else load()."""
    held = st.session_state.get(LOADED, {})
    entry = held.get(what)
    if entry is not None and clock_time.monotonic() - entry[0] < REUSE_SECONDS:
        return entry[1]
    value = load()
    held = {k: v for k, v in held.items() if k[0] != what[0]}  # one entry per kind
    held[what] = (clock_time.monotonic(), value)
    st.session_state[LOADED] = held
    return value


def _list_view(rows: pd.DataFrame) -> pd.DataFrame:
    """The list's rows as shown: event types in words, durations in the unit that reads, blank
    numbers as '—'."""
    view = rows.copy()
    view["event_type"] = view["event_type"].map(event_type_text)
    view["duration"] = view["duration_ms"].map(duration_text)
    view["magnitude"] = view["magnitude"].map(lambda v: _number_text(v, 3))
    view["remaining_voltage"] = view["remaining_voltage"].map(lambda v: _number_text(v, 2))
    view["severity"] = view["severity"].fillna("—").map(str.capitalize)
    return view


def _reset_page() -> None:
    st.session_state[PAGE] = 1
    _forget_selection()


def _forget_selection() -> None:
    st.query_params.pop(EVENT, None)


def sidebar_filters(substations: dict[UUID, str]) -> EventFilter:
    """The sidebar's filters, bound to the URL; the EventFilter they select."""
    today = datetime.now(zone).date()
    with st.sidebar:
        st.subheader("Filters")
        dates = day_input(
            st,
            "Date range",
            value=(today - timedelta(days=DEFAULT_DAYS), today),
            max_value=today,
            key=DATES,
            bind="query-params",
            on_change=_reset_page,
            help=f"Both days included. Default: the last {DEFAULT_DAYS} days.",
        )
        substation_id, circuit, _circuits = substation_and_circuit(
            engine, identity, substations, on_change=_reset_page
        )
        severities = st.multiselect(
            "Severity",
            list(events.SEVERITIES),
            format_func=str.capitalize,
            key=SEVERITY,
            bind="query-params",
            on_change=_reset_page,
            placeholder="All severities",
        )
    date_from, date_to = (tuple(dates) + (None, None))[:2] if dates else (None, None)
    return EventFilter(
        date_from=date_from,
        date_to=date_to or date_from,
        substation_id=substation_id,
        circuit_id=circuit,
        severities=tuple(severities),
    )


def _token(filters: EventFilter, page: int) -> str:
    parts = (
        filters.date_from,
        filters.date_to,
        filters.substation_id,
        filters.circuit_id,
        ",".join(filters.severities),
        page,
    )
    return "|".join(str(p) for p in parts)


def event_table(filters: EventFilter) -> None:
    """The pager, one page of events, and the row selection that opens an event's details."""
    pager = st.columns([1, 5], vertical_alignment="center")
    requested = pager[0].number_input(
        "Page", min_value=1, step=1, key=PAGE, bind="query-params", label_visibility="collapsed"
    )
    requested = max(1, int(requested or 1))
    generation = st.session_state.get(GENERATION, 0)

    def load(number: int) -> EventPage:
        return _reused(
            ("list", _token(filters, number), generation),
            lambda: events.list_events(
                engine, identity, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
            ),
        )

    with service_errors(), st.spinner("Loading events…"):
        page = load(requested)
        if page.rows.empty and requested > 1 and page.total:
            # The URL asked for a page past the end (the data shrank): show the last one.
            requested = (page.total - 1) // PAGE_SIZE + 1
            page = load(requested)
    pages = max(1, (page.total - 1) // PAGE_SIZE + 1)
    first = (requested - 1) * PAGE_SIZE + 1 if len(page.rows) else 0
    last = first + len(page.rows) - 1 if len(page.rows) else 0
    total = f"{page.total:,}" if page.total_is_exact else f"more than {page.total:,}"
    pages_text = f"{pages:,}" if page.total_is_exact else f"{pages:,}+"
    pager[1].caption(
        f"Page {requested} of {pages_text} · events {first:,}–{last:,} of {total} · "
        "select a row to see its details"
    )
    if page.rows.empty:
        with service_errors():
            any_event = events.list_events(engine, identity, EventFilter(), limit=1).total > 0
        if any_event:
            st.info("No events match these filters.")
        else:
            st.info(
                "No events yet. Events arrive from the PQ monitoring system (rows inserted into "
                "pq_events); operators and administrators can also record one by hand with "
                "Record event above. An event that names only its meter takes its substation and "
                "circuit from the meter, so register the monitors on the Meters page. Each event "
                "is matched to the customers mapped to its substation circuit, so map customers "
                "first."
            )
            first_steps(identity, ("substations", "meters", "import", "mappings"))
        return
    table_key = f"events_table|{_token(filters, requested)}|{st.session_state.get(GENERATION, 0)}"
    ids = [str(i) for i in page.rows["id"]]
    state = st.dataframe(
        _list_view(page.rows.assign(timestamp=page.rows["timestamp"].dt.tz_convert(zone))).rename(
            columns=COLUMN_TITLES
        ),
        hide_index=True,
        width="stretch",
        column_order=list(COLUMN_TITLES.values()),
        # Every column fits the 1400-px window without a horizontal scroll (a test measures it):
        # fixed pixel widths, and short headers whose full names are in their help.
        column_config={
            "Time": st.column_config.DatetimeColumn(
                f"Time ({zone.key})", format="YYYY-MM-DD HH:mm:ss", width=145
            ),
            "Substation": st.column_config.TextColumn(width=120),
            "Circuit": st.column_config.TextColumn(width=58),
            "Type": st.column_config.TextColumn(width=100),
            "Severity": st.column_config.TextColumn(width=66),
            "Duration": st.column_config.TextColumn(width=70),
            "Magnitude": st.column_config.TextColumn(width=80),
            "Remaining voltage (%)": st.column_config.TextColumn(
                "Residual (%)", width=80, help="Remaining voltage in % of nominal"
            ),
            "Status": st.column_config.TextColumn(width=100),
            "Customers affected": st.column_config.NumberColumn(
                "Customers", width=80, format="%d", help="Customers affected by the event"
            ),
        },
        key=table_key,
        on_select="rerun",
        selection_mode="single-row",
    )
    _follow_selection(table_key, ids, list(state.selection.rows))


def _follow_selection(table_key: str, ids: list[str], rows: list[int]) -> None:
    """Keep the selected event's id in the URL. Selections are row positions: a new one is read
    against the rows the user clicked on (those of the previous run of the same table); an
    unchanged one leaves the URL alone, so a link or a just-recorded event stays open."""
    previous_key, previous_rows, previous_ids = st.session_state.get(SHOWN, (None, [], []))
    seen = previous_ids if previous_key == table_key else ids
    if (previous_key, previous_rows) != (table_key, rows):
        if rows and rows[0] < len(seen):
            st.query_params[EVENT] = seen[rows[0]]
        elif previous_key == table_key and previous_rows:
            _forget_selection()  # the user cleared the selection: close the details
    st.session_state[SHOWN] = (table_key, rows, ids)


def _selected_event() -> UUID | None:
    raw = st.query_params.get(EVENT)
    try:
        return UUID(raw) if raw else None
    except ValueError:
        _forget_selection()
        return None


def _file_part(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text or "none").strip("-") or "none"


def _impact_view(impacts: pd.DataFrame, duration_ms: int | None) -> pd.DataFrame:
    """The estimated downtime in the unit that reads. It is the event's duration for every
    customer (stored in minutes, rounded to 0.01: a 120 ms dip is 0.00 there), so the exact
    duration is used when the event has one."""
    view = impacts.copy()
    if duration_ms is not None:
        seconds = pd.Series(duration_ms / 1000, index=view.index, dtype="float64")
        seconds[view["estimated_downtime_min"].isna()] = float("nan")
    else:
        seconds = view["estimated_downtime_min"] * 60
    view["estimated_downtime_s"] = seconds.round(3)
    view["estimated_downtime"] = (seconds * 1000).map(duration_text)
    return view


def _impacts_xlsx(impacts: pd.DataFrame) -> bytes:
    from ctm.excel import dataframe_to_xlsx  # only when the file is asked for

    return dataframe_to_xlsx(
        impacts[list(IMPACT_EXPORT_TITLES)],
        "Customer impact",
        column_titles=IMPACT_EXPORT_TITLES,
    )


def event_details(event_id: UUID) -> None:
    """Tabs Overview and Customer Impact of one event."""
    generation = st.session_state.get(GENERATION, 0)
    with service_errors():
        try:
            detail, impacts = _reused(
                ("event", event_id, generation),
                lambda: (
                    events.get_event(engine, identity, event_id),
                    events.event_impacts(engine, identity, event_id),
                ),
            )
        except NotFound:
            st.warning("That event no longer exists or you may not see it.")
            _forget_selection()
            return
    st.divider()
    when = pd.Timestamp(detail.timestamp).tz_convert(zone)
    st.subheader(
        f"{event_type_text(detail.event_type) or 'Event'} at "
        f"{detail.substation_name or 'unknown substation'} / {detail.circuit_id or '—'}, "
        f"{when:%Y-%m-%d %H:%M:%S} ({zone.key})"
    )
    overview, impact_tab = st.tabs(["Overview", "Customer Impact"])
    with overview:
        tiles = st.columns(5)
        tiles[0].metric("Customers affected", f"{detail.customers_affected:,}")
        tiles[1].metric("Severe", f"{detail.severe:,}")
        tiles[2].metric("Moderate", f"{detail.moderate:,}")
        tiles[3].metric("Minor", f"{detail.minor:,}")
        if detail.duration_ms is not None:
            downtime = duration_text(detail.duration_ms * detail.customers_affected)
        else:
            downtime = minutes_text(detail.total_downtime_min)
        tiles[4].metric(
            "Customer downtime",
            downtime or "—",
            help="Sum of the estimated downtime of every affected customer",
        )
        fields = {
            "Time": f"{when:%Y-%m-%d %H:%M:%S %Z}".strip(),
            "Substation": detail.substation_name or "—",
            "Circuit": detail.circuit_id or "—",
            "Type": event_type_text(detail.event_type) or "—",
            "Severity": (detail.severity or "—").capitalize(),
            "Duration": duration_text(detail.duration_ms) or "—",
            "Magnitude": _number_text(detail.magnitude, 3),
            "Remaining voltage (%)": _number_text(detail.remaining_voltage, 2),
            "Status": detail.status,
            "Meter": detail.meter_id or "—",
            "Voltage level": detail.voltage_level or "—",
            "Recorded at": f"{pd.Timestamp(detail.created_at).tz_convert(zone):%Y-%m-%d %H:%M:%S}",
        }
        # A static table: every field on the page, no scroll box hiding the last rows.
        st.table(
            pd.DataFrame({"Field": list(fields), "Value": list(fields.values())}),
            border="horizontal",
        )
    with impact_tab:
        if impacts.empty:
            st.info(
                "No customer is mapped to this circuit: the event hit no known critical customer."
            )
            return
        st.caption(f"{len(impacts):,} affected customer(s), severe first.")
        impacts = _impact_view(impacts, detail.duration_ms)
        st.dataframe(
            impacts.rename(columns=IMPACT_TITLES),
            hide_index=True,
            width="stretch",
            column_order=list(IMPACT_TITLES.values()),
            key=f"event_impacts|{event_id}",
        )
        file_name = (
            f"ctm_event_{when:%Y-%m-%d}_{_file_part(detail.substation_name)}_"
            f"{_file_part(detail.circuit_id)}_impacts.xlsx"
        )
        downloads.excel_button(
            "Download Excel",
            lambda: _impacts_xlsx(impacts),
            file_name,
            key="impacts_download",
        )


@user_fragment
def list_and_details(filters: EventFilter) -> None:
    """The pager, the list and the selected event: paging or selecting an event reruns only this
    part, not the filters and the rest of the page."""
    event_table(filters)
    selected = _selected_event()
    if selected is not None:
        event_details(selected)


def _close_record() -> None:
    st.session_state.pop(RECORD_OPEN, None)


@st.dialog("Record event", width="medium", on_dismiss=_close_record)
def record_dialog(substations: dict[UUID, str], default_substation: UUID | None) -> None:
    """Substation, circuit (of that substation, or a new one typed in), time, severity, duration,
    magnitude; the service validates, the trigger creates the impacts."""
    ids = list(substations)
    substation_id = st.selectbox(
        "Substation",
        ids,
        index=ids.index(default_substation) if default_substation in ids else None,
        format_func=substations.get,
        key="record_substation",
        placeholder="Choose a substation",
    )
    circuits = circuits_of_substation(engine, identity, substation_id) if substation_id else []
    circuit = st.selectbox(
        "Circuit",
        circuits,
        index=None,
        key=f"record_circuit|{substation_id}",
        accept_new_options=True,
        placeholder="Choose or type a circuit",
        disabled=substation_id is None,
        help="The circuits known for this substation; type a name to record on a new circuit.",
    )
    now = datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)
    when = st.columns(2)
    day = day_input(when[0], "Date", value=now.date(), max_value=now.date(), key="record_date")
    clock = when[1].time_input(f"Time ({zone.key})", value=now.time(), step=60, key="record_time")
    kind = st.columns(2)
    severity = kind[0].selectbox(
        "Severity",
        list(events.SEVERITIES),
        index=1,
        format_func=str.capitalize,
        key="record_severity",
    )
    event_type = kind[1].selectbox(
        "Type",
        list(events.EVENT_TYPES),
        format_func=lambda t: t.replace("_", " ").capitalize(),
        key="record_type",
    )
    numbers = st.columns(3)
    duration = numbers[0].number_input(
        "Duration (ms)", min_value=0, value=100, step=10, key="record_duration"
    )
    magnitude = numbers[1].number_input(
        "Magnitude",
        min_value=0.0,
        value=None,
        step=0.01,
        format="%.3f",
        key="record_magnitude",
        help=MAGNITUDE_HELP,
    )
    remaining = numbers[2].number_input(
        "Remaining voltage (%)",
        min_value=0.0,
        value=None,
        step=1.0,
        format="%.2f",
        key="record_remaining",
        help=REMAINING_HELP,
    )
    buttons = st.columns([1, 1, 3])
    if buttons[1].button("Cancel", key="record_cancel"):
        _close_record()
        st.rerun()
    if not buttons[0].button("Record", type="primary", key="record_submit"):
        return
    if substation_id is None:
        st.error("Choose a substation.")
        return
    if day is None or clock is None:
        st.error("Enter the date and time of the event.")
        return
    new_event = NewEvent(
        substation_id=substation_id,
        circuit_id=circuit or "",
        timestamp=datetime.combine(day, clock or time(), tzinfo=zone),
        severity=severity,
        duration_ms=int(duration if duration is not None else -1),
        magnitude=magnitude,
        event_type=event_type,
        remaining_voltage=remaining,
    )
    with service_errors(stop=False):
        new_id = events.record_event(engine, identity, new_event)
        hit = len(events.event_impacts(engine, identity, new_id))
        st.session_state[TOAST] = (
            f"Event recorded on {substations[substation_id]} / {new_event.circuit_id.strip()}: "
            f"{hit} customer(s) affected"
        )
        st.query_params[EVENT] = str(new_id)
        st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1
        _close_record()
        st.rerun()


# The page ------------------------------------------------------------------------------------
st.title("Events")
st.caption(
    "Power-quality events, newest first. The customers an event hit come from the active "
    "mappings of its substation circuit when it was recorded."
)
if message := st.session_state.pop(TOAST, None):
    st.toast(message, icon=":material/check_circle:")

with service_errors():
    labels = substation_labels(list_substations(engine, identity))
filters = sidebar_filters(labels)

if can_record:
    st.button(
        "Record event",
        icon=":material/add:",
        key="open_record",
        on_click=lambda: st.session_state.__setitem__(RECORD_OPEN, True),
    )


list_and_details(filters)

if can_record and st.session_state.get(RECORD_OPEN):
    record_dialog(labels, filters.substation_id)

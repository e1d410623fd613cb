"""Wrong input meets each service's own error, whoever calls it (a page, the CLI, a script): a
ValidationError whose message names the field and the value, and nothing written. One row per
service and kind of wrong input: NUL bytes, ids that are not UUIDs, paging of the wrong type or
absurd size, dates at the calendar's ends, booleans given as text, events outside 1990 .. now+1 day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ctm import (
    analytics,
    circuits,
    customer_report,
    customers,
    db,
    events,
    history,
    mappings,
    meters,
    reference,
    stats,
    substations,
)
from ctm.analytics import Scope
from ctm.customers import CustomerFilter, CustomerInput
from ctm.errors import ServiceError, ValidationError
from ctm.events import EventFilter, NewEvent
from ctm.history import HistoryFilter
from ctm.imports.kinds import MAPPINGS
from ctm.imports.reading import read_import_file
from ctm.imports.service import preview_import
from ctm.imports.undo import import_run, preview_undo, undo_import
from ctm.mappings import MappingFilter
from ctm.meters import MeterInput
from ctm.substations import SubstationInput

NUL = "H1\x00"
NOT_AN_ID = "not-a-uuid"


def _event(w, **changes) -> NewEvent:
    base = {
        "substation_id": w.north,
        "circuit_id": "H1",
        "timestamp": datetime.now(UTC) - timedelta(hours=1),
        "severity": "high",
        "duration_ms": 1000,
        "magnitude": Decimal("0.5"),
    }
    return NewEvent(**{**base, **changes})


# (id, call(engine, world), field named in the message, value shown in the message)
CASES = [
    # mappings: list / export / circuits / create / update / deactivate / delete
    (
        "list NUL text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(customer_text="\x00")),
        "customer text",
        "\\x00",
    ),
    (
        "list NUL circuit",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "list substation not uuid",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "list inactive as text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(include_inactive="false")),
        "include inactive",
        "false",
    ),
    (
        "list limit as text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit="10"),
        "limit",
        "10",
    ),
    (
        "list limit float",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit=2.5),
        "limit",
        "2.5",
    ),
    (
        "list limit absurd",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit=10**12),
        "limit",
        "1000000000000",
    ),
    (
        "list offset absurd",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), offset=10**30),
        "offset",
        "1000000000000000000000000000000",
    ),
    (
        "list offset negative",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), offset=-1),
        "offset",
        "-1",
    ),
    (
        "export NUL",
        lambda e, w: mappings.export_mappings(e, w.viewer, MappingFilter(customer_text="a\x00")),
        "customer text",
        "a\\x00",
    ),
    (
        "circuits not uuid",
        lambda e, w: mappings.circuits_of_substation(e, w.viewer, "42"),
        "substation id",
        "42",
    ),
    (
        "create customer not uuid",
        lambda e, w: mappings.create_mapping(e, w.admin, NOT_AN_ID, w.north, "H1"),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "create substation int",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, 7, "H1"),
        "substation id",
        "7",
    ),
    (
        "create NUL circuit",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, w.north, NUL),
        "circuit id",
        "H1\\x00",
    ),
    (
        "create circuit not text",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, w.north, 1),
        "circuit id",
        "1",
    ),
    (
        "update active as text",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, active="false"),
        "active",
        "false",
    ),
    (
        "update active as number",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, active=0),
        "active",
        "0",
    ),
    (
        "update id not uuid",
        lambda e, w: mappings.update_mapping(e, w.admin, NOT_AN_ID, 1, active=False),
        "mapping id",
        NOT_AN_ID,
    ),
    (
        "update version text",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, "1", active=False),
        "expected version",
        "1",
    ),
    (
        "update version absurd",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 2**40, active=False),
        "expected version",
        str(2**40),
    ),
    (
        "update NUL circuit",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, circuit_id=NUL),
        "circuit id",
        "H1\\x00",
    ),
    (
        "update substation not uuid",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, substation_id="x"),
        "substation id",
        "x",
    ),
    (
        "deactivate id not uuid",
        lambda e, w: mappings.deactivate_mapping(e, w.admin, "1; DROP TABLE x", 1),
        "mapping id",
        "1; DROP TABLE x",
    ),
    (
        "delete version bool",
        lambda e, w: mappings.delete_mapping(e, w.admin, w.south_h7, True),
        "expected version",
        "True",
    ),
    # events: list / get / impacts / record
    (
        "events date min",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_from=date.min)),
        "date from",
        "0001-01-01",
    ),
    (
        "events date max",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_to=date.max)),
        "date to",
        "9999-12-31",
    ),
    (
        "events date as text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_from="2026-01-01")),
        "date from",
        "2026-01-01",
    ),
    (
        "events NUL circuit",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "events severity as text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(severities="high")),
        "severity",
        "high",
    ),
    (
        "events NUL severity",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(severities=("hi\x00",))),
        "severity",
        "hi\\x00",
    ),
    (
        "events substation not uuid",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "events limit text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(), limit="100"),
        "limit",
        "100",
    ),
    (
        "events offset absurd",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(), offset=10**19),
        "offset",
        str(10**19),
    ),
    (
        "get event not uuid",
        lambda e, w: events.get_event(e, w.viewer, NOT_AN_ID),
        "event id",
        NOT_AN_ID,
    ),
    (
        "impacts not uuid",
        lambda e, w: events.event_impacts(e, w.viewer, "\x00"),
        "event id",
        "\\x00",
    ),
    (
        "record year 1",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(1, 1, 1, tzinfo=UTC))
        ),
        "timestamp",
        "0001-01-01",
    ),
    (
        "record 1989",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(1989, 12, 31, 23, tzinfo=UTC))
        ),
        "timestamp",
        "1989-12-31",
    ),
    (
        "record year 9999",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(9999, 12, 31, tzinfo=UTC))
        ),
        "timestamp",
        "9999-12-31",
    ),
    (
        "record 2 days ahead",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime.now(UTC) + timedelta(days=2))
        ),
        "timestamp",
        str((datetime.now(UTC) + timedelta(days=2)).date()),
    ),
    (
        "record NUL circuit",
        lambda e, w: events.record_event(e, w.admin, _event(w, circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "record NUL severity",
        lambda e, w: events.record_event(e, w.admin, _event(w, severity="high\x00")),
        "severity",
        "high\\x00",
    ),
    (
        "record substation not uuid",
        lambda e, w: events.record_event(e, w.admin, _event(w, substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "record magnitude text",
        lambda e, w: events.record_event(e, w.admin, _event(w, magnitude="abc")),
        "magnitude",
        "abc",
    ),
    (
        "record duration text",
        lambda e, w: events.record_event(e, w.admin, _event(w, duration_ms="100")),
        "duration ms",
        "100",
    ),
    (
        "record timestamp text",
        lambda e, w: events.record_event(e, w.admin, _event(w, timestamp="2026-01-01")),
        "timestamp",
        "2026-01-01",
    ),
    # reference
    (
        "search NUL",
        lambda e, w: reference.search_customers(e, w.viewer, "ac\x00me"),
        "text",
        "ac\\x00me",
    ),
    (
        "search limit text",
        lambda e, w: reference.search_customers(e, w.viewer, "ac", limit="5"),
        "limit",
        "5",
    ),
    (
        "search limit absurd",
        lambda e, w: reference.search_customers(e, w.viewer, "ac", limit=10**9),
        "limit",
        "1000000000",
    ),
    (
        "delete substation not uuid",
        lambda e, w: substations.delete_substation(e, w.admin, NOT_AN_ID),
        "substation id",
        NOT_AN_ID,
    ),
    # statistics
    (
        "stats days text",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days="90"),
        "days",
        "90",
    ),
    (
        "stats days absurd",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days=10**9),
        "days",
        "1000000000",
    ),
    (
        "stats days bool",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days=True),
        "days",
        "True",
    ),
    # substations: search / get / add / update / delete
    (
        "substations search NUL",
        lambda e, w: substations.search_substations(e, w.viewer, "No\x00rth"),
        "text",
        "No\\x00rth",
    ),
    (
        "substations search not text",
        lambda e, w: substations.search_substations(e, w.viewer, 42),
        "text",
        "42",
    ),
    (
        "get substation not uuid",
        lambda e, w: substations.get_substation(e, w.viewer, NOT_AN_ID),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "add substation NUL name",
        lambda e, w: substations.add_substation(e, w.admin, SubstationInput(name="X\x00")),
        "name",
        "X\\x00",
    ),
    (
        "add substation NUL code",
        lambda e, w: substations.add_substation(
            e, w.admin, SubstationInput(name="X", code="C\x00")
        ),
        "code",
        "C\\x00",
    ),
    (
        "add substation name not text",
        lambda e, w: substations.add_substation(e, w.admin, SubstationInput(name=7)),
        "name",
        "7",
    ),
    (
        "add substation latitude absurd",
        lambda e, w: substations.add_substation(
            e, w.admin, SubstationInput(name="X", latitude="1e400")
        ),
        "latitude",
        "1e400",
    ),
    (
        "add substation longitude NUL",
        lambda e, w: substations.add_substation(
            e, w.admin, SubstationInput(name="X", longitude="1\x00")
        ),
        "longitude",
        "1\\x00",
    ),
    (
        "update substation not uuid",
        lambda e, w: substations.update_substation(e, w.admin, NOT_AN_ID, SubstationInput("X")),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "update substation NUL region",
        lambda e, w: substations.update_substation(
            e, w.admin, w.north, SubstationInput("North", region="R\x00")
        ),
        "region",
        "R\\x00",
    ),
    # circuits: list / options / add / update / retire / reinstate / delete
    (
        "list circuits not uuid",
        lambda e, w: circuits.list_circuits(e, w.viewer, NOT_AN_ID),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "list circuits retired as text",
        lambda e, w: circuits.list_circuits(e, w.viewer, w.north, include_retired="false"),
        "include retired",
        "false",
    ),
    (
        "circuit options not uuid",
        lambda e, w: circuits.circuit_options(e, w.viewer, "\x00"),
        "substation id",
        "\\x00",
    ),
    (
        "add circuit NUL name",
        lambda e, w: circuits.add_circuit(e, w.admin, w.north, "H9\x00"),
        "circuit",
        "H9\\x00",
    ),
    (
        "add circuit name not text",
        lambda e, w: circuits.add_circuit(e, w.admin, w.north, 9),
        "circuit",
        "9",
    ),
    (
        "add circuit substation not uuid",
        lambda e, w: circuits.add_circuit(e, w.admin, NOT_AN_ID, "H9"),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "add circuit NUL description",
        lambda e, w: circuits.add_circuit(e, w.admin, w.north, "H9", description="d\x00"),
        "description",
        "d\\x00",
    ),
    (
        "add circuit count NUL",
        lambda e, w: circuits.add_circuit(e, w.admin, w.north, "H9", customers_served="1\x00"),
        "customers served",
        "1\\x00",
    ),
    (
        "add circuit count absurd",
        lambda e, w: circuits.add_circuit(e, w.admin, w.north, "H9", max_mapped_customers=2**40),
        "maximum mapped customers",
        str(2**40),
    ),
    (
        "update circuit NUL id",
        lambda e, w: circuits.update_circuit(e, w.admin, w.north, "H1\x00", description="x"),
        "circuit",
        "H1\\x00",
    ),
    (
        "update circuit description not text",
        lambda e, w: circuits.update_circuit(e, w.admin, w.north, "H1", description=5),
        "description",
        "5",
    ),
    (
        "retire circuit date max",
        lambda e, w: circuits.retire_circuit(e, w.admin, w.north, "H1", date.max),
        "retired on",
        "9999-12-31",
    ),
    (
        "retire circuit date as text",
        lambda e, w: circuits.retire_circuit(e, w.admin, w.north, "H1", "2026-01-01"),
        "retired on",
        "2026-01-01",
    ),
    (
        "retire circuit end mappings as text",
        lambda e, w: circuits.retire_circuit(e, w.admin, w.south, "H7", end_mappings="no"),
        "end mappings",
        "no",
    ),
    (
        "reinstate circuit not uuid",
        lambda e, w: circuits.reinstate_circuit(e, w.admin, NOT_AN_ID, "H1"),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "delete circuit NUL",
        lambda e, w: circuits.delete_circuit(e, w.admin, w.north, "\x00"),
        "circuit",
        "\\x00",
    ),
    # meters: list / get / add / update / unplaced / place
    (
        "meters NUL text",
        lambda e, w: meters.list_meters(e, w.viewer, text="M\x00"),
        "text",
        "M\\x00",
    ),
    (
        "meters substation not uuid",
        lambda e, w: meters.list_meters(e, w.viewer, substation_id=NOT_AN_ID),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "get meter not uuid",
        lambda e, w: meters.get_meter(e, w.viewer, NOT_AN_ID),
        "meter",
        NOT_AN_ID,
    ),
    (
        "add meter NUL name",
        lambda e, w: meters.add_meter(e, w.admin, MeterInput("M\x00", w.north, "H1")),
        "meter",
        "M\\x00",
    ),
    (
        "add meter substation not uuid",
        lambda e, w: meters.add_meter(e, w.admin, MeterInput("M1", NOT_AN_ID, "H1")),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "add meter NUL circuit",
        lambda e, w: meters.add_meter(e, w.admin, MeterInput("M1", w.north, NUL)),
        "circuit",
        "H1\\x00",
    ),
    (
        "add meter active as text",
        lambda e, w: meters.add_meter(e, w.admin, MeterInput("M1", w.north, "H1", active="no")),
        "active",
        "no",
    ),
    (
        "update meter not uuid",
        lambda e, w: meters.update_meter(e, w.admin, NOT_AN_ID, MeterInput("M1", w.north)),
        "meter",
        NOT_AN_ID,
    ),
    (
        "unplaced events not uuid",
        lambda e, w: meters.unplaced_events(e, w.viewer, 12),
        "meter",
        "12",
    ),
    (
        "place meter events not uuid",
        lambda e, w: meters.place_meter_events(e, w.admin, NOT_AN_ID),
        "meter",
        NOT_AN_ID,
    ),
    # customers: list / search / get / find / add / edit / delete / events
    (
        "customers NUL text",
        lambda e, w: customers.list_customers(e, w.viewer, CustomerFilter(text="ac\x00")),
        "text",
        "ac\\x00",
    ),
    (
        "customers NUL type",
        lambda e, w: customers.list_customers(e, w.viewer, CustomerFilter(customer_type="ind\x00")),
        "type",
        "ind\\x00",
    ),
    (
        "customers critical as text",
        lambda e, w: customers.list_customers(e, w.viewer, CustomerFilter(critical="false")),
        "critical",
        "false",
    ),
    (
        "customers limit text",
        lambda e, w: customers.list_customers(e, w.viewer, CustomerFilter(), limit="50"),
        "limit",
        "50",
    ),
    (
        "customers offset absurd",
        lambda e, w: customers.list_customers(e, w.viewer, CustomerFilter(), offset=10**30),
        "offset",
        str(10**30),
    ),
    (
        "get customer not uuid",
        lambda e, w: customers.get_customer(e, w.viewer, NOT_AN_ID),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "find customer NUL",
        lambda e, w: customers.find_customer(e, w.viewer, "ACC\x00"),
        "account",
        "ACC\\x00",
    ),
    (
        "add customer NUL name",
        lambda e, w: customers.add_customer(e, w.admin, CustomerInput("ACC-9", "N\x00")),
        "name",
        "N\\x00",
    ),
    (
        "add customer NUL account",
        lambda e, w: customers.add_customer(e, w.admin, CustomerInput("A\x00", "N")),
        "account",
        "A\\x00",
    ),
    (
        "add customer critical as text",
        lambda e, w: customers.add_customer(
            e, w.admin, CustomerInput("ACC-9", "N", critical_customer="false")
        ),
        "critical",
        "false",
    ),
    (
        "add customer demand absurd",
        lambda e, w: customers.add_customer(
            e, w.admin, CustomerInput("ACC-9", "N", contract_demand_kva="1e400")
        ),
        "contract demand",
        "1E+400",
    ),
    (
        "update customer not uuid",
        lambda e, w: customers.update_customer(
            e, w.admin, NOT_AN_ID, CustomerInput("ACC-1001", "Acme Steel")
        ),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "update customer NUL address",
        lambda e, w: customers.update_customer(
            e, w.admin, w.acme, CustomerInput("ACC-1001", "Acme Steel", address="x\x00")
        ),
        "address",
        "x\\x00",
    ),
    (
        "delete customer not uuid",
        lambda e, w: customers.delete_customer(e, w.admin, NOT_AN_ID),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "close account not uuid",
        lambda e, w: customers.close_account(e, w.admin, NOT_AN_ID),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "customer events date min",
        lambda e, w: customers.customer_events(e, w.viewer, w.acme, date.min, date(2026, 1, 1)),
        "date from",
        "0001-01-01",
    ),
    (
        "customer events date max",
        lambda e, w: customers.customer_events(e, w.viewer, w.acme, date(2026, 1, 1), date.max),
        "date to",
        "9999-12-31",
    ),
    (
        "customer events limit absurd",
        lambda e, w: customers.customer_events(
            e, w.viewer, w.acme, date(2026, 1, 1), date(2026, 2, 1), limit=10**12
        ),
        "limit",
        str(10**12),
    ),
    (
        "customer events NUL severity",
        lambda e, w: customers.customer_events(
            e, w.viewer, w.acme, date(2026, 1, 1), date(2026, 2, 1), severities=("hi\x00",)
        ),
        "severity",
        "hi\\x00",
    ),
    (
        "customer mappings not uuid",
        lambda e, w: customers.customer_mappings(e, w.viewer, NOT_AN_ID),
        "customer id",
        NOT_AN_ID,
    ),
    # history: list / filter / export / summary / restore
    (
        "history who not uuid",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(who=NOT_AN_ID)),
        "who",
        NOT_AN_ID,
    ),
    (
        "history date min",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(date_from=date.min)),
        "date from",
        "0001-01-01",
    ),
    (
        "history date max",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(date_to=date.max)),
        "date to",
        "9999-12-31",
    ),
    (
        "history NUL table",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(table_name="x\x00")),
        "table",
        "x\\x00",
    ),
    (
        "history NUL row id",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(row_id="1\x00")),
        "row id",
        "1\\x00",
    ),
    (
        "history action unknown",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(action="DROP")),
        "action",
        "DROP",
    ),
    (
        "history customer not uuid",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(customer_id=NOT_AN_ID)),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "history batch not uuid",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(batch_id="\x00")),
        "batch id",
        "\\x00",
    ),
    (
        "history limit absurd",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(), limit=10**12),
        "limit",
        str(10**12),
    ),
    (
        "history offset text",
        lambda e, w: history.list_history(e, w.viewer, HistoryFilter(), offset="0"),
        "offset",
        "0",
    ),
    (
        "history export NUL source",
        lambda e, w: history.export_history(e, w.viewer, HistoryFilter(source="app\x00")),
        "source",
        "app\\x00",
    ),
    (
        "history summary days absurd",
        lambda e, w: history.change_summary(e, w.viewer, days=10**9),
        "days",
        str(10**9),
    ),
    (
        "history summary latest text",
        lambda e, w: history.change_summary(e, w.viewer, latest="10"),
        "latest",
        "10",
    ),
    (
        "history customer by account NUL",
        lambda e, w: history.customer_by_account(e, w.viewer, "ACC\x00"),
        "account",
        "ACC\\x00",
    ),
    (
        "restore history id text",
        lambda e, w: mappings.restore_mapping(e, w.admin, "1", 1),
        "history entry",
        "1",
    ),
    (
        "restore history id absurd",
        lambda e, w: mappings.restore_mapping(e, w.admin, 2**70, 1),
        "history entry",
        str(2**70),
    ),
    (
        "restore version text",
        lambda e, w: mappings.restore_mapping(e, w.admin, 1, "1"),
        "expected version",
        "1",
    ),
    (
        "restore how unknown",
        lambda e, w: mappings.restore_mapping(e, w.admin, 1, 1, how="x\x00"),
        "how",
        "x\\x00",
    ),
    (
        "restore moved on date max",
        lambda e, w: mappings.restore_mapping(e, w.admin, 1, 1, how="moved", moved_on=date.max),
        "moved on",
        "9999-12-31",
    ),
    # analytics: Scope with absurd dates, ids, NUL
    (
        "analytics date min",
        lambda e, w: analytics.sarfi(e, w.viewer, Scope(date.min, date(2026, 1, 1))),
        "date from",
        "0001-01-01",
    ),
    (
        "analytics date max",
        lambda e, w: analytics.ride_through(e, w.viewer, Scope(date(2026, 1, 1), date.max)),
        "date to",
        "9999-12-31",
    ),
    (
        "analytics date as text",
        lambda e, w: analytics.sarfi(e, w.viewer, Scope("2026-01-01", date(2026, 2, 1))),
        "date from",
        "2026-01-01",
    ),
    (
        "analytics substation not uuid",
        lambda e, w: analytics.sarfi(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), substation_ids=(NOT_AN_ID,))
        ),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "analytics substations as text",
        lambda e, w: analytics.sarfi(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), substation_ids=NOT_AN_ID)
        ),
        "substation",
        NOT_AN_ID,
    ),
    (
        "analytics NUL region",
        lambda e, w: analytics.most_affected(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), regions=("R\x00",))
        ),
        "region",
        "R\\x00",
    ),
    (
        "analytics NUL voltage",
        lambda e, w: analytics.fragile_circuits(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), voltage_levels=("1\x00",))
        ),
        "voltage level",
        "1\\x00",
    ),
    (
        "analytics dips only as text",
        lambda e, w: analytics.sarfi(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), dips_only="false")
        ),
        "dips only",
        "false",
    ),
    (
        "analytics top text",
        lambda e, w: analytics.most_affected(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1)), top="20"
        ),
        "top",
        "20",
    ),
    (
        "analytics frequency text",
        lambda e, w: analytics.ride_through(
            e, w.viewer, Scope(date(2026, 1, 1), date(2026, 2, 1), frequency_hz="50")
        ),
        "frequency",
        "50",
    ),
    # customer report
    (
        "report customer not uuid",
        lambda e, w: customer_report.customer_report(
            e, w.viewer, NOT_AN_ID, date(2026, 1, 1), date(2026, 2, 1)
        ),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "report date min",
        lambda e, w: customer_report.customer_report(
            e, w.viewer, w.acme, date.min, date(2026, 2, 1)
        ),
        "date from",
        "0001-01-01",
    ),
    (
        "report date max",
        lambda e, w: customer_report.customer_report(
            e, w.viewer, w.acme, date(2026, 1, 1), date.max
        ),
        "date to",
        "9999-12-31",
    ),
    (
        "report date as text",
        lambda e, w: customer_report.customer_report(
            e, w.viewer, w.acme, date(2026, 1, 1), "2026-02-01"
        ),
        "date to",
        "2026-02-01",
    ),
    (
        "report frequency absurd",
        lambda e, w: customer_report.customer_report(
            e, w.viewer, w.acme, date(2026, 1, 1), date(2026, 2, 1), frequency_hz=1e300
        ),
        "frequency",
        "1e+300",
    ),
    # imports: file name, batch id
    (
        "import NUL file name",
        lambda e, w: preview_import(
            e,
            w.admin,
            read_import_file(
                b"account_number,substation,circuit\nACC-1001,North,H1\n",
                MAPPINGS,
                file_name="map\x00.csv",
            ),
        ),
        "file name",
        "map\\x00.csv",
    ),
    (
        "import run batch not uuid",
        lambda e, w: import_run(e, w.viewer, NOT_AN_ID),
        "batch id",
        NOT_AN_ID,
    ),
    (
        "undo preview batch NUL",
        lambda e, w: preview_undo(e, w.admin, "\x00"),
        "batch id",
        "\\x00",
    ),
    (
        "undo batch not uuid",
        lambda e, w: undo_import(e, w.admin, NOT_AN_ID),
        "batch id",
        NOT_AN_ID,
    ),
]


def fingerprint(engine) -> dict[str, str]:
    """Every public table's rows, hashed: equal before and after means nothing was written."""
    with db.owner_transaction(engine) as conn:
        tables = conn.scalars(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
            )
        ).all()
        return {
            t: conn.scalar(
                sa.text(
                    f"SELECT count(*) || md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM public.\"{t}\" AS x"
                )
            )
            for t in tables
        }


@pytest.mark.parametrize(
    ("call", "field", "shown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_wrong_input_gets_a_validation_error_naming_field_and_value_and_writes_nothing(
    engine, world, call, field, shown
):
    before = fingerprint(engine)
    with pytest.raises(ValidationError) as caught:
        call(engine, world)
    message = str(caught.value)
    assert field in message.lower(), message
    assert shown in message, message
    assert "Traceback" not in message
    assert fingerprint(engine) == before


def test_active_false_as_text_never_reactivates_a_mapping(engine, world):
    """The reported bug: active="false" (truthy text) turned an inactive mapping active again."""
    m = mappings.deactivate_mapping(engine, world.admin, world.south_h7, 1)
    assert not m.active
    with pytest.raises(ValidationError):
        mappings.update_mapping(engine, world.admin, m.id, m.version, active="false")
    with db.owner_transaction(engine) as conn:
        active = conn.scalar(
            sa.text("SELECT active FROM customer_transformer_matching WHERE id = :i"), {"i": m.id}
        )
    assert active is False


def test_a_nul_byte_in_a_unit_of_work_leaves_it_usable(engine, world):
    """Refused before any SQL: the transaction can go on (no 'current transaction is aborted')."""
    with db.user_transaction(engine, world.admin) as conn:
        with pytest.raises(ServiceError):
            mappings.list_mappings_in(conn, MappingFilter(customer_text="\x00"))
        assert mappings.list_mappings_in(conn, MappingFilter()).total == 1


def test_right_input_at_the_edges_is_accepted(engine, world):
    """The bounds are not off by one: 1990-01-01 and one day ahead are fine, and so are the
    first and last filterable days, string UUIDs and a page of the largest size."""
    events.record_event(
        engine,
        world.admin,
        _event(world, timestamp=datetime(1990, 1, 1, tzinfo=UTC) + timedelta(hours=12)),
    )
    events.record_event(
        engine, world.admin, _event(world, timestamp=datetime.now(UTC) + timedelta(hours=23))
    )
    page = events.list_events(
        engine,
        world.viewer,
        EventFilter(date_from=date(1900, 1, 1), date_to=date(9999, 12, 30)),
        limit=10_000,
    )
    assert page.total >= 2
    assert mappings.circuits_of_substation(engine, world.viewer, str(world.north)) == [
        "H1",
        "H2",
        "H10",
    ]
    assert (
        mappings.list_mappings(
            engine, world.viewer, MappingFilter(substation_id=str(world.south))
        ).total
        == 1
    )
    assert events.list_events(engine, world.viewer, EventFilter(), offset=10**9).rows.empty
    assert isinstance(uuid.UUID(str(world.north)), uuid.UUID)

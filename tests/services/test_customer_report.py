"""A customer's PQ report: the events that hit it in the period with their verdict per curve, its
own SARFI-70/80/90, total duration and months; the .xlsx opens in openpyxl with a Summary, an
Events and a Monthly sheet (with a chart) holding those values, named after customer and dates."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from ctm import customer_report, db
from ctm.errors import ValidationError


@pytest.fixture
def acme(engine):
    with db.owner_transaction(engine) as conn:

        def one(sql, **params):
            return conn.execute(sa.text(sql), params).scalar()

        sub = one("INSERT INTO substations (name) VALUES ('North') RETURNING id")
        customer = one(
            "INSERT INTO customers (account_number, name) VALUES ('ACC-1', 'Acme Steel & Co')"
            " RETURNING id"
        )
        one(
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
            " VALUES (:c, :s, 'H1') RETURNING id",
            c=customer,
            s=sub,
        )
        for at, kind, residual, duration, status in (
            ("2026-01-05 10:00+00", "voltage_dip", 45, 150, "new"),  # SEMI outside (50 %)
            ("2026-01-20 10:00+00", "voltage_dip", 75, 400, "resolved"),  # SEMI within
            ("2026-03-02 10:00+00", "interruption", None, 2000, "new"),  # residual 0
            ("2026-03-03 10:00+00", "voltage_swell", 125, 100, "new"),
            ("2026-03-04 10:00+00", "voltage_dip", 20, 100, "false"),  # left out
            ("2026-05-01 10:00+00", "voltage_dip", 10, 100, "new"),  # after the period
        ):
            one(
                'INSERT INTO pq_events (substation_id, circuit_id, "timestamp", event_type,'
                " remaining_voltage, duration_ms, status, severity) VALUES (:s, 'H1', :at, :t,"
                " :r, :d, :st, 'high') RETURNING id",
                s=sub,
                at=at,
                t=kind,
                r=residual,
                d=duration,
                st=status,
            )
    return customer


def test_report_figures(engine, make_user, acme):
    viewer = make_user("viewer")
    report = customer_report.customer_report(
        engine, viewer, acme, date(2026, 1, 1), date(2026, 3, 31)
    )
    assert len(report.events) == 4 and report.false_events == 1
    assert report.total_duration_ms == 150 + 400 + 2000 + 100
    # Below 70 %: 45 % and the interruption; below 80 %: + 75 %; below 90 %: the same.
    assert report.sarfi == {70: 2.0, 80: 3.0, 90: 3.0}
    assert list(report.events["semi_f47"]) == ["outside", "within", "not covered", "not covered"]
    assert list(report.events["itic"]) == ["outside", "within", "outside", "outside"]
    assert list(report.monthly["events"]) == [2, 0, 2]
    assert list(report.monthly["month"]) == ["2026-01", "2026-02", "2026-03"]


def test_report_workbook_opens_with_its_sheets_and_values(engine, make_user, acme):
    viewer = make_user("viewer")
    report = customer_report.customer_report(
        engine, viewer, acme, date(2026, 1, 1), date(2026, 3, 31)
    )
    name = customer_report.report_file_name(report)
    assert name == "ctm_pq_report_ACC-1_Acme-Steel-Co_2026-01-01_to_2026-03-31.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(customer_report.report_xlsx(report)))
    assert book.sheetnames == ["Summary", "Events", "Monthly"]
    summary = {
        row[0]: row[1] for row in book["Summary"].iter_rows(min_row=3, values_only=True) if row[0]
    }
    assert summary["Customer"] == "Acme Steel & Co"
    assert summary["Total disturbance duration (ms)"] == 2650
    assert summary["Total disturbance duration (s)"] == 2.65
    assert summary["SARFI-70 (events below 70 % per customer)"] == 2
    assert summary["SEMI F47-0706: within / outside / not covered"] == "1 / 1 / 2"
    events = list(book["Events"].iter_rows(values_only=True))
    assert events[0][0] == "Time (UTC)" and "SEMI F47-0706" in events[0]
    assert len(events) == 5
    assert events[1][6] == 45 and events[1][7] == 150
    monthly = list(book["Monthly"].iter_rows(values_only=True))
    assert monthly[1][:2] == ("2026-01", 2)
    assert len(book["Monthly"]._charts) == 1


def test_unmapped_customer_has_no_sarfi_and_bad_period_is_refused(engine, make_user, acme):
    viewer = make_user("viewer")
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM customer_transformer_matching"))
    report = customer_report.customer_report(
        engine, viewer, acme, date(2026, 1, 1), date(2026, 3, 31)
    )
    assert report.sarfi == {70: None, 80: None, 90: None} and len(report.events) == 4
    with pytest.raises(ValidationError, match="ends before it starts"):
        customer_report.customer_report(engine, viewer, acme, date(2026, 2, 1), date(2026, 1, 1))

"""The Analytics pages per role with AppTest: each opens for admin, operator and viewer, shows
figures equal to public.sarfi() / independent SQL counts, the curves' caveat, the density when too
many events match, and the rankings; the period filters change what is counted."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from ctm import analytics
from ctm.db import owner_transaction
from tests.ui.conftest import logged_in, scalar, texts

SARFI_PAGE = "views/analytics_sarfi.py"
RIDE_PAGE = "views/analytics_ride_through.py"
AFFECTED_PAGE = "views/analytics_most_affected.py"
PAGES = (SARFI_PAGE, RIDE_PAGE, AFFECTED_PAGE)


@pytest.fixture
def pq_data(engine, app_env):
    """This year: North/H1 with customers A, B; South/H1 with C. Events on 2 January of this
    year: a 40 % dip on North/H1 (hits A, B), a 120 % swell on South/H1 (hits C), a false 10 %
    dip on North/H1 and a dip without residual."""
    year = date.today().year
    with owner_transaction(engine) as conn:

        def one(sql: str, **params):
            return conn.execute(sa.text(sql), params).scalar()

        north = one(
            "INSERT INTO substations (name, region, voltage_level) VALUES ('North', 'East',"
            " '11kV') RETURNING id"
        )
        south = one(
            "INSERT INTO substations (name, region, voltage_level) VALUES ('South', 'West',"
            " '22kV') RETURNING id"
        )
        for account, substation in (("A", north), ("B", north), ("C", south)):
            customer = one(
                "INSERT INTO customers (account_number, name) VALUES (:a, :n) RETURNING id",
                a=account,
                n=f"Customer {account}",
            )
            one(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id) VALUES (:c, :s, 'H1') RETURNING id",
                c=customer,
                s=substation,
            )
        for substation, kind, residual, status in (
            (north, "voltage_dip", 40, "new"),
            (south, "voltage_swell", 120, "new"),
            (north, "voltage_dip", 10, "false"),
            (north, "voltage_dip", None, "new"),
        ):
            one(
                "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage,"
                " duration_ms, status, \"timestamp\", severity) VALUES (:s, 'H1', :t, :r, 100,"
                " :st, make_timestamptz(:y, 1, 2, 12, 0, 0), 'critical') RETURNING id",
                s=substation,
                t=kind,
                r=residual,
                st=status,
                y=year,
            )
    return {"north": north, "south": south, "year": year}


def open_page(identity, page):
    at = logged_in(identity)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
@pytest.mark.parametrize("page", PAGES)
def test_every_role_opens_every_analytics_page(login_user, pq_data, role, page):
    at = open_page(login_user(role), page)
    assert at.title[0].value in (
        "SARFI",
        "Ride-through compliance",
        "Most affected customers and fragile circuits",
    )
    assert any(b.label.startswith("Download") for b in at.get("download_button"))


def test_sarfi_page_shows_the_sql_function_and_both_weightings(engine, login_user, pq_data):
    at = open_page(login_user("viewer"), SARFI_PAGE)
    year = pq_data["year"]
    expected = scalar(
        engine,
        "SELECT sarfi FROM public.sarfi(70, make_timestamptz(:y, 1, 1, 0, 0, 0),"
        " now() + interval '1 day')",
        y=year,
    )
    assert float(expected) == pytest.approx(2 / 3)
    shown = metrics(at)
    assert shown["Critical-customer SARFI-70"] == f"{2 / 3:.3f}"
    assert shown["System SARFI-70 (IEEE 1564)"] == "–"  # no customers_served known yet
    page_text = texts(at)
    assert "Today's customers_served counts are used for past periods" in page_text
    assert "1 events without a residual voltage" in page_text
    assert "IEEE 1564" in page_text
    table = at.dataframe[0].value.set_index("substation")
    assert table.loc["North", "customer_hits"] == 2 and table.loc["North", "customers_mapped"] == 2
    assert table.loc["Total", "critical_sarfi"] == pytest.approx(2 / 3)
    titles = [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]
    assert "Critical-customer SARFI-70 per month, years compared" in titles
    assert "System (IEEE 1564) SARFI-70, accumulating year to date" in titles
    # The swell index counts the 120 % event on South.
    at.selectbox(key="sarfi_index").set_value("110").run()
    assert metrics(at)["Critical-customer SARFI-110"] == f"{1 / 3:.3f}"
    # Only voltage dips: swell indices disappear.
    at.checkbox(key="analytics_dips_only").check().run()
    assert "110" not in at.selectbox(key="sarfi_index").options


def test_sarfi_page_filters_by_region(login_user, pq_data):
    at = open_page(login_user("viewer"), SARFI_PAGE)
    at.multiselect(key="analytics_regions").set_value(["West"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["substation"]) == ["South", "Total"]
    assert metrics(at)["Critical-customer SARFI-70"] == "0.000"


def test_ride_through_page_classifies_and_warns(login_user, pq_data):
    at = open_page(login_user("operator"), RIDE_PAGE)
    page_text = texts(at)
    assert "equipment-terminal requirements" in page_text and "indicative" in page_text
    counts = at.dataframe[0].value
    # 40 % for 100 ms: ITIC outside (70 % needed), SEMI outside (50 %), IEC within (40 % ≤ 10 c).
    # 120 % for 100 ms: ITIC within; SEMI and IEC do not cover swells.
    assert list(counts.columns) == ["Within", "Outside", "Not covered"]
    assert counts.loc["ITIC", "Outside"] == 1 and counts.loc["ITIC", "Within"] == 1
    assert counts.loc["SEMI F47-0706", "Outside"] == 1
    assert counts.loc["SEMI F47-0706", "Not covered"] == 1
    assert counts.loc["IEC 61000-4-34 class 3", "Within"] == 1
    assert "Click a point to open the event" in page_text


def test_ride_through_page_draws_a_density_above_the_limit(login_user, pq_data, monkeypatch):
    monkeypatch.setattr(analytics, "POINTS_LIMIT", 1)
    at = open_page(login_user("viewer"), RIDE_PAGE)
    assert "More than 1 events match" in texts(at)


def test_most_affected_page_ranks_customers_and_circuits(login_user, pq_data):
    at = open_page(login_user("viewer"), AFFECTED_PAGE)
    customers = at.dataframe[0].value
    assert set(customers["customer"]) == {"Customer A", "Customer B", "Customer C"}
    # North/H1: the 40 % dip and the dip without residual (the false one is excluded).
    assert customers["events"].tolist() == [2, 2, 1]
    # Two 100 ms events read as 0.2 s (the column is in seconds, not raw milliseconds).
    assert customers["total_duration_s"].tolist() == [0.2, 0.2, 0.1]
    circuits = at.dataframe[1].value
    assert circuits.iloc[0]["hits_per_customer"] == 2.0
    assert circuits.iloc[1]["hits_per_customer"] == 1.0
    at.radio(key="affected_rank_by").set_value("outside_semi").run()
    customers = at.dataframe[0].value
    assert customers.iloc[0]["outside_semi"] == 1 and customers.iloc[0]["customer"] != "Customer C"


def test_custom_period_without_events_says_so(login_user, pq_data):
    at = open_page(login_user("viewer"), AFFECTED_PAGE)
    at.selectbox(key="analytics_preset").set_value("Custom").run()
    at.session_state["analytics_from"] = date(2001, 1, 1)
    at.session_state["analytics_to"] = date(2001, 12, 31)
    at.run()
    assert "No event hit a critical customer" in texts(at)
    at.session_state["analytics_to"] = date(2000, 12, 31)
    at.run()
    assert "the end is before the start" in texts(at)

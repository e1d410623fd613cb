"""The Statistics page per role with AppTest: KPI tiles equal independent SQL counts, five charts,
the table per substation; an empty database says so."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from ctm.db import owner_transaction
from tests.ui.conftest import logged_in, scalar, texts

STATISTICS_PAGE = "views/statistics.py"


@pytest.fixture
def coverage_data(engine, app_env):
    """North: H1 mapped (2 customers), H2 events only; South: H1 mapped (customer A again)."""
    with owner_transaction(engine) as conn:

        def one(sql: str, **params):
            return conn.execute(sa.text(sql), params).scalar()

        north = one("INSERT INTO substations (name) VALUES ('North') RETURNING id")
        south = one("INSERT INTO substations (name) VALUES ('South') RETURNING id")
        a = one("INSERT INTO customers (account_number, name) VALUES ('A', 'A') RETURNING id")
        b = one("INSERT INTO customers (account_number, name) VALUES ('B', 'B') RETURNING id")
        for customer, substation in ((a, north), (b, north), (a, south)):
            one(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id) VALUES (:c, :s, 'H1') RETURNING id",
                c=customer,
                s=substation,
            )
        for substation, circuit, age, severity in (
            (north, "H1", "1 day", "critical"),
            (north, "H2", "2 days", "low"),
            (north, "H2", "3 days", "high"),
            (north, "H1", "200 days", "high"),
            (south, "H1", "5 days", "medium"),
        ):
            one(
                "INSERT INTO pq_events (substation_id, circuit_id, timestamp, severity,"
                " duration_ms) VALUES (:s, :c, now() - CAST(:age AS interval), :sev, 1000)"
                " RETURNING id",
                s=substation,
                c=circuit,
                age=age,
                sev=severity,
            )
    return {"north": north, "south": south}


def open_statistics(identity):
    at = logged_in(identity)
    at.run()
    at.switch_page(STATISTICS_PAGE).run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_kpi_tiles_match_sql_counts(engine, login_user, coverage_data, role):
    at = open_statistics(login_user(role))
    known = scalar(
        engine,
        "SELECT count(*) FROM (SELECT substation_id, circuit_id FROM pq_events"
        " WHERE circuit_id IS NOT NULL UNION SELECT substation_id, circuit_id"
        " FROM customer_transformer_matching) AS k",
    )
    covered = scalar(
        engine,
        "SELECT count(DISTINCT (substation_id, circuit_id)) FROM customer_transformer_matching"
        " WHERE active",
    )
    customers = scalar(
        engine, "SELECT count(DISTINCT customer_id) FROM customer_transformer_matching WHERE active"
    )
    blind = scalar(
        engine,
        "SELECT count(*) FROM pq_events e WHERE e.timestamp >= now() - interval '90 days'"
        " AND NOT EXISTS (SELECT 1 FROM customer_transformer_matching m WHERE m.active"
        " AND m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id)",
    )
    recent_impacts = scalar(
        engine,
        "SELECT count(*) FROM event_customer_impact i JOIN pq_events e ON e.id = i.event_id"
        " WHERE e.timestamp >= now() - interval '90 days'",
    )
    assert (known, covered, customers, blind, recent_impacts) == (3, 2, 2, 2, 3)
    assert metrics(at) == {
        "Substations": "2",
        "Circuit coverage": f"{100 * covered / known:.1f} %",
        "Circuits covered": f"{covered} of {known}",
        "Mapped customers": str(customers),
        "Blind-spot events (90 d)": str(blind),
        "Impacts (90 d)": str(recent_impacts),
        **_place_issue_tiles(engine),
    }


def _place_issue_tiles(engine) -> dict[str, str]:
    """The three place-issue tiles, counted independently of the page's service."""
    retired = scalar(
        engine,
        "SELECT count(*) FROM pq_events e JOIN substation_circuits c"
        " ON c.substation_id = e.substation_id AND c.circuit_id = e.circuit_id"
        " WHERE c.retired_on IS NOT NULL AND ctm_local_date(e.timestamp) >= c.retired_on",
    )
    unknown = scalar(
        engine,
        "SELECT count(*) FROM pq_events e WHERE e.meter_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM pq_meters m WHERE m.meter_id = e.meter_id)",
    )
    disagree = scalar(
        engine,
        "SELECT count(*) FROM pq_events e JOIN pq_meters m ON m.meter_id = e.meter_id"
        " WHERE (e.substation_id, e.circuit_id) IS DISTINCT FROM (m.substation_id, m.circuit_id)",
    )
    return {
        "Events of an unknown meter": f"{unknown:,}",
        "Events whose place disagrees with their meter": f"{disagree:,}",
        "Events on a retired circuit": f"{retired:,}",
    }


def test_charts_and_table_show_the_per_substation_figures(login_user, coverage_data):
    at = open_statistics(login_user("viewer"))
    charts = at.get("vega_lite_chart")
    assert len(charts) == 7  # five on coverage, two on recent changes (history)
    titles = []
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        titles.append(spec.get("title"))
    assert titles == [
        "Coverage % per substation",
        "Mapped customers",
        "Customer impacts by level",
        "Circuits known vs covered",
        "Blind-spot events, last 90 days",
        "Changes by user",
        "Changes by action",
    ]
    frame = at.dataframe[0].value.set_index("Substation")
    assert frame.loc["North", "Circuits known"] == 2 and frame.loc["North", "Circuits covered"] == 1
    assert frame.loc["North", "Coverage %"] == 50.0
    assert frame.loc["North", "Blind-spot events (recent)"] == 2
    assert frame.loc["North", "Severe impacts (recent)"] == 2
    assert frame.loc["North", "Moderate impacts (all time)"] == 2
    assert frame.loc["South", "Mapped customers"] == 1
    assert frame.loc["South", "Minor impacts (recent)"] == 1


def test_refresh_shows_new_data(engine, login_user, coverage_data):
    at = open_statistics(login_user("viewer"))
    assert metrics(at)["Blind-spot events (90 d)"] == "2"
    with owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " VALUES (:s, 'H9', 'low', 10)"
            ),
            {"s": coverage_data["south"]},
        )
    at.button(key="stats_refresh").click().run()
    assert metrics(at)["Blind-spot events (90 d)"] == "3"
    assert metrics(at)["Circuits covered"] == "2 of 4"


def test_empty_database_says_there_is_nothing_yet(login_user, app_env):
    at = open_statistics(login_user("viewer"))
    assert metrics(at)["Substations"] == "0" and metrics(at)["Circuit coverage"] == "—"
    assert "No substations yet" in texts(at)
    assert not at.get("vega_lite_chart")


def test_impacts_chart_legend_matches_its_bars_and_labels_are_level(login_user, coverage_data):
    """One colour encoding (the window) with its legend shown: the legend's colours are the bars'
    colours. Levels are horizontal axis labels in words."""
    at = open_statistics(login_user("viewer"))
    spec = next(
        json.loads(c.proto.spec)
        for c in at.get("vega_lite_chart")
        if json.loads(c.proto.spec).get("title") == "Customer impacts by level"
    )
    encoding = spec["encoding"]
    assert "opacity" not in encoding  # no second, legend-less colour channel
    assert encoding["color"]["field"] == "window"
    assert encoding["color"].get("legend") is not None
    assert encoding["color"]["scale"]["domain"] == ["Last 90 days", "All time"]
    assert encoding["x"]["axis"]["labelAngle"] == 0
    assert encoding["x"]["sort"] == ["Severe", "Moderate", "Minor"]


def test_kpi_tiles_sit_three_to_a_row_and_say_when_counted(login_user, coverage_data):
    at = open_statistics(login_user("viewer"))
    assert len(at.metric) == 9
    # Tiles in rows of three columns (six in one row cut "2 of 4" to "2 of …"): two rows of
    # figures, one of events whose place is doubtful.
    tile_columns = [c for c in at.columns if any(ch.type == "metric" for ch in c.children.values())]
    assert len(tile_columns) == 9
    assert all(abs(c.weight - 1 / 3) < 1e-6 for c in tile_columns)
    assert "Counted at" in texts(at)


def test_empty_statistics_say_what_to_do_first(login_user, app_env):
    at = open_statistics(login_user("admin"))
    assert "add the substations" in texts(at)

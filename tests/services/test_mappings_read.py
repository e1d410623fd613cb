"""Listing, export, circuits and statistics of mappings, as each role sees them."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc
from ctm.errors import ValidationError
from ctm.mappings import MAPPING_COLUMNS, MappingFilter
from tests.services.conftest import owner


@pytest.fixture
def listed(engine, world):
    """Five mappings over two substations (one inactive), created by the admin and operator."""
    a = svc.create_mapping(engine, world.admin, world.acme, world.north, "H2")
    svc.create_mapping(engine, world.operator, world.bolt, world.north, "H10")
    svc.create_mapping(engine, world.operator, world.acme, world.south, "H1")
    old = svc.create_mapping(engine, world.admin, world.bolt, world.north, "H1")
    svc.deactivate_mapping(engine, world.admin, old.id, old.version)
    return a


@pytest.mark.parametrize("who", ["admin", "operator", "viewer"])
def test_every_role_with_a_profile_sees_active_mappings_with_names_joined(
    engine, world, listed, who
):
    page = svc.list_mappings(engine, getattr(world, who), MappingFilter())
    assert page.total == 4
    assert list(page.rows.columns) == MAPPING_COLUMNS
    assert list(zip(page.rows.substation_name, page.rows.circuit_id, page.rows.customer_name)) == [
        ("North", "H2", "Acme Steel"),
        ("North", "H10", "Bolt Foods"),
        ("South", "H1", "Acme Steel"),
        ("South", "H7", "Crane Works"),
    ]
    acme = page.rows[page.rows.customer_name == "Acme Steel"].iloc[0]
    assert acme.account_number == "ACC-1001"
    assert acme.customer_type == "industrial"
    assert acme.updated_by_name == "Ada"
    assert acme.version == 1 and bool(acme.active)
    crane = page.rows[page.rows.customer_name == "Crane Works"].iloc[0]
    assert pd.isna(crane.updated_by_name)  # loaded by another system without a user


def test_a_user_without_profile_sees_no_mappings(engine, world, listed):
    page = svc.list_mappings(engine, world.nobody, MappingFilter())
    assert page.total == 0 and page.rows.empty
    assert list(page.rows.columns) == MAPPING_COLUMNS


def test_filters_combine_and_total_counts_all_pages(engine, world, listed):
    def names(f, **kw):
        page = svc.list_mappings(engine, world.viewer, f, **kw)
        return page.total, [
            (r.substation_name, r.circuit_id, r.customer_name) for r in page.rows.itertuples()
        ]

    assert names(MappingFilter(substation_id=world.north)) == (
        2,
        [("North", "H2", "Acme Steel"), ("North", "H10", "Bolt Foods")],
    )
    assert names(MappingFilter(substation_id=world.north, circuit_id="H2")) == (
        1,
        [("North", "H2", "Acme Steel")],
    )
    assert names(MappingFilter(customer_text="acme")) == (
        2,
        [("North", "H2", "Acme Steel"), ("South", "H1", "Acme Steel")],
    )
    assert names(MappingFilter(customer_text="1002")) == (1, [("North", "H10", "Bolt Foods")])
    assert names(MappingFilter(customer_text="acme", substation_id=world.south)) == (
        1,
        [("South", "H1", "Acme Steel")],
    )
    total, rows = names(MappingFilter(include_inactive=True, substation_id=world.north))
    assert total == 3 and ("North", "H1", "Bolt Foods") in rows
    # A page of one row still reports every match.
    assert names(MappingFilter(), limit=1, offset=1) == (4, [("North", "H10", "Bolt Foods")])
    assert names(MappingFilter(), limit=10, offset=4) == (4, [])


def test_pages_cut_across_circuits_and_substations_add_up_to_the_export(engine, world):
    """Every page size and offset gives exactly the slice of the full ordered list, for filters
    whose matches sit in a few circuits or spread over many (more than _FEW_CIRCUITS)."""
    owner(
        engine,
        "WITH new AS (INSERT INTO customers (account_number, name)"
        " SELECT 'K-' || g, CASE WHEN g % 4 = 0 THEN 'Zed ' ELSE 'Kunde ' END || chr(65 + g % 26)"
        " FROM generate_series(1, 48) AS g RETURNING id, account_number)"
        " INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id, active)"
        " SELECT id, CASE WHEN n % 3 = 0 THEN :south ELSE :north END, 'C' || (n % 22 + 1), n % 5 <> 0"
        " FROM (SELECT id, substr(account_number, 3)::int AS n FROM new) AS x",
        north=world.north,
        south=world.south,
    )
    filters = [
        MappingFilter(),
        MappingFilter(include_inactive=True),
        MappingFilter(customer_text="kunde"),  # many circuits: search by customer ids
        MappingFilter(customer_text="zed", include_inactive=True),
        MappingFilter(customer_text="K-1"),  # account numbers
        MappingFilter(customer_text="ed"),  # shorter than a trigram
        MappingFilter(customer_text="kunde", substation_id=world.south),
    ]
    for f in filters:
        everything = svc.export_mappings(engine, world.viewer, f)
        assert len(everything) > 5, f
        keys = [(r.substation_name, r.circuit_id, r.customer_name) for r in everything.itertuples()]
        assert keys == sorted(keys, key=lambda k: (k[0], svc.natural_key(k[1]), k[2]))
        if f.customer_text:
            text = f.customer_text.lower()
            assert all(
                text in r.customer_name.lower() or text in r.account_number.lower()
                for r in everything.itertuples()
            )
        first = svc.list_mappings(engine, world.viewer, f, limit=1)
        assert sum(c.count for c in first.circuits) == len(everything)
        for size in (1, 3, 7, 200):
            for offset in range(len(everything) + 1):
                page = svc.list_mappings(engine, world.viewer, f, limit=size, offset=offset)
                assert page.total == len(everything), f
                assert list(page.rows.id) == list(everything.id[offset : offset + size]), f
                # A page change reusing the first page's per-circuit counts: the same slice.
                again = svc.list_mappings(
                    engine, world.viewer, f, limit=size, offset=offset, circuits=first.circuits
                )
                assert again.total == page.total and again.circuits == first.circuits, f
                assert list(again.rows.id) == list(page.rows.id), f


def test_reused_counts_must_come_from_an_earlier_page(engine, world, listed):
    with pytest.raises(ValidationError, match="circuits"):
        svc.list_mappings(engine, world.viewer, MappingFilter(), circuits=(("North", "H2", 9),))


def test_customer_text_wildcards_are_taken_literally(engine, world, listed):
    assert svc.list_mappings(engine, world.admin, MappingFilter(customer_text="%")).total == 0
    assert svc.list_mappings(engine, world.admin, MappingFilter(customer_text="ACC_1")).total == 0


def test_export_returns_every_matching_row_in_list_order(engine, world, listed):
    frame = svc.export_mappings(engine, world.viewer, MappingFilter(include_inactive=True))
    assert list(frame.columns) == MAPPING_COLUMNS
    assert len(frame) == 5
    assert list(frame.substation_name) == ["North"] * 3 + ["South"] * 2
    assert svc.export_mappings(engine, world.nobody, MappingFilter()).empty


def test_circuits_come_from_events_and_mappings_in_natural_order(engine, world):
    assert svc.circuits_of_substation(engine, world.viewer, world.north) == ["H1", "H2", "H10"]
    assert svc.circuits_of_substation(engine, world.viewer, world.south) == ["H1", "H7"]
    assert svc.circuits_of_substation(engine, world.viewer, world.empty) == []
    assert svc.circuits_of_substation(engine, world.nobody, world.north) == []


def test_circuits_come_from_the_registry_in_natural_order(engine, world):
    # Events on twelve circuits register them (the registry, not the events, feeds the pickers).
    owner(
        engine,
        'INSERT INTO pq_events (substation_id, circuit_id, severity, "timestamp")'
        " SELECT :n, 'h' || (g % 12 + 1) || ' ', 'low', now() - make_interval(secs => g)"
        " FROM generate_series(1, 3000) AS g",
        n=world.north,
    )
    assert svc.circuits_of_substation(engine, world.viewer, world.north) == [
        f"H{i}" for i in range(1, 13)
    ]
    owner(
        engine,
        "UPDATE substation_circuits SET retired_on = current_date - 1"
        " WHERE substation_id = :n AND circuit_id = 'H12'",
        n=world.north,
    )
    assert "H12" not in svc.circuits_of_substation(engine, world.viewer, world.north)


def test_statistics_count_active_mappings_customers_and_circuits(engine, world, listed):
    for who in ("admin", "operator", "viewer"):
        stats = svc.mapping_statistics(engine, getattr(world, who))
        assert (stats.active_mappings, stats.mapped_customers, stats.circuits_covered) == (4, 3, 4)
        by = stats.by_substation.set_index("substation_name")
        assert list(by.index) == ["Empty", "North", "South"]
        assert by.loc["North", "active_mappings"] == 2
        assert by.loc["North", "mapped_customers"] == 2
        assert by.loc["South", "circuits_covered"] == 2
        assert by.loc["Empty", "active_mappings"] == 0


def test_statistics_for_a_user_without_profile_are_empty(engine, world, listed):
    stats = svc.mapping_statistics(engine, world.nobody)
    assert (stats.active_mappings, stats.mapped_customers, stats.circuits_covered) == (0, 0, 0)
    assert stats.by_substation.empty


def test_customer_text_search_uses_the_trigram_indexes(engine, world):
    """Why customer_ids_like() exists: as the user, the read policy is a security qual and ILIKE
    is not leakproof, so the trigram indexes are unusable; with definer rights they serve."""
    owner(
        engine,
        "INSERT INTO customers (account_number, name)"
        " SELECT 'T' || lpad(g::text, 6, '0'), md5(g::text) FROM generate_series(1, 5000) AS g",
    )
    owner(engine, "ANALYZE customers")
    query = (
        "EXPLAIN SELECT c.id FROM public.customers AS c"
        " WHERE c.name ILIKE '%acme%' OR c.account_number ILIKE '%acme%'"
    )
    with db.owner_transaction(engine) as conn:  # what the definer-rights function runs
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        as_definer = "\n".join(conn.scalars(sa.text(query)))
    with db.user_transaction(engine, world.viewer) as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        as_user = "\n".join(conn.scalars(sa.text(query)))
    assert "customers_name_trgm_idx" in as_definer
    assert "customers_account_number_trgm_idx" in as_definer
    assert "trgm_idx" not in as_user
    page = svc.list_mappings(engine, world.viewer, MappingFilter(customer_text="T000042"))
    assert page.total == 0  # customers without mappings are not listed


def test_the_text_search_function_gives_nothing_to_a_user_without_profile(engine, world):
    for who, expected in ((world.viewer, 1), (world.nobody, 0)):
        with db.user_transaction(engine, who) as conn:
            found = conn.scalars(sa.text("SELECT id FROM public.customer_ids_like('%Acme%')")).all()
        assert len(found) == expected

"""Importing substations, circuits (with customers_served) and meters (the monitoring team's
inventory export): admins only, new / changed / unchanged, unknown circuits registered."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from importfiles import make_grid, write_csv, write_xlsx

from ctm.errors import PermissionDenied
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import ImportRefused, apply_import, preview_import


def rows(engine, sql):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_substations_by_code_or_name(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    path = write_csv(
        tmp_path / "s.csv",
        [
            ["Name", "Code", "Voltage Level", "Region", "Status"],
            ["North", "NTH", "132kV", "Kowloon", ""],  # changed (voltage, region)
            ["South", "STH", "", "", ""],  # unchanged
            ["East", "EST", "11kV", "", "maintenance"],  # new
        ],
    )
    file = read_import_file(path, kinds.SUBSTATIONS)
    preview = preview_import(engine, admin, file, "substations")
    assert list(preview.outcomes["outcome"]) == ["changed", "unchanged", "new"]
    apply_import(engine, admin, file, "substations")
    assert rows(
        engine, "SELECT name, code, voltage_level, region, status FROM substations ORDER BY name"
    ) == [
        ("East", "EST", "11kV", None, "maintenance"),
        ("North", "NTH", "132kV", "Kowloon", "operational"),
        ("South", "STH", None, None, "operational"),
    ]
    with pytest.raises(PermissionDenied):
        preview_import(engine, make_user("operator"), file, "substations")


def test_circuits_with_customers_served(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    path = write_xlsx(
        tmp_path / "c.xlsx",
        [
            ["Substation", "Circuit", "Customers served", "Description"],
            ["North", "h1", 1200, "Feeder one"],
            ["STH", "H5", "300", None],
            ["North", "H1", 5, None],
        ],
    )
    file = read_import_file(path, kinds.CIRCUITS)
    with pytest.raises(ImportRefused) as refused:
        apply_import(engine, admin, file, "circuits")
    assert "row 4" in refused.value.preview.error_lines()[0]
    ok = write_xlsx(
        tmp_path / "ok.xlsx",
        [
            ["Substation", "Circuit", "Customers served"],
            ["North", "h1", 1200],
            ["STH", "H5", "300"],
        ],
    )
    result = apply_import(engine, admin, read_import_file(ok, kinds.CIRCUITS), "circuits")
    assert (result.new, result.changed) == (1, 1)
    assert rows(
        engine,
        "SELECT s.name, c.circuit_id, c.customers_served FROM substation_circuits c"
        " JOIN substations s ON s.id = c.substation_id WHERE c.customers_served IS NOT NULL"
        " ORDER BY 1, 2",
    ) == [("North", "H1", 1200), ("South", "H5", 300)]


def test_meter_inventory_export_registers_missing_circuits(engine, make_user, tmp_path):
    make_grid(engine)
    admin = make_user("admin")
    path = write_csv(
        tmp_path / "meters.csv",
        [
            [
                "Name",
                "SiteID",
                "Volt Level",
                "Substation",
                "Circuit",
                "Location",
                "Region",
                "Active",
                "Vendor",
            ],
            ["PQMS_11KV.NTH0001_H1", "S-1", "11kV", "North", "H1", "Yard", "K", "Y", "Acme"],
            ["PQMS_11KV.NTH0002_H7", "S-2", "11kV", "NTH", "h7", "Roof", "K", "N", "Acme"],
        ],
    )
    file = read_import_file(path, kinds.METERS)
    assert "Vendor" in file.ignored_columns
    preview = preview_import(engine, admin, file, "meters")
    assert preview.new == 2 and "will be registered" in preview.outcomes["reason"][1]
    apply_import(engine, admin, file, "meters")
    assert rows(
        engine,
        "SELECT meter_id, circuit_id, site_id, voltage_level, active FROM pq_meters ORDER BY 1",
    ) == [
        ("PQMS_11KV.NTH0001_H1", "H1", "S-1", "11kV", True),
        ("PQMS_11KV.NTH0002_H7", "H7", "S-2", "11kV", False),
    ]
    assert rows(engine, "SELECT count(*) FROM substation_circuits WHERE circuit_id = 'H7'") == [
        (1,)
    ]
    again = preview_import(engine, admin, file, "meters")
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)

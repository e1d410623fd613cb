"""The stored time zone decides what the services show: a stale-edit message names the editor's
time in that zone, and pages read the zone through the user's own transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import clock, db, mappings
from ctm.errors import StaleEdit


def test_stale_edit_message_uses_the_stored_zone(engine, world):
    with db.owner_transaction(engine) as conn:
        clock.set_time_zone(conn, "Asia/Hong_Kong")
        conn.execute(
            sa.text("UPDATE customer_transformer_matching SET circuit_id = 'H7' WHERE id = :id"),
            {"id": world.south_h7},
        )
    with pytest.raises(StaleEdit, match=r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Hong_Kong after"):
        mappings.deactivate_mapping(engine, world.admin, world.south_h7, 1)


def test_pages_read_the_zone_as_the_user(engine, world):
    assert clock.time_zone_for(engine, world.viewer).key == "UTC"
    with db.owner_transaction(engine) as conn:
        clock.set_time_zone(conn, "Europe/London")
    assert clock.time_zone_for(engine, world.viewer).key == "Europe/London"
    # A user without a profile still gets the product's zone (the function has definer rights).
    assert clock.time_zone_for(engine, world.nobody).key == "Europe/London"

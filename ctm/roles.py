"""What each role may do: the one table services, pages, dialogs and the CLI consult.

The SQL policies in migrations/ must grant exactly this (tests/db/test_roles_policies.py compares
them with pg_policies), so Python and the database cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

ROLES = ("admin", "operator", "viewer")
ROLE_LABELS = {"admin": "Administrator", "operator": "Operator", "viewer": "Viewer"}


class Action(StrEnum):
    READ = "read"  # every page's data, history and analytics
    EDIT_MAPPINGS = "edit_mappings"  # add, change, deactivate, re-activate, import mappings
    DELETE_MAPPINGS = "delete_mappings"  # permanent delete
    EDIT_CUSTOMERS = "edit_customers"
    DELETE_CUSTOMERS = "delete_customers"
    EDIT_SUBSTATIONS = "edit_substations"  # substations, circuits, meters
    DELETE_SUBSTATIONS = "delete_substations"
    RECORD_EVENTS = "record_events"  # record events by hand and correct them
    DELETE_EVENTS = "delete_events"
    APPLY_PAST_IMPACTS = "apply_past_impacts"
    SYNC_IMPORT = "sync_import"  # import --sync, register unknown circuits
    MANAGE_USERS = "manage_users"


CAPABILITIES: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "operator": frozenset(
        {
            Action.READ,
            Action.EDIT_MAPPINGS,
            Action.EDIT_CUSTOMERS,
            Action.RECORD_EVENTS,
            Action.APPLY_PAST_IMPACTS,
        }
    ),
    "viewer": frozenset({Action.READ}),
}


def can(role: str | None, action: Action) -> bool:
    """True when `role` may perform `action`; unknown or missing roles may do nothing."""
    return action in CAPABILITIES.get(role or "", frozenset())


def roles_that_can(action: Action) -> frozenset[str]:
    return frozenset(role for role, actions in CAPABILITIES.items() if action in actions)

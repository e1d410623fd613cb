"""The SQL grants exactly what ctm/roles.py says, per table, verb and role: Python and the
database cannot drift apart.

For every table in `public`, RULES names the capability (roles.Action) each verb needs, or None
when no role of the app may do it. The test reads the table grants of `authenticated` and the
policies in `pg_policies`, evaluates each policy expression as a real user of every role (and as a
user without a profile), and compares the outcome with `roles.can`. A table another migration
adds must be added to RULES — the test names it when it is missing.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from ctm import db, roles
from ctm.roles import Action

VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE")

RULES: dict[str, dict[str, Action | None]] = {
    "public.substations": {
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_SUBSTATIONS,
        "UPDATE": Action.EDIT_SUBSTATIONS,
        "DELETE": Action.DELETE_SUBSTATIONS,
    },
    "public.customers": {
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_CUSTOMERS,
        "UPDATE": Action.EDIT_CUSTOMERS,
        "DELETE": Action.DELETE_CUSTOMERS,
    },
    "public.profiles": {
        "SELECT": Action.READ,
        "INSERT": None,  # profiles are made by `ctm users add` (owner)
        "UPDATE": Action.MANAGE_USERS,
        "DELETE": None,
    },
    "public.pq_events": {
        "SELECT": Action.READ,
        "INSERT": Action.RECORD_EVENTS,
        "UPDATE": Action.RECORD_EVENTS,
        "DELETE": Action.DELETE_EVENTS,
    },
    "public.event_customer_impact": {
        "SELECT": Action.READ,
        "INSERT": None,  # only the definer-rights triggers write impacts
        "UPDATE": None,
        "DELETE": None,
    },
    "public.analytics_monthly": {  # the analytics summary: read like events, kept by triggers
        "SELECT": Action.READ,
        "INSERT": None,
        "UPDATE": None,
        "DELETE": None,
    },
    # The customer and circuit summaries: read like events, written by the refresh function.
    "public.analytics_customer_monthly": {
        "SELECT": Action.READ,
        "INSERT": None,
        "UPDATE": None,
        "DELETE": None,
    },
    "public.analytics_circuit_monthly": {
        "SELECT": Action.READ,
        "INSERT": None,
        "UPDATE": None,
        "DELETE": None,
    },
    "public.customer_transformer_matching": {
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_MAPPINGS,
        "UPDATE": Action.EDIT_MAPPINGS,
        "DELETE": Action.DELETE_MAPPINGS,
    },
    "public.substation_circuits": {  # the circuit registry: substations' own rules
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_SUBSTATIONS,
        "UPDATE": Action.EDIT_SUBSTATIONS,
        "DELETE": Action.DELETE_SUBSTATIONS,
    },
    "public.pq_meters": {
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_SUBSTATIONS,
        "UPDATE": Action.EDIT_SUBSTATIONS,
        "DELETE": Action.DELETE_SUBSTATIONS,
    },
    "public.audit_log": {  # append-only history, written by triggers
        "SELECT": Action.READ,
        "INSERT": None,
        "UPDATE": None,
        "DELETE": None,
    },
    "public.import_runs": {  # one row per import; importing is editing mappings
        "SELECT": Action.READ,
        "INSERT": Action.EDIT_MAPPINGS,
        "UPDATE": None,
        "DELETE": None,
    },
    "public.ctm_settings": {
        "SELECT": Action.READ,
        "INSERT": None,  # only the owner (`ctm time-zone`) writes settings
        "UPDATE": None,
        "DELETE": None,
    },
}

NOBODY = "(no profile)"


def _public_tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.scalars(
                sa.text(
                    "SELECT 'public.' || c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                    " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
                    "                 WHERE d.objid = c.oid AND d.deptype = 'e')"
                )
            )
        )


def _evaluate(engine, identity: db.Identity | None, expression: str, where: str) -> bool:
    """The policy expression's value for this user (no row needed: role policies only look at
    the acting user). A row-dependent expression is reported, not guessed."""
    try:
        if identity is None:  # a logged-in JWT whose user has no profile
            identity = db.Identity(user_id=uuid.uuid4())
        with db.user_transaction(engine, identity) as conn:
            return bool(conn.scalar(sa.text(f"SELECT coalesce(({expression}), false)")))
    except sa.exc.DBAPIError as exc:
        pytest.fail(
            f"{where}: cannot evaluate `{expression}` without a row ({exc.orig}); role rules"
            " belong in current_user_role() conditions — teach this test the new shape"
        )


def _passes(engine, identity: db.Identity | None, policy, verb: str) -> bool:
    """Whether the policy lets this user do `verb`: USING for rows seen, WITH CHECK for rows
    written (UPDATE without WITH CHECK reuses USING, as PostgreSQL does)."""
    checks = []
    if verb in ("SELECT", "UPDATE", "DELETE") and policy.qual:
        checks.append(policy.qual)
    if verb in ("INSERT", "UPDATE"):
        check = policy.with_check or (policy.qual if verb == "UPDATE" else None)
        if check:
            checks.append(check)
    where = f"policy {policy.policyname!r} on {policy.tbl}"
    return all(_evaluate(engine, identity, c, where) for c in checks)


def granted(engine, identities: dict[str, db.Identity | None]) -> dict[tuple, bool]:
    """(table, verb, role) → whether `authenticated` acting as that role may do it."""
    with engine.connect() as conn:
        grants = {
            (t, v)
            for t, v in conn.execute(
                sa.text(
                    "SELECT table_schema || '.' || table_name, privilege_type"
                    " FROM information_schema.role_table_grants"
                    " WHERE grantee = 'authenticated' AND table_schema = 'public'"
                )
            )
        }
        rls = set(
            conn.scalars(
                sa.text(
                    "SELECT 'public.' || relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relrowsecurity"
                )
            )
        )
        policies = conn.execute(
            sa.text(
                "SELECT schemaname || '.' || tablename AS tbl, policyname, cmd, permissive, roles,"
                " qual, with_check FROM pg_policies WHERE schemaname = 'public'"
            )
        ).all()
    result: dict[tuple, bool] = {}
    for table in RULES:
        for verb in VERBS:
            for role, identity in identities.items():
                if (table, verb) not in grants:
                    result[(table, verb, role)] = False
                    continue
                assert table in rls, f"{table} is granted to authenticated without RLS"
                applicable = [
                    p
                    for p in policies
                    if p.tbl == table
                    and p.cmd in (verb, "ALL")
                    and ("authenticated" in p.roles or "public" in p.roles)
                ]

                permissive = [p for p in applicable if p.permissive == "PERMISSIVE"]
                restrictive = [p for p in applicable if p.permissive != "PERMISSIVE"]
                result[(table, verb, role)] = any(
                    _passes(engine, identity, p, verb) for p in permissive
                ) and all(_passes(engine, identity, p, verb) for p in restrictive)
    return result


@pytest.fixture
def identities(make_user) -> dict[str, db.Identity | None]:
    people: dict[str, db.Identity | None] = {role: make_user(role) for role in roles.ROLES}
    people[NOBODY] = None
    return people


def test_every_public_table_has_a_rule(engine):
    missing = sorted(_public_tables(engine) - set(RULES))
    assert not missing, (
        f"tables without a row in RULES of {__file__}: {missing} — say which roles.Action each"
        " verb needs (None: no app role)"
    )


def test_sql_grants_exactly_what_roles_py_says(engine, identities):
    allowed = granted(engine, identities)
    drift = []
    for (table, verb, role), sql_says in sorted(allowed.items()):
        action = RULES[table][verb]
        python_says = action is not None and role != NOBODY and roles.can(role, action)
        if sql_says != python_says:
            drift.append(
                f"{table} {verb} as {role}: SQL {'allows' if sql_says else 'denies'},"
                f" roles.py {'allows' if python_says else 'denies'} ({action})"
            )
    assert not drift, "\n".join(drift)


def test_the_comparison_notices_a_policy_that_grants_too_much(engine, identities):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                'ALTER POLICY "Admins can delete mappings permanently"'
                " ON public.customer_transformer_matching"
                " USING ((SELECT public.current_user_role()) IN ('admin', 'operator'))"
            )
        )
    with pytest.raises(AssertionError, match="customer_transformer_matching DELETE as operator"):
        test_sql_grants_exactly_what_roles_py_says(engine, identities)

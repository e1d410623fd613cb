"""The services' own exceptions: each carries a message fit to show a person as it is."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a service raises on purpose; str(error) is the message for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PermissionDenied(ServiceError):
    """The acting user's role (or missing profile) does not allow this."""


class DuplicateMapping(ServiceError):
    """The customer already has an active mapping to that substation and circuit."""


class ValidationError(ServiceError):
    """The input is not acceptable: empty, unknown or inconsistent values."""


class CircuitFull(ValidationError):
    """One more current mapping on a circuit would pass its max_mapped_customers (the database
    refuses it; ctm.circuits.limit_refusal turns that into this error, whoever wrote)."""


class StaleEdit(ServiceError):
    """Someone changed the row after the user loaded it; nothing was written."""


class NotFound(ServiceError):
    """The row does not exist (any more) or is not visible to the acting user."""


class InUse(ServiceError):
    """The row cannot be removed because other rows still refer to it."""


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy/psycopg2 error (e.g. '23505'), else None."""
    original = getattr(error, "orig", error)
    return getattr(original, "pgcode", None)


def constraint_name(error: BaseException) -> str | None:
    """The name of the constraint or index a driver error reports, when PostgreSQL sends one."""
    original = getattr(error, "orig", error)
    diag = getattr(original, "diag", None)
    return getattr(diag, "constraint_name", None)

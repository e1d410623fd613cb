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


class StaleEdit(ServiceError):
    """Someone changed the row after the user loaded it; nothing was written."""


class NotFound(ServiceError):
    """The row does not exist (any more) or is not visible to the acting user."""


class InUse(ServiceError):
    """The row cannot be removed because other rows still refer to it."""

"""Domain errors shared by every layer below the API; each names the field and value at fault."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses; ``api/errors.py`` maps subclasses to HTTP statuses."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        # Several faults at once (e.g. every bad row of an import), each a dict naming at least
        # its field, value and message; the API lists them all.
        self.errors = errors or []


class NotFoundError(DomainError):
    """The named object does not exist (or is not visible to the caller)."""


class ConflictError(DomainError):
    """The change clashes with the current state (a duplicate, a stale version, a transition)."""


class InvalidError(DomainError):
    """The input is well-formed but breaks a domain rule."""


class UnavailableError(DomainError):
    """A service the request needs (database, broker) is down; retrying later may work."""


class TooLargeError(InvalidError):
    """The input is larger than the configured limit (rows, bytes, visits to plan)."""

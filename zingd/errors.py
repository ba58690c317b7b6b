"""The one table of application errors.

Services raise these; the RPC layer maps them to JSON-RPC codes with a stable
``data.kind``; zingctl maps them to exit codes. Kept free of heavy imports so
the client library can share it.
"""

from __future__ import annotations

from typing import Any


class ZingError(Exception):
    """An error a caller can act on: it carries a stable kind and code."""

    kind = "internal"
    code = -32603

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.details}


class Unauthenticated(ZingError):
    kind, code = "unauthenticated", -32001


class Forbidden(ZingError):
    kind, code = "forbidden", -32002


class NotFound(ZingError):
    kind, code = "not_found", -32003


class Conflict(ZingError):
    kind, code = "conflict", -32004


class Invalid(ZingError):
    kind, code = "invalid", -32005


class RateLimited(ZingError):
    kind, code = "rate_limited", -32006


class ChannelDown(ZingError):
    kind, code = "channel_down", -32007


class Unavailable(ZingError):
    """The store could not commit (disk full, I/O error) or its writer stopped: nothing was written."""

    kind, code = "unavailable", -32008


APP_ERRORS: dict[str, type[ZingError]] = {
    cls.kind: cls
    for cls in (Unauthenticated, Forbidden, NotFound, Conflict, Invalid, RateLimited, ChannelDown, Unavailable)
}

# JSON-RPC protocol faults (never raised by services).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def from_wire(code: int, message: str, data: dict[str, Any] | None) -> ZingError:
    """Rebuild the typed error a daemon sent, so clients can ``except NotFound``."""
    data = dict(data or {})
    kind = data.pop("kind", None)
    cls = APP_ERRORS.get(kind or "", ZingError)
    err = cls(message, **data)
    if cls is ZingError:
        err.code = code
        err.kind = kind or {
            PARSE_ERROR: "parse_error",
            INVALID_REQUEST: "invalid_request",
            METHOD_NOT_FOUND: "method_not_found",
            INVALID_PARAMS: "invalid_params",
        }.get(code, "internal")
    return err

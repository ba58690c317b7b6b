"""Small helpers shared by the store modules."""

from __future__ import annotations

from typing import Any

import msgspec

_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


def loads(text: str | None) -> Any:
    return _dec.decode(text) if text else {}


def dumps(value: Any) -> str:
    return _enc.encode(value).decode()


def with_json(row: dict[str, Any] | None, *cols: str) -> dict[str, Any] | None:
    """Decode JSON text columns in place so clients get objects, not strings."""
    if row is not None:
        for col in cols:
            if col in row and isinstance(row[col], str):
                row[col] = loads(row[col])
    return row


def in_list(values: list[int] | frozenset[int] | tuple[int, ...]) -> str:
    """``(?,?,?)`` for an IN clause (never empty: SQLite accepts ``IN ()`` but readers don't)."""
    return "(" + ",".join("?" * len(values)) + ")" if values else "(NULL)"

"""JSON-RPC 2.0 over newline-delimited JSON: frames and error shapes.

Shared by the server and the client library, so it imports nothing heavy.
One JSON object (or batch array) per line, UTF-8, terminated by ``\\n``.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import msgspec

from zingd.errors import ZingError

encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder()

DEFAULT_FRAME_LIMIT = 1 << 20

_entries = msgspec.json.Decoder(list[msgspec.Raw])
_ARRAY = re.compile(rb"[ \t\r\n]*\[")
_ESCAPE = re.compile(rb"\\.", re.S)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class Refused(ValueError):
    """A frame over one of the bounds: ``kind`` and ``limit`` go to the caller as the error's data."""

    kind = ""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class TooDeep(Refused):
    """Nested deeper than the limit. msgspec only stops near Python's recursion limit, with a
    RecursionError that depends on how deep the caller already is; this is the limit callers see."""

    kind = "too_deep"

    def __init__(self, limit: int) -> None:
        super().__init__(f"arrays and objects nested deeper than {limit} levels", limit)


class TooMany(Refused):
    kind = "batch_too_large"

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"a batch of {count} requests; at most {limit} per batch", limit)


def loads(data: bytes, max_depth: int, max_batch: int | None = None) -> Any:
    """One JSON text, refused with ``TooDeep`` past ``max_depth`` levels (msgspec.DecodeError if it
    isn't JSON). Counting brackets is skipped when there are too few to nest that deep. With
    ``max_batch``, an array is a batch, counted before any entry is built (``TooMany``): a megabyte
    of 18,000 requests costs a scan and 18,000 small slices, not 18,000 dicts."""
    batch = max_batch is not None and _ARRAY.match(data) is not None
    try:
        value = _entries.decode(data) if batch else decoder.decode(data)
        if batch and len(value) > max_batch:
            raise TooMany(len(value), max_batch)
        if data.count(b"[") + data.count(b"{") > max_depth and depth(data) > max_depth:
            raise TooDeep(max_depth)
        return [decoder.decode(entry) for entry in value] if batch else value
    except RecursionError:
        raise TooDeep(max_depth) from None


def depth(data: bytes) -> int:
    """How deep the arrays and objects of valid JSON nest, read from its bytes at C speed but the
    last count: escapes dropped, everything but quotes and brackets dropped, then the strings."""
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    # ``""`` is an empty string or two strings with only non-brackets between them: dropping it
    # keeps every bracket inside or outside a string as it was, and leaves few quotes to split on.
    skeleton = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    skeleton = b"".join(skeleton.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0)


def valid_id(id_: Any) -> bool:
    """JSON-RPC 2.0: an id is a string, a number or null (a bool is an int in Python, not a JSON number)."""
    return id_ is None or (isinstance(id_, (str, int, float)) and not isinstance(id_, bool))


def encode(obj: Any) -> bytes:
    return encoder.encode(obj) + b"\n"


def request(method: str, params: dict[str, Any] | None, id_: int | str | None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    if id_ is not None:
        msg["id"] = id_
    return encode(msg)


def result(id_: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": value}


def error(id_: Any, code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": err}


def app_error(id_: Any, exc: ZingError) -> dict[str, Any]:
    return error(id_, exc.code, exc.message, exc.to_data())

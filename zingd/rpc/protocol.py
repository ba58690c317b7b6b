"""JSON-RPC 2.0 over newline-delimited JSON: frames and error shapes.

Shared by the server and the client library, so it imports nothing heavy.
One JSON object (or batch array) per line, UTF-8, terminated by ``\\n``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from zingd.errors import ZingError

encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder()

DEFAULT_FRAME_LIMIT = 1 << 20


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

"""Shared helpers for the integration proofs: raw sockets, direct (read-only) DB and journal reads."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import Zingd, wait_for
from zingd.errors import ZingError
from zingd.rpc.client import SyncClient

# JSON-RPC codes (DESIGN "RPC")
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNAUTHENTICATED = -32001
FORBIDDEN = -32002
NOT_FOUND = -32003
CONFLICT = -32004
INVALID = -32005

ACK_RANK = {"queued": 1, "sent": 2, "server": 3, "delivered": 4, "read": 5, "played": 6}
SENT_OR_LATER = ("sent", "server", "delivered", "read", "played")


class Raw:
    """A raw NDJSON connection to zingd: exact bytes out, every frame in (events included)."""

    def __init__(self, path: Path, timeout: float = 15.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.timeout = timeout
        self.buf = b""
        self.frames: list[Any] = []  # decoded frames read but not yet consumed
        self.eof = False
        self._ids = 0

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- out -----------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_json(self, obj: Any) -> None:
        self.send(json.dumps(obj).encode() + b"\n")

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def request(self, method: str, params: Any = None, *, omit_params: bool = False) -> dict[str, Any]:
        rid = self.next_id()
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": rid}
        if not omit_params:
            msg["params"] = {} if params is None else params
        self.send_json(msg)
        return self.reply(rid)

    def call(self, method: str, params: Any = None) -> Any:
        """A request whose result is expected (raises AssertionError on an error reply)."""
        rep = self.request(method, params)
        assert "error" not in rep, rep
        return rep["result"]

    # -- in ------------------------------------------------------------------
    def _fill(self, timeout: float) -> bool:
        """Read once from the socket into the buffer; False on timeout or EOF."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                self.frames.append(json.loads(line))
        return True

    def recv(self, timeout: float | None = None) -> Any:
        """The next frame; AssertionError if none arrives in time (or the daemon hung up)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise AssertionError("no frame from zingd" + (" (connection closed)" if self.eof else " in time"))
        return self.frames.pop(0)

    def reply(self, rid: Any, timeout: float | None = None) -> dict[str, Any]:
        """The reply with this id; events and other frames read meanwhile stay queued in ``events``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        skipped: list[Any] = []
        try:
            while True:
                frame = self.recv(max(0.01, deadline - time.monotonic()))
                if isinstance(frame, dict) and frame.get("id") == rid and "method" not in frame:
                    return frame
                skipped.append(frame)
        finally:
            self.frames[:0] = skipped

    def silence(self, seconds: float) -> list[Any]:
        """Everything that arrives within ``seconds`` (normally asserted to be empty)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._fill(max(0.01, end - time.monotonic()))
            if self.eof:
                break
        out, self.frames = self.frames, []
        return out

    def drain_events(self) -> list[dict[str, Any]]:
        """Event params read so far (consumed)."""
        events = [f["params"] for f in self.frames if isinstance(f, dict) and f.get("method") == "event"]
        self.frames = [f for f in self.frames if not (isinstance(f, dict) and f.get("method") == "event")]
        return events

    def read_available(self, quiet: float = 0.3, limit: float = 30.0) -> None:
        """Read (into ``frames``) until the socket stays quiet for ``quiet`` seconds or hangs up."""
        end = time.monotonic() + limit
        while time.monotonic() < end and not self.eof:
            r, _, _ = select.select([self.sock], [], [], quiet)
            if not r or not self._fill(quiet):
                return


def error_code(reply: dict[str, Any]) -> int:
    assert "error" in reply, f"expected an error reply, got {reply}"
    return reply["error"]["code"]


def call_err(client: SyncClient, method: str, params: dict[str, Any] | None = None) -> ZingError:
    """Call and return the error the daemon answered with (fails if it succeeded)."""
    try:
        result = client.call(method, params)
    except ZingError as e:
        return e
    raise AssertionError(f"{method}({params}) succeeded but should have failed: {result!r}")


def assert_serves(z: Zingd) -> None:
    """The daemon is alive and a fresh client is answered promptly."""
    assert z.proc is not None and z.proc.poll() is None, f"zingd died:\n{z.log.read_text()[-3000:]}"
    t0 = time.monotonic()
    with SyncClient(z.socket, timeout=10) as c:
        hello = c.call("rpc.hello")
    assert hello["name"] == "zingd"
    assert time.monotonic() - t0 < 5, "a fresh client waited more than 5 s for rpc.hello"


def login(z: Zingd, email: str, password: str) -> SyncClient:
    c = z.client()
    c.call("auth.login", {"email": email, "password": password})
    return c


def db_ro(z: Zingd) -> sqlite3.Connection:
    """The daemon's database, opened read-only (never written by the tests)."""
    conn = sqlite3.connect(f"file:{z.data_dir / 'zing.db'}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def db_rows(z: Zingd, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    conn = db_ro(z)
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


@dataclass
class JournalView:
    """The sim journal as the network sees it (DESIGN: in / ack / out / dup)."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)   # k=in by wa_id
    in_count: Counter = field(default_factory=Counter)
    acks: Counter = field(default_factory=Counter)
    outs: Counter = field(default_factory=Counter)
    out_recs: dict[str, dict[str, Any]] = field(default_factory=dict)
    dups: Counter = field(default_factory=Counter)
    torn_lines: int = 0


def read_journal(path: Path) -> JournalView:
    j = JournalView()
    if not path.exists():
        return j
    for line in path.read_bytes().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            j.torn_lines += 1
            continue
        kind, wa_id = rec["k"], rec["id"]
        if kind == "in":
            j.sent[wa_id] = rec
            j.in_count[wa_id] += 1
        elif kind == "ack":
            j.acks[wa_id] += 1
        elif kind == "out":
            j.outs[wa_id] += 1
            j.out_recs[wa_id] = rec
        elif kind == "dup":
            j.dups[wa_id] += 1
    return j


def journal_path(z: Zingd, connection_id: int = 1) -> Path:
    return z.data_dir / "sim" / f"connection-{connection_id}.jsonl"


def wait_outbox_empty(z: Zingd, client: SyncClient, timeout: float = 30.0) -> None:
    wait_for(lambda: client.call("daemon.status")["outbox"]["queued"] == 0, timeout=timeout, interval=0.05)


def message_rows(client: SyncClient, ticket_id: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before = None
    while True:
        params: dict[str, Any] = {"ticket_id": ticket_id, "limit": 500}
        if before is not None:
            params["before_id"] = before
        page = client.call("message.list", params)
        out[:0] = page["messages"]
        if not page["more"] or not page["messages"]:
            return out
        before = page["messages"][0]["id"]


def settle(z: Zingd, timeout: float = 20.0, quiet_for: float = 0.4) -> int:
    """Wait until nothing moves: outbox empty, every outbound message read (or failed), no new events.

    Returns the last event seq.
    """
    def state() -> tuple[int, int, int]:
        row = db_rows(z, "SELECT (SELECT count(*) FROM outbox) AS q, "
                         "(SELECT count(*) FROM messages WHERE direction = 'out' "
                         " AND ack NOT IN ('read', 'played', 'failed', 'unconfirmed')) AS moving, "
                         "(SELECT ifnull(max(seq), 0) FROM events) AS seq")[0]
        return row["q"], row["moving"], row["seq"]

    deadline = time.monotonic() + timeout
    last = None
    stable_since = time.monotonic()
    while True:
        q, moving, seq = state()
        now = time.monotonic()
        if (q, moving) == (0, 0) and seq == last:
            if now - stable_since >= quiet_for:
                return seq
        else:
            stable_since = now
        last = seq if (q, moving) == (0, 0) else None
        if now > deadline:
            raise AssertionError(f"zingd did not settle within {timeout}s (outbox {q}, moving {moving})")
        time.sleep(0.05)


def ticket_of(event: dict[str, Any]) -> int | None:
    """The ticket an event is about, from its data (the frame itself carries no ticket id)."""
    data = event.get("data") or {}
    if isinstance(data.get("ticket"), dict):
        return data["ticket"].get("id")
    if isinstance(data.get("message"), dict):
        return data["message"].get("ticket_id")
    return data.get("ticket_id")

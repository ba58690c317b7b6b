"""Bad input through the real socket: framing, JSON-RPC 2.0 errors, auth gate, slow and vanishing clients.

Every case ends by checking that the daemon still answers a fresh client.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.helpers import Zingd, wait_for
from tests.integration.support import (
    FORBIDDEN,
    INVALID,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_FOUND,
    PARSE_ERROR,
    UNAUTHENTICATED,
    Raw,
    assert_serves,
    error_code,
)
from zingd.rpc.client import SyncClient
from zingd.services.permissions import PERMISSIONS, PUBLIC


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """One daemon with no users, shared by the many small cases of this module (each still checks it lives)."""
    z = Zingd(tmp_path_factory.mktemp("bare")).start()
    yield z
    z.kill()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One demo daemon (its admin is this OS user), shared like ``bare``."""
    z = Zingd(tmp_path_factory.mktemp("seeded"), demo=True).start()
    yield z
    z.kill()


def discover(z: Zingd) -> list[dict]:
    with z.client() as c:
        return c.call("rpc.discover")["methods"]


# -- parse errors -------------------------------------------------------------

@pytest.mark.parametrize("frame", [
    b'{"jsonrpc": "2.0", "method": "rpc.hello", "id": 1\n',   # cut short
    b'{"jsonrpc": "2.0", "method": rpc.hello, "id": 1}\n',    # bare word
    b"{'jsonrpc': '2.0'}\n",                                   # single quotes
    b'{"jsonrpc": "2.0", "id": 1,}\n',                         # trailing comma
    b"[1, 2\n",
    b"\x00\x01\x02 garbage \x7f\n",
    b"\xff\xfe\xfd\xfc\n",                                     # not UTF-8 at all
], ids=["truncated", "bare-word", "single-quotes", "trailing-comma", "open-array", "control-bytes", "binary"])
def test_malformed_frames_are_parse_errors(bare, frame):
    with Raw(bare.socket) as r:
        r.send(frame)
        rep = r.recv(timeout=5)
        assert error_code(rep) == PARSE_ERROR and rep["id"] is None, rep
        # the same connection keeps working
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(bare)


@pytest.mark.parametrize("frame", [
    b'{"jsonrpc": "2.0", "method": "rpc.hello", "id": 1, "params": {"x": "\xff"}}\n',
    b'{"jsonrpc": "2.0", "method": "rpc.hel\xc3lo", "id": 2}\n',
    b'{"jsonrpc": "2.0", "method": "rpc.hello", "id": "\xed\xa0\x80"}\n',   # an encoded UTF-16 surrogate
], ids=["bad-byte-in-params", "cut-sequence-in-method", "surrogate-in-id"])
def test_invalid_utf8_inside_a_string_is_a_parse_error(bare, frame):
    """Frames are UTF-8 (DESIGN "Framing"): invalid bytes inside a JSON string are a -32700 reply, not silence."""
    with Raw(bare.socket) as r:
        r.send(frame)
        try:
            rep = r.recv(timeout=3)
        except AssertionError:
            pytest.fail("bare sent no reply at all to a frame with invalid UTF-8 inside a string "
                        "(expected a -32700 parse error)")
        assert error_code(rep) == PARSE_ERROR, rep
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(bare)


def test_blank_lines_are_ignored(zingd):
    with Raw(zingd.socket) as r:
        r.send(b"\n   \n\r\n")
        assert r.silence(0.3) == []
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(zingd)


# -- invalid requests ---------------------------------------------------------

@pytest.mark.parametrize("obj, rid", [
    (42, None),
    ("x", None),
    (None, None),
    (True, None),
    ({"jsonrpc": "1.0", "method": "rpc.hello", "id": 1}, 1),
    ({"method": "rpc.hello", "id": 2}, 2),
    ({"jsonrpc": "2.0", "id": 3}, 3),
    ({"jsonrpc": "2.0", "method": 5, "id": 4}, 4),
    ({"jsonrpc": "2.0", "method": "rpc.hello", "id": {"a": 1}}, None),
    ({"jsonrpc": "2.0", "method": "rpc.hello", "id": [1]}, None),
], ids=["number", "string", "null", "true", "jsonrpc-1.0", "no-jsonrpc", "no-method", "method-not-string",
        "id-object", "id-array"])
def test_non_requests_are_invalid_requests(bare, obj, rid):
    with Raw(bare.socket) as r:
        r.send_json(obj)
        rep = r.recv(timeout=5)
        assert isinstance(rep, dict) and error_code(rep) == INVALID_REQUEST, rep
        assert rep["id"] == rid
        assert rep["jsonrpc"] == "2.0"
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(bare)


def test_empty_batch_is_one_invalid_request(zingd):
    with Raw(zingd.socket) as r:
        r.send(b"[]\n")
        rep = r.recv(timeout=5)
        assert isinstance(rep, dict), f"an empty batch gets one error object, not {rep!r}"
        assert error_code(rep) == INVALID_REQUEST and rep["id"] is None
        assert r.silence(0.2) == []
    assert_serves(zingd)


def test_mixed_batch_gets_the_right_replies(demo):
    batch = [
        {"jsonrpc": "2.0", "method": "rpc.hello", "id": 1},
        {"jsonrpc": "2.0", "method": "rpc.hello"},                                  # notification
        42,                                                                        # invalid
        {"jsonrpc": "2.0", "method": "no.such.method", "id": "three"},
        {"foo": "bar"},                                                            # invalid
        {"jsonrpc": "2.0", "method": "ticket.get", "params": {"id": "x"}, "id": 4},
        {"jsonrpc": "2.0", "method": "ticket.get", "params": {"id": 987654}, "id": 5},
        {"jsonrpc": "2.0", "method": "no.such.method"},                            # notification: no reply
        {"jsonrpc": "2.0", "method": "daemon.status", "params": {}, "id": None},
    ]
    with Raw(demo.socket) as r:
        r.send_json(batch)
        rep = r.recv(timeout=10)
        assert isinstance(rep, list), rep
        assert len(rep) == 7, json.dumps(rep, indent=1)
        by_id: dict = {}
        nulls = []
        for one in rep:
            assert one["jsonrpc"] == "2.0"
            if one["id"] is None:
                nulls.append(one)
            else:
                assert one["id"] not in by_id, "one reply per request"
                by_id[one["id"]] = one
        assert set(by_id) == {1, "three", 4, 5}
        assert by_id[1]["result"]["name"] == "zingd"
        assert error_code(by_id["three"]) == METHOD_NOT_FOUND
        assert error_code(by_id[4]) == INVALID_PARAMS
        assert error_code(by_id[5]) == NOT_FOUND and by_id[5]["error"]["data"]["kind"] == "not_found"
        # two invalid entries and the null-id status request
        assert sorted(error_code(o) if "error" in o else 0 for o in nulls) == [INVALID_REQUEST, INVALID_REQUEST, 0]
        assert any("result" in o and "pid" in o["result"] for o in nulls)
        assert r.silence(0.3) == [], "nothing more: notifications are never answered"
    assert_serves(demo)


def test_batch_of_notifications_gets_no_reply(demo):
    with Raw(demo.socket) as r:
        r.send_json([{"jsonrpc": "2.0", "method": "rpc.hello"}, {"jsonrpc": "2.0", "method": "no.such"},
                     {"jsonrpc": "2.0", "method": "ticket.get", "params": {"id": "bad"}}])
        assert r.silence(0.5) == []
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(demo)


# -- what one connection can cost (RpcSettings defaults) -------------------------

MAX_BATCH, BATCH_REPLY_LIMIT, MAX_DEPTH = 100, 1 << 20, 64


def _hello(i) -> dict:
    return {"jsonrpc": "2.0", "method": "rpc.hello", "id": i}


def test_a_batch_over_the_limit_is_refused_whole(bare):
    with Raw(bare.socket) as r:
        r.send_json([_hello(i) for i in range(MAX_BATCH + 1)])
        rep = r.recv(timeout=5)
        assert isinstance(rep, dict) and error_code(rep) == INVALID_REQUEST and rep["id"] is None, rep
        assert rep["error"]["data"] == {"kind": "batch_too_large", "limit": MAX_BATCH}
        assert str(MAX_BATCH) in rep["error"]["message"]
        r.send_json([_hello(i) for i in range(MAX_BATCH)])
        rep = r.recv(timeout=10)
        assert sorted(x["id"] for x in rep) == list(range(MAX_BATCH)) and all("result" in x for x in rep)
    assert_serves(bare)


def test_a_batch_reply_stops_at_its_budget_and_says_so(seeded):
    """Past batch_reply_limit bytes, the requests left are answered without being run (each with
    its id); the entry that crossed the line is answered in full, and notifications still run."""
    n = 12  # rpc.discover answers ~140 KB: the budget runs out half way
    batch = [{"jsonrpc": "2.0", "method": "rpc.discover", "id": i} for i in range(n)]
    batch += [{"jsonrpc": "2.0", "method": "sim.say", "params": {"from": "5511900000077", "body": "late"}},
              _hello("last")]
    with Raw(seeded.socket, timeout=30) as r:
        r.send_json(batch)
        rep = {x["id"]: x for x in r.recv(timeout=30)}
        assert set(rep) == {*range(n), "last"}
        ran = [i for i in range(n) if "result" in rep[i]]
        assert ran == list(range(len(ran))) and 1 < len(ran) < n, "answered in order, up to the budget"
        sizes = [len(json.dumps(rep[i], separators=(",", ":"), ensure_ascii=False).encode()) for i in ran]
        assert sum(sizes[:-1]) <= BATCH_REPLY_LIMIT < sum(sizes) * 1.01
        for rid in [*range(len(ran), n), "last"]:
            assert error_code(rep[rid]) == INVALID_REQUEST, rep[rid]
            assert rep[rid]["error"]["data"] == {"kind": "batch_reply_too_large", "limit": BATCH_REPLY_LIMIT}
    with seeded.client() as c:
        assert [x["number"] for x in c.call("contact.list", {"query": "5511900000077"})] == ["5511900000077"]
    assert_serves(seeded)


def test_a_client_that_reads_late_gets_every_reply_once(bare):
    """zingd stops reading a client whose replies pile up unread, and goes on once it reads: nothing
    is lost (the bound is backpressure, not dropping). Others are served meanwhile."""
    n = 400  # ~56 MB of rpc.discover answers, far past reply_buffer
    with Raw(bare.socket, timeout=30) as r:
        frames = b"".join(json.dumps({"jsonrpc": "2.0", "method": "rpc.discover", "id": i}).encode() + b"\n"
                          for i in range(n))
        writer = threading.Thread(target=r.send, args=(frames,))
        writer.start()
        assert_serves(bare)
        seen = [r.recv(timeout=30)["id"] for _ in range(n)]
        writer.join(10)
    assert sorted(seen) == list(range(n))
    assert_serves(bare)


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_brackets_inside_strings_are_not_nesting(bare, depth):
    """Only real arrays and objects count: strings full of brackets, escaped quotes and backslashes,
    side by side, add nothing."""
    strings = json.dumps(['[[[{{\\"' + "[" * 200, "", '\\"]]]}}\\', "{" * 200])
    value = "[" * (depth - 3) + strings + "]" * (depth - 3)  # frame object, params object, the lists
    with Raw(bare.socket) as r:
        frame = f'{{"jsonrpc": "2.0", "method": "rpc.hello", "id": 1, "params": {{"x": {value}}}}}'
        r.send(frame.encode() + b"\n")
        rep = r.recv(timeout=5)
        if depth <= MAX_DEPTH:
            assert rep["error"]["data"]["kind"] == "invalid_params", rep  # read to the end: rpc.hello has no x
        else:
            assert rep["error"]["data"] == {"kind": "too_deep", "limit": MAX_DEPTH}, rep
    assert_serves(bare)


def test_notifications_get_no_reply_even_on_error(zingd):
    with Raw(zingd.socket) as r:
        for msg in ({"jsonrpc": "2.0", "method": "rpc.hello"},
                    {"jsonrpc": "2.0", "method": "rpc.hello", "params": {"bogus": 1}},
                    {"jsonrpc": "2.0", "method": "no.such.method"},
                    {"jsonrpc": "2.0", "method": "ticket.list"}):          # unauthenticated
            r.send_json(msg)
        assert r.silence(0.5) == []
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(zingd)


def test_string_and_null_ids_are_echoed(zingd):
    with Raw(zingd.socket) as r:
        r.send_json({"jsonrpc": "2.0", "method": "rpc.hello", "id": "abc-1"})
        assert r.recv(timeout=5)["id"] == "abc-1"
        r.send_json({"jsonrpc": "2.0", "method": "rpc.hello", "id": None})
        rep = r.recv(timeout=5)
        assert rep["id"] is None and rep["result"]["name"] == "zingd"
    assert_serves(zingd)


# -- frame limit --------------------------------------------------------------

def _padded_login(size: int) -> bytes:
    """A well-formed auth.login frame of exactly ``size`` bytes before its newline."""
    base = {"jsonrpc": "2.0", "method": "auth.login", "id": 7, "params": {"email": "", "password": "x"}}
    empty = len(json.dumps(base).encode())
    base["params"]["email"] = "a" * (size - empty) + ""
    data = json.dumps(base).encode()
    assert len(data) == size
    return data + b"\n"


def test_frame_over_default_limit_is_an_error_and_the_connection_lives(zingd):
    limit = 1 << 20
    with Raw(zingd.socket) as r:
        r.send(_padded_login(2 * limit))
        rep = r.recv(timeout=20)
        assert rep["error"]["data"]["kind"] == "frame_too_large", rep
        assert rep["error"]["data"]["limit"] == limit
        assert rep["id"] is None
        assert r.call("rpc.hello")["name"] == "zingd"
        # just under the limit is parsed (a login with a silly email is simply refused)
        r.send(_padded_login(limit - 1000))
        rep = r.recv(timeout=20)
        assert error_code(rep) == UNAUTHENTICATED and rep["id"] == 7, rep
    assert_serves(zingd)


def test_lowered_frame_limit_pipelined_and_trickled(tmp_path):
    limit = 4096
    z = Zingd(tmp_path, env={"ZING_RPC__FRAME_LIMIT": str(limit)}).start()
    try:
        with Raw(z.socket) as r:
            # oversized, valid, oversized, valid: all in one write
            hello = lambda i: json.dumps({"jsonrpc": "2.0", "method": "rpc.hello", "id": i}).encode() + b"\n"
            r.send(_padded_login(limit * 3) + hello(100) + _padded_login(limit + 50) + hello(101))
            replies = [r.recv(timeout=10) for _ in range(4)]
            too_large = [x for x in replies if x.get("error", {}).get("data", {}).get("kind") == "frame_too_large"]
            hellos = sorted(x["id"] for x in replies if "result" in x)
            assert len(too_large) == 2 and hellos == [100, 101], replies
            # an oversized frame that trickles in slowly, without a newline until the end
            frame = _padded_login(limit * 2)
            for i in range(0, len(frame), 1000):
                r.send(frame[i:i + 1000])
                time.sleep(0.01)
            rep = r.recv(timeout=10)
            assert rep["error"]["data"]["kind"] == "frame_too_large", rep
            assert r.call("rpc.hello")["name"] == "zingd"
            # just under the limit still works
            r.send(_padded_login(limit - 10))
            assert error_code(r.recv(timeout=10)) == UNAUTHENTICATED
        assert_serves(z)
    finally:
        z.kill()


# -- methods and params -------------------------------------------------------

def test_unknown_method(demo, zingd):
    for z in (demo, zingd):  # authenticated or not
        with Raw(z.socket) as r:
            for name in ("no.such", "ticket.lists", "", "rpc.hello ", "RPC.HELLO"):
                rep = r.request(name)
                assert error_code(rep) == METHOD_NOT_FOUND, (name, rep)
                assert rep["error"]["data"]["kind"] == "method_not_found"
        assert_serves(z)


@pytest.mark.parametrize("method, params", [
    ("ticket.get", {"id": "1"}),
    ("ticket.get", {"id": 1.5}),
    ("ticket.get", {"id": True}),
    ("ticket.get", {"id": None}),
    ("ticket.get", {}),                                   # missing
    ("ticket.get", {"id": 1, "bogus": 2}),                # unknown
    ("ticket.get", [1]),                                  # by position
    ("ticket.get", "1"),
    ("ticket.get", 1),
    ("ticket.list", {"limit": "ten"}),
    ("ticket.list", {"status": 3}),
    ("message.send", {"ticket_id": 1, "body": 5}),
    ("message.send", {"body": "hi"}),
    ("events.subscribe", {"topics": "tenant"}),
    ("events.subscribe", {"topics": [1, 2]}),
    ("sim.say", {"from": 5511999990001, "body": "x"}),
    ("rpc.hello", {"x": 1}),
    ("rpc.discover", []),
    ("auth.login", {"email": "a@b.c"}),
    ("contact.update", {"id": 1, "custom_fields": {"a": [1]}}),
], ids=lambda v: json.dumps(v)[:40])
def test_bad_params_are_invalid_params(seeded, method, params):
    with Raw(seeded.socket) as r:
        rep = r.request(method, params)
        assert error_code(rep) == INVALID_PARAMS, rep
        assert rep["error"]["data"]["kind"] == "invalid_params"
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(seeded)


def test_every_method_rejects_unknown_params(zingd, root_token):
    """Each discovered method validates by name: an unknown member is -32602 before anything runs."""
    with SyncClient(zingd.socket, token=root_token) as c:
        methods = c.call("rpc.discover")["methods"]
    with Raw(zingd.socket) as r:
        r.call("auth.token", {"token": root_token})
        for m in methods:
            rep = r.request(m["name"], {"zz_not_a_param": 1})
            assert error_code(rep) == INVALID_PARAMS, (m["name"], rep)
            rep = r.request(m["name"], [1, 2])
            assert error_code(rep) == INVALID_PARAMS, (m["name"], rep)
        # and nothing above logged the superadmin out or broke the session
        assert r.call("auth.whoami")["role"] == "superadmin"
    assert_serves(zingd)


@pytest.mark.parametrize("method, params", [
    ("ticket.get", {"id": 987654}),
    ("ticket.accept", {"id": 987654}),
    ("ticket.close", {"id": 987654}),
    ("ticket.reopen", {"id": 987654}),
    ("ticket.transfer", {"id": 987654, "user_id": 1}),
    ("message.list", {"ticket_id": 987654}),
    ("message.send", {"ticket_id": 987654, "body": "hi"}),
    ("message.retry", {"id": 987654}),
    ("contact.get", {"id": 987654}),
    ("contact.update", {"id": 987654, "name": "x"}),
    ("connection.get", {"id": 987654}),
    ("connection.update", {"id": 987654, "name": "x"}),
    ("connection.restart", {"id": 987654}),
    ("user.get", {"id": 987654}),
    ("user.update", {"id": 987654, "name": "x"}),
    ("sim.say", {"from": "5511999990001", "body": "x", "connection_id": 987654}),
    ("ticket.get", {"id": 0}),
    ("ticket.get", {"id": -1}),
], ids=lambda v: json.dumps(v)[:40])
def test_unknown_ids_are_not_found(seeded, method, params):
    with Raw(seeded.socket) as r:
        rep = r.request(method, params)
        assert error_code(rep) == NOT_FOUND, rep
        assert rep["error"]["data"]["kind"] == "not_found"
    assert_serves(seeded)


@pytest.mark.parametrize("method, key, value", [
    ("ticket.get", "id", 2**63),
    ("message.list", "ticket_id", -(2**63) - 1),
    ("contact.get", "id", 10**30),
], ids=["ticket.get-2^63", "message.list--2^63-1", "contact.get-1e30"])
def test_out_of_range_ids_are_not_internal_errors(seeded, method, key, value):
    """An id no SQLite INTEGER can hold is the caller's mistake: -32602 or -32003, never -32603."""
    with Raw(seeded.socket) as r:
        rep = r.request(method, {key: value})
        assert error_code(rep) in (INVALID_PARAMS, NOT_FOUND), (
            f"{method}({key}={value}) answered {rep['error']} (a 64-bit overflow surfacing as an internal error)")
    assert_serves(seeded)


# -- the auth gate --------------------------------------------------------------

def test_nothing_but_hello_discover_and_auth_before_login(zingd):
    methods = discover(zingd)
    assert methods, "rpc.discover works before login"
    with Raw(zingd.socket) as r:
        hello = r.call("rpc.hello")
        assert hello["authenticated"] is False and hello["api"] >= 1 and hello["server"]
        gated = [m["name"] for m in methods if m["x-role"] != PUBLIC]
        assert len(gated) >= 10
        for name in gated:
            for params in ({}, {"id": 1}, None):
                rep = r.request(name, params) if params is not None else r.request(name, omit_params=True)
                assert error_code(rep) == UNAUTHENTICATED, (name, rep)
                assert rep["error"]["data"]["kind"] == "unauthenticated"
        # auth.* are public: a wrong password is an auth failure, not a gate failure
        rep = r.request("auth.login", {"email": "nobody@example.com", "password": "wrongpass"})
        assert error_code(rep) == UNAUTHENTICATED
        rep = r.request("auth.token", {"token": "zs_not_a_token"})
        assert error_code(rep) == UNAUTHENTICATED
        # still not logged in after those failures
        assert error_code(r.request("ticket.list")) == UNAUTHENTICATED
    assert_serves(zingd)


def test_unauthenticated_after_logout(zingd, root_token):
    with Raw(zingd.socket) as r:
        r.call("auth.token", {"token": root_token})
        assert r.call("auth.whoami")["role"] == "superadmin"
        assert r.call("auth.logout")["revoked"] is True
        assert error_code(r.request("auth.whoami")) == UNAUTHENTICATED
        assert error_code(r.request("auth.token", {"token": root_token})) == UNAUTHENTICATED
    assert_serves(zingd)


def test_discover_lists_every_method_with_a_schema(zingd):
    """One content descriptor per parameter (by name, with required), a result and the errors of every
    method (tests/contract validates the whole document against the OpenRPC meta-schema)."""
    doc = None
    with Raw(zingd.socket) as r:
        doc = r.call("rpc.discover")
    methods = doc["methods"]
    names = [m["name"] for m in methods]
    assert len(names) == len(set(names))
    assert set(names) == set(PERMISSIONS), (
        f"discovered but not in PERMISSIONS: {sorted(set(names) - set(PERMISSIONS))}; "
        f"in PERMISSIONS but not served: {sorted(set(PERMISSIONS) - set(names))}")
    components = doc.get("components", {}).get("schemas", {})
    errors = doc.get("components", {}).get("errors", {})

    def resolve(schema: dict) -> dict:
        ref = schema.get("$ref")
        if ref:
            assert ref.startswith("#/components/schemas/"), ref
            name = ref.rsplit("/", 1)[1]
            assert name in components, f"dangling $ref {ref}"
            return components[name]
        return schema

    for m in methods:
        assert m["x-role"] == PERMISSIONS[m["name"]]
        assert m["paramStructure"] == "by-name"
        assert isinstance(m.get("summary"), str) and m["summary"], f"{m['name']} has no summary"
        for param in m["params"]:
            assert set(param) >= {"name", "required", "schema"}, (m["name"], param)
            resolve(param["schema"])
        assert m["result"]["schema"], f"{m['name']} has no result schema"
        for e in m["errors"]:
            name = e["$ref"].rsplit("/", 1)[1]
            assert name in errors, f"{m['name']}: dangling error {e['$ref']}"
    by = {m["name"]: {p["name"]: p for p in m["params"]} for m in methods}
    assert [p["name"] for p in by["ticket.get"].values() if p["required"]] == ["id"]
    assert by["ticket.get"]["id"]["schema"]["type"] == "integer"
    assert "from" in by["sim.say"]
    assert {n for n, p in by["message.send"].items() if p["required"]} == {"ticket_id"}
    assert list(by["rpc.hello"]) == ["os_user"] and by["rpc.hello"]["os_user"]["required"] is False
    assert_serves(zingd)


# -- clients that misbehave -----------------------------------------------------

def test_client_vanishing_mid_request_disturbs_nobody(demo):
    stop = threading.Event()
    errors: list[BaseException] = []
    latencies: list[float] = []

    def steady() -> None:
        try:
            with SyncClient(demo.socket, timeout=10) as c:
                while not stop.is_set():
                    t0 = time.monotonic()
                    c.call("ticket.list", {"limit": 5})
                    latencies.append(time.monotonic() - t0)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    worker = threading.Thread(target=steady)
    worker.start()
    try:
        for i in range(30):
            r = Raw(demo.socket)
            kind = i % 3
            if kind == 0:    # a write that is still in flight when the caller leaves
                r.send_json({"jsonrpc": "2.0", "method": "sim.say", "id": 1,
                             "params": {"from": f"55119555{i:05d}", "body": f"bye {i}"}})
            elif kind == 1:  # a slow call (password hashing) abandoned
                r.send_json({"jsonrpc": "2.0", "method": "auth.login", "id": 1,
                             "params": {"email": "admin@demo.zing", "password": "demo-admin"}})
            else:            # half a frame, then gone
                r.send(b'{"jsonrpc": "2.0", "method": "ticket.li')
            r.close()
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join(20)
    assert not errors, errors
    assert latencies and max(latencies) < 3.0, f"the steady client waited {max(latencies):.2f}s"
    assert_serves(demo)
    with demo.client() as c:
        status = c.call("daemon.status")
        assert status["sessions"] <= 2, f"abandoned sessions linger: {status['sessions']}"


def test_fifty_concurrent_clients_are_all_served(demo):
    n = 50
    barrier = threading.Barrier(n)
    results: dict[int, object] = {}

    def one(i: int) -> None:
        try:
            with SyncClient(demo.socket, timeout=30) as c:
                barrier.wait(10)
                hello = c.call("rpc.hello")
                c.call("ticket.list", {"limit": 5})
                said = c.call("sim.say", {"from": f"55119444{i:05d}", "body": f"client {i}"})
                results[i] = (hello["authenticated"], said["delivered"])
        except BaseException as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert time.monotonic() - t0 < 30
    bad = {i: r for i, r in results.items() if r != (True, True)}
    assert len(results) == n and not bad, bad
    with demo.client() as c:
        contacts = {x["number"] for x in c.call("contact.list", {"limit": 500})}
    assert {f"55119444{i:05d}" for i in range(n)} <= contacts
    assert_serves(demo)


def _big_say(i: int, size: int) -> dict:
    return {"from": f"5511977{i % 7:06d}", "body": f"flood {i} " + "x" * size}


class Reader(threading.Thread):
    """A well-behaved subscriber that reads all the time."""

    def __init__(self, z: Zingd) -> None:
        super().__init__(daemon=True)
        self.client = SyncClient(z.socket, timeout=60)
        self.client.call("events.subscribe", {"topics": ["tenant"]})
        self.events: list[dict] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for ev in self.client.iter_events():
                self.events.append(ev)
        except BaseException as e:  # noqa: BLE001 - closing the socket ends the loop
            self.error = e

    def close(self) -> None:
        try:
            self.client._sock.shutdown(2)
        except OSError:
            pass
        self.join(10)
        self.client.close()


def _flood(z: Zingd, count: int, size: int, latencies: list[float]) -> None:
    with z.client() as c:
        for i in range(count):
            c.call("sim.say", _big_say(i, size))
            t0 = time.monotonic()
            c.call("rpc.hello")
            latencies.append(time.monotonic() - t0)


def test_subscriber_that_never_reads_is_told_it_lagged(tmp_path):
    z = Zingd(tmp_path, demo=True, env={"ZING_RPC__SUBSCRIBER_BUFFER": str(256 << 10)}).start()
    try:
        good = Reader(z)
        good.start()
        slow = Raw(z.socket, timeout=30)
        sub = slow.call("events.subscribe", {"topics": ["tenant"]})
        latencies: list[float] = []
        _flood(z, 80, 40_000, latencies)
        assert max(latencies) < 2.0, f"a call waited {max(latencies):.2f}s behind a slow subscriber"
        # the slow one wakes up and reads what it got; then one more event arrives
        slow.read_available()
        assert not slow.eof, "a lagging subscriber under the hard limit must not be dropped"
        with z.client() as c:
            c.call("sim.say", {"from": "5511977999999", "body": "after the flood"})

        def lag_seen() -> bool:
            slow.read_available(quiet=0.1)
            return any(f.get("params", {}).get("type") == "lagged" for f in slow.frames if isinstance(f, dict))
        wait_for(lag_seen, timeout=10)
        slow.read_available(quiet=0.3)
        events = slow.drain_events()
        lag = [e for e in events if e["type"] == "lagged"]
        assert len(lag) == 1, lag
        notice = lag[0]["data"]
        assert lag[0]["subscription"] == sub["subscription"]
        assert notice["missed_from"] <= notice["missed_to"]
        seqs = [e["seq"] for e in events if e["type"] != "lagged"]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "events in seq order, once"
        assert all(s < notice["missed_from"] or s > notice["missed_to"] for s in seqs)
        # everything it did not get is inside the announced gap
        everything = [r["seq"] for r in _tenant_events(z) if seqs[0] <= r["seq"] <= seqs[-1]]
        missing = sorted(set(everything) - set(seqs))
        assert missing and notice["missed_from"] <= missing[0] and missing[-1] <= notice["missed_to"], (missing, notice)
        slow.close()
        # the well-behaved subscriber saw everything, in order, without a lag notice
        good.close()
        assert not [e for e in good.events if e["type"] == "lagged"]
        got = [e["seq"] for e in good.events]
        assert got == sorted(got) and len(got) == len(set(got))
        expected = [r["seq"] for r in _tenant_events(z) if got and got[0] <= r["seq"] <= got[-1]]
        assert got == expected
        assert_serves(z)
    finally:
        z.kill()


def _tenant_events(z: Zingd) -> list[dict]:
    from tests.integration.support import db_rows
    return db_rows(z, "SELECT seq, type FROM events WHERE tenant_id = 1 ORDER BY seq")


def test_subscriber_that_never_reads_is_dropped_alone(tmp_path):
    z = Zingd(tmp_path, demo=True, env={"ZING_RPC__SUBSCRIBER_BUFFER": str(256 << 20),
                                        "ZING_RPC__SUBSCRIBER_HARD_LIMIT": str(1 << 20)}).start()
    try:
        good = Reader(z)
        good.start()
        slow = Raw(z.socket, timeout=30)
        slow.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        slow.call("events.subscribe", {"topics": ["tenant"]})
        with z.client() as c:
            assert c.call("daemon.status")["subscribers"] == 2
        latencies: list[float] = []
        _flood(z, 100, 40_000, latencies)
        assert max(latencies) < 2.0, f"a call waited {max(latencies):.2f}s behind a slow subscriber"
        with z.client() as c:
            wait_for(lambda: c.call("daemon.status")["subscribers"] == 1, timeout=10)
        slow.read_available(quiet=0.5)
        assert slow.eof, "the slow subscriber should have been disconnected"
        good.close()
        assert good.events and not [e for e in good.events if e["type"] == "lagged"]
        got = [e["seq"] for e in good.events]
        assert got == [r["seq"] for r in _tenant_events(z) if got[0] <= r["seq"] <= got[-1]]
        assert_serves(z)
    finally:
        z.kill()


def test_pipelined_requests_on_one_connection(demo):
    """Many requests written at once on one connection: every one answered once, by id."""
    with Raw(demo.socket) as r:
        frames = b"".join(
            json.dumps({"jsonrpc": "2.0", "method": "ticket.list", "params": {"limit": 1}, "id": i}).encode() + b"\n"
            for i in range(300))
        r.send(frames)
        seen = [r.recv(timeout=20)["id"] for _ in range(300)]
        assert sorted(seen) == list(range(300))
    assert_serves(demo)


def test_error_kinds_are_stable(demo):
    """App errors carry a stable data.kind next to their code (DESIGN "Errors")."""
    with Raw(demo.socket) as r:
        r.request("auth.login", {"email": "ana@demo.zing", "password": "demo-agent"})
        rep = r.request("tenant.create", {"name": "nope"})     # an agent is no superadmin
        assert error_code(rep) == FORBIDDEN and rep["error"]["data"]["kind"] == "forbidden"
        rep = r.request("events.subscribe", {"topics": ["nonsense"]})
        assert error_code(rep) == INVALID and rep["error"]["data"]["kind"] == "invalid"
        rep = r.request("ticket.get", {"id": 424242})
        assert error_code(rep) == NOT_FOUND and rep["error"]["data"]["kind"] == "not_found"
        assert rep["error"]["data"]["id"] == 424242
    assert_serves(demo)

"""Cost bounds before login and JSON-RPC / HTTP edges (issue 11), through a real zingd: one
unauthenticated batch or ten clients that never read don't stall anyone else or grow the daemon;
deep nesting, odd ids and odd Authorization headers get clear answers; a burst of connects is
accepted, not refused."""

from __future__ import annotations

import json
import resource
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import Zingd, bootstrap
from tests.integration.support import INVALID_REQUEST, UNAUTHENTICATED, Raw, assert_serves, error_code
from zingd.rpc.client import SyncClient

DEPTH = 64  # RpcSettings.max_depth's default

# Run apart from the test (its own process and GIL): ten connections write rpc.discover requests
# (~140 KB answers) as fast as zingd reads them and never read; one more sends a batch of 18,000
# rpc.discover (1 MB, under the frame limit) again and again, reading each answer. Prints "ready"
# once every writer has been made to wait by zingd and a batch is in; runs until stdin closes,
# then prints what it saw.
ATTACK = r"""
import json, select, socket, sys, threading

path = sys.argv[1]
frames = b"".join(json.dumps({"jsonrpc": "2.0", "method": "rpc.discover", "id": i}).encode() + b"\n"
                  for i in range(1000))
batch = json.dumps([{"jsonrpc": "2.0", "method": "rpc.discover", "id": i} for i in range(18000)],
                   separators=(",", ":")).encode() + b"\n"
assert len(batch) < 1 << 20
writers = []
for _ in range(10):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.setblocking(False)
    writers.append(s)
offset = {s: 0 for s in writers}
waited = set()
batches_in = []
answers = []

def batches():
    while True:
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(batch)
        batches_in.append(1)
        data = b""
        while not data.endswith(b"\n"):
            chunk = c.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        c.close()
        answers.append(json.loads(data))

threading.Thread(target=batches, daemon=True).start()
ready = False
while True:
    readable, writable, _ = select.select([sys.stdin], writers, [], 0.05)
    if readable and not sys.stdin.readline():
        break
    for s in writable:
        try:
            while True:
                n = s.send(frames[offset[s]:])
                offset[s] = (offset[s] + n) % len(frames)
        except BlockingIOError:
            waited.add(s)
    if not ready and len(waited) == len(writers) and batches_in:
        ready = True
        print("ready", flush=True)
errors = [a.get("error", {}).get("data") if isinstance(a, dict) else "a list" for a in answers[:3]]
print(json.dumps({"writers_held": len(waited), "batches": len(answers), "answers": errors}), flush=True)
"""


def status(pid: int, key: str) -> int:
    """A /proc/<pid>/status figure in MB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def hello_latencies(z: Zingd, count: int) -> list[float]:
    with SyncClient(z.socket, timeout=30) as c:
        out = []
        for _ in range(count):
            t0 = time.perf_counter()
            c.call("rpc.hello")
            out.append(time.perf_counter() - t0)
        return out


def stalled_share(latencies: list[float], bound: float) -> float:
    """Of the time spent, the share a hello sent at a random moment would wait past ``bound``:
    back-to-back samples alone hide a long stall (it is one sample however long it lasts)."""
    return sum(max(0.0, t - bound) for t in latencies) / sum(latencies)


def test_a_huge_batch_and_ten_clients_that_never_read_stall_nobody_and_cost_little(zingd):
    pid = zingd.proc.pid
    with zingd.client() as c:
        c.call("rpc.discover")
    # The same client on the same machine before the attack: on a shared, loaded machine other
    # work stalls it too, and only what the attack adds to that is zingd's to answer for.
    quiet = sorted(hello_latencies(zingd, 3000))
    before = status(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM from here: the peak while attacked
    attack = subprocess.Popen([sys.executable, "-c", ATTACK, str(zingd.socket)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        going, _, _ = select.select([attack.stdout], [], [], 60)
        assert going and attack.stdout.readline().strip() == "ready", "the attack never got going"
        latencies = sorted(hello_latencies(zingd, 3000))
        peak = status(pid, "VmHWM")
    finally:
        report, _ = attack.communicate("", timeout=30)
    p99, quiet_p99 = (x[int(len(x) * 0.99)] for x in (latencies, quiet))
    assert p99 < max(0.05, 3 * quiet_p99), f"rpc.hello p99 {p99 * 1000:.1f} ms under attack " \
                                           f"({quiet_p99 * 1000:.1f} ms before it)"
    share, quiet_share = stalled_share(latencies, 0.05), stalled_share(quiet, 0.05)
    assert share < 0.01 + 2 * quiet_share, f"a hello at a random moment waited over 50 ms {share:.1%} of " \
                                           f"the time under attack ({quiet_share:.1%} before it)"
    assert peak - before < 50, f"zingd grew from {before} MB to a peak of {peak} MB"
    seen = json.loads(report)
    assert seen["writers_held"] == 10, seen  # zingd stopped reading each of them
    assert seen["batches"] >= 1 and seen["answers"][0] == {"kind": "batch_too_large", "limit": 100}, seen
    assert_serves(zingd)


def test_a_burst_of_2000_connects_is_accepted_and_served(tmp_path):
    n = 2000
    need = n + 200  # descriptors each side (this process and zingd, which inherits the limit)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    if somaxconn < n:
        pytest.skip(f"the kernel caps every listen backlog at net.core.somaxconn = {somaxconn}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    z = Zingd(tmp_path).start()
    socks: list[socket.socket] = []
    try:
        refused = 0
        for _ in range(n):  # as fast as connect() goes: the backlog takes what zingd hasn't accepted yet
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)  # a non-blocking connect underneath: a full backlog refuses at once
            try:
                s.connect(str(z.socket))
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        assert refused == 0, f"{refused} of {n} connects refused"
        for i, s in enumerate(socks):
            s.sendall(json.dumps({"jsonrpc": "2.0", "method": "rpc.hello", "id": i}).encode() + b"\n")
        served = 0
        for i, s in enumerate(socks):
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            served += json.loads(data)["id"] == i
        assert served == n
    finally:
        for s in socks:
            s.close()
        z.kill()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """One daemon with no users for the small cases (each checks it still serves)."""
    z = Zingd(tmp_path_factory.mktemp("bare")).start()
    yield z
    z.kill()


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("depth", [DEPTH, DEPTH + 1, 1000, 100_000])
def test_deep_nesting_is_answered_with_an_error_on_the_socket(bare, depth):
    """Frames nested ``depth`` deep, in params or as batches in batches: past the limit one too_deep
    error; up to it, the request is read (rpc.hello has no param x; a list is no request)."""
    with Raw(bare.socket) as r:
        for frame in (f'{{"jsonrpc": "2.0", "method": "rpc.hello", "id": 1, "params": {{"x": {nested(depth - 2)}}}}}',
                      "[" * (depth - 1) + '{"jsonrpc": "2.0", "method": "rpc.hello", "id": 1}' + "]" * (depth - 1)):
            r.send(frame.encode() + b"\n")
            rep = r.recv(timeout=10)
            if depth <= DEPTH:
                assert "too_deep" not in json.dumps(rep), rep
            else:
                assert error_code(rep) == INVALID_REQUEST and rep["id"] is None, rep
                assert rep["error"]["data"] == {"kind": "too_deep", "limit": DEPTH}, rep
        assert r.call("rpc.hello")["name"] == "zingd"
    assert_serves(bare)


@pytest.mark.parametrize("rid", [1.5, -2.25, 0, 10**20, "x", None])
def test_ids_are_strings_numbers_or_null(bare, rid):
    with Raw(bare.socket) as r:
        r.send_json({"jsonrpc": "2.0", "method": "rpc.hello", "id": rid})
        rep = r.recv(timeout=5)
        assert rep["id"] == rid and rep["result"]["name"] == "zingd", rep


@pytest.mark.parametrize("rid", [True, False, {"a": 1}, [1]], ids=["true", "false", "object", "array"])
def test_other_ids_are_refused_with_a_null_id(bare, rid):
    with Raw(bare.socket) as r:
        r.send_json({"jsonrpc": "2.0", "method": "rpc.hello", "id": rid})
        rep = r.recv(timeout=5)
        assert error_code(rep) == INVALID_REQUEST and rep["id"] is None, rep
        r.send_json([{"jsonrpc": "2.0", "method": "rpc.hello", "id": rid}])  # in a batch too
        [rep] = r.recv(timeout=5)
        assert error_code(rep) == INVALID_REQUEST and rep["id"] is None, rep


# -- HTTP --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def http_zingd(tmp_path_factory):
    """A daemon with HTTP on, its superadmin's session token and an API token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    z = Zingd(tmp_path_factory.mktemp("http"), env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)})
    z.start()
    z.base = f"http://127.0.0.1:{port}"
    z.session = bootstrap(z)
    with z.client(z.session) as c:
        z.api = c.call("token.create", {"name": "crm"})["token"]
    yield z
    z.kill()


def post(z: Zingd, method: str, body: bytes, authorization: bytes | None) -> tuple[int, dict]:
    """A raw HTTP/1.1 POST, so the header can carry bytes no HTTP library would send."""
    host, port = z.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        head = (f"POST /api/v1/{method} HTTP/1.1\r\nHost: zing\r\nContent-Length: {len(body)}\r\n"
                "Content-Type: application/json\r\nConnection: close\r\n").encode()
        if authorization is not None:
            head += b"Authorization: " + authorization + b"\r\n"
        s.sendall(head + b"\r\n" + body)
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("route", ["rpc.hello", "media?name=note.txt"])  # a method, and the upload
def test_http_takes_api_tokens_only_and_a_garbled_header_is_401(http_zingd, route):
    session, api = http_zingd.session, http_zingd.api
    assert post(http_zingd, route, b"{}", b"Bearer " + api.encode())[0] == 200
    for header in (b"Bearer " + session.encode(),          # a session token from auth.login
                   b"Bearer \xff\xfe" + api.encode()[2:],   # not UTF-8
                   b"Bearer za_\xc3(",                        # a cut UTF-8 sequence
                   b"\xff",
                   b"Basic " + api.encode(),
                   b"Bearer",
                   None):
        code, body = post(http_zingd, route, b"{}", header)
        assert code == 401 and body["error"]["code"] == UNAUTHENTICATED, (header, code, body)
    assert_serves(http_zingd)


@pytest.mark.parametrize("levels", [DEPTH + 1, 100_000])
def test_deep_nesting_is_answered_with_an_error_over_http(http_zingd, levels):
    api = http_zingd.api
    code, body = post(http_zingd, "rpc.hello", f'{{"x": {nested(levels - 1)}}}'.encode(), b"Bearer " + api.encode())
    assert code == 400 and body["error"]["data"] == {"kind": "too_deep", "limit": DEPTH}, (code, body)
    # at the limit it reaches the method, which has no param x
    code, body = post(http_zingd, "rpc.hello", f'{{"x": {nested(DEPTH - 1)}}}'.encode(), b"Bearer " + api.encode())
    assert code == 422 and body["error"]["data"]["kind"] == "invalid_params", (code, body)
    try:
        with urllib.request.urlopen(f"{http_zingd.base}/health", timeout=10) as resp:
            assert resp.status == 200
    except urllib.error.HTTPError as e:
        pytest.fail(f"/health answered {e.code} after a deep body")

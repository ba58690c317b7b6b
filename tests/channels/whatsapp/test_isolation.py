"""Many numbers in one process on neonize's real binary, offline: no Go crash, no fd per attempt,
and a zingd with a connection stuck dialling still exits at once on SIGTERM.

The fleet runs in its own process (``fleet.py``): a Go fatal error ends the process.
Without the process-wide gate (``--ungated``) the same fleet crashed 2 of 6 runs of
32 channels × 20 outages with ``fatal error: concurrent map writes``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.channels.whatsapp.proxies import Proxy
from tests.helpers import Zingd, wait_for


def fleet(*args: str, timeout: float = 120) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.channels.whatsapp.fleet", *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("run", range(3))
def test_32_numbers_through_20_outages_do_not_crash(run):
    """Every attempt is a real session call, all numbers at once (a proxy that hangs up)."""
    figures = fleet("--channels", "32", "--outages", "20", "--mode", "close", "--tcp-dial")
    assert figures["attempts"] >= 32 * 20


@pytest.mark.parametrize("mode", ["refuse", "close"])
def test_300_reconnect_attempts_of_one_number_cost_no_fd(mode):
    """Refused by the network, or a proxy up with WhatsApp down behind it: no session call, no fd."""
    figures = fleet("--channels", "1", "--outages", "300", "--warmup", "5", "--mode", mode)
    assert figures["attempts"] >= 300
    assert figures["after"]["fds"] == figures["warm"]["fds"]
    assert figures["after"]["rss_kb"] - figures["warm"]["rss_kb"] < 4096


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~100 s a run on 2 busy cores; the fleet's own limit is 600 s
@pytest.mark.parametrize("run", range(40))
def test_200_numbers_through_20_outages_do_not_crash(run):
    figures = fleet("--channels", "200", "--outages", "20", "--mode", "close", "--tcp-dial", "--delay", "0.05",
                    timeout=600)
    print(json.dumps(figures))
    assert figures["attempts"] >= 200 * 20


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["refuse", "close"])
def test_300_reconnect_attempts_of_200_numbers_cost_no_fd(mode):
    figures = fleet("--channels", "200", "--outages", "300", "--warmup", "5", "--mode", mode,
                    "--delay", "0.01", timeout=600)
    print(json.dumps(figures))
    # 60,000 attempts: a dial or two in flight at the reading, never one fd per attempt
    assert figures["after"]["fds"] - figures["warm"]["fds"] < 20


def test_zingd_exits_within_5s_of_sigterm_with_a_pairing_stuck_dialling(tmp_path):
    hole = Proxy("tls", then="hang")  # zing's dial gets through; whatsmeow's, right after, hangs
    z = Zingd(tmp_path, env={"HTTPS_PROXY": hole.url}).start()
    try:
        admin = z.client()
        admin.call("auth.bootstrap", {"email": "boss@acme.test", "password": "boss-pass1", "tenant": "Acme"})
        number = admin.call("connection.create", {"name": "Main", "kind": "whatsapp"})
        admin.call("connection.pair", {"id": number["id"]})
        # zing's own reachability dial, then whatsmeow's: the session call is now inside Go, dialling.
        wait_for(lambda: len(hole.accepted) >= 2, timeout=30)
        admin.close()
        started = time.monotonic()
        z.proc.send_signal(signal.SIGTERM)
        code = z.proc.wait(10)
        assert (code, time.monotonic() - started < 5) == (0, True), z.log.read_text()[-3000:]
    finally:
        z.kill()
        hole.close()

"""zingctl as scripts run it: a real process, its exit codes, stdin, and a live event tail."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from tests.cli.conftest import ZINGCTL, run_zingctl


def test_exit_3_when_no_daemon_answers(tmp_path):
    gone = tmp_path / "nobody.sock"
    result = run_zingctl("--socket", str(gone), "tickets", "list")
    assert result.returncode == 3 and result.stdout == ""
    assert str(gone) in result.stderr and "is zingd running?" in result.stderr
    by_env = subprocess.run([str(ZINGCTL), "status", "--json"], capture_output=True, text=True, timeout=20,
                            env={**os.environ, "ZING_SOCKET": str(gone)})
    assert by_env.returncode == 3 and json.loads(by_env.stderr)["error"]["kind"] == "unreachable"


def test_exit_2_on_bad_usage(demo_d):
    assert run_zingctl("--socket", str(demo_d.socket), "tickets", "accept", "not-a-number").returncode == 2
    assert run_zingctl("no-such-command").returncode == 2


def test_exit_1_on_a_daemon_error(demo_d):
    result = run_zingctl("--socket", str(demo_d.socket), "tickets", "show", "424242")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: no ticket 424242") and "[not_found]" in result.stderr


def test_stdin_for_send_and_rpc(demo_d):
    sock = ["--socket", str(demo_d.socket)]
    with demo_d.client() as c:
        c.call("sim.say", {"from": "5511900000100", "body": "via pipe"})
        [t] = [t for t in c.call("ticket.list", {"status": "pending"})["tickets"]
               if t["contact_number"] == "5511900000100"]
        c.call("ticket.accept", {"id": t["id"]})
    sent = run_zingctl(*sock, "messages", "send", str(t["id"]), "-", "--json", input="resposta\nem duas linhas\n")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["body"] == "resposta\nem duas linhas"
    listed = run_zingctl(*sock, "rpc", "message.list", "-", input=json.dumps({"ticket_id": t["id"]}))
    assert listed.returncode == 0, listed.stderr
    assert "resposta\nem duas linhas" in [m["body"] for m in json.loads(listed.stdout)["messages"]]


class Tail:
    """`zingctl events ...` as a live process; its stdout lines arrive on a queue, so reading never hangs."""

    def __init__(self, socket, *args: str) -> None:
        # PYTHONFAULTHANDLER: a process that hangs is aborted with every thread's stack on stderr (exits).
        # SIGINT as at a terminal: a suite started in the background (`make test &` from a script) runs with
        # SIGINT ignored, a child inherits that, and Python then installs no KeyboardInterrupt for Ctrl-C.
        self.proc = subprocess.Popen([str(ZINGCTL), "--socket", str(socket), "events", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def read_until(self, wanted: str, timeout: float = 60) -> list[str]:
        """Lines up to the first that contains ``wanted``. The bound is generous on purpose: on a
        shared, loaded machine a fresh zingctl can take many seconds to import and subscribe."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while wanted not in (got[-1] if got else ""):
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"{wanted!r} not seen; got {got!r}; stderr {self.proc.stderr.read()!r}") from None
        return got

    def exits(self, timeout: float = 60) -> int:
        """Its exit code; a process still running then is aborted, and the failure shows where it hung."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(10)
            raise AssertionError(f"still running {timeout:g}s later; where: {self.proc.stderr.read()}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tail(demo_d):
    tails: list[Tail] = []

    def start(*args: str) -> Tail:
        tails.append(Tail(demo_d.socket, *args))
        return tails[-1]
    yield start
    for t in tails:
        t.stop()


def test_events_tail_prints_a_sim_message_and_exits_0_on_ctrl_c(demo_d, tail):
    with demo_d.client() as c:
        seq = c.call("daemon.status")["event_seq"]  # --since: nothing is missed however slow the start
    jsonl = tail("--jsonl", "--since", str(seq), "--type", "message.*")
    rich = tail("--since", str(seq))
    with demo_d.client() as c:
        c.call("sim.say", {"from": "5511900000200", "body": "tail me"})

    lines = jsonl.read_until("tail me")
    events = [json.loads(line) for line in lines]
    assert all(e["type"].startswith("message.") and e["seq"] > seq for e in events)
    assert events[-1]["type"] == "message.created" and events[-1]["data"]["message"]["body"] == "tail me"

    lines = rich.read_until("tail me")
    assert any("ticket.created" in line for line in lines) and "message.created" in lines[-1]
    assert "←" in lines[-1]

    for t in (jsonl, rich):
        t.proc.send_signal(signal.SIGINT)
        assert t.exits(60) == 0, t.proc.stderr.read()
    assert "following events" in rich.proc.stderr.read()

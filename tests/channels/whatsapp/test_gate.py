"""The process-wide gate: writers alone, readers together, a stalled reader holds no one for long."""

from __future__ import annotations

import threading
import time

from tests.helpers import wait_for
from zingd.channels.whatsapp import gate as gate_module
from zingd.channels.whatsapp.gate import GoGate


def in_thread(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def test_a_writer_waits_for_readers_and_keeps_new_ones_out():
    gate, log, leave = GoGate(), [], threading.Event()

    def reader(name):
        with gate.shared():
            log.append(f"{name} in")
            leave.wait(5)

    in_thread(lambda: reader("r1"))
    in_thread(lambda: reader("r2"))
    wait_for(lambda: len(log) == 2)  # readers share it
    writer = in_thread(lambda: (gate.acquire(), log.append("w"), gate.release()))
    wait_for(lambda: gate._writers_waiting == 1)
    late = in_thread(lambda: reader("r3"))
    leave.set()
    writer.join(5), late.join(5)
    assert log[2:] == ["w", "r3 in"]


def test_a_stalled_reader_holds_a_writer_only_for_its_first_moments(monkeypatch):
    monkeypatch.setattr(gate_module, "SHARED_HOLD", 0.1)
    gate, stalled = GoGate(), threading.Event()
    in_thread(lambda: gate.shared().__enter__() or stalled.set())  # never leaves, like a download on a dead CDN
    wait_for(stalled.is_set)
    started = time.monotonic()
    with gate.alone():
        waited = time.monotonic() - started
    assert waited < 1

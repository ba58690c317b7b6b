"""Start a real zingd process on a temporary socket and data dir, for tests."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from zingd.rpc.client import DaemonUnreachable, SyncClient

# Fast receipts so tests don't wait; no random customers unless a test asks.
TEST_ENV = {
    "ZING_SIM__RANDOM_CUSTOMERS": "false",
    "ZING_SIM__DELIVERY_DELAY_S": "0.05",
    "ZING_SIM__READ_DELAY_S": "0.1",
    "ZING_OUTBOX__BACKOFF_BASE_S": "0.05",
    "ZING_LOG_LEVEL": "WARNING",
}


_started: list[subprocess.Popen] = []


@atexit.register
def _kill_leftovers() -> None:
    """A daemon a test forgot to stop dies with the test process, not minutes later on a shared CI box."""
    for proc in _started:
        if proc.poll() is None:
            proc.kill()


class Zingd:
    """One daemon process; ``kill()`` is SIGKILL, ``stop()`` is a clean SIGTERM."""

    def __init__(self, root: Path, demo: bool = False, env: dict[str, str] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        self.socket = root / "zingd.sock"
        self.demo = demo
        self.env = {**os.environ, **TEST_ENV, **(env or {})}
        self.env.pop("ZING_SOCKET", None)
        self.env.pop("ZING_DATA_DIR", None)
        self.proc: subprocess.Popen | None = None
        self.log = root / "zingd.log"

    def start(self, timeout: float = 20.0) -> Zingd:
        args = [sys.executable, "-m", "zingd", "--data-dir", str(self.data_dir), "--socket", str(self.socket)]
        if self.demo:
            args.append("--demo")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        _started.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zingd exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with SyncClient(self.socket, timeout=2) as c:
                    c.call("rpc.hello")
                return self
            except (DaemonUnreachable, ConnectionError, OSError):
                time.sleep(0.05)
        raise TimeoutError(f"zingd did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def client(self, token: str | None = None) -> SyncClient:
        return SyncClient(self.socket, token=token)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> Zingd:
        self.stop()
        return self.start()


def bootstrap(z: Zingd, email: str = "root@example.com", password: str = "rootpass1",
              tenant: str = "Acme") -> str:
    """Create the superadmin (not linked to the OS user) and return a session token."""
    with z.client() as c:
        c.call("auth.bootstrap", {"email": email, "password": password, "tenant": tenant, "link_os_user": False})
        return c.call("auth.login", {"email": email, "password": password})["token"]


async def until(predicate, timeout: float = 10.0, what: str = "condition", pause=None):
    """Yield to the event loop until predicate() is truthy; return its value (the async twin of
    ``wait_for``). ``pause`` is how to yield: ``asyncio.sleep``, or a Textual ``pilot.pause``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await (pause or asyncio.sleep)(0.01)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll until predicate() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)

"""Remote consoles: the console served to a real headless Chromium (``zingtui --serve``) and a
console over an SSH-forwarded socket, against a real zingd.

The tests that need system packages (Debian's ``chromium``, ``openssh-server``; ``scripts/
remote-test-setup.sh`` installs them) carry the ``remote`` marker and run only when ``-m`` names it
(``make remote``); ``make test`` deselects them. Where a package is missing they skip, saying why.
The rest of this folder (who a served console is, its throttles and bounds) runs in ``make test``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import Zingd
from tests.tui.conftest import Desk


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "remote: needs chromium / openssh-server (run with `make remote`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the marked tests unless the run's -m expression names them (``make test`` doesn't)."""
    if "remote" in (config.getoption("markexpr") or ""):
        return
    mine = [item for item in items if item.get_closest_marker("remote")]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if not item.get_closest_marker("remote")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``zingtui --serve`` (as ``python -m zingtui.serve``) on a free port of 127.0.0.1."""

    def __init__(self, z: Zingd, root: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = root / "serve.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zingtui.serve", "--socket", str(z.socket), "--port", str(self.port), *extra],
                stdout=log, stderr=subprocess.STDOUT, env=z.env)

    def wait(self, timeout: float = 30.0) -> Served:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zingtui --serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def served(demo: Zingd, tmp_path):
    s = Served(demo, tmp_path).wait()
    yield s
    s.stop()


@pytest.fixture
def desk(demo: Zingd):
    """Demo Co's admin (linked to this OS user) on the customers' side, calls run off the event loop."""
    with demo.client() as c:
        yield Desk(demo, c)

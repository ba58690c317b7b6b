"""zingctl against real daemons: one demo daemon and one empty daemon per test module.

Every test gets its own config dir (so its own credentials file) and the keyring's
fail backend, as on a headless host: the 0600 file is what gets exercised.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import Zingd
from zingctl.main import app

ZINGCTL = Path(sys.executable).with_name("zingctl")
FAIL_KEYRING = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True)
def cli_env(tmp_path, monkeypatch):
    """A private config dir and no keyring backend; no token or socket leaking in from the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_KEYRING)
    for name in ("ZING_TOKEN", "ZING_SOCKET", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config"


@pytest.fixture(scope="module")
def demo_d(tmp_path_factory):
    """Demo Co, its admin linked to this OS user; shared by a module's tests."""
    z = Zingd(tmp_path_factory.mktemp("demo"), demo=True).start()
    yield z
    z.kill()


class Cli:
    """Runs zingctl in-process against one socket."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int = 0):
        result = self.runner.invoke(app, ["--socket", str(self.socket), *args], input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str, input: str | None = None):
        return json.loads(self(*args, "--json", input=input).stdout)

    def jsonl(self, *args: str) -> list:
        return [json.loads(line) for line in self(*args, "--jsonl").stdout.splitlines()]


@pytest.fixture(scope="module")
def cli(demo_d) -> Cli:
    return Cli(demo_d.socket)


def run_zingctl(*args: str, input: str | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    """zingctl as a real process, as scripts run it."""
    return subprocess.run([str(ZINGCTL), *args], input=input, capture_output=True, text=True, timeout=timeout)

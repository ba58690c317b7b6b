from __future__ import annotations

import os
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from tests.helpers import Zingd, bootstrap
from tests.integration.desk import make_desk

# Where zing finds its config, token file, drafts and default socket, and who it logs in as: tests run
# in parallel (pytest-xdist), so none of this may come from, or go to, a place another test shares.
XDG_DIRS = {"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_STATE_HOME": "state", "XDG_DATA_HOME": "data",
            "XDG_CACHE_HOME": "cache", "XDG_RUNTIME_DIR": "run"}
LOCATION_ENV = ("ZING_SOCKET", "ZING_TOKEN", "ZING_CONFIG", "ZING_DATA_DIR", "ZING_PASSWORD")
# zingctl sizes its tables by COLUMNS; an xdist worker imports readline, which exports COLUMNS=80
# and LINES=24, so a test's output would depend on which runner it ran under.
TERMINAL_ENV = ("COLUMNS", "LINES")
FAIL_KEYRING = "keyring.backends.fail.Keyring"


def private_home(mp: pytest.MonkeyPatch, root: Path) -> None:
    """HOME and the XDG dirs under root, the keyring of a headless host (so tokens go to the 0600
    file under root), no socket, token or config named by the environment, and no terminal size
    (zingctl prints as into a pipe). Processes a test starts (zingd, zingctl, zingtui) inherit it."""
    for name, sub in XDG_DIRS.items():
        (root / sub).mkdir(mode=0o700)
        mp.setenv(name, str(root / sub))
    mp.setenv("PYTHON_KEYRING_BACKEND", FAIL_KEYRING)
    for name in LOCATION_ENV + TERMINAL_ENV:
        mp.delenv(name, raising=False)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; `-p no:xdist` runs without it
def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (``make test``): a worker per core, at most 4. Every test drives real processes
    (zingd, often a console), and the waits in tests are sized for a 2-core machine at 2 workers."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    return max(1, min(len(os.sched_getaffinity(0)), 4))


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory):
    """For daemons that module-scoped fixtures start before any test's own home exists."""
    with pytest.MonkeyPatch.context() as mp:
        private_home(mp, tmp_path_factory.mktemp("session-home"))
        yield


@pytest.fixture(autouse=True)
def test_home(tmp_path_factory, monkeypatch):
    """Each test its own home (beside tmp_path, which stays the test's own to list), and the
    headless keyring set again in this process: keyring keeps its first pick, and once imported a
    test module's KeyringBackend subclass (tests/cli/test_units.py) outranks the fail backend."""
    private_home(monkeypatch, tmp_path_factory.mktemp("home"))
    keyring.set_keyring(keyring.backends.fail.Keyring())


@pytest.fixture
def zingd(tmp_path):
    """A fresh daemon with no users (peer-uid login links nobody)."""
    z = Zingd(tmp_path).start()
    yield z
    z.kill()


@pytest.fixture
def demo(tmp_path):
    """A daemon seeded with Demo Co; its admin is linked to this OS user, so clients need no login."""
    z = Zingd(tmp_path, demo=True).start()
    yield z
    z.kill()


@pytest.fixture
def root_token(zingd) -> str:
    return bootstrap(zingd)


@pytest.fixture
def desk(tmp_path):
    """A small company on a fresh daemon (tests.integration.desk); test modules may override it."""
    d = make_desk(tmp_path)
    yield d
    d.close()
    d.z.kill()

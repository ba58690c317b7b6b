from __future__ import annotations

import pytest

from tests.helpers import Zingd, bootstrap
from tests.integration.desk import make_desk


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

"""Fixtures: a rig per test (``rig``), or several with their own timings (``make_rig``)."""

from __future__ import annotations

import pytest

from tests.channels.whatsapp.rig import FAST, Rig
from zingd.channels.whatsapp.channel import Timings


@pytest.fixture
async def make_rig(tmp_path):
    rigs: list[Rig] = []

    def make(timings: Timings = FAST, connect_errors: int = 0) -> Rig:
        rigs.append(Rig(tmp_path, timings, connect_errors))
        return rigs[-1]

    yield make
    for made in rigs:
        await made.channel.stop()


@pytest.fixture
async def rig(make_rig):
    return make_rig()


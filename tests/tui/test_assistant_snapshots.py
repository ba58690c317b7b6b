"""A snapshot of the copilot's rewrite dialog over the conversation, from fixed data (tests/tui/fakes.py)
with a daemon that offers the copilot, at a frozen clock.

Update after an intended change: pytest tests/tui/test_assistant_snapshots.py --snapshot-update
"""

from __future__ import annotations


import pytest

from tests.tui import fakes
from tests.tui.conftest import fake_console, until
from tests.tui.test_snapshots import open_ticket, steady
from zingtui.screens.copilot import RewriteDialog

COPILOT = ["assistant.status", "copilot.suggest", "copilot.rewrite", "copilot.summarize", "copilot.tags"]


class WithCopilot(fakes.FakeClient):
    """The fixed daemon, with the company's assistant on."""

    def _answer(self, method, p):
        if method == "rpc.discover":
            return {"methods": [{"name": m} for m in [*fakes.METHODS, *COPILOT]]}
        if method == "assistant.status":
            return {"chat": True, "transcription": False, "embeddings": False, "bot": False, "reason": ""}
        return super()._answer(method, p)


pytestmark = pytest.mark.usefixtures("utc")  # tests/tui/conftest.py



def test_rewrite_dialog(snap_compare, tmp_path):
    async def run_before(pilot):
        main = await open_ticket(pilot)
        await pilot.press("r", *"pls espera q to vendo o pedido", "ctrl+r")
        await until(pilot, lambda: isinstance(pilot.app.screen, RewriteDialog))
        await steady(pilot)
        assert main.directory.assistant.chat

    assert snap_compare(fake_console(tmp_path, client_factory=WithCopilot), terminal_size=(80, 24),
                        run_before=run_before)

"""An unconfirmed message in the console: shown as such, resent only after a confirmation (issue 12, item 7)."""

from __future__ import annotations

from tests.tui.conftest import console, plain, until
from tests.tui.test_features import ANA_SOUZA, accepted, select
from zingtui.screens.dialogs import ResendDialog


async def test_an_unconfirmed_message_resends_only_after_the_agent_confirms(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        await until(pilot, lambda: [b.item.get("ack") for b in main.chat._order
                                    if b.item.get("direction") == "out"] == ["read"], what="the menu sent and read")
        await desk.call("sim.fault", {"lose_answers": 1})  # the next send, the agent's, loses its answer
        await pilot.press(*"chegou?", "enter")
        lines = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("ack") == "unconfirmed"],
                            timeout=15, what="the unconfirmed line")
        text = plain(lines[0])
        assert "?" in text and "may not have arrived" in text and "y resends" in text, text
        await select(pilot, main.chat, lambda item: item.get("ack") == "unconfirmed")
        await pilot.press("y")
        assert isinstance(app.screen, ResendDialog)
        await pilot.press("escape")  # changed their mind: nothing is sent
        assert not isinstance(app.screen, ResendDialog) and lines[0].item["ack"] == "unconfirmed"
        await pilot.press("y")
        await pilot.press("enter")
        await until(pilot, lambda: lines[0].item["ack"] == "sent", timeout=15, what="sent after the resend")
        journal = await desk.call("sim.journal")
        assert journal["duplicate_sends"] == 1, journal  # the second send, as the agent asked


async def test_a_file_that_failed_to_download_is_fetched_again_with_y(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        await desk.call("sim.fault", {"failed_downloads": 1})
        await desk.call("sim.say", {"from": ANA_SOUZA, "type": "image"})
        [bubble] = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("media_error")],
                               what="the photo that did not download")
        assert "y fetches again" in plain(bubble)
        await select(pilot, main.chat, lambda item: bool(item.get("media_error")))
        await pilot.press("y")
        await until(pilot, lambda: bubble.item.get("media_path") and not bubble.item.get("media_error"),
                    what="the file on the message, from message.updated")
        assert "⏎ open" in plain(bubble)

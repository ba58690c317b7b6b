"""What the console shows of WhatsApp's own data, against a real zingd: a message's WhatsApp time
and the mark of one received while offline, voice notes, missed calls, and the advice for a
locked or banned number."""

from __future__ import annotations

import time

from tests.tui.conftest import console, plain, row_of, until
from zingtui.screens.connections import ConnectionsScreen
from zingtui.widgets.conversation.chat import Bubble, sent_label, voice_line

CUSTOMER = "5511999990001"


def bubbles(app) -> dict[str, str]:
    """Each message bubble's text, by the message's body (or type)."""
    return {b.item.get("body") or b.item["type"]: plain(b) for b in app.main_screen.chat.query(Bubble)}


async def test_backlog_shows_whatsapps_time_and_when_it_was_received(desk, tokens):
    sent = time.time() - 3 * 3600
    await desk.say(CUSTOMER, "escrevi de manhã", ts=sent)
    await desk.say(CUSTOMER, "e agora")
    async with console(desk.z, tokens) as (app, pilot):
        row = await until(pilot, lambda: row_of(app, CUSTOMER))
        app.main_screen.list.select(row["id"])
        shown = await until(pilot, lambda: len(bubbles(app)) >= 2 and bubbles(app))
        old, live = shown["escrevi de manhã"], shown["e agora"]
        received = app.main_screen.chat.find_message(
            next(m["id"] for m in app.main_screen.chat.messages() if m["body"] == "escrevi de manhã"))["created_at"]
        assert sent_label(sent, received) in old
        assert f"received {time.strftime('%H:%M', time.localtime(received))} · offline" in old
        assert "offline" not in live


async def test_voice_notes_and_missed_calls(desk, tokens):
    await desk.say(CUSTOMER, "", type="audio", seconds=42)
    await desk.say(CUSTOMER, "", call="video")
    async with console(desk.z, tokens) as (app, pilot):
        row = await until(pilot, lambda: row_of(app, CUSTOMER))
        app.main_screen.list.select(row["id"])
        shown = await until(pilot, lambda: len(bubbles(app)) >= 2 and bubbles(app))
        assert "🎤 0:42 ▁" in shown["audio"] and "█" in shown["audio"]
        assert "📹 missed video call" in shown


def test_plain_audio_has_no_waveform():
    assert voice_line({"media_seconds": 185, "media_waveform": None}) == "♪ 3:05"


async def test_the_numbers_screen_advises_on_a_banned_or_locked_number(desk, tokens):
    async with console(desk.z, tokens, credentials=None, size=(160, 50)) as (app, pilot):
        app.main_screen.list.focus()
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, ConnectionsScreen) and app.screen)
        numbers = screen.query_one("#numbers")
        assert "→" not in str(numbers.get_option_at_index(0).prompt)  # connected: nothing to advise
        await desk.call("sim.fault", {"ban_s": 30})
        banned = await until(pilot, lambda: "review" in str(numbers.get_option_at_index(0).prompt)
                             and str(numbers.get_option_at_index(0).prompt))
        assert "simulated temporary ban" in banned and "→ WhatsApp banned the number" in banned
        screen.daemon_event("connection.updated", {"id": 1, "status": "locked", "reason": "WhatsApp locked this "
                                                   "account (403)"})
        locked = str(numbers.get_option_at_index(0).prompt)
        assert "(403)" in locked and "→ WhatsApp locked the account" in locked and "unlock" in locked

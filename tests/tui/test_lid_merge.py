"""One person, two WhatsApp addresses, seen live in the console: a LID placeholder shows as
"LID …"; when WhatsApp maps it to the phone, its row leaves the queue, the conversation open on
it follows to the ticket it was joined into, and its contact panel becomes the person's, saying
why (against a real zingd)."""

from __future__ import annotations

from tests.tui.conftest import console, plain, row_of, until
from zingtui import format
from zingtui.screens.contact import ContactScreen

PHONE, LID = "5511977770042", "987654321012345"


async def test_a_placeholder_merging_moves_the_open_conversation(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(PHONE, "by phone")
        real = await until(pilot, lambda: row_of(app, PHONE), what="the phone's ticket")
        await desk.say(PHONE, "by my hidden id", lid=LID, hide_phone=True)
        ghost = await until(pilot, lambda: row_of(app, f"{LID}@lid"), what="the placeholder's ticket")
        assert format.contact_name(ghost) == f"LID {LID}"
        main.queue.tab = "closed"  # where the joined ticket lands: the list alone would keep it open there
        await until(pilot, lambda: main.queue.inbox.index["closed"].loaded, what="the closed tab")
        main.open(ghost)
        await until(pilot, lambda: main.conversation.shows(ghost["id"]), what="the placeholder open")

        await desk.say(PHONE, "WhatsApp knows me now", lid=LID)
        await until(pilot, lambda: main.conversation.shows(real["id"]), what="the conversation followed")
        assert main.conversation.ticket["contact_number"] == PHONE
        await until(pilot, lambda: main.queue.tab == "pending" and row_of(app, PHONE)
                    and row_of(app, f"{LID}@lid") is None, what="the list on the ticket's tab, one row left")
        assert row_of(app, PHONE)["id"] == real["id"]
        assert app.is_running


async def test_the_contact_panel_of_a_placeholder_becomes_the_person(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(PHONE, "by phone")
        await until(pilot, lambda: row_of(app, PHONE), what="the phone's ticket")
        await desk.say(PHONE, "by my hidden id", lid=LID, hide_phone=True)
        ghost = await until(pilot, lambda: row_of(app, f"{LID}@lid"), what="the placeholder's ticket")
        main.contact(ghost)
        panel = await until(pilot, lambda: isinstance(app.screen, ContactScreen) and app.screen, what="the panel")
        await until(pilot, lambda: f"LID {LID}" in plain(panel.query_one("#contact-info")), what="the LID shown")

        await desk.say(PHONE, "WhatsApp knows me now", lid=LID)
        info = await until(pilot, lambda: f"+{PHONE}" in (text := plain(panel.query_one("#contact-info"))) and text,
                           what="the panel showing the person")
        assert f"merged from LID {LID}, automatically: WhatsApp said LID {LID} is +{PHONE}" in info

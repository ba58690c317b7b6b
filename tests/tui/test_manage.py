"""The desk (d, or "My desk" in the palette): quick replies and one's own scheduled messages, and the
contact panel's wallet (o), each within what the role may do, through a real zingd."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import Checkbox, Footer, OptionList
from textual.widgets._footer import FooterKey

from tests.tui.conftest import ANA, BRUNO, console, from_palette, plain, toasts, until
from tests.tui.test_features import ANA_SOUZA, accepted
from zingtui.screens.contact import ContactScreen, WalletDialog
from zingtui.screens.manage import ConfirmDialog, ManageScreen, QuickReplyDialog


def lines(screen, selector: str) -> list[str]:
    view = screen.query_one(selector, OptionList)
    return [str(view.get_option_at_index(i).prompt) for i in range(view.option_count)]


async def open_desk(app, pilot) -> ManageScreen:
    app.main_screen.list.focus()
    await pilot.press("d")
    return await until(pilot, lambda: isinstance(app.screen, ManageScreen) and app.screen, what="the desk")


async def fill_reply(app, pilot, shortcut: str | None, body: str) -> QuickReplyDialog:
    dialog = await until(pilot, lambda: isinstance(app.screen, QuickReplyDialog) and app.screen, what="the form")
    box = dialog.query_one("#body")
    if shortcut is not None:
        await pilot.press(*shortcut, "enter")  # enter: on to the text
    elif not box.has_focus:
        await pilot.press("tab")
    box.load_text("")
    await pilot.press(*body)
    await pilot.press("ctrl+s")
    return dialog


def replies_of(client) -> dict[str, dict]:
    return {r["shortcut"]: r for r in client.call("quickreply.list", {})}


async def test_an_agent_keeps_personal_quick_replies_from_the_desk(desk, tokens):
    ana = await desk.as_agent(*ANA)
    await desk.quick_reply("horario", "Atendemos das 8h às 18h")  # everyone's: a supervisor's to change
    async with console(desk.z, tokens) as (app, pilot):
        screen = await open_desk(app, pilot)
        await until(pilot, lambda: any("/horario" in line for line in lines(screen, "#replies")), what="the list")
        await pilot.press("n")
        dialog = await fill_reply(app, pilot, "tchau", "Até logo, {{nome}}!")
        await until(pilot, lambda: any("{{nome}}" in t and "{{first_name}}" in t for t in toasts(app, "error")),
                    what="the refusal naming the known variables")
        assert app.screen is dialog and not dialog.query("#shared")  # kept open to fix; no sharing for agents
        await fill_reply(app, pilot, None, "Até logo, {{first_name}}!")
        await until(pilot, lambda: app.screen is screen and any("/tchau" in line for line in lines(screen, "#replies")),
                    what="saved and listed")
        mine = (await asyncio.to_thread(replies_of, ana))["tchau"]
        assert (mine["body"], mine["scope"]) == ("Até logo, {{first_name}}!", "personal")

        view = screen.query_one("#replies", OptionList)
        view.highlighted = next(i for i, line in enumerate(lines(screen, "#replies")) if "/tchau" in line)
        await pilot.press("e")
        await fill_reply(app, pilot, None, "Tchau, {{name}}")
        await until(pilot, lambda: app.screen is screen, what="edited")
        await until(pilot, lambda: replies_of(ana)["tchau"]["body"] == "Tchau, {{name}}", what="changed in zingd")

        view.highlighted = next(i for i, line in enumerate(lines(screen, "#replies")) if "/horario" in line)
        await pilot.press("e")
        await until(pilot, lambda: any("Only supervisors" in t for t in toasts(app, "warning")), what="the refusal")
        assert app.screen is screen

        view.highlighted = next(i for i, line in enumerate(lines(screen, "#replies")) if "/tchau" in line)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked first")
        await pilot.press("enter")
        await until(pilot, lambda: not any("/tchau" in line for line in lines(screen, "#replies")), what="deleted")
        assert set(await asyncio.to_thread(replies_of, ana)) == {"horario"}


async def test_a_supervisor_shares_a_quick_reply_from_the_desk(desk, tokens):
    async with console(desk.z, tokens, credentials=None) as (app, pilot):  # Demo Admin
        screen = await open_desk(app, pilot)
        await pilot.press("n")
        dialog = await until(pilot, lambda: isinstance(app.screen, QuickReplyDialog) and app.screen)
        dialog.query_one("#shared", Checkbox).value = True
        await fill_reply(app, pilot, "pix", "Nossa chave PIX: {{number}}")
        await until(pilot, lambda: any("/pix" in line and "everyone" in line for line in lines(screen, "#replies")),
                    what="listed as everyone's")
    bruno = await desk.as_agent(*BRUNO)
    assert (await asyncio.to_thread(replies_of, bruno))["pix"]["scope"] == "tenant"


async def test_the_desk_lists_and_cancels_ones_own_schedules(desk, tokens):
    ana = await desk.as_agent(*ANA)
    lia = await desk.call("contact.create", {"number": "5511977700011", "name": "Lia"})
    later = time.time() + 3600
    own = await asyncio.to_thread(ana.call, "schedule.create", {"contact_id": lia["id"], "body": "Lembrete da Ana",
                                                                "run_at": later})
    await desk.call("schedule.create", {"contact_id": lia["id"], "body": "Lembrete do admin", "run_at": later})
    async with console(desk.z, tokens) as (app, pilot):
        screen = await open_desk(app, pilot)
        await until(pilot, lambda: screen.schedules, what="the schedules")
        assert [s["id"] for s in screen.schedules] == [own["id"]]
        assert "Lia: Lembrete da Ana" in lines(screen, "#schedules")[0]
        await pilot.press("tab", "x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked first")
        await pilot.press("enter")
        await until(pilot, lambda: not screen.schedules, what="gone from the list")
    [row] = await asyncio.to_thread(ana.call, "schedule.list", {})
    assert (row["id"], row["status"]) == (own["id"], "cancelled")


async def test_the_palette_opens_the_desk(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        footer = app.main_screen.query_one(Footer)
        await until(pilot, lambda: ("d", "Desk") in [(k.key, k.description) for k in footer.query(FooterKey)],
                    what="d Desk in the footer")
        hit = await from_palette(app, pilot, "my desk")
        assert "My desk" in hit and "(d)" in hit
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ManageScreen), what="the desk")
        await pilot.press("escape")  # and back: the desk's own methods must not shadow how a screen leaves
        await until(pilot, lambda: app.screen is app.main_screen, what="back on the queue")
        assert app.is_running


async def wallet_of(desk, contact_id: int) -> int | None:
    return (await desk.call("contact.get", {"id": contact_id}))["owner_user_id"]


async def test_an_agent_puts_a_contact_in_their_wallet_and_takes_it_out(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        me, cid = app.session.me, ticket["contact_id"]
        await pilot.press("ctrl+o")
        panel = await until(pilot, lambda: isinstance(app.screen, ContactScreen) and app.screen, what="the panel")
        await pilot.press("o")
        dialog = await until(pilot, lambda: isinstance(app.screen, WalletDialog) and app.screen)
        assert [label for _, label in dialog.choices][1:] == ["Ana Agent"]  # only their own wallet
        await pilot.press("down", "enter")
        await until(pilot, lambda: "wallet: Ana Agent" in plain(panel.query_one("#contact-info")), what="shown")
        assert await wallet_of(desk, cid) == me
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, WalletDialog))
        await pilot.press("enter")  # nobody
        await until(pilot, lambda: "wallet:" not in plain(panel.query_one("#contact-info")), what="cleared")
        assert await wallet_of(desk, cid) is None

        bruno = next(u["id"] for u in await desk.call("user.list") if u["name"] == "Bruno Agent")
        await desk.call("contact.update", {"id": cid, "owner_user_id": bruno})
        await until(pilot, lambda: "wallet: Bruno Agent" in plain(panel.query_one("#contact-info")), what="live")
        await pilot.press("o")
        await until(pilot, lambda: any("only a supervisor" in t for t in toasts(app, "warning")), what="refused")
        assert app.screen is panel and await wallet_of(desk, cid) == bruno


async def test_a_supervisor_moves_a_contact_to_any_wallet(desk, tokens):
    await desk.say(ANA_SOUZA, "oi")
    async with console(desk.z, tokens, credentials=None) as (app, pilot):  # Demo Admin
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ContactScreen), what="the panel")
        await pilot.press("o")
        dialog = await until(pilot, lambda: isinstance(app.screen, WalletDialog) and app.screen)
        labels = [label for _, label in dialog.choices]
        assert {"Ana Agent", "Bruno Agent", "Demo Admin"} <= set(labels)
        await pilot.press(*["down"] * labels.index("Bruno Agent"), "enter")
        bruno = dict((label, uid) for uid, label in dialog.choices)["Bruno Agent"]
        await until(pilot, lambda: not isinstance(app.screen, WalletDialog), what="chosen")
        await until(pilot, lambda: "Contact saved" in toasts(app), what="saved")
        assert await wallet_of(desk, ticket["contact_id"]) == bruno

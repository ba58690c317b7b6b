"""Each console feature once, against a real zingd: chat, composer extras, panels, search, filters, status."""

from __future__ import annotations

from textual.command import CommandPalette

from tests.tui.conftest import console, plain, row_of, toasts, until
from zingtui.model import Filter
from zingtui.screens.campaigns import CampaignsScreen
from zingtui.screens.connections import ConnectionsScreen
from zingtui.screens.contact import ContactEditDialog, ContactScreen
from zingtui.screens.dialogs import AttachDialog, TagDialog
from zingtui.screens.search import SearchScreen
from zingtui.widgets.conversation.chat import DayRule
from zingtui.widgets.statusbar import StatusBar

ANA_SOUZA, BRUNO_LIMA = "5511999990001", "5511999990002"


async def accepted(app, pilot, desk, number: str, text: str = "oi") -> dict:
    """A customer writes and Ana takes the ticket; the composer has the focus."""
    await desk.say(number, text)
    row = await until(pilot, lambda: row_of(app, number), what=f"ticket of {number}")
    app.main_screen.list.select(row["id"])
    app.main_screen.list.focus()
    await pilot.press("a")
    return await until(pilot, lambda: app.main_screen.current["status"] == "open" and app.main_screen.current)


async def select(pilot, chat, wanted) -> None:
    """Focus the chat and move the selection up to the first message that is wanted."""
    chat.focus()
    await pilot.pause()
    for _ in range(100):
        if chat.selected_item is not None and wanted(chat.selected_item):
            return
        await pilot.press("up")
    raise AssertionError(f"no such message; selected {chat.selected_item}")


async def test_new_pending_tickets_ring_once_per_burst(desk, tokens):
    async with console(desk.z, tokens, alerts=True) as (app, pilot):
        rings = []
        app.bell = lambda: rings.append(1)
        for number in (ANA_SOUZA, BRUNO_LIMA):
            await desk.say(number, "oi")
        await until(pilot, lambda: toasts(app), what="a notification")
        queue = app.main_screen.queue
        await until(pilot, lambda: row_of(app, ANA_SOUZA) and row_of(app, BRUNO_LIMA) and not queue.alerting,
                    what="both tickets in, no burst left to ring for")
        assert len(rings) == 1
        assert "Ana Souza" in toasts(app)[0]
        tabs = app.main_screen.query_one("#tabs")
        await until(pilot, lambda: tabs.badges[0].count == 2 and tabs.badges[0].unread == 2, what="the badge")


async def test_history_pages_as_the_agent_scrolls_up(desk, tokens):
    for i in range(60):
        await desk.say(ANA_SOUZA, f"mensagem {i:02d}")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        row = await until(pilot, lambda: row_of(app, ANA_SOUZA))
        main.list.select(row["id"])
        await until(pilot, lambda: main.chat.ticket_id == row["id"] and main.chat.more, what="first page")
        first_page = len(main.chat.messages())
        assert first_page == 50
        main.chat.focus()
        main.chat.scroll_home(animate=False)
        await until(pilot, lambda: len(main.chat.messages()) > first_page, what="an older page")
        bodies = [m["body"] for m in main.chat.messages()]
        assert bodies.index("mensagem 00") < bodies.index("mensagem 59")
        assert len({m["id"] for m in main.chat.messages()}) == len(bodies)
        assert isinstance(main.chat.children[0], DayRule)


async def test_quote_note_signature_and_typing(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        calls = []
        real_call = app.call

        async def spy(method, params=None, **kw):
            calls.append((method, params))
            return await real_call(method, params, **kw)
        app.call = spy
        await accepted(app, pilot, desk, ANA_SOUZA, "meu pedido 123 atrasou")
        await until(pilot, lambda: main.chat.messages(), what="the chat")
        await select(pilot, main.chat, lambda item: item.get("body") == "meu pedido 123 atrasou")
        await pilot.press("r")
        assert main.composer.quoted["body"] == "meu pedido 123 atrasou" and main.composer.input.has_focus
        await pilot.press("ctrl+b", *"vou verificar", "enter")
        sent = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("quoted_id")], what="the reply")
        assert "┃ Ana Souza: meu pedido 123 atrasou" in plain(sent[0])
        send = next(p for m, p in calls if m == "message.send")
        assert send["signature"] is True and send["quoted_id"]
        assert any(m == "message.typing" and p["composing"] for m, p in calls)

        await pilot.press("ctrl+n", *"cliente pediu retorno amanhã", "enter")
        note = await until(pilot, lambda: [b for b in main.chat._order if b.has_class("-note")], what="the note")
        assert "✎ note" in plain(note[0]) and "cliente pediu retorno" in plain(note[0])
        assert not main.composer.note


async def test_attach_a_file_by_path_with_completion(desk, tokens, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "invoice-42.pdf").write_bytes(b"%PDF-1.4 fake")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, AttachDialog)
        app.screen.query_one("#path").insert_text_at_cursor(f"{tmp_path}/d")
        await pilot.press("o", "tab")
        await until(pilot, lambda: app.screen.query_one("#path").value == f"{tmp_path}/docs/")
        await pilot.press("i", "tab", "enter")
        assert main.composer.attachment.name == "invoice-42.pdf"
        await pilot.press(*"segue a nota", "enter")
        media = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("media_path")], what="media")
        assert "invoice-42.pdf" in plain(media[0]) and "▣ document" in plain(media[0])


async def test_failed_message_retries_from_the_chat(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        await desk.call("sim.fault", {"send_failure_rate": 1.0})
        await pilot.press(*"vai falhar", "enter")
        failed = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("ack") == "failed"],
                             timeout=15, what="the failed tick")
        assert "y retries" in plain(failed[0])
        await desk.call("sim.fault", {"send_failure_rate": 0.0})
        await select(pilot, main.chat, lambda item: item.get("ack") == "failed")
        await pilot.press("y")
        await until(pilot, lambda: failed[0].item["ack"] in ("delivered", "read"), what="delivered after retry")


async def test_tags_and_tag_filter(desk, tokens):
    await desk.call("tag.create", {"name": "vip"})
    await desk.call("tag.create", {"name": "boleto"})
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await until(pilot, lambda: main.directory.tags, what="tags loaded")
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        await desk.say(BRUNO_LIMA, "oi")
        await pilot.press("ctrl+g")
        assert isinstance(app.screen, TagDialog)
        await pilot.press("down", "space", "enter")  # boleto, vip: the second
        await until(pilot, lambda: main.current.get("tags") == ["vip"], what="tagged")
        assert "#vip" in str(main.query_one("#chat-title").render())
        await pilot.press("escape", "f")  # to the list, then the filter: the tag Select is the second
        await until(pilot, lambda: type(app.screen).__name__ == "FilterDialog", what="the filter dialog")
        await pilot.press("tab", "enter", "down", "down", "enter", "tab", "tab", "enter")  # vip, Apply
        await until(pilot, lambda: main.queue.flt == Filter(tag="vip") and app.screen is main, what="filtered")
        await pilot.press("1")
        await until(pilot, lambda: main.list.rows == [] and main.query_one("#filters").display, what="pending filtered")
        await pilot.press("2")
        await until(pilot, lambda: [r["id"] for r in main.list.rows] == [ticket["id"]], what="mine filtered")


async def test_contact_panel_shows_and_edits_the_contact(desk, tokens):
    await desk.call("tag.create", {"name": "cliente-ouro"})
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        await pilot.press("ctrl+o")
        panel = await until(pilot, lambda: isinstance(app.screen, ContactScreen) and app.screen, what="the panel")
        assert "+5511999990001" in plain(panel.query_one("#contact-info"))
        await pilot.press("e")
        assert isinstance(app.screen, ContactEditDialog)
        name = app.screen.query_one("#name")
        name.value = "Ana Souza Lima"
        app.screen.query_one("#tags").value = "cliente-ouro"
        app.screen.query_one("#fields").load_text("plano: anual")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "plano: anual" in plain(panel.query_one("#contact-info")), what="saved")
        assert "#cliente-ouro" in plain(panel.query_one("#contact-info"))
        await until(pilot, lambda: row_of(app, ANA_SOUZA)["contact_name"] == "Ana Souza Lima",
                    what="the list renamed live")
        await pilot.press("escape")
        assert main.current["contact_name"] == "Ana Souza Lima"


async def test_search_opens_the_matching_ticket(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(BRUNO_LIMA, "minha fatura veio duplicada")
        await desk.say(ANA_SOUZA, "bom dia")
        target = await until(pilot, lambda: row_of(app, BRUNO_LIMA))
        await until(pilot, lambda: row_of(app, ANA_SOUZA))
        main.list.focus()
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"fatura", "enter")
        await until(pilot, lambda: app.screen.results, what="results")
        await pilot.press("down", "enter")
        await until(pilot, lambda: main.chat.ticket_id == target["id"], what="the ticket opened")


async def test_status_and_number_health_in_the_header(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        bar = app.main_screen.query_one(StatusBar)
        assert "online" in str(bar.render())
        app.main_screen.list.focus()
        await pilot.press("s")
        await until(pilot, lambda: bar.status == "away", what="away")
        assert (await desk.call("user.get", {"id": app.session.me}))["status"] == "away"
        await desk.call("sim.fault", {"disconnect_s": 0.5})
        await until(pilot, lambda: "✗ Demo WhatsApp: simulated network outage" in str(bar.render()), what="red mark")
        await until(pilot, lambda: "✗" not in str(bar.render()), what="back up")


async def test_admins_see_numbers_and_a_live_qr_code(desk, tokens):
    async with console(desk.z, tokens, credentials=None, size=(120, 50)) as (app, pilot):
        main = app.main_screen
        main.list.focus()
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, ConnectionsScreen) and app.screen)
        assert "Demo WhatsApp" in str(screen.query_one("#numbers").get_option_at_index(0).prompt)
        await pilot.press("p")  # a sim number never pairs: the daemon says so, in a toast
        await until(pilot, lambda: toasts(app, "error"), what="the refusal")
        screen.pairing = 1
        screen.daemon_event("connection.updated", {"id": 1, "status": "pairing", "reason": "", "qr": "2@abc,def,ghi"})
        qr = plain(screen.query_one("#pairing"))
        assert qr.count("▀") > 300 and "Linked devices" in qr


async def test_command_palette_lists_what_applies(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        await accepted(app, pilot, desk, ANA_SOUZA)
        await pilot.press("ctrl+p")
        palette = await until(pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen)
        await pilot.press(*"transfer")
        await until(pilot, lambda: palette.query("CommandList").first().option_count, what="hits")
        hits = palette.query("CommandList").first()
        assert "Transfer ticket" in str(hits.get_option_at_index(0).prompt)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette), what="the palette closed")


async def test_supervisors_watch_and_control_campaigns(desk, tokens):
    await desk.call("contact.create", {"number": "5511977700001", "name": "Lia"})
    await desk.call("contact.set_tags", {"id": 1, "tags": ["promo"]})
    made = await desk.call("campaign.create", {"name": "Black Friday", "variants": ["Oi {{name}}"], "tag": "promo"})
    async with console(desk.z, tokens, credentials=None, size=(120, 40)) as (app, pilot):
        app.main_screen.list.focus()
        await pilot.press("m")
        screen = await until(pilot, lambda: isinstance(app.screen, CampaignsScreen) and app.screen)
        await until(pilot, lambda: screen.campaigns, what="the campaign list")
        assert "Black Friday" in plain_option(screen, 0) and "draft" in plain_option(screen, 0)
        await pilot.press("s")  # start: the daemon paces it; the screen follows its events
        await until(pilot, lambda: screen.campaigns[0]["status"] in ("running", "done"), what="started")
        await pilot.press("x")
        await until(pilot, lambda: screen.campaigns[0]["status"] in ("cancelled", "done"), what="stopped")
        assert (await desk.call("campaign.get", {"id": made["id"]}))["status"] in ("cancelled", "done")


def plain_option(screen, index: int) -> str:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(screen.query_one("#campaigns").get_option_at_index(index).prompt)
    return console.export_text()

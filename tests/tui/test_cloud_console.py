"""The console with a WhatsApp Cloud API number (issue 16): the 24-hour window in the header and the composer,
the template picker, reactions, and the number's health on the numbers screen.

On fixed data first (a cloud number beside tests/tui/fakes.py's, at a frozen clock: window states, the
dialogs, snapshots), then through a real zingd with FakeGraph (tests/channels/cloud/graph_fake.py) where a
customer writes by signed webhook: what the console sends reaches Meta as a template or a reaction.

Update the snapshots after an intended change: pytest tests/tui/test_cloud_console.py --snapshot-update
"""

from __future__ import annotations

import pytest

from tests.channels.cloud import webhooks as W
from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.template_desk import cloud_desk
from tests.tui import fakes
from tests.tui.conftest import console, fake_console, plain, row_of, toasts, until
from tests.tui.test_features import select
from tests.tui.test_snapshots import queue_ready, steady
from zingd.errors import Invalid
from zingtui import window
from zingtui.screens.connections import ConnectionsScreen
from zingtui.screens.dialogs import ReactDialog
from zingtui.screens.templates import TemplateDialog, preview

NOW, MIN, H = fakes.NOW, fakes.MIN, 3600.0
CLOUD = {"id": 3, "name": "Loja Cloud", "kind": "cloud", "status": "connected", "status_reason": "",
         "phone": "+55 11 4000-0001", "advice": "",
         "health": {"state": "connected", "reason": "", "throttled": {"until": NOW + 10 * MIN,
                                                                        "reason": "Meta: too many messages (130429)"}},
         "cloud": {"phone_number_id": "1090000000001", "display_phone": "+55 11 4000-0001",
                   "verified_name": "Loja Exemplo", "quality_rating": "GREEN", "messaging_limit": "TIER_1K",
                   "last_notice": {}, "webhook_path": "/webhooks/whatsapp"}}


def _cloud_ticket(tid: int, name: str, number: str, closes_at: float, last: str) -> dict:
    t = fakes._ticket(tid, name, number, "open", last, NOW - 30 * MIN, user=fakes.ANA, queue=fakes.QUEUES[0])
    return {**t, "connection_id": 3, "connection_name": "Loja Cloud", "connection_kind": "cloud",
            "window_closes_at": closes_at}


OPEN_WINDOW = _cloud_ticket(41, "Gabi Rocha", "5511987650001", NOW + 3 * H + 20 * MIN, "meu pedido chegou?")
CLOSED_WINDOW = _cloud_ticket(42, "Hugo Reis", "5511987650002", NOW - 2 * H, "ok, obrigado")
CLOUD_MESSAGES = {
    41: [fakes._msg(401, 41, "in", "meu pedido chegou?", NOW - 31 * MIN),
         fakes._msg(402, 41, "out", "Chegou sim, já está a caminho.", NOW - 30 * MIN),
         fakes._msg(403, 41, "in", "❤️", NOW - 29 * MIN, type="reaction", reaction_to=402)],
    42: [fakes._msg(421, 42, "in", "ok, obrigado", NOW - 26 * H)],
}
TEMPLATES = [
    {"id": 7, "tenant_id": 1, "connection_id": 3, "remote_id": "9001", "name": "pedido_saiu", "language": "pt_BR",
     "category": "UTILITY", "status": "APPROVED", "reason": "",
     "components": [{"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
                    {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega."},
                    {"type": "FOOTER", "text": "Loja Exemplo"}],
     "params": [{"component": "header", "name": "1", "example": "4471", "index": None},
                {"component": "body", "name": "1", "example": "Maria", "index": None},
                {"component": "body", "name": "2", "example": "4471", "index": None}],
     "body": "Olá {{1}}, seu pedido {{2}} saiu para entrega.", "synced_at": NOW, "updated_at": NOW},
    {"id": 8, "tenant_id": 1, "connection_id": 3, "remote_id": "9002", "name": "retomar_contato",
     "language": "pt_BR", "category": "MARKETING", "status": "APPROVED", "reason": "",
     "components": [{"type": "BODY", "text": "Oi! Podemos continuar a conversa?"}], "params": [],
     "body": "Oi! Podemos continuar a conversa?", "synced_at": NOW, "updated_at": NOW},
]
CLOUD_METHODS = ["template.list", "message.send_template", "message.react"]


class CloudClient(fakes.FakeClient):
    """The fixed daemon with a cloud number, two of Ana's tickets on it and its approved templates."""

    def _answer(self, method, p):
        mine = {41: OPEN_WINDOW, 42: CLOSED_WINDOW}
        if method == "rpc.discover":
            return {"methods": [{"name": m} for m in [*fakes.METHODS, *CLOUD_METHODS]]}
        if method == "connection.list":
            return [*fakes.CONNECTIONS, CLOUD]
        if method == "ticket.list" and p.get("mine") and p.get("status") == "open":
            out = super()._answer(method, p)
            return {**out, "tickets": [*out["tickets"], OPEN_WINDOW, CLOSED_WINDOW]}
        if method == "ticket.get" and p["id"] in mine:
            return mine[p["id"]]
        if method == "message.list" and p["ticket_id"] in CLOUD_MESSAGES:
            return {"messages": CLOUD_MESSAGES[p["ticket_id"]], "more": False}
        if method == "template.list":
            return [t for t in TEMPLATES if t["connection_id"] == p.get("connection_id")]
        if method == "message.send_template":
            if "recusa" in p["params"]:
                raise Invalid("params[1] (body {{1}}) may not hold new lines", field="params")
            t = next(t for t in TEMPLATES if t["id"] == p["template_id"])
            return fakes._msg(950, p["ticket_id"], "out", preview(t, p["params"]), NOW, ack="queued")
        if method == "note.create":
            return {"id": 77, "ticket_id": p["ticket_id"], "user_id": 2, "user_name": "Ana Agent", "body": p["body"],
                    "created_at": NOW}
        if method == "message.react":
            return fakes._msg(960, 41, "out", p["emoji"], NOW, type="reaction", reaction_to=p["message_id"],
                              ack="queued")
        return super()._answer(method, p)


def cloud_app(tmp_path):
    return fake_console(tmp_path, client_factory=CloudClient)


async def open_cloud(pilot, ticket_id: int):
    main = await queue_ready(pilot)
    await pilot.press("2")
    await until(pilot, lambda: main.inbox.index["mine"].loaded and main.list.select(ticket_id), what="the row")
    await until(pilot, lambda: main.chat.ticket_id == ticket_id and main.chat.messages(), what=f"ticket {ticket_id}")
    await steady(pilot)
    return main


def sent(app, method: str) -> list[dict]:
    return [params for name, params in app.session.client.calls if name == method]


# -- the window, on fixed data -----------------------------------------------------------------------
def test_the_window_reads_from_the_ticket_against_the_clock():
    assert window.of({"window_closes_at": None}, NOW) is None and window.of({}, NOW) is None
    w = window.of(OPEN_WINDOW, NOW)
    assert (w.tone, w.text) == ("ok", "window closes in 3h20m")
    late = window.of(OPEN_WINDOW, NOW + 3 * H)
    assert (late.tone, late.text) == ("close", "window closes in 20m")
    assert window.of(CLOSED_WINDOW, NOW).text == "window closed: templates only"
    assert window.closed({"window_closes_at": 0}, NOW)  # the customer never wrote


async def test_an_open_window_counts_down_in_the_header_and_the_composer_sends(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await open_cloud(pilot, 41)
        assert "window closes in 3h20m" in plain(main.query_one("#chat-title"))
        assert not main.composer.window_closed and "⏎ send" in main.composer.border_subtitle
        main.conversation.clock = lambda: NOW + 3 * H  # the last hour: amber, still counting
        main.conversation.show_title()
        assert "window closes in 20m" in plain(main.query_one("#chat-title"))
        main.conversation.clock = lambda: NOW + 4 * H  # it closes while the ticket is open
        main.conversation._tick()
        assert "window closed: templates only" in plain(main.query_one("#chat-title"))
        await until(pilot, lambda: main.composer.window_closed and main.composer.has_class("-closed"))


async def test_enter_on_a_closed_window_opens_the_picker_and_sends_nothing(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await open_cloud(pilot, 42)
        assert "window closed: templates only" in plain(main.query_one("#chat-title"))
        assert "templates only · ⏎ picks a template" in main.composer.border_subtitle
        main.composer.input.focus()
        await pilot.press(*"ainda quer?", "enter")
        dialog = await until(pilot, lambda: isinstance(app.screen, TemplateDialog) and app.screen,
                             what="the template picker")
        assert sent(app, "message.send") == [] and main.composer.input.text == "ainda quer?"  # kept
        assert sent(app, "template.list") == [{"connection_id": 3, "status": "APPROVED"}]
        assert "window closed" in plain(dialog.query(".dialog Label").first())
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main)
        main.composer.note = True  # a private note still saves
        await pilot.press("enter")
        await until(pilot, lambda: sent(app, "note.create"), what="the note saved")


async def test_the_picker_fills_the_variables_previews_sends_and_shows_a_refusal(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        main = await open_cloud(pilot, 42)
        main.list.focus()
        await pilot.press("T")
        dialog = await until(pilot, lambda: isinstance(app.screen, TemplateDialog) and app.screen)
        await until(pilot, lambda: len(dialog.inputs) == 3, what="an input per variable")
        assert "e.g. Maria" in dialog.inputs[1].placeholder
        await pilot.press("down")  # the one without variables: no inputs
        await until(pilot, lambda: dialog.chosen["id"] == 8 and not dialog.inputs)
        await pilot.press("up", "enter")
        await until(pilot, lambda: dialog.chosen["id"] == 7 and app.focused is dialog.inputs[0])
        await pilot.press(*"4471", "enter", *"recusa", "enter", *"4471")
        text = plain(dialog.query_one("#template-preview"))
        assert "Pedido 4471" in text and "Olá recusa, seu pedido 4471 saiu" in text and "Loja Exemplo" in text
        await pilot.press("enter")
        await until(pilot, lambda: "may not hold new lines" in plain(dialog.query_one("#template-error")),
                    what="zingd's refusal, in the dialog")
        assert app.screen is dialog
        dialog.inputs[1].value = ""
        await pilot.press("enter")
        assert "Fill body {{1}} first" in plain(dialog.query_one("#template-error"))
        dialog.inputs[1].value = "Hugo"
        dialog.inputs[2].focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is main, what="sent: the dialog closes")
        [params] = [p for p in sent(app, "message.send_template") if "Hugo" in p["params"]]
        assert params["ticket_id"] == 42 and params["template_id"] == 7 and params["params"] == ["4471", "Hugo", "4471"]
        refused = next(p for p in sent(app, "message.send_template") if "recusa" in p["params"])
        # a refusal stored nothing: the next send is a new one (a lost answer keeps its key, sends once)
        assert refused["client_ref"] != params["client_ref"]
        await until(pilot, lambda: any("Olá Hugo" in (m["body"] or "") for m in main.chat.messages()))
        assert "Template sent to Hugo Reis" in toasts(app)


async def test_the_template_key_is_for_cloud_tickets_only(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await open_cloud(pilot, 41)
        assert main.check_action("template", ()) is True
        main.list.select(21)  # a sim ticket
        await until(pilot, lambda: main.chat.ticket_id == 21)
        assert main.check_action("template", ()) is False
        assert "window" not in plain(main.query_one("#chat-title")) and not main.composer.window_closed


# -- reactions, on fixed data --------------------------------------------------------------------------
async def test_reactions_show_on_their_message_and_the_react_key_picks_one(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await open_cloud(pilot, 41)
        assert [m["id"] for m in main.chat.messages()] == [401, 402]  # the reaction is no bubble
        ours = main.chat._bubbles[("m", 402)]
        assert "❤️ Gabi Rocha" in plain(ours)
        await select(pilot, main.chat, lambda item: item["id"] == 401)
        await pilot.press("l")
        dialog = await until(pilot, lambda: isinstance(app.screen, ReactDialog) and app.screen)
        await pilot.press("enter")  # the first: 👍
        await until(pilot, lambda: sent(app, "message.react") == [{"message_id": 401, "emoji": "👍"}])
        theirs = main.chat._bubbles[("m", 401)]
        await until(pilot, lambda: "👍 You ◷" in plain(theirs), what="the reaction on its message, going out")
        main.chat.set_ack(960, "sent", None)
        await until(pilot, lambda: "👍 You" in plain(theirs) and "◷" not in plain(theirs))
        assert dialog.choices[0] == "👍"

        await pilot.press("l")  # again: the number's reaction can come off, or another be typed
        dialog = await until(pilot, lambda: isinstance(app.screen, ReactDialog) and app.screen)
        assert dialog.choices[-1] == "" and "👍" not in dialog.choices
        await pilot.press("tab")
        typed = dialog.query_one("#emoji-typed")
        assert app.focused is typed
        typed.value = "🎉"  # typed, or pasted
        await pilot.press("enter")
        await until(pilot, lambda: sent(app, "message.react")[-1] == {"message_id": 401, "emoji": "🎉"})


async def test_a_closed_window_takes_no_reaction(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await open_cloud(pilot, 42)
        await select(pilot, main.chat, lambda item: item["id"] == 421)
        assert main.check_action("react", ()) is False
        await pilot.press("l")
        assert not isinstance(app.screen, ReactDialog)


# -- the numbers screen, on fixed data -------------------------------------------------------------------
async def test_a_cloud_number_shows_meta_s_word_and_follows_its_notices(tmp_path):
    app = cloud_app(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        main = await queue_ready(pilot)
        main.session.user["role"] = "admin"
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, ConnectionsScreen) and app.screen.loaded
                             and app.screen, what="the numbers as zingd has them")
        numbers = screen.query_one("#numbers")
        line = str(numbers.get_option_at_index(2).prompt)
        assert "Loja Cloud  cloud  +55 11 4000-0001  connected" in line
        assert "quality GREEN (high) · limit TIER_1K · Loja Exemplo" in line and "throttled until" in line
        assert "Meta: too many messages" in line
        client = app.session.client
        notice = {"event": "DOWNGRADE", "quality_rating": "YELLOW", "messaging_limit": "TIER_250"}
        client.handler({"type": "connection.updated", "data": {"id": 3, "status": "connected", "reason": "",
                                                                "notice": notice}})
        await until(pilot, lambda: "quality YELLOW (medium) · limit TIER_250" in str(
            numbers.get_option_at_index(2).prompt), what="the notice on the line")
        assert "Meta: DOWNGRADE" in str(numbers.get_option_at_index(2).prompt)
        client.handler({"type": "connection.updated", "data": {"id": 3, "status": "logged_out",
                                                                "reason": "Meta refused the access token"}})
        await until(pilot, lambda: "zingctl connections update 3 --access-token -" in str(
            numbers.get_option_at_index(2).prompt), what="the cloud kind's advice")
        await pilot.press("down", "down", "p")
        assert "doesn't pair" in toasts(app, "warning")[-1]
        assert main.directory.connections[3]["cloud"]["messaging_limit"] == "TIER_250"


# -- snapshots -------------------------------------------------------------------------------------------
pytestmark = pytest.mark.usefixtures("utc")


@pytest.mark.parametrize("ticket_id", [41, 42], ids=["open", "closed"])
def test_snapshot_header_with_the_window(snap_compare, tmp_path, ticket_id):
    async def run_before(pilot):
        await open_cloud(pilot, ticket_id)
    assert snap_compare(cloud_app(tmp_path), terminal_size=(100, 24), run_before=run_before)


def test_snapshot_template_dialog(snap_compare, tmp_path):
    async def run_before(pilot):
        main = await open_cloud(pilot, 42)
        main.list.focus()
        await pilot.press("T")
        dialog = await until(pilot, lambda: isinstance(pilot.app.screen, TemplateDialog) and pilot.app.screen)
        await until(pilot, lambda: len(dialog.inputs) == 3)
        await pilot.press("enter", *"4471", "enter", *"Hugo")
        await steady(pilot)
    assert snap_compare(cloud_app(tmp_path), terminal_size=(100, 30), run_before=run_before)


# -- through a real zingd and FakeGraph ---------------------------------------------------------------
BOSS = ("boss@acme.test", "boss-pass1")
NUMBER = "5511987650007"


@pytest.fixture
def g():
    with FakeGraph() as fake:
        fake.add_template("pedido_saiu")  # "Olá {{1}}, seu pedido {{2}} saiu."
        yield fake


@pytest.fixture
def cd(tmp_path, g):
    desk = cloud_desk(tmp_path / "zingd", g)
    desk.sync()
    yield desk
    desk.close()


async def open_number(app, pilot, number: str) -> dict:
    """The customer's pending ticket, open in the conversation pane."""
    main = app.main_screen
    row = await until(pilot, lambda: row_of(app, number), what=f"{number}'s ticket")
    main.list.select(row["id"])
    await until(pilot, lambda: main.chat.ticket_id == row["id"] and main.chat.messages(), what="the conversation")
    return row


async def test_a_closed_window_sends_a_template_that_reaches_meta(cd, g, tokens):
    ticket = cd.writes(NUMBER, "oi, meu pedido?", name="Iara")
    cd.age(NUMBER, 25)
    async with console(cd.d.z, tokens, credentials=BOSS, size=(120, 36)) as (app, pilot):
        main = app.main_screen
        await open_number(app, pilot, NUMBER)
        assert main.current["id"] == ticket["id"]
        await until(pilot, lambda: "window closed: templates only" in plain(main.query_one("#chat-title")))
        main.composer.input.focus()
        await pilot.press(*"ainda aí?", "enter")
        dialog = await until(pilot, lambda: isinstance(app.screen, TemplateDialog) and app.screen)
        await until(pilot, lambda: len(dialog.inputs) == 2)
        await pilot.press("enter", *"Iara", "enter")
        dialog.inputs[1].value = "x" * 1100  # zingd's limit is 1024: its refusal shows here
        dialog.inputs[1].focus()
        await pilot.press("enter")
        await until(pilot, lambda: "the limit is 1024" in plain(dialog.query_one("#template-error")))
        dialog.inputs[1].value = "4471"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is main)
        [out] = (await until(pilot, lambda: g.sent[:1] if len(g.sent) >= 1 else None, what="1 sent to Meta"))
        assert out["json"]["type"] == "template" and out["json"]["template"]["name"] == "pedido_saiu"
        body = out["json"]["template"]["components"][0]["parameters"]
        assert [p["text"] for p in body] == ["Iara", "4471"]
        await until(pilot, lambda: any(m["body"] == "Olá Iara, seu pedido 4471 saiu." for m in main.chat.messages()),
                    what="the template in the conversation")
        assert not [m for m in main.chat.messages() if m["body"] == "ainda aí?"]


async def test_a_reaction_reaches_meta_and_the_customer_s_shows_on_the_message(cd, g, tokens):
    cd.writes(NUMBER, "chegou!", name="Iara")
    async with console(cd.d.z, tokens, credentials=BOSS, size=(120, 36)) as (app, pilot):
        main = app.main_screen
        await open_number(app, pilot, NUMBER)
        assert "window closes in 23h" in plain(main.query_one("#chat-title"))
        [theirs] = [m for m in main.chat.messages() if m["body"] == "chegou!"]
        await select(pilot, main.chat, lambda item: item["id"] == theirs["id"])
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, ReactDialog))
        await pilot.press("down", "enter")  # ❤️
        [out] = (await until(pilot, lambda: g.sent[:1] if len(g.sent) >= 1 else None, what="1 sent to Meta"))
        assert out["json"]["type"] == "reaction"
        assert out["json"]["reaction"] == {"message_id": theirs["wa_id"], "emoji": "❤️"}
        bubble = main.chat._bubbles[("m", theirs["id"])]
        await until(pilot, lambda: "❤️ You" in plain(bubble) and "◷" not in plain(bubble), what="sent, on it")

        mine = await answered(main, pilot, "já vou ver")
        sent = await until(pilot, lambda: g.sent[:2] if len(g.sent) >= 2 else None, what="2 sent to Meta")
        wamid = sent[1]["wamid"]  # Meta's id for it, the one the customer's phone reacts to
        value = W.value(W.reaction(wamid, "🙏", sender=NUMBER), contacts=[W.contact(NUMBER, "Iara")])
        status, text = await g.apost_webhook(cd.url, W.envelope(("messages", value)))
        assert status == 200, text
        ours = main.chat._bubbles[("m", mine["id"])]
        await until(pilot, lambda: "🙏 Iara" in plain(ours), what="the customer's reaction on the agent's message")


async def answered(main, pilot, text: str) -> dict:
    """The boss answers in the console; the message once Meta took it (it has Meta's id then)."""
    main.composer.input.focus()
    await pilot.press(*text, "enter")
    return await until(pilot, lambda: next((m for m in main.chat.messages() if m["body"] == text
                                            and m.get("ack") not in ("queued", None)), None), what="sent")


async def test_the_numbers_screen_shows_a_throttle_and_follows_a_quality_webhook(cd, g, tokens):
    ticket = cd.writes(NUMBER, "oi")
    g.fail_next(130429)  # Meta: this number sends too fast
    cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Olá!"})
    wait_for(lambda: cd.admin.call("connection.get", {"id": cd.cloud_id})["health"]["throttled"], timeout=20)
    async with console(cd.d.z, tokens, credentials=BOSS, size=(140, 30)) as (app, pilot):
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, ConnectionsScreen) and app.screen.loaded
                             and app.screen, what="the numbers as zingd has them")
        numbers = screen.query_one("#numbers")
        cloud = next(i for i, c in enumerate(screen.connections) if c["kind"] == "cloud")
        assert "cloud" in str(numbers.get_option_at_index(cloud).prompt)
        assert "throttled until" in str(numbers.get_option_at_index(cloud).prompt)
        assert "quality GREEN" in str(numbers.get_option_at_index(cloud).prompt)
        g.numbers[g.phone_number_id].update(quality_rating="YELLOW", messaging_limit_tier="TIER_250")  # Meta's word
        status, text = await g.apost_webhook(cd.url, W.envelope(("phone_number_quality_update",
                                                                 W.quality("DOWNGRADE", "TIER_250"))))
        assert status == 200, text
        line = lambda: str(numbers.get_option_at_index(cloud).prompt)  # noqa: E731
        await until(pilot, lambda: "quality YELLOW (medium) · limit TIER_250" in line()
                    and "Meta: DOWNGRADE" in line(), what="the quality notice on the number's line")

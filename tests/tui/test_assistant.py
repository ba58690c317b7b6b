"""The assistant in the console, against a real zingd and the scripted OpenAI-compatible server:
the copilot's keys and dialogs (a streamed suggestion into the composer, never sent by itself; a
rewrite that replaces the draft and ctrl+z undoes; a summary saved as a note; proposed tags applied),
the bot's messages and state marked, a voice note's transcript under its audio line, and an
assistant that is off or failing saying so while the console keeps working.
"""

from __future__ import annotations

import json

import pytest

from tests.assistant.openai_fake import FakeOpenAI
from tests.tui.conftest import console, from_palette, plain, row_of, toasts, until
from zingd.assistant.copilot import STYLES
from zingtui.screens.copilot import RewriteDialog, SummaryDialog, TagProposalDialog

ANA_SOUZA, BRUNO_LIMA = "5511999990001", "5511999990002"


@pytest.fixture
def ai():
    with FakeOpenAI() as fake:
        yield fake


async def configure(desk, ai: FakeOpenAI, **patch) -> dict:
    """Demo Co's admin points the assistant at the scripted server, chat model "fake"."""
    return await desk.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}, "timeout_s": 10,
                                                **patch})


async def accepted(app, pilot, desk, number: str, text: str) -> dict:
    """A customer writes and Ana takes the ticket; the composer has the focus."""
    await desk.say(number, text)
    row = await until(pilot, lambda: row_of(app, number), what=f"the ticket of {number}")
    main = app.main_screen
    main.list.select(row["id"])
    main.list.focus()
    await pilot.press("a")
    ticket = await until(pilot, lambda: main.current["status"] == "open" and main.current, what="accepted")
    await until(pilot, lambda: main.composer.input.has_focus and main.chat.ticket_id == ticket["id"])
    return ticket


async def outbound(desk, ticket_id: int) -> list[str]:
    page = await desk.call("message.list", {"ticket_id": ticket_id})
    return [m["body"] or "" for m in page["messages"] if m["direction"] == "out"]


async def test_a_streamed_suggestion_lands_in_the_composer_and_is_never_sent(desk, tokens, ai):
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        ticket = await accepted(app, pilot, desk, ANA_SOUZA, "meu pedido 4471 chegou quebrado")
        hit = await from_palette(app, pilot, "suggest a reply")
        assert hit.startswith("Suggest a reply") and "(^s)" in hit  # the palette has it, with its key
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main, what="the palette closed")
        main.composer.input.focus()
        await pilot.pause()
        footer = {key: b.binding for key, b in main.active_bindings.items() if b.binding.show and b.enabled}
        assert [footer[k].description for k in ("ctrl+s", "ctrl+r", "ctrl+l")] == ["Suggest", "Rewrite", "Summary"]
        assert footer["ctrl+s"].id == "composer.suggest"  # the [keymap] table can move it
        text = "Sinto muito pelo pedido 4471! Já pedi a troca, chega amanhã."
        ai.stream(text, pieces=4, hold=True)  # the last piece waits for release()
        composer = main.composer
        await pilot.press(*"Oi!", "ctrl+s")
        await until(pilot, lambda: composer.held and len(composer.input.text) > len("Oi!\n"), what="the first pieces")
        assert composer.input.text.startswith("Oi!\n") and text.startswith(composer.input.text[len("Oi!\n"):])
        assert composer.has_class("-held") and "suggesting a reply" in composer.border_subtitle
        await pilot.press("d", "enter")  # the agent's keys wait while it writes: no letter, no send, no desk
        assert app.screen is main and composer.input.text.startswith("Oi!\n") and "d" not in composer.input.text[:4]
        ai.release()
        await until(pilot, lambda: not composer.held, what="the whole suggestion")
        assert composer.input.text == f"Oi!\n{text}"
        [body] = ai.chat_requests()
        assert body["json"]["stream"] is True and body["json"]["model"] == "fake"
        assert not [b for b in await outbound(desk, ticket["id"]) if "4471" in b]  # in the composer only
        await pilot.press(*" Até logo.", "enter")  # the agent edits and sends it, as any reply
        sent = f"Oi!\n{text} Até logo."
        await until(pilot, lambda: [b for b in main.chat._order if b.item.get("body") == sent], what="the reply")
        assert (await outbound(desk, ticket["id"])).count(sent) == 1


async def test_escape_stops_a_suggestion_and_the_draft_is_as_it_was(desk, tokens, ai):
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA, "vocês entregam no domingo?")
        ai.stream("Entregamos de segunda a sábado.", pieces=4, hold=True)
        composer = main.composer
        await pilot.press(*"Olá", "ctrl+s")
        await until(pilot, lambda: composer.held and composer.input.text != "Olá\n", what="the first pieces")
        await pilot.press("escape")
        await until(pilot, lambda: not composer.held, what="the suggestion stopped")
        assert composer.input.text == "Olá"
        ai.release()
        await pilot.press(*" Ana")
        assert composer.input.text == "Olá Ana"


async def test_the_rewrite_dialog_replaces_the_draft_and_ctrl_z_gives_it_back(desk, tokens, ai):
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, BRUNO_LIMA, "cadê meu pedido?")
        ai.reply("Por favor, aguarde um momento enquanto verificamos o seu pedido.")
        await pilot.press(*"pls espera q to vendo", "ctrl+r")
        dialog = await until(pilot, lambda: isinstance(app.screen, RewriteDialog) and app.screen, what="the dialog")
        assert "pls espera" in plain(dialog.query_one("Label"))
        await pilot.press("down", "down", "enter")  # 3: more formal
        composer = main.composer
        await until(pilot, lambda: composer.input.text.startswith("Por favor"), what="the rewritten draft")
        assert composer.input.text == "Por favor, aguarde um momento enquanto verificamos o seu pedido."
        [body] = ai.chat_requests()
        system = "\n".join(m["content"] for m in body["json"]["messages"] if m["role"] == "system")
        assert STYLES["formal"] in system and "pls espera q to vendo" in json.dumps(body["json"], ensure_ascii=False)
        assert composer.input.has_focus
        await pilot.press("ctrl+z")
        assert composer.input.text == "pls espera q to vendo"


async def test_a_summary_in_its_dialog_is_saved_as_a_note(desk, tokens, ai):
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        ticket = await accepted(app, pilot, desk, ANA_SOUZA, "quero devolver o tênis 42, veio apertado")
        summary = "A cliente quer devolver um tênis tamanho 42 que ficou apertado."
        ai.reply(summary)
        await pilot.press("ctrl+l")
        dialog = await until(pilot, lambda: isinstance(app.screen, SummaryDialog) and app.screen, what="the dialog")
        await until(pilot, lambda: dialog.text == summary, what="the summary")
        assert summary in plain(dialog.query_one("#summary-text"))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is main, what="the dialog closed")
        note = await until(pilot, lambda: [b for b in main.chat._order if b.has_class("-note")], what="the note")
        assert summary in plain(note[0])
        notes = await desk.call("note.list", {"ticket_id": ticket["id"]})
        assert [n["body"] for n in notes] == [f"🤖 Summary: {summary}"]
        assert not [b for b in await outbound(desk, ticket["id"]) if "tênis" in b]


async def test_the_proposed_tags_dialog_applies_the_tag_the_agent_keeps(desk, tokens, ai):
    for name in ("troca", "reembolso", "vip"):
        await desk.call("tag.create", {"name": name})
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        ticket = await accepted(app, pilot, desk, ANA_SOUZA, "fui cobrada duas vezes, quero o dinheiro de volta")
        ai.reply(json.dumps({"tags": ["reembolso", "vip"], "reason": "uma cobrança em dobro"}))
        main.chat.focus()
        await pilot.press("p")
        dialog = await until(pilot, lambda: isinstance(app.screen, TagProposalDialog) and app.screen,
                             what="the dialog")
        assert dialog.tags == ["reembolso", "vip"]
        assert "uma cobrança em dobro" in plain(dialog.query_one(".copilot-reason"))
        await pilot.press("down", "space", "enter")  # untick vip, keep reembolso
        await until(pilot, lambda: main.current.get("tags") == ["reembolso"], what="the tag applied")
        assert (await desk.call("ticket.get", {"id": ticket["id"]}))["tags"] == ["reembolso"]
        assert "#reembolso" in plain(main.query_one("#chat-title"))


async def test_the_bots_messages_and_state_are_marked(desk, tokens, ai):
    await configure(desk, ai, bot={"enabled": True, "connections": [1], "debounce_s": 0.1})
    ai.reply("Olá! Sou o assistente da Demo Co. Como posso ajudar?")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(ANA_SOUZA, "oi, vocês abrem sábado?")
        row = await until(pilot, lambda: row_of(app, ANA_SOUZA), what="the ticket")
        main.list.select(row["id"])
        bubble = await until(pilot, lambda: [b for b in main.chat._order if b.item.get("bot")], what="the bot's reply")
        text = plain(bubble[0])
        assert text.startswith("🤖 Assistant") and "Como posso ajudar?" in text
        await until(pilot, lambda: "🤖 bot answering" in plain(main.query_one("#bot-line")), what="its state")
        main.list.focus()
        await pilot.press("a")  # a person acts: the bot stops for this ticket
        await until(pilot, lambda: "🤖 bot stopped: " in plain(main.query_one("#bot-line")), what="it stopped")


async def test_a_voice_notes_transcript_shows_under_its_audio_line(desk, tokens, ai):
    await configure(desk, ai, transcription={"model": "fake-whisper"})
    ai.transcript("quero trocar o tamanho da camiseta")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(BRUNO_LIMA, "oi")
        row = await until(pilot, lambda: row_of(app, BRUNO_LIMA), what="the ticket")
        main.list.select(row["id"])
        await until(pilot, lambda: main.chat.ticket_id == row["id"] and main.chat.messages(), what="the chat")
        await desk.say(BRUNO_LIMA, "", type="audio", seconds=7)  # arrives while the ticket is on screen

        def voice():
            found = [b for b in main.chat._order if b.item.get("type") == "audio" and b.item.get("transcript")]
            return found and plain(found[0])
        text = await until(pilot, voice, what="the transcript, by message.updated")
        lines = [line.strip() for line in text.splitlines()]
        audio = next(i for i, line in enumerate(lines) if line.startswith("🎤 0:07"))
        assert lines[audio + 1] == "⤷ quero trocar o tamanho da camiseta"


async def test_an_assistant_that_is_off_says_so_and_the_console_keeps_working(desk, tokens, ai):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        said = []
        notify = app.notify
        app.notify = lambda message, **kw: (said.append(message), notify(message, **kw))[1]
        ticket = await accepted(app, pilot, desk, ANA_SOUZA, "oi")
        for key in ("ctrl+s", "ctrl+r", "ctrl+l"):
            said.clear()
            await pilot.press(*("Bom dia" if key == "ctrl+s" else ""), key)
            off = await until(pilot, lambda: [m for m in said if m.startswith("the assistant is off")],
                              what=f"{key} says why")
            assert off[0].startswith("the assistant is off: ") and len(off[0]) > len("the assistant is off: ")
            assert app.screen is main and main.composer.input.text == "Bom dia" and not main.composer.held
        await pilot.press("enter")  # the console keeps working
        await until(pilot, lambda: "Bom dia" in [b.item.get("body") for b in main.chat._order], what="the reply")
        assert "Bom dia" in await outbound(desk, ticket["id"])
        await configure(desk, ai)  # an admin sets it up: assistant.updated tells the console
        await until(pilot, lambda: main.directory.assistant.chat, what="the assistant on")
        ai.reply("Em que posso ajudar?")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: main.composer.input.text == "Em que posso ajudar?", what="a suggestion")


async def test_a_failing_assistant_is_a_notification_and_the_draft_stays(desk, tokens, ai):
    await configure(desk, ai)
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA, "oi")
        ai.error(500, "the model crashed")
        await pilot.press(*"Bom dia", "ctrl+s")
        await until(pilot, lambda: toasts(app, "error"), what="the error")
        await until(pilot, lambda: not main.composer.held, what="the composer back")
        assert main.composer.input.text == "Bom dia"
        ai.reply("Bom dia! Em que posso ajudar?")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: main.composer.input.text == "Bom dia\nBom dia! Em que posso ajudar?",
                    what="the next suggestion")

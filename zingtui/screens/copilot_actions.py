"""The copilot's actions: suggest a reply, rewrite the draft, summarize the conversation, propose tags.

A mixin of ``MainScreen`` beside ``TicketActions``, for the acts of ``zingtui.actions``
that ask the company's assistant. Before each, the screen knows from ``assistant.status``
whether a chat model is set; when none is (or was at the last look: it asks again, an admin
may have set one since) the key says "the assistant is off: <reason>" instead of calling.
A call the assistant can't answer (over its limit, the server failing) ends in the one
error toast every call has, and the status is asked again; the console keeps working.
"""

from __future__ import annotations

from typing import Any

from textual import work

from zingtui.screens.copilot import RewriteDialog, SummaryDialog, TagProposalDialog


class CopilotActions:
    """Needs the screen's ``current``, ``session``, ``directory``, ``change``, ``conversation`` (see MainScreen)."""

    async def load_assistant(self) -> None:
        """assistant.status: whether the copilot can answer, and why not."""
        status = await self.app.call("assistant.status", quiet=True)
        if status is not None:
            self.directory.assistant.update(status)

    async def copilot_on(self) -> bool:
        """True when a chat model is set; else the agent is told why the key does nothing."""
        assistant = self.directory.assistant
        if not assistant.chat:
            await self.load_assistant()
        if not assistant.chat:
            self.notify(assistant.off, title="assistant", severity="warning", timeout=8)
        return assistant.chat

    async def after_failure(self) -> None:
        """A copilot call failed (its toast is up): look again, so the next key says if the assistant is off."""
        await self.load_assistant()

    def action_suggest(self) -> None:
        if self.current is not None:
            self.composer.input.focus()
            self.suggest(self.current["id"])

    @work(group="writing")
    async def suggest(self, ticket_id: int) -> None:
        if await self.copilot_on() and not await self.conversation.suggest(ticket_id):
            await self.after_failure()

    def action_rewrite(self) -> None:
        ticket = self.current
        if ticket is None:
            return
        draft = self.composer.input.text
        if not draft.strip():
            self.notify("Write a draft first: the assistant rewrites what you wrote", title="assistant",
                        severity="warning")
            return
        self.rewrite_with(ticket["id"], draft)

    @work(group="writing")
    async def rewrite_with(self, ticket_id: int, draft: str) -> None:
        if not await self.copilot_on():
            return
        style = await self.app.push_screen_wait(RewriteDialog(draft))
        if style is not None:
            self.composer.input.focus()
            if not await self.conversation.rewrite(ticket_id, style):
                await self.after_failure()

    def on_composer_stop_assistant(self) -> None:
        """Escape while the assistant writes into the composer: stop it (what it wrote so far goes)."""
        self.workers.cancel_group(self, "writing")

    def action_summarize(self) -> None:
        if self.current is not None:
            self.summarize(self.current)

    @work(group="copilot")
    async def summarize(self, ticket: dict[str, Any]) -> None:
        if not await self.copilot_on():
            return
        dialog = SummaryDialog(ticket)
        self.app.push_screen(dialog, lambda text: text and self.save_summary(ticket, text))
        out = await self.app.call("copilot.summarize", {"ticket_id": ticket["id"]})
        if out is None:
            if dialog.is_attached:
                dialog.dismiss(None)
            await self.after_failure()
        elif dialog.is_attached:
            dialog.fill(out.get("text") or "")

    @work(group="act")
    async def save_summary(self, ticket: dict[str, Any], text: str) -> None:
        note = await self.change("note.create", {"ticket_id": ticket["id"], "body": f"🤖 Summary: {text}"})
        if note is not None:
            if self.conversation.chat.ticket_id == ticket["id"]:
                self.conversation.chat.add({**note, "_note": True})
            self.notify(f"The summary is a note on #{ticket['id']}")

    def action_propose_tags(self) -> None:
        if self.current is not None:
            self.propose_tags(self.current)

    @work(group="copilot")
    async def propose_tags(self, ticket: dict[str, Any]) -> None:
        if not await self.copilot_on():
            return
        self.notify("The assistant is reading the conversation…", title="proposed tags", timeout=3)
        out = await self.app.call("copilot.tags", {"ticket_id": ticket["id"]})
        if out is None:
            await self.after_failure()
            return
        have = set(ticket.get("tags") or ())
        proposed = [tag for tag in out.get("tags") or () if tag not in have]
        if not proposed:
            why = f" ({out['reason']})" if out.get("reason") else ""
            self.notify(f"The assistant proposes no tag this ticket lacks{why}", title="proposed tags")
            return
        picked = await self.app.push_screen_wait(TagProposalDialog(ticket, proposed, out.get("reason") or ""))
        if picked:
            fresh = self.conversation.ticket if self.conversation.shows(ticket["id"]) else ticket
            tags = [*(fresh.get("tags") or ()), *(t for t in picked if t not in (fresh.get("tags") or ()))]
            done = await self.change("ticket.set_tags", {"id": ticket["id"], "tags": tags})
            if done is not None:
                self.apply_ticket(done)
                self.notify(f"Tagged #{ticket['id']}: {' '.join('#' + t for t in picked)}")

"""What an agent does to a ticket: the ``action_*`` methods behind every key and palette entry.

A mixin of ``MainScreen``: the bindings of ``zingtui.actions`` live on the
list, the chat and the composer, and forward to the screen they are on, so
the actions are the screen's; this module keeps them apart from the screen's
wiring. An action asks a dialog, then makes the call; calls that change a
ticket go through the screen's ``change`` (one at a time, in the order the
agent made them) and their answer goes back to both panes (``apply_ticket``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from textual import work
from textual.widgets import HelpPanel

from zingtui import format, window
from zingtui.actions import NAMES
from zingtui.screens.campaigns import CampaignsScreen
from zingtui.screens.connections import ConnectionsScreen
from zingtui.screens.contact import ContactScreen
from zingtui.screens.dialogs import (
    AttachDialog,
    CloseDialog,
    FilterDialog,
    HistoryScreen,
    ReactDialog,
    ResendDialog,
    TagDialog,
    TransferDialog,
)
from zingtui.screens.search import SearchScreen
from zingtui.screens.templates import TemplateDialog
from zingtui.widgets.statusbar import StatusBar


class TicketActions:
    """Needs the screen's ``current``, ``session``, ``directory``, ``change`` and its two panes (see MainScreen)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "settings":  # the main screen's own, for admins
            return self.session.admin
        if action not in NAMES:  # not a ticket action: Textual's own, or a widget's
            return True
        t = self.current
        s = self.session
        mine = t is not None and (t.get("user_id") in (None, s.me) or s.supervisor)
        live = t is not None and t["status"] != "closed"
        item = self.chat.selected_item if self.is_mounted else None
        message = item is not None and not item.get("_note") and not item.get("_waiting")  # a sent one
        rules = {
            "accept": t is not None and t["status"] == "pending",
            "close": live and mine,
            "transfer": live and mine,
            "reopen": t is not None and t["status"] == "closed",
            "tag": t is not None and s.supports("ticket.set_tags"),
            "contact": t is not None,
            "note": t is not None and s.supports("note.create"),
            "attach": live,
            "signature": live,
            "quote": live and message,
            "react": live and mine and message and _reactable(item) and s.supports("message.react")
            and not window.closed(t, self.app.clock()),
            "template": live and mine and t.get("connection_kind") == "cloud"
            and s.supports("message.send_template") and s.supports("template.list"),
            "retry": message and (item.get("ack") in ("failed", "unconfirmed") or _failed_download(item)),
            "open_media": message and bool(item.get("media_path")),
            "save_media": message and bool(item.get("media_path")),
            "history": t is not None and s.supports("ticket.history"),
            "suggest": live and s.supports("copilot.suggest"),
            "rewrite": live and s.supports("copilot.rewrite"),
            "summarize": t is not None and s.supports("copilot.summarize"),
            "propose_tags": t is not None and s.supports("copilot.tags") and s.supports("ticket.set_tags"),
            "connections": s.admin,
            "campaigns": s.supervisor and s.supports("campaign.list"),
            "tab": bool(parameters) and parameters[0] in self.inbox.index,
        }
        return rules.get(action, True)

    def action_focus_list(self) -> None:
        """Escape: hides the key list if it is up, else goes back to the ticket list."""
        if self.query(HelpPanel):
            self.app.action_hide_help_panel()
        else:
            self.list.focus()

    def action_keys(self) -> None:
        """? shows every key that works here; ? again hides them."""
        if self.query(HelpPanel):
            self.app.action_hide_help_panel()
        else:
            self.app.action_show_help_panel()

    def action_tab(self, key: str) -> None:
        if key in self.inbox.index:
            self.queue.tab = key
            self.list.focus()

    def action_reply(self) -> None:
        if self.current is not None:
            self.composer.input.focus()

    def action_accept(self) -> None:
        if self.current is not None:
            self.composer.input.focus()  # the next key the agent types is the answer
            self.accept(self.current)

    @work(group="act")
    async def accept(self, ticket: dict[str, Any]) -> None:
        done = await self.change("ticket.accept", {"id": ticket["id"]})
        if done is None:
            await self.refresh_ticket(ticket["id"])
            return
        self.apply_ticket(done, follow=True)
        self.conversation.mark_read()

    async def refresh_ticket(self, ticket_id: int) -> None:
        """After a conflict: fetch the ticket as it is now, or drop it if it is no longer ours to see."""
        fresh = await self.app.call("ticket.get", {"id": ticket_id}, quiet=True)
        if fresh is not None:
            self.apply_ticket(fresh)
        else:
            self.queue.discard(ticket_id)

    def action_close(self) -> None:
        ticket = self.current
        if ticket is not None:
            self.app.push_screen(CloseDialog(ticket), lambda answer: answer and self.close(ticket, answer))

    @work(group="act")
    async def close(self, ticket: dict[str, Any], answer: dict[str, Any]) -> None:
        params: dict[str, Any] = {"id": ticket["id"]}
        if not answer["farewell"]:
            params["farewell"] = False
        done = await self.change("ticket.close", params)
        if done is not None:
            self.apply_ticket(done)
            self.list.release()  # the agent's own close: on to the next ticket
            self.list.focus()
            self.notify(f"Closed #{ticket['id']} ({format.contact_name(ticket)})")

    def action_transfer(self) -> None:
        ticket = self.current
        if ticket is not None:
            d = self.directory
            dialog = TransferDialog(ticket, d.queues, list(d.users.values()), self.session.me)
            self.app.push_screen(dialog, lambda answer: answer and self.transfer(ticket, answer))

    @work(group="act")
    async def transfer(self, ticket: dict[str, Any], answer: dict[str, Any]) -> None:
        params = {"id": ticket["id"], **{k: v for k, v in answer.items() if v is not None}}
        done = await self.change("ticket.transfer", params)
        if done is not None:
            self.apply_ticket(done)
            self.list.release()
            self.list.focus()
            to = done.get("user_name") or done.get("queue_name") or "the queue"
            self.notify(f"Transferred #{ticket['id']} to {to}")

    def action_reopen(self) -> None:
        if self.current is not None:
            self.reopen(self.current)

    @work(group="act")
    async def reopen(self, ticket: dict[str, Any]) -> None:
        done = await self.change("ticket.reopen", {"id": ticket["id"]})
        if done is not None:
            self.apply_ticket(done, follow=True)

    def action_tag(self) -> None:
        ticket = self.current
        if ticket is not None:
            dialog = TagDialog(ticket, self.directory.tags)
            self.app.push_screen(dialog, lambda tags: tags is not None and self.tag(ticket, tags))

    @work(group="act")
    async def tag(self, ticket: dict[str, Any], tags: list[str]) -> None:
        done = await self.change("ticket.set_tags", {"id": ticket["id"], "tags": tags})
        if done is not None:
            self.apply_ticket(done)

    def action_contact(self) -> None:
        if self.current is not None:
            self.contact(self.current)

    @work(group="act")
    async def contact(self, ticket: dict[str, Any]) -> None:
        found = await self.app.call("contact.get", {"id": ticket["contact_id"]})
        if found is not None:
            self.app.push_screen(ContactScreen(found, ticket),
                                 lambda ticket_id: ticket_id is not None and self.open_by_id(ticket_id))

    def action_history(self) -> None:
        if self.current is not None:
            self.history(self.current)

    @work(group="act")
    async def history(self, ticket: dict[str, Any]) -> None:
        entries = await self.app.call("ticket.history", {"id": ticket["id"]})
        if entries is not None:
            self.app.push_screen(HistoryScreen(ticket, entries, self.directory))

    def action_note(self) -> None:
        if self.current is not None:
            self.composer.note = True
            self.composer.input.focus()

    def action_attach(self) -> None:
        self.app.push_screen(AttachDialog(), self._attached)

    def _attached(self, path: Path | None) -> None:
        if path is not None:
            self.composer.attachment = path
            self.composer.input.focus()

    def action_signature(self) -> None:
        composer = self.composer
        effective = composer.default_signature if composer.signature is None else composer.signature
        composer.signature = not effective

    def action_quote(self) -> None:
        item = self.chat.selected_item
        if item is not None and not item.get("_note") and not item.get("_waiting"):
            self.composer.quoted = item
            self.composer.input.focus()

    def action_react(self) -> None:
        item = self.chat.selected_item
        if item is None or not _reactable(item):
            return
        current = self.chat.our_reaction(item["id"])
        dialog = ReactDialog(item, self.chat.namer(item), current)
        self.app.push_screen(dialog, lambda emoji: emoji is not None and self.react(item, emoji))

    @work(group="act")
    async def react(self, item: dict[str, Any], emoji: str) -> None:
        """The reaction comes back as its own message; the chat puts it on the message it is on."""
        done = await self.change("message.react", {"message_id": item["id"], "emoji": emoji})
        if done is not None and self.chat.ticket_id == item["ticket_id"]:
            self.chat.add(done)

    def action_template(self) -> None:
        if self.current is not None:
            self.template(self.current)

    def on_composer_need_template(self) -> None:
        """Enter on free text outside the window: the only thing that can go is a template."""
        t = self.current
        if t is not None and self.check_action("template", ()):
            self.template(t)
        else:
            self.notify("WhatsApp's 24-hour window is closed: only an approved template can go",
                        title="window closed", severity="warning")

    @work(group="template", exclusive=True)  # its own group: "act"'s exclusivity would cancel an accept in flight
    async def template(self, ticket: dict[str, Any]) -> None:
        found = await self.app.call("template.list", {"connection_id": ticket["connection_id"], "status": "APPROVED"})
        if found is None:
            return
        dialog = TemplateDialog(ticket, found, self._send_template, closed=window.closed(ticket, self.app.clock()))
        self.app.push_screen(dialog, lambda sent: sent is not None and self._template_sent(ticket, sent))

    async def _send_template(self, params: dict[str, Any]) -> dict[str, Any]:
        """For the dialog, which shows zingd's refusal itself: in order with the agent's other changes."""
        async with self._in_order:
            if self.app.leaving:
                raise ConnectionError("leaving")
            return await self.session.call("message.send_template", params)

    def _template_sent(self, ticket: dict[str, Any], sent: dict[str, Any]) -> None:
        if self.chat.ticket_id == ticket["id"]:
            self.chat.add(sent)
        self.notify(f"Template sent to {format.contact_name(ticket)}")

    def action_retry(self) -> None:
        item = self.chat.selected_item
        if item is None:
            return
        if _failed_download(item):
            self.run_worker(self._fetch_media(item), group="act")
        elif item.get("ack") == "failed":
            self.run_worker(self.app.call("message.retry", {"id": item["id"]}), group="act")
        elif item.get("ack") == "unconfirmed":  # it may have arrived: only on the agent's word
            self.app.push_screen(ResendDialog(), lambda yes: yes and self.run_worker(
                self.app.call("message.retry", {"id": item["id"], "resend": True}), group="act"))

    async def _fetch_media(self, item: dict[str, Any]) -> None:
        """The file again from WhatsApp; message.updated redraws the bubble either way."""
        self.notify("Fetching the file again…")
        fetched = await self.app.call("media.fetch", {"message_id": item["id"]})
        if fetched is not None and fetched.get("media_error"):
            self.notify(f"Still no file: {fetched['media_error']}", severity="warning")

    def action_open_media(self) -> None:
        item = self.chat.selected_item
        if item is None or not item.get("media_path"):
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        graphical = sys.platform == "darwin" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        if graphical and shutil.which(opener):
            subprocess.Popen([opener, item["media_path"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
            self.notify(f"Opening {Path(item['media_path']).name}")
        else:
            self.action_save_media()

    def action_save_media(self) -> None:
        item = self.chat.selected_item
        if item is None or not item.get("media_path"):
            return
        source = Path(item["media_path"])
        folder = Path.home() / "Downloads"
        target = (folder if folder.is_dir() else Path.home()) / source.name
        try:
            shutil.copyfile(source, target)
        except OSError as e:
            self.notify(f"Could not save {source.name}: {e.strerror}", severity="error")
            return
        self.notify(f"Saved to {target}")

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen(), lambda ticket_id: ticket_id is not None and self.open_by_id(ticket_id))

    @work(group="act")
    async def open_by_id(self, ticket_id: int) -> None:
        ticket = self.inbox.find(ticket_id) or await self.app.call("ticket.get", {"id": ticket_id})
        if ticket is None:
            return
        self.open(ticket)
        self.queue.follow(ticket_id)

    def action_filter(self) -> None:
        d = self.directory
        dialog = FilterDialog(self.queue.flt, d.queues, d.tags, list(d.connections.values()))
        self.app.push_screen(dialog, lambda flt: flt is not None and self.set_filter(flt))

    def action_toggle_status(self) -> None:
        status = "away" if self.query_one(StatusBar).status == "online" else "online"
        self.run_worker(self.set_status(status), group="status")

    def action_connections(self) -> None:
        self.app.push_screen(ConnectionsScreen(list(self.directory.connections.values())))

    def action_campaigns(self) -> None:
        self.app.push_screen(CampaignsScreen())

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximized = self.queue if self.list.has_focus else self.conversation

    def action_toggle_bell(self) -> None:
        self.app.alerts = not self.app.alerts
        self.notify("Alerts for new tickets are " + ("on" if self.app.alerts else "off"))

    def action_reload(self) -> None:
        self.run_worker(self.queue.reload(), group="reload", exclusive=True)
        self.conversation.reload()

    def action_logout(self) -> None:
        self.app.logout()


def _reactable(item: dict[str, Any]) -> bool:
    """A message that can take a reaction: not a reaction or a system line, not deleted, not one that failed."""
    return (item.get("reaction_to") is None and item.get("type") not in ("reaction", "system")
            and not item.get("deleted") and not (item.get("direction") == "out" and item.get("ack") == "failed"))


def _failed_download(item: dict[str, Any] | None) -> bool:
    """A customer's file that did not arrive for a reason a new attempt may fix (format.refetchable)."""
    return bool(item) and item.get("direction") == "in" and format.refetchable(item.get("media_error"))

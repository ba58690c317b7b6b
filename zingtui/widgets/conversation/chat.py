"""The conversation pane: messages and private notes in time order, with day separators.

Older pages load when the view reaches the top; live messages append at the
bottom, and the view stays anchored there (as the composer grows, as messages
arrive) until the agent scrolls up; acks, edits and deletions update their
bubble in place. Up/down select a message to quote, retry, react to or open.
A reaction is a message of its own in zingd (``reaction_to``: the message it
is on); here it is no bubble but a line under that message: each side's
latest one (the customer's, the number's), an empty one taking it off. The bot's messages are
signed as the bot's (``format.BOT``, in their own colour), and a voice note's transcript shows
under its audio line as soon as ``message.updated`` brings it.

The colours of a bubble's parts are the chat's component classes (``chat--agent``,
``chat--tick-read``...), styled in app.tcss: one set for every bubble, so a theme
recolours them all and a long history doesn't style each bubble's parts again.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import AwaitMount
from textual.widgets import Static

from zingtui import actions, format

Item = dict[str, Any]
LAYOUT_TRIES = 20
Namer = Callable[[Item], str]


def item_key(item: Item) -> tuple[str, int | str]:
    """Messages and notes by id; a reply waiting for zingd (no id yet) by its client_ref."""
    if item.get("_waiting"):
        return ("w", item["_waiting"])
    return ("n" if item.get("_note") else "m", item["id"])


def sort_key(item: Item) -> tuple[float, int]:
    return (item.get("created_at") or 0.0, item["id"])


def is_reaction(item: Item) -> bool:
    """A reaction on a message zingd knows: shown on that message, not as a bubble of its own."""
    return item.get("reaction_to") is not None and not item.get("_note") and not item.get("_waiting")


class DayRule(Static):
    """── Today ──"""


class Bubble(Static):
    """One message or note; re-rendered in place when its ack or body changes."""

    def __init__(self, item: Item, chat: ChatView) -> None:
        super().__init__(classes=self._classes(item))
        self.item = item
        self.chat = chat

    @staticmethod
    def _classes(item: Item) -> str:
        if item.get("_note"):
            return "-note"
        return "-out" if item.get("direction") == "out" else "-in"

    def set_item(self, item: Item) -> None:
        self.item = item
        self.refresh()

    def style(self, part: str) -> Style:
        """A part of the bubble as the theme draws it (a component class of the chat)."""
        return self.chat.get_component_rich_style(f"chat--{part}", partial=True)

    def render(self) -> RenderableType:
        item = self.item
        if item.get("_note"):
            head = Text.assemble(("✎ note", self.style("note-head")), f" · {item.get('user_name') or 'agent'} · ",
                                 (format.clock(item["created_at"]), self.style("time")))
            return Group(head, Text(item.get("body") or ""))
        parts: list[RenderableType] = [self._head(item)]
        quoted = item.get("quoted_id")
        if quoted:
            parts.append(self._quote(quoted))
        body = self._body(item)
        if body is not None:
            parts.append(body)
        if item.get("type") == "audio" and item.get("media_seconds"):
            parts.append(Text(voice_line(item), style=self.style("media")))
        if item.get("transcript"):  # under the audio line: what the voice note says
            parts.append(Text(f"⤷ {item['transcript']}", style=self.style("transcript")))
        if item.get("type") not in (None, "text", "system") and (item.get("media_path") or item.get("media_error")):
            parts.append(self._media(item))
        reactions = self._reactions(item)
        if reactions is not None:
            parts.append(reactions)
        if item.get("ack") == "failed":
            error = item.get("error") or "not sent"
            parts.append(Text(f"✗ failed: {error} — y retries", style=self.style("failed")))
        elif item.get("ack") == "unconfirmed":
            parts.append(Text("? may not have arrived (WhatsApp never answered) — y resends",
                              style=self.style("failed")))
        elif item.get("_waiting"):
            parts.append(Text("◷ waiting for zingd: goes out once it is back", style=self.style("edited")))
        return Group(*parts)

    def _head(self, item: Item) -> Text:
        out = item.get("direction") == "out"
        who = "bot" if item.get("bot") else "agent" if out else "customer"
        text = Text().append(self.chat.namer(item), style=self.style(who))
        sent = item.get("wa_ts") or item["created_at"]  # WhatsApp's time when there is one
        text.append(f"  {sent_label(sent, item['created_at'])}", style=self.style("time"))
        if item.get("offline"):
            text.append(f"  received {format.clock(item['created_at'])} · offline", style=self.style("edited"))
        if out:
            glyph, tone = format.TICKS.get(item.get("ack") or "", ("", ""))
            text.append(f" {glyph}", style=self.style(f"tick-{tone}") if tone else "")
        if item.get("edited"):
            text.append("  edited", style=self.style("edited"))
        if item.get("deleted"):
            text.append("  deleted", style=self.style("deleted"))
        return text

    def _quote(self, quoted_id: int) -> Text:
        original = self.chat.find_message(quoted_id)
        if original is None:
            return Text("┃ (an earlier message)", style=self.style("quote"))
        return Text(f"┃ {self.chat.namer(original)}: {format.preview(original)}", style=self.style("quote"))

    def _body(self, item: Item) -> Text | None:
        body = item.get("body") or ""
        if item.get("deleted"):
            return Text(body or "message deleted", style=self.style("deleted-body"))
        if item.get("type") == "system":
            return Text(body, style=self.style("system"))
        return Text(body) if body else None

    def _reactions(self, item: Item) -> Text | None:
        """"👍 Ana Souza · ❤️ You": the reactions standing on the message (the number's while it goes out)."""
        standing = [r for r in self.chat.reactions_on(item.get("id")) if r.get("body")]
        if not standing:
            return None
        text = Text()
        for reaction in standing:
            if text:
                text.append(" · ", style=self.style("time"))
            text.append(f"{reaction['body']} ", style=self.style("reaction"))
            text.append(self.chat.namer(reaction), style=self.style("time"))
            if reaction.get("ack") == "failed":
                text.append(f" ✗ not sent: {reaction.get('error') or 'failed'}", style=self.style("failed"))
            elif reaction.get("ack") in ("queued", "unconfirmed"):
                text.append(" ◷", style=self.style("edited"))
        return text

    def _media(self, item: Item) -> Text:
        if item.get("media_error"):
            text = Text(f"▣ {item.get('type')}: {item['media_error']}", style=self.style("media-error"))
            if item.get("direction") == "in" and format.refetchable(item["media_error"]):
                text.append("  y fetches again", style=self.style("hint"))
            return text
        name = (item.get("media_path") or "").rsplit("/", 1)[-1]
        text = Text().append(f"▣ {item.get('type')} ", style=self.style("media"))
        text.append(f"{name} · {item.get('media_mime') or '?'} · {format.size(item.get('media_size'))}")
        text.append("  ⏎ open · s save", style=self.style("hint"))
        return text


def sent_label(sent: float, received: float) -> str:
    """When the message was sent: the clock, with the date when it is not the day it arrived
    (the bubble sits under its arrival's day separator)."""
    if format.same_day(sent, received):
        return format.clock(sent)
    return time.strftime("%d %b %H:%M", time.localtime(sent))


BARS = "▁▂▃▄▅▆▇█"


def voice_line(item: Item) -> str:
    """"🎤 0:42 ▁▃▅▇▅▃" for a voice note (its waveform in 16 bars), "♪ 3:05" for other audio."""
    minutes, secs = divmod(int(item["media_seconds"]), 60)
    line = f"{minutes}:{secs:02d}"
    levels = base64.b64decode(item.get("media_waveform") or "")
    if not levels:
        return f"♪ {line}"
    step = max(1, len(levels) // 16)
    bars = "".join(BARS[min(7, max(levels[i:i + step]) * 8 // 101)] for i in range(0, len(levels), step))
    return f"🎤 {line} {bars}"


@actions.forwarded
class ChatView(VerticalScroll, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"chat--{part}" for part in (
            "agent", "bot", "customer", "time", "note-head", "tick-quiet", "tick-read", "tick-failed", "failed",
            "edited", "deleted", "deleted-body", "quote", "system", "media", "media-error", "hint", "transcript",
            "reaction")
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "select(-1)", "Up", show=False, tooltip="Select the message above", id="chat.up"),
        Binding("down,j", "select(1)", "Down", show=False, tooltip="Select the message below", id="chat.down"),
        Binding("home", "select(-1000000)", show=False, tooltip="The oldest loaded message", id="chat.first"),
        Binding("end", "select(1000000)", show=False, tooltip="The newest message", id="chat.last"),
        *actions.bindings(actions.CHAT),
    ]

    @dataclass
    class NeedOlder(Message):
        ticket_id: int
        before_id: int

    @dataclass
    class Selected(Message):
        item: Item | None

    def __init__(self, *, namer: Namer, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.namer = namer
        self.clock = clock
        self.ticket_id: int | None = None
        self.more = False
        self.loading_older = False
        self._bubbles: dict[tuple[str, int | str], Bubble] = {}
        self._order: list[Bubble] = []
        self._held_notes: list[Item] = []  # notes older than the oldest loaded message: shown with its page
        self._reactions: dict[int, dict[str, Item]] = {}  # message id -> its latest reaction per side ("in"/"out")
        self._reaction_ids: dict[int, int] = {}  # a reaction's id -> the message it is on
        self.selected: int | None = None

    # -- loading ----------------------------------------------------------
    def clear_chat(self, text: str = "") -> None:
        self.ticket_id = None
        self.more = False
        self._bubbles.clear()
        self._order.clear()
        self._held_notes = []
        self._reactions.clear()
        self._reaction_ids.clear()
        self.selected = None
        self.remove_children()
        if text:
            self.mount(Static(text, classes="chat-empty"))

    def set_history(self, ticket_id: int, messages: list[Item], notes: list[Item], more: bool) -> None:
        self.clear_chat()
        self.ticket_id = ticket_id
        self.more = more
        messages = self._without_reactions(messages)
        notes = [{**n, "_note": True} for n in notes]
        oldest = messages[0]["created_at"] if messages else None
        if more and oldest is not None:
            self._held_notes = [n for n in notes if n["created_at"] < oldest]
            notes = [n for n in notes if n["created_at"] >= oldest]
        items = sorted([*messages, *notes], key=sort_key)
        if not items:
            self.mount(Static("No messages yet.", classes="chat-empty"))
            return
        self._after_layout(self.mount_all(self._widgets(items, None)), self._settle)

    def _after_layout(self, mounted: AwaitMount, then: Callable[..., None], *args: object) -> None:
        """Run ``then`` once the new bubbles are mounted and laid out.

        On a busy machine a refresh can come before that; measured then, a full page looks empty
        and the next page would be fetched at once.
        """
        async def mounted_then_laid_out() -> None:
            await mounted
            self.call_after_refresh(laid_out, LAYOUT_TRIES)

        def laid_out(tries: int) -> None:
            if self.virtual_size.height < len(self.children) and tries:  # every child is a line at least
                self.refresh(layout=True)
                self.call_after_refresh(laid_out, tries - 1)
            else:
                then(*args)
        self.call_next(mounted_then_laid_out)

    def _settle(self) -> None:
        """Show the newest message; fetch older ones at once if the page doesn't fill the view."""
        self.scroll_end(animate=False, immediate=True)
        if self.max_scroll_y == 0:
            self._want_older()

    def prepend(self, messages: list[Item], more: bool) -> None:
        """An older page: mount it above, keep what the agent was reading where it was."""
        self.loading_older = False
        self.more = more
        messages = self._without_reactions(messages)
        if not messages:
            return
        oldest = messages[0]["created_at"]
        notes = [n for n in self._held_notes if not more or n["created_at"] >= oldest]
        self._held_notes = [n for n in self._held_notes if n not in notes]
        items = sorted([*messages, *notes], key=sort_key)
        items = [i for i in items if item_key(i) not in self._bubbles]
        if not items:
            return
        first = self._order[0] if self._order else None
        widgets = self._widgets(items, None, at_head=True)
        if first is not None and format.same_day(items[-1]["created_at"], first.item["created_at"]):
            top = self.children[0] if self.children else None
            if isinstance(top, DayRule):
                top.remove()
        before_height = self.virtual_size.height
        if self.children:
            mounted = self.mount_all(widgets, before=self.children[0])
        else:
            mounted = self.mount_all(widgets)
        if self.selected is not None:
            self.selected += len(items)
        self._after_layout(mounted, self._keep_view, before_height)

    def _keep_view(self, before_height: int) -> None:
        self.scroll_to(y=self.scroll_y + self.virtual_size.height - before_height, animate=False, immediate=True)
        if self.max_scroll_y == 0:
            self._want_older()

    def _widgets(self, items: list[Item], previous: Item | None, at_head: bool = False) -> list[Static]:
        """Bubbles for items in order, with a day rule wherever the day changes."""
        widgets: list[Static] = []
        bubbles = []
        for item in items:
            if previous is None or not format.same_day(previous["created_at"], item["created_at"]):
                widgets.append(DayRule(format.day_label(item["created_at"], self.clock())))
            bubble = Bubble(item, self)
            self._bubbles[item_key(item)] = bubble
            bubbles.append(bubble)
            widgets.append(bubble)
            previous = item
        if at_head:
            self._order[:0] = bubbles
        else:
            self._order.extend(bubbles)
        return widgets

    # -- live updates -----------------------------------------------------
    def add(self, item: Item) -> None:
        """A new message or note of this ticket: update it if known, else append it (a reaction goes
        onto the message it is on)."""
        if is_reaction(item):
            self._fold(item)
            return
        key = item_key(item)
        if key in self._bubbles:
            known = self._bubbles[key].item
            if item.get("ack") == "queued" and known.get("ack") not in (None, "queued"):
                # the send's own reply, read after its ack events (a lost answer has no later one)
                item = {**item, "ack": known["ack"], "error": known.get("error")}
            self._bubbles[key].set_item(item)
            return
        for placeholder in self.query(".chat-empty"):
            placeholder.remove()
        previous = self._order[-1].item if self._order else None
        self.mount_all(self._widgets([item], previous))

    def drop(self, key: tuple[str, int | str]) -> None:
        """Take a bubble out (a waiting reply that went, or was refused)."""
        bubble = self._bubbles.pop(key, None)
        if bubble is None:
            return
        at = self._order.index(bubble)
        del self._order[at]
        if self.selected == at:
            self.selected = None
        elif self.selected is not None and self.selected > at:
            self.selected -= 1
        bubble.remove()

    def update(self, item: Item) -> None:
        if is_reaction(item) or item.get("id") in self._reaction_ids:
            self._fold(item)
            return
        bubble = self._bubbles.get(item_key(item))
        if bubble is not None:
            bubble.set_item({**bubble.item, **item})

    def set_ack(self, message_id: int, ack: str, error: str | None) -> None:
        if message_id in self._reaction_ids:
            target = self._reaction_ids[message_id]
            for side, reaction in self._reactions.get(target, {}).items():
                if reaction["id"] == message_id:
                    self._reactions[target][side] = {**reaction, "ack": ack, "error": error}
            self._redraw(target)
            return
        bubble = self._bubbles.get(("m", message_id))
        if bubble is not None:
            bubble.set_item({**bubble.item, "ack": ack, "error": error})

    # -- reactions ----------------------------------------------------------
    def _without_reactions(self, messages: list[Item]) -> list[Item]:
        """A page's messages with its reactions taken out onto the messages they are on."""
        for item in messages:
            if is_reaction(item):
                self._fold(item, redraw=False)
        return [m for m in messages if not is_reaction(m)]

    def _fold(self, reaction: Item, redraw: bool = True) -> None:
        """Keep a side's latest reaction on its message (an older one, from a page loaded later, loses)."""
        target = reaction["reaction_to"]
        side = "out" if reaction.get("direction") == "out" else "in"
        sides = self._reactions.setdefault(target, {})
        known = sides.get(side)
        if known is not None and known["id"] > reaction["id"]:
            return
        if known is not None and known["id"] == reaction["id"]:
            reaction = {**known, **reaction}
            if reaction.get("ack") == "queued" and known.get("ack") not in (None, "queued"):
                reaction.update(ack=known["ack"], error=known.get("error"))  # the answer, read after its acks
        sides[side] = reaction
        self._reaction_ids[reaction["id"]] = target
        if redraw:
            self._redraw(target)

    def _redraw(self, message_id: int) -> None:
        bubble = self._bubbles.get(("m", message_id))
        if bubble is not None:
            bubble.refresh(layout=True)

    def reactions_on(self, message_id: int | None) -> list[Item]:
        """The latest reaction of each side on a message: the customer's first, then the number's."""
        sides = self._reactions.get(message_id) or {}
        return [sides[side] for side in ("in", "out") if side in sides]

    def our_reaction(self, message_id: int) -> str:
        """The emoji the number has on a message now ("" for none)."""
        return (self._reactions.get(message_id) or {}).get("out", {}).get("body") or ""

    def find_message(self, message_id: int) -> Item | None:
        bubble = self._bubbles.get(("m", message_id))
        return bubble.item if bubble is not None else None

    def messages(self) -> list[Item]:
        return [b.item for b in self._order if not b.item.get("_note") and not b.item.get("_waiting")]

    @property
    def oldest_id(self) -> int | None:
        """The oldest loaded message's id (a reaction folded onto a message counts: pages go by id)."""
        ids = [m["id"] for m in self.messages()] + list(self._reaction_ids)
        return min(ids) if ids else None

    # -- selection --------------------------------------------------------
    @property
    def selected_item(self) -> Item | None:
        if self.selected is None or not 0 <= self.selected < len(self._order):
            return None
        return self._order[self.selected].item

    def action_select(self, delta: int) -> None:
        if not self._order:
            return
        old = self.selected
        start = len(self._order) if old is None and delta < 0 else (-1 if old is None else old)
        self.selected = max(0, min(start + delta, len(self._order) - 1))
        if old is not None and old < len(self._order):
            self._order[old].remove_class("-selected")
        bubble = self._order[self.selected]
        bubble.add_class("-selected")
        self.scroll_to_widget(bubble, animate=False, immediate=True)
        if self.selected == 0 and delta < 0:
            self._want_older()
        self.post_message(self.Selected(bubble.item))

    def on_mount(self) -> None:
        self.anchor()

    def on_focus(self) -> None:
        if self.selected is None and self._order:
            self.action_select(1000000)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 1 and old > new:
            self._want_older()

    def _want_older(self) -> None:
        oldest = self.oldest_id
        if self.more and not self.loading_older and self.ticket_id is not None and oldest is not None:
            self.loading_older = True
            self.post_message(self.NeedOlder(self.ticket_id, oldest))

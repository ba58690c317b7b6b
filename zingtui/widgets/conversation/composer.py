"""The composer: Enter sends, ctrl+j breaks the line, a leading ``/`` picks a quick reply.

It holds what goes with the next message (a quoted message, an attached file,
the signature choice, reply or private-note mode) and shows it on its border;
each ticket keeps its own unsent text, written to ``zingtui.drafts`` a moment after the agent stops
typing (and when they switch tickets or leave), so a restart gives it back; the pane does the sending.
While the agent types it reports "composing" at most every few seconds, and "stopped" after a pause or on send.

The assistant writes here too, never past the agent: a suggestion streams in below their draft and a
rewrite replaces it, while the composer is held (its keys wait, Enter sends nothing, Escape stops the
assistant); each arrives as one edit, so ctrl+z gives the draft back. Nothing the assistant writes is
sent until the agent sends it.

On a cloud number whose 24-hour window has closed (``zingtui.window``) only a template may go: the
border says so, and Enter on free text asks for the template picker instead of sending (the text stays;
a private note still saves).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from zingtui import actions, format
from zingtui.drafts import Drafts

TYPING_EVERY_S = 4.0
TYPING_IDLE_S = 5.0
KEEP_AFTER_S = 0.4  # the draft goes to disk this long after the last key
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
MOVES = frozenset({"up", "down", "left", "right", "home", "end", "pageup", "pagedown"})  # harmless while held


def expand(body: str, values: dict[str, str]) -> str:
    """Fill the variables the console knows; leave the rest (e.g. {{protocol}}) for zingd."""
    return VARIABLE.sub(lambda m: values.get(m.group(1).lower(), m.group(0)), body)


def rank_replies(replies: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """Fuzzy-match shortcut and body; the shortcut counts more."""
    if not query:
        return sorted(replies, key=lambda r: r["shortcut"])
    matcher = Matcher(query)
    scored = []
    for reply in replies:
        score = max(matcher.match(reply["shortcut"]) * 2, matcher.match(reply["body"]))
        if score > 0:
            scored.append((score, reply))
    scored.sort(key=lambda pair: (-pair[0], pair[1]["shortcut"]))
    return [reply for _, reply in scored]


def file_size(path: Path) -> str:
    try:
        return format.size(path.stat().st_size)
    except OSError:
        return "(missing)"


class ComposerInput(TextArea):
    """A TextArea where Enter submits; the menu's arrows and Enter win while it is open."""

    async def _on_key(self, event: events.Key) -> None:
        composer = self.composer
        if composer.held and event.key not in MOVES:  # the assistant writes: keys wait, none falls to the screen
            event.stop()
            event.prevent_default()
            if event.key == "escape":
                composer.escape()
            return
        menu_open = composer.menu.display
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if menu_open and event.key in ("up", "down"):
            event.stop()
            event.prevent_default()
            composer.menu.action_cursor_up() if event.key == "up" else composer.menu.action_cursor_down()
            return
        if event.key in ("enter", "tab") and menu_open:
            event.stop()
            event.prevent_default()
            composer.pick_reply()
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            composer.submit()
            return
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            composer.escape()
            return
        await super()._on_key(event)

    @property
    def composer(self) -> Composer:
        return self.parent  # type: ignore[return-value]


def joined(back: str, typed: str) -> str:
    """A draft given back, with what was typed meanwhile below it."""
    return f"{back}\n{typed}" if typed.strip() else back


@dataclass
class Hold:
    """The assistant is writing into one ticket's draft: what it does, and where its text is so far."""

    ticket_id: int
    what: str
    base: tuple[int, int] = (0, 0)  # the end of the agent's draft: a suggestion goes on a line below it
    start: tuple[int, int] = (0, 0)
    end: tuple[int, int] = (0, 0)
    here: bool = True  # False once the agent moved to another ticket: the text goes to that ticket's draft


def below(draft: str, text: str) -> str:
    """The assistant's text under the agent's draft (or alone, when there is none)."""
    return "\n".join(part for part in (draft.rstrip(), text) if part.strip())


@dataclass
class Draft:
    ticket_id: int | None
    body: str
    note: bool
    quoted: dict[str, Any] | None
    attachment: Path | None
    signature: bool | None


@actions.forwarded
class Composer(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [*actions.bindings(actions.COMPOSER)]

    note = reactive(False)
    quoted: reactive[dict[str, Any] | None] = reactive(None)
    attachment: reactive[Path | None] = reactive(None)
    signature: reactive[bool | None] = reactive(None)
    window_closed = reactive(False)  # a cloud ticket outside the 24-hour window: templates only

    @dataclass
    class Submitted(Message):
        draft: Draft

    @dataclass
    class Typing(Message):
        ticket_id: int
        composing: bool

    @dataclass
    class Escaped(Message):
        """Escape with nothing left to cancel: the screen moves focus back to the list."""

    @dataclass
    class NeedReplies(Message):
        """The quick-reply menu opened: the screen refreshes the list."""

    @dataclass
    class NeedTemplate(Message):
        """Enter with the window closed: the screen opens the template picker (the text stays here)."""

    @dataclass
    class StopAssistant(Message):
        """Escape while the assistant writes: the pane stops the call (what it wrote so far goes)."""

    def __init__(self, drafts: Drafts, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drafts = drafts
        self.replies: list[dict[str, Any]] = []
        self.variables: dict[str, str] = {}
        self.target = ""
        self.ticket_id: int | None = None
        self.default_signature = False
        self._shown: list[dict[str, Any]] = []
        self._typing_sent = 0.0
        self._idle_timer = None
        self._keep_timer = None
        self.hold: Hold | None = None

    def compose(self) -> ComposeResult:
        menu = OptionList(id="quick-replies")
        menu.display = False
        menu.can_focus = False
        yield menu
        yield ComposerInput(id="composer-input", soft_wrap=True, compact=True)

    @property
    def input(self) -> ComposerInput:
        return self.query_one(ComposerInput)

    @property
    def menu(self) -> OptionList:
        return self.query_one("#quick-replies", OptionList)

    # -- state shown on the border ------------------------------------------
    @property
    def held(self) -> bool:
        """The assistant is writing into the draft on screen."""
        return self.hold is not None and self.hold.here

    def _decorate(self) -> None:
        self.set_class(self.note, "-note")
        self.set_class(self.window_closed and not self.note, "-closed")
        held = self.held
        self.set_class(held, "-held")
        title = f"Private note on {self.target}" if self.note else (f"Reply to {self.target}" if self.target else "")
        self.border_title = title
        if held:
            self.border_subtitle = f"🤖 {self.hold.what}… · esc stops"
            return
        bits = []
        if self.quoted:
            bits.append(f"↩ {format.preview(self.quoted, 30)}")
        if self.attachment is not None:
            bits.append(f"▣ {self.attachment.name} {file_size(self.attachment)}")
        if not self.note:
            sign = self.default_signature if self.signature is None else self.signature
            bits.append("✍ on" if sign else "✍ off")
        if self.note:
            bits.append("⏎ save note · esc cancel")
        elif self.window_closed:
            bits = ["window closed: templates only · ⏎ picks a template"]
        else:
            bits.append("⏎ send · ^j newline · / replies")
        self.border_subtitle = " · ".join(bits)

    def watch_note(self) -> None:
        self._decorate()

    def watch_quoted(self) -> None:
        self._decorate()

    def watch_attachment(self) -> None:
        self._decorate()

    def watch_signature(self) -> None:
        self._decorate()

    def watch_window_closed(self) -> None:
        self._decorate()

    def set_target(self, ticket_id: int, name: str, variables: dict[str, str]) -> None:
        """The ticket the composer writes to. Each ticket keeps its own unsent text; the quote,
        the attachment and the modes belong to the ticket being left and are dropped."""
        if ticket_id != self.ticket_id:
            self._stop_typing()
            self._leave_hold()
            self.keep()
            self.ticket_id = ticket_id
            self.input.load_text(self.drafts.text(ticket_id))
            self.input.move_cursor(self.input.document.end)  # typing goes on where it stopped
            self.note, self.quoted, self.attachment, self.signature = False, None, None, None
        self.target = name
        self.variables = variables
        self._decorate()

    # -- quick replies ----------------------------------------------------
    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        text = self.input.text
        wants_menu = text.startswith("/") and "\n" not in text and not self.note
        if wants_menu and not self.menu.display:
            self.post_message(self.NeedReplies())
        self._fill_menu(text[1:] if wants_menu else None)
        if text.strip() and self.input.has_focus and self.hold is None:  # a draft coming back is not typing
            self._typing()
        if self._keep_timer is not None:
            self._keep_timer.stop()
        self._keep_timer = self.set_timer(KEEP_AFTER_S, self.keep)

    def keep(self) -> None:
        """Write the open ticket's text to the drafts file (nothing when it did not change)."""
        if self._keep_timer is not None:
            self._keep_timer.stop()
            self._keep_timer = None
        if self.ticket_id is not None and self.is_mounted:
            self.drafts.keep(self.ticket_id, self.input.text)

    def _fill_menu(self, query: str | None) -> None:
        menu = self.menu
        if query is None:
            menu.display = False
            return
        self._shown = rank_replies(self.replies, query)[:20]
        menu.clear_options()
        menu.add_options(
            Option(f"/{r['shortcut']}  {format.first_line(expand(r['body'], self.variables), 200)}")
            for r in self._shown
        )
        if not self._shown:
            menu.add_option(Option("no quick reply matches", disabled=True))
        menu.highlighted = 0 if self._shown else None
        menu.display = True

    def set_replies(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        if self.menu.display:
            self._fill_menu(self.input.text[1:])

    def pick_reply(self) -> None:
        index = self.menu.highlighted
        if index is None or not 0 <= index < len(self._shown):
            return
        body = expand(self._shown[index]["body"], self.variables)
        self.menu.display = False
        self.input.load_text(body)
        self.input.move_cursor(self.input.document.end)

    # -- typing presence --------------------------------------------------
    def _typing(self) -> None:
        if self.ticket_id is None:
            return
        now = time.monotonic()
        if now - self._typing_sent > TYPING_EVERY_S:
            self._typing_sent = now
            self.post_message(self.Typing(self.ticket_id, True))
        if self._idle_timer is not None:
            self._idle_timer.stop()
        self._idle_timer = self.set_timer(TYPING_IDLE_S, self._stop_typing)

    def _stop_typing(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.stop()
            self._idle_timer = None
        if self._typing_sent and self.ticket_id is not None:
            self._typing_sent = 0.0
            self.post_message(self.Typing(self.ticket_id, False))

    # -- sending ----------------------------------------------------------
    def submit(self) -> None:
        if self.held:
            return  # the assistant is still writing: the agent sends once they have read it
        body = self.input.text.strip()
        if self.window_closed and not self.note:
            self.post_message(self.NeedTemplate())  # free text can't go: the agent picks a template
            return
        if not body and self.attachment is None:
            return
        self._stop_typing()
        draft = Draft(self.ticket_id, body, self.note, self.quoted, self.attachment, self.signature)
        self.post_message(self.Submitted(draft))

    def sent(self) -> None:
        """The pane has taken the draft (it is saved as a waiting reply, or being saved as a note): clear it."""
        self.input.clear()
        self.keep()
        self.quoted = None
        self.attachment = None
        self.note = False

    def restore(self, draft: Draft) -> None:
        """Sending failed: give the agent their draft back, above whatever they typed since (into its
        ticket's drafts if they moved on)."""
        if draft.ticket_id != self.ticket_id:
            if draft.ticket_id is not None:
                self.drafts.keep(draft.ticket_id, joined(draft.body, self.drafts.text(draft.ticket_id)))
            return
        self.input.load_text(joined(draft.body, self.input.text))
        self.input.move_cursor(self.input.document.end)
        self.keep()
        self.note, self.quoted, self.attachment, self.signature = (draft.note, draft.quoted, draft.attachment,
                                                                   draft.signature)

    def escape(self) -> None:
        if self.held:
            self.post_message(self.StopAssistant())
        elif self.menu.display:
            self.menu.display = False
        elif self.quoted is not None:
            self.quoted = None
        elif self.attachment is not None:
            self.attachment = None
        elif self.note:
            self.note = False
        else:
            self.post_message(self.Escaped())

    # -- the assistant writing ----------------------------------------------
    def _take(self, ticket_id: int, what: str) -> Hold | None:
        """Hold the ticket's draft for the assistant; None when it already writes, or the agent moved on."""
        if self.hold is not None:
            self.notify("The assistant is still writing (esc stops it)", title="assistant", severity="warning")
            return None
        if ticket_id != self.ticket_id:
            return None
        self.menu.display = False
        self.hold = Hold(ticket_id, what)
        self.input.read_only = True
        self.input.history.checkpoint()  # what the agent typed is one undo step, the assistant's another
        self._decorate()
        return self.hold

    def begin_suggestion(self, ticket_id: int) -> bool:
        """Make room for a suggestion under the draft; False when the assistant is already writing."""
        hold = self._take(ticket_id, "suggesting a reply")
        if hold is None:
            return False
        area = self.input
        if area.text.strip():
            hold.base = area.document.end
            hold.start = hold.end = area.insert("\n", hold.base).end_location
        else:
            area.clear()
        return True

    def suggestion_piece(self, ticket_id: int, piece: str) -> None:
        """One streamed piece of the suggestion, at the end of what came so far."""
        hold = self.hold
        if hold is None or not hold.here or hold.ticket_id != ticket_id or not piece:
            return
        hold.end = self.input.insert(piece, hold.end).end_location
        self.input.move_cursor(hold.end)  # the view follows the text as it comes

    def end_suggestion(self, ticket_id: int, text: str | None) -> None:
        """The whole suggestion (None: it failed or was stopped, and the pieces shown go)."""
        hold = self._release(ticket_id)
        if hold is None:
            return
        text = (text or "").strip()
        area = self.input
        if hold.here:
            if not text:  # nothing usable came: the draft as it was, without the line made for it
                area.delete(hold.base, hold.end)
            elif area.get_text_range(hold.start, hold.end) != text:
                area.replace(text, hold.start, hold.end)
        elif not text:
            return
        elif ticket_id == self.ticket_id:  # the agent went away and came back meanwhile
            area.replace(below(area.text, text), (0, 0), area.document.end)
        else:
            self.drafts.keep(ticket_id, below(self.drafts.text(ticket_id), text))
            self.notify(f"The suggestion for #{ticket_id} is in its draft", title="assistant")
            return
        self._settle()

    def begin_rewrite(self, ticket_id: int) -> bool:
        """Hold the draft while the assistant rewrites it; False when it is already writing."""
        return self._take(ticket_id, "rewriting your draft") is not None

    def end_rewrite(self, ticket_id: int, text: str | None) -> None:
        """The rewritten draft replaces the draft as one edit (ctrl+z gives the old one back); None: unchanged."""
        hold = self._release(ticket_id)
        text = (text or "").strip()
        if hold is None or not text:
            return
        if ticket_id == self.ticket_id:
            self.input.replace(text, (0, 0), self.input.document.end)
            self._settle()
        else:
            self.drafts.keep(ticket_id, text)
            self.notify(f"The rewritten draft of #{ticket_id} is in its draft", title="assistant")

    def _release(self, ticket_id: int) -> Hold | None:
        hold = self.hold
        if hold is None or hold.ticket_id != ticket_id:
            return None
        self.hold = None
        if self.is_mounted:
            self.input.read_only = False
            self._decorate()
        return hold if self.is_mounted else None

    def _settle(self) -> None:
        """After the assistant wrote: the cursor at the end, its text one undo step, the draft kept."""
        area = self.input
        area.history.checkpoint()
        area.move_cursor(area.document.end)
        self.keep()

    def _leave_hold(self) -> None:
        """The agent moves to another ticket while the assistant writes: what it wrote so far leaves the
        draft (the whole answer joins that ticket's draft when it comes), and the keys are the agent's again."""
        hold = self.hold
        if hold is None or not hold.here:
            return
        if hold.end != hold.base:
            self.input.delete(hold.base, hold.end)
        hold.here = False
        self.input.read_only = False

"""The template picker: one of a cloud number's approved WhatsApp templates, its variables filled, sent.

Outside the 24-hour window a template is the only thing a cloud number may send (``zingtui.window``);
inside it, one still says what Meta approved. The list is ``template.list`` for the ticket's number,
APPROVED only; picking one shows an input per variable (Meta's example as the placeholder) and the
text the customer will read, as zingd renders it (header, body, footer; a variable not filled yet
shows as itself). The dialog sends (``message.send_template``) and shows zingd's refusal in place, so
the agent can fix a value and send again; one key (``client_ref``) per dialog, so a send whose answer
was lost and is sent again queues one message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from zingd.errors import ZingError
from zingtui import format
from zingtui.screens.dialogs import Dialog

VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")  # as zingd/services/templates.py reads them

Send = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _text(template: dict[str, Any], kind: str) -> str:
    part = next((c for c in template.get("components") or () if str(c.get("type", "")).upper() == kind), None)
    return str(part.get("text") or "") if part else ""


def preview(template: dict[str, Any], values: list[str]) -> str:
    """The text the customer reads: header, body and footer, each variable replaced by its value (by
    component, in ``params`` order); one without a value yet stays ``{{name}}``."""
    filled: dict[str, dict[str, str]] = {}
    for param, value in zip(template.get("params") or (), values):
        if value.strip():
            filled.setdefault(param["component"], {})[param["name"]] = value.strip()

    def fill(text: str, component: str) -> str:
        known = filled.get(component, {})
        return VAR.sub(lambda m: known.get(m.group(1), m.group(0)), text)

    parts = (fill(_text(template, "HEADER"), "header"), fill(template.get("body") or "", "body"),
             _text(template, "FOOTER"))
    return "\n\n".join(p for p in parts if p)


def label(template: dict[str, Any]) -> str:
    """"pedido_saiu · pt_BR · UTILITY — Olá {{1}}, seu pedido…": one line of the list."""
    return (f"{template['name']} · {template['language']} · {template.get('category') or '?'} — "
            f"{format.first_line(template.get('body') or '', 60)}")


class TemplateDialog(Dialog):
    """↑↓ and ⏎ pick a template; then one input per variable (⏎ goes to the next, on the last it sends)."""

    TITLE_TEXT = "Send a template"

    def __init__(self, ticket: dict[str, Any], templates: list[dict[str, Any]], send: Send,
                 closed: bool = False) -> None:
        super().__init__()
        self.ticket = ticket
        self.templates = templates
        self.send = send
        self.closed = closed
        self.chosen: dict[str, Any] | None = None
        self.client_ref = f"tpl-{secrets.token_hex(8)}"
        self.sending = False

    def body(self) -> ComposeResult:
        why = "  · window closed: only a template can go" if self.closed else ""
        yield Label(f"To #{self.ticket['id']} {format.contact_name(self.ticket)}{why}")
        if self.templates:
            yield OptionList(*(Option(label(t)) for t in self.templates), id="templates")
        else:
            yield Label("This number has no approved template yet (an admin: zingctl templates sync "
                        f"{self.ticket.get('connection_id')}).", classes="hint")
        yield Vertical(id="template-fields")
        yield Static("", id="template-preview")
        yield Static("", id="template-error", classes="error")
        yield Static("↑↓ choose · ⏎ pick · ⏎ next field, on the last one sends · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#template-preview", Static).display = False
        if self.templates:
            self.query_one("#templates", OptionList).highlighted = 0

    @property
    def inputs(self) -> list[Input]:
        return list(self.query("#template-fields Input").results(Input))

    @property
    def values(self) -> list[str]:
        return [box.value for box in self.inputs]

    async def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        await self.choose(self.templates[event.option_index])

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        await self.choose(self.templates[event.option_index])
        if self.inputs:
            self.inputs[0].focus()
        else:
            self.submit()

    async def choose(self, template: dict[str, Any]) -> None:
        """Show the template's variables (an input each) and its text."""
        if self.chosen is template:
            return
        self.chosen = template
        fields = self.query_one("#template-fields", Vertical)
        await fields.remove_children()
        boxes = [Input(placeholder=f"{p['component']} {{{{{p['name']}}}}}" + (f" — e.g. {p['example']}"
                                                                            if p.get("example") else ""),
                       id=f"param-{i}") for i, p in enumerate(template.get("params") or ())]
        if boxes:
            await fields.mount_all(boxes)
        self.show_preview()
        self.say("")

    def show_preview(self) -> None:
        panel = self.query_one("#template-preview", Static)
        panel.display = self.chosen is not None
        if self.chosen is not None:
            panel.update(preview(self.chosen, self.values))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_preview()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        boxes = self.inputs
        at = boxes.index(event.input) if event.input in boxes else len(boxes) - 1
        if at < len(boxes) - 1:
            boxes[at + 1].focus()
        else:
            self.submit()

    def say(self, text: str) -> None:
        self.query_one("#template-error", Static).update(text)

    def action_cancel(self) -> None:
        """Not while a send is out: zingd may be queueing it, and the console must see the answer."""
        if self.sending:
            self.say("Sending… (the answer comes first)")
            return
        super().action_cancel()

    def submit(self) -> None:
        template = self.chosen
        if template is None or self.sending:
            return
        for param, value in zip(template.get("params") or (), self.values):
            if not value.strip():
                self.say(f"Fill {param['component']} {{{{{param['name']}}}}} first")
                return
        self.run_worker(self._send(template, [v.strip() for v in self.values]), group="template-send")

    async def _send(self, template: dict[str, Any], values: list[str]) -> None:
        self.sending = True
        self.say("Sending…")
        params = {"ticket_id": self.ticket["id"], "template_id": template["id"], "params": values,
                  "client_ref": self.client_ref}
        try:
            sent = await self.send(params)
        except ZingError as e:
            self.say(e.message)
            self.client_ref = f"tpl-{secrets.token_hex(8)}"  # refused: the next send is a new one
            return
        except ConnectionError:
            self.say("zingd is not reachable; try again once it is back")
            return
        finally:
            self.sending = False
        self.dismiss(sent)

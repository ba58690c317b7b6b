"""The contact panel: who the customer is, their fields and tags, their wallet owner, their past
tickets; ``e`` edits, ``o`` puts the contact in a wallet or takes it out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from zingtui import format
from zingtui.screens.dialogs import Dialog


def fields_text(fields: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in fields.items())


def parse_fields(text: str) -> dict[str, str]:
    """``key: value`` per line; lines without a colon are ignored."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


class ContactScreen(Dialog):
    """The colours of the card are component classes (``contact--tags``...) styled in app.tcss."""

    TITLE_TEXT = "Contact"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"contact--name", "contact--muted", "contact--tags", "contact--opted-out"}
    BINDINGS: ClassVar[list[BindingType]] = [Binding("e", "edit", "Edit", id="contact.edit"),
                                             Binding("o", "wallet", "Wallet", id="contact.wallet")]

    def __init__(self, contact: dict[str, Any], ticket: dict[str, Any]) -> None:
        super().__init__()
        self.contact = contact
        self.ticket = ticket

    def body(self) -> ComposeResult:
        yield Static(id="contact-info")
        yield Label("Past tickets", classes="section")
        yield OptionList(id="past-tickets")
        yield Static("e edit · o wallet · ⏎ open ticket · esc close", classes="hint")

    def on_mount(self) -> None:
        self.show()

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"contact--{part}", partial=True)

    def show(self) -> None:
        c = self.contact
        muted = self._style("muted")
        info = Text()
        info.append(c.get("name") or c.get("push_name") or "(no name)", style=self._style("name"))
        if c.get("push_name") and c.get("name"):
            info.append(f"  ~{c['push_name']}", style=muted)
        info.append(f"\n{format.address(c.get('number', ''))}")
        if c.get("email"):
            info.append(f"  {c['email']}")
        for label, tags in (("contact", c.get("tags")), ("ticket", self.ticket.get("tags"))):
            if tags:
                info.append(f"\n{label} tags: ", style=muted)
                info.append(" ".join(f"#{t}" for t in tags), style=self._style("tags"))
        for key, value in (c.get("custom_fields") or {}).items():
            info.append(f"\n{key}: ", style=muted)
            info.append(str(value))
        if c.get("owner_user_id"):
            info.append("\nwallet: ", style=muted)
            info.append(self._owner_name())
        if c.get("opted_out"):
            info.append("\nopted out of campaigns", style=self._style("opted-out"))
        for m in c.get("merges") or []:
            how = f"by {m.get('user_name') or 'a user'}" if m.get("user_id") else f"automatically: {m.get('reason')}"
            info.append(f"\nmerged from {format.address(m['merged_number'])}, {how}", style=muted)
        self.query_one("#contact-info", Static).update(info)
        past = self.query_one("#past-tickets", OptionList)
        past.clear_options()
        clock = self.app.clock()
        for t in c.get("tickets") or []:
            past.add_option(Option(f"#{t['id']}  {t['status']:<7} {format.short_when(t.get('created_at'), clock):>6}  "
                                   f"{format.first_line(t.get('last_message') or '', 60)}"))

    def daemon_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "contact.updated":
            return
        contact = data.get("contact") or {}
        if data.get("merged") is not None and self.contact["id"] in (data["merged"], contact.get("id")):
            self.reload(contact["id"])  # folded into the person (or something folded in): tickets and tags moved
        elif contact.get("id") == self.contact["id"]:
            self.contact = {**self.contact, **contact}
            self.show()

    @work(group="contact")
    async def reload(self, contact_id: int) -> None:
        found = await self.app.call("contact.get", {"id": contact_id}, quiet=True)
        if found is not None:
            self.contact = found
            self.show()

    def _owner_name(self) -> str:
        owner_id = self.contact.get("owner_user_id")
        known = self.contact.get("owner") or {}
        users = self.app.main_screen.directory.users if self.app.main_screen else {}
        return (users.get(owner_id) or (known if known.get("id") == owner_id else {})).get("name") or f"user {owner_id}"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.contact["tickets"][event.option_index]["id"])

    def action_wallet(self) -> None:
        """Whose customer this is (inbound tickets go to them): a supervisor picks anyone; an agent puts
        an unowned contact in their own wallet or takes their own out, as zingd allows."""
        session, owner = self.app.session, self.contact.get("owner_user_id")
        if not session.supervisor and owner not in (None, session.me):
            self.notify(f"{self._owner_name()}'s customer: only a supervisor moves it to another wallet",
                        severity="warning")
            return
        users = list(self.app.main_screen.directory.users.values()) if session.supervisor else [session.user]
        self.app.push_screen(WalletDialog(self.contact, users), self._wallet_chosen)

    def _wallet_chosen(self, choice: dict[str, Any] | None) -> None:
        if choice is not None:
            self.save(choice)

    def action_edit(self) -> None:
        self.app.push_screen(ContactEditDialog(self.contact), self._saved)

    def _saved(self, changes: dict[str, Any] | None) -> None:
        if changes:
            self.save(changes)

    @work(group="contact")
    async def save(self, changes: dict[str, Any]) -> None:
        tags = changes.pop("tags", None)
        if changes:
            updated = await self.app.call("contact.update", {"id": self.contact["id"], **changes})
            if updated is None:
                return
            self.contact = {**self.contact, **updated}
        if tags is not None:
            tagged = await self.app.call("contact.set_tags", {"id": self.contact["id"], "tags": tags})
            if tagged is None:
                return
            self.contact["tags"] = tagged["tags"]
        self.show()
        self.notify("Contact saved")


class WalletDialog(Dialog):
    """Pick the wallet owner, or nobody; Enter chooses."""

    TITLE_TEXT = "Wallet"

    def __init__(self, contact: dict[str, Any], users: list[dict[str, Any]]) -> None:
        super().__init__()
        self.contact = contact
        self.choices: list[tuple[int | None, str]] = [(None, "Nobody: their tickets go through the queues")] + [
            (u["id"], u["name"]) for u in sorted(users, key=lambda u: u["name"])]

    def body(self) -> ComposeResult:
        yield Label(f"Whose customer is {self.contact.get('name') or format.address(self.contact.get('number', ''))}?")
        yield OptionList(*(Option(("● " if uid == self.contact.get("owner_user_id") else "  ") + label)
                           for uid, label in self.choices), id="owners")
        yield Static("↑↓ choose · ⏎ set · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#owners", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss({"owner_user_id": self.choices[event.option_index][0]})


class ContactEditDialog(Dialog):
    """Name, e-mail, tags (comma separated) and custom fields (one ``key: value`` per line); ctrl+s saves."""

    TITLE_TEXT = "Edit contact"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Save", priority=True, id="contact_edit.save")]

    def __init__(self, contact: dict[str, Any]) -> None:
        super().__init__()
        self.contact = contact

    def body(self) -> ComposeResult:
        yield Label("Name")
        yield Input(self.contact.get("name") or "", id="name")
        yield Label("E-mail")
        yield Input(self.contact.get("email") or "", id="email")
        yield Label("Tags (comma separated)")
        yield Input(", ".join(self.contact.get("tags") or []), id="tags")
        yield Label("Fields (key: value per line)")
        yield TextArea(fields_text(self.contact.get("custom_fields") or {}), id="fields", compact=True)
        yield Static("^s save · esc cancel", classes="hint")

    def on_input_submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        changes: dict[str, Any] = {}
        for name in ("name", "email"):
            value = self.query_one(f"#{name}", Input).value.strip()
            if value != (self.contact.get(name) or ""):
                changes[name] = value
        tags = [t.strip().lstrip("#") for t in self.query_one("#tags", Input).value.split(",") if t.strip()]
        if tags != list(self.contact.get("tags") or []):
            changes["tags"] = tags
        fields = parse_fields(self.query_one("#fields", TextArea).text)
        if fields != {k: str(v) for k, v in (self.contact.get("custom_fields") or {}).items()}:
            changes["custom_fields"] = fields
        self.dismiss(changes)

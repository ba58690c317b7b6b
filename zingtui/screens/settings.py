"""The company's settings (``e``, admins): every tenant setting, its value or the daemon's default, to change or clear.

What there is and what each one is while not set come from zingd (``tenant.get``: ``settings`` and
``defaults``), so a setting a newer zingd adds shows up here without a console release. A change
goes as a patch (``tenant.update_settings``), the way ``zingctl tenants settings`` sends it; null
takes a setting back to its default. zingd checks every value; a refusal ends in one toast.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label, OptionList, Static, Switch
from textual.widgets.option_list import Option

from zingtui.screens.dialogs import Dialog

# What each setting does, as the list and the dialog say it (one zingd adds later shows by its key).
ABOUT = {
    "rating": "Ask customers to rate a ticket when it closes",
    "rating_prompt": "The rating question",
    "rating_thanks": "The reply to a rating",
    "region": "Country local phone numbers are read in, e.g. BR",
    "opt_out_keywords": "Words that opt a contact out of campaigns (comma separated)",
    "opt_out_reply": "The reply to an opt-out",
}


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def setting_line(key: str, settings: dict[str, Any], defaults: dict[str, Any]) -> str:
    value = shown(settings[key]) if key in settings else f"(default: {shown(defaults.get(key, ''))})"
    return f"{key:<18} {value}"


class SettingsScreen(Dialog):
    """One line per setting; ``e``/⏎ edits the highlighted one, ``c`` clears it back to its default."""

    TITLE_TEXT = "Company settings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit_setting", "Edit", id="settings.edit"),
        Binding("c", "clear_setting", "Clear (default)", id="settings.clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}
        self.keys: list[str] = []

    def body(self) -> ComposeResult:
        yield OptionList(id="settings")
        yield Static("e/⏎ edit · c back to the default · esc close", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#settings", OptionList).focus()
        self.load_settings()

    @work(group="settings-load", exclusive=True)
    async def load_settings(self) -> None:
        tenant = await self.app.call("tenant.get", {})
        if tenant is None:
            return
        self.settings, self.defaults = tenant.get("settings") or {}, tenant.get("defaults") or {}
        self.keys = [*self.defaults, *(k for k in self.settings if k not in self.defaults)]
        view = self.query_one("#settings", OptionList)
        keep = view.highlighted
        view.clear_options()
        view.add_options(Option(setting_line(k, self.settings, self.defaults)) for k in self.keys)
        if self.keys:
            view.highlighted = min(keep or 0, len(self.keys) - 1)

    def _current(self) -> str | None:
        index = self.query_one("#settings", OptionList).highlighted
        return self.keys[index] if index is not None and index < len(self.keys) else None

    def action_edit_setting(self) -> None:
        key = self._current()
        if key is not None:
            value = self.settings.get(key, self.defaults.get(key))
            self.app.push_screen(SettingDialog(key, value), self._saved)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_edit_setting()

    def _saved(self, key: str | None) -> None:
        if key is not None:
            self.notify(f"Saved {key}")
            self.load_settings()

    def action_clear_setting(self) -> None:
        key = self._current()
        if key is not None and key in self.settings:
            self.clear_setting(key)
        elif key is not None:
            self.notify(f"{key} already is the default", severity="warning")

    @work(group="settings-change")
    async def clear_setting(self, key: str) -> None:
        if await self.app.call("tenant.update_settings", {key: None}) is not None:
            self.notify(f"{key} is back to its default: {shown(self.defaults.get(key, ''))}")
            self.load_settings()


class SettingDialog(Dialog):
    """One setting's value: a switch for on/off, a line of text, or comma-separated words for a list.
    ctrl+s (or ⏎ in the text) saves through zingd and closes only when zingd took it."""

    TITLE_TEXT = "Setting"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="setting.save")]

    def __init__(self, key: str, value: Any) -> None:
        super().__init__()
        self.key, self.value = key, value

    def body(self) -> ComposeResult:
        yield Label(f"{self.key}: {ABOUT.get(self.key, '')}".rstrip(": "))
        if isinstance(self.value, bool):
            yield Switch(self.value, id="value")
        else:
            yield Input(shown(self.value if self.value is not None else ""), id="value")
        yield Static("^s save · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#value").focus()

    def on_input_submitted(self) -> None:
        self.save()

    def action_save(self) -> None:
        self.save()

    def _entered(self) -> Any:
        if isinstance(self.value, bool):
            return self.query_one("#value", Switch).value
        text = self.query_one("#value", Input).value
        if isinstance(self.value, list):
            return [w.strip() for w in text.split(",") if w.strip()]
        return text.strip()

    @work(group="setting-save", exclusive=True)
    async def save(self) -> None:
        if await self.app.call("tenant.update_settings", {self.key: self._entered()}) is not None:
            self.dismiss(self.key)

"""Your own keys: the ``[keymap]`` table of config.toml (the file zingd reads) gives any binding other keys.

Every binding of the console has an id: ``<area>.<what>``, e.g. ``list.accept``,
``chat.quote``, ``composer.close``, ``dialog.cancel``. The table maps ids to
keys and Textual's ``App.set_keymap`` does the rest, so the footer, the key
panel (``?``) and the command palette show the new keys. TOML's dotted keys
read as one table per area::

    [keymap]
    list.accept = "x"
    composer.close = "ctrl+w"
    list.search = "slash,ctrl+f"     # several keys: comma separated

``zingtui --keys`` prints every id with its keys. An id that names no binding
is an error that says so, never a key that silently stays as it was.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.binding import Binding


class KeymapError(ValueError):
    """The [keymap] table can't be used as it is; the message says where and why."""


def _owners() -> tuple[type, ...]:
    """The classes that declare the console's bindings (imported here: the screens import a lot)."""
    from zingtui.app import ZingApp
    from zingtui.screens.campaigns import CampaignsScreen
    from zingtui.screens.connections import ConnectionsScreen
    from zingtui.screens.contact import ContactEditDialog, ContactScreen
    from zingtui.screens.copilot import RewriteDialog, SummaryDialog, TagProposalDialog
    from zingtui.screens.dialogs import AttachDialog, CloseDialog, Dialog, ResendDialog, TagDialog
    from zingtui.screens.main import MainScreen
    from zingtui.screens.manage import ConfirmDialog, ManageScreen, QuickReplyDialog
    from zingtui.screens.search import SearchScreen
    from zingtui.screens.settings import SettingDialog, SettingsScreen
    from zingtui.screens.supervisor import AgentNoteDialog, SupervisorScreen
    from zingtui.widgets.conversation.chat import ChatView
    from zingtui.widgets.conversation.composer import Composer
    from zingtui.widgets.queue.ticket_list import TicketList

    return (ZingApp, MainScreen, TicketList, ChatView, Composer, Dialog, CloseDialog, ResendDialog, TagDialog,
            AttachDialog, SearchScreen, ContactScreen, ContactEditDialog, CampaignsScreen, ConnectionsScreen,
            ManageScreen, QuickReplyDialog, ConfirmDialog, SettingsScreen, SettingDialog, RewriteDialog,
            SummaryDialog, TagProposalDialog, SupervisorScreen, AgentNoteDialog)


def _declared(owner: type) -> list[Binding]:
    """The bindings a class has from zingtui: its own and its zingtui bases' (a dialog's escape)."""
    return [binding for cls in owner.__mro__ if cls.__module__.startswith("zingtui.")
            for binding in cls.__dict__.get("BINDINGS", ()) if isinstance(binding, Binding) and binding.id]


def bindings() -> dict[str, Binding]:
    """Every binding of the console by id, with its default keys."""
    out: dict[str, Binding] = {}
    for owner in _owners():
        for binding in owner.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                out.setdefault(binding.id, binding)
    return out


def clashes(keymap: Mapping[str, str]) -> list[str]:
    """Keys the keymap gives to two bindings of one place, as "c: list.accept, list.close".

    Textual lets the keymap's binding have the key and drops the other one's; the console says so.
    """
    found = set()
    for owner in _owners():
        holders: dict[str, set[str]] = {}
        for binding in _declared(owner):
            for key in keymap.get(binding.id, binding.key).split(","):
                holders.setdefault(_key_name(key.strip()), set()).add(binding.id)
        for key, ids in holders.items():
            if len(ids) > 1 and ids & set(keymap):
                found.add(f"{key}: {', '.join(sorted(ids))}")
    return sorted(found)


def parse(table: Mapping[str, Any], known: Mapping[str, Binding] | None = None,
          where: str = "[keymap]") -> dict[str, str]:
    """A [keymap] table as Textual's keymap: ``{id: "key,key"}``; nested tables are dotted ids."""
    known = bindings() if known is None else known
    out: dict[str, str] = {}
    for binding_id, keys in _flatten(table).items():
        if binding_id not in known:
            raise KeymapError(f"{where}: no key binding has the id {binding_id!r} (zingtui --keys lists them)")
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if not isinstance(keys, str) or not keys.strip(" ,"):
            raise KeymapError(f'{where}: {binding_id} takes keys like "x", "ctrl+w" or "f5,ctrl+f"; got {keys!r}')
        out[binding_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return out


def load(path: Path) -> dict[str, str]:
    """The keymap of a config file; none when the file or its table is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise KeymapError(f"{path}: {e.strerror}") from e
    try:
        table = tomllib.loads(text).get("keymap", {})
    except tomllib.TOMLDecodeError as e:
        raise KeymapError(f"{path}: {e}") from e
    if not isinstance(table, dict):
        raise KeymapError(f"{path}: keymap must be a table ([keymap])")
    return parse(table, where=f"{path} [keymap]")


def listing(keymap: Mapping[str, str] | None = None) -> str:
    """Every binding id, its keys (the keymap's where it has them) and what it does: ``zingtui --keys``."""
    keymap = keymap or {}
    rows = []
    for binding_id, binding in sorted(bindings().items()):
        keys = keymap.get(binding_id, binding.key)
        what = binding.tooltip or binding.description or binding.action
        rows.append((binding_id, keys + ("  (keymap)" if binding_id in keymap else ""), what))
    wide = [max(len(row[i]) for row in rows) for i in (0, 1)]
    return "\n".join(f"{a:<{wide[0]}}  {b:<{wide[1]}}  {c}" for a, b, c in rows)


def _key_name(key: str) -> str:
    """"/" and "slash" are one key."""
    try:
        from textual.keys import _character_to_key
    except ImportError:  # a Textual without it: compare as written
        return key
    return _character_to_key(key) if len(key) == 1 else key


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out

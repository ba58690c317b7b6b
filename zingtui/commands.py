"""The command palette (ctrl+p): every action of the table that applies right now, with its keys,
and the main screen's own places (the desk), under the keys the keymap gives them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from zingtui import keymap
from zingtui.actions import ACTS, Act, key_hint


@dataclass(frozen=True, slots=True)
class Place:
    """A screen the main screen opens by a binding of its own (not a ticket action)."""

    title: str
    help: str
    action: str
    binding_id: str


PLACES = (Place("My desk", "Quick replies (add, edit, delete) and your scheduled messages (cancel)", "manage",
                "main.manage"),
          Place("Supervisor panel", "Live agents, queues and numbers; open, reassign, note; charts (supervisors)",
                "supervisor", "main.supervisor"),
          Place("Company settings", "Every setting of the company with its default: change, clear (admins)",
                "settings", "main.settings"))


class ZingCommands(Provider):
    def _available(self) -> list[Act]:
        screen = self.screen
        if not hasattr(screen, "action_accept"):  # only the main screen has ticket actions
            return []
        return [act for act in ACTS if screen.check_action(act.name, act.args) is True]

    def _places(self) -> list[Place]:
        screen = self.screen
        if not hasattr(screen, "action_accept"):
            return []
        return [p for p in PLACES if screen.check_action(p.action, ()) is True]

    def _run(self, action: str) -> None:
        self.app.call_later(self.screen.run_action, action)

    def _help(self, act: Act) -> str:
        """The palette reads help as markup: escape it."""
        hint = key_hint(act, getattr(self.app, "keymap", None))
        return escape(f"{act.help}  ({hint})" if hint else act.help)

    def _place_help(self, place: Place) -> str:
        mapped = (getattr(self.app, "keymap", None) or {}).get(place.binding_id)
        keys = mapped or keymap.bindings()[place.binding_id].key
        return escape(f"{place.help}  ({keys.replace(',', ' · ')})")

    def _entries(self) -> list[tuple[str, str, str]]:
        """(title, help, action) of everything the palette offers here."""
        return ([(act.title, self._help(act), act.action) for act in self._available()]
                + [(p.title, self._place_help(p), p.action) for p in self._places()])

    async def discover(self) -> Hits:
        for title, help, action in self._entries():
            yield DiscoveryHit(title, partial(self._run, action), help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help)

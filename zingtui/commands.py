"""The command palette (ctrl+p): every action of the table that applies right now, with its keys."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from zingtui.actions import ACTS, Act, key_hint


class ZingCommands(Provider):
    def _available(self) -> list[Act]:
        screen = self.screen
        if not hasattr(screen, "action_accept"):  # only the main screen has ticket actions
            return []
        return [act for act in ACTS if screen.check_action(act.name, act.args) is True]

    def _run(self, act: Act) -> None:
        self.app.call_later(self.screen.run_action, act.action)

    def _help(self, act: Act) -> str:
        """The palette reads help as markup: escape it."""
        hint = key_hint(act, getattr(self.app, "keymap", None))
        return escape(f"{act.help}  ({hint})" if hint else act.help)

    async def discover(self) -> Hits:
        for act in self._available():
            yield DiscoveryHit(act.title, partial(self._run, act), help=self._help(act))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for act in self._available():
            score = matcher.match(act.title)
            if score > 0:
                yield Hit(score, matcher.highlight(act.title), partial(self._run, act), help=self._help(act))

"""Keys people choose: every binding has an id, the [keymap] table of config.toml remaps them, zingd ignores it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.dom import DOMNode

import zingtui
from tests.tui import fakes
from tests.tui.conftest import fake_console, ready, toasts, until
from zingd import config as zingd_config
from zingtui import actions, keymap
from zingtui.app import console, parse_args
from zingtui.screens.main import MainScreen
from zingtui.screens.search import SearchScreen

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def zingtui_nodes() -> list[type[DOMNode]]:
    """Every app, screen and widget class the console defines."""
    found = []
    for info in pkgutil.walk_packages(zingtui.__path__, "zingtui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def test_every_binding_has_an_id_and_each_id_one_action():
    seen: dict[str, str] = {}
    for cls in zingtui_nodes():
        for binding in cls.__dict__.get("BINDINGS", ()):
            assert isinstance(binding, Binding) and binding.id, f"{cls.__name__}: {binding}"
            assert seen.setdefault(binding.id, binding.action) == binding.action, binding.id
    assert set(seen) == set(keymap.bindings())  # zingtui --keys and the keymap know them all


def test_config_example_documents_every_id():
    text = EXAMPLE.read_text()
    missing = [binding_id for binding_id in keymap.bindings() if f"#   {binding_id} " not in text]
    assert not missing
    assert "[keymap]" in text and zingd_config.load(EXAMPLE, environ={}).keymap == {}


def test_the_table_reads_dotted_keys_nested_tables_and_lists(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('log_level = "DEBUG"\n[keymap]\nlist.accept = "x"\n"chat.quote" = "q"\n'
                    '[keymap.composer]\nclose = ["ctrl+w", "f8"]\n')
    assert keymap.load(path) == {"list.accept": "x", "chat.quote": "q", "composer.close": "ctrl+w,f8"}
    assert keymap.load(tmp_path / "missing.toml") == {}
    settings = zingd_config.load(path, environ={})  # the daemon reads the same file and ignores the table
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize("table, says", [
    ({"list": {"acept": "x"}}, "no key binding has the id 'list.acept'"),
    ({"list.accept": ""}, "list.accept takes keys like"),
    ({"list.accept": 3}, "list.accept takes keys like"),
])
def test_a_bad_entry_is_an_error_that_names_it(table, says):
    with pytest.raises(keymap.KeymapError, match=says):
        keymap.parse(table)


def test_a_bad_file_stops_the_console_with_its_name(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[keymap]\nlist.acept = 'x'\n")
    with pytest.raises(SystemExit) as stop:
        parse_args(["--config", str(path)], environ={})
    assert stop.value.code == 2
    assert f"{path} [keymap]: no key binding has the id 'list.acept'" in capsys.readouterr().err


def test_keys_lists_every_id_with_the_keymaps_keys(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\nlist.search = "x"\n')
    assert zingtui.app.main(["--keys", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(keymap.bindings())
    assert next(line for line in lines if line.startswith("list.search ")).split()[1:3] == ["x", "(keymap)"]
    assert next(line for line in lines if line.startswith("composer.close ")).split()[1] == "ctrl+d"


async def test_a_keymap_moves_an_action_to_another_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\nlist.search = "x"\nlist.tab_closed = "9"\n')
    args = parse_args(["--config", str(path), "--email", "ana@demo.zing", "--no-bell"],
                      environ={"ZING_PASSWORD": "demo-agent"})
    app = console(args, tokens=fake_console(tmp_path).tokens, client_factory=fakes.FakeClient,
                  clock=lambda: fakes.NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        main = await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen)
        await until(pilot, lambda: main.inbox.index["pending"].loaded)
        main.list.focus()
        await pilot.press("slash")  # the old key does nothing now
        await pilot.press("3")
        assert app.screen is main and main.tab == "pending"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), what="search, on its new key")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main)
        await pilot.press("9")
        await until(pilot, lambda: main.tab == "closed", what="the closed tab, on its new key")
        search = next(act for act in actions.ACTS if act.name == "search")
        assert actions.key_hint(search, app.keymap) == "x"  # what the command palette shows


def test_a_key_given_to_two_bindings_of_one_place_is_found():
    assert keymap.clashes({"list.accept": "c"}) == ["c: list.accept, list.close"]
    assert keymap.clashes({"list.accept": "c", "list.close": "x"}) == []  # close moved away: no clash
    # a dialog's own binding and its base's
    assert keymap.clashes({"dialog.cancel": "f"}) == ["f: close.farewell, dialog.cancel"]
    assert keymap.clashes({"chat.quote": "q"}) == []  # q is the list's, not the chat's


async def test_the_console_tells_of_a_clash(tmp_path):
    app = fake_console(tmp_path, keymap={"list.accept": "c"})
    async with app.run_test(size=(100, 30)) as pilot:
        warning = await until(pilot, lambda: toasts(app, "warning"), what="the clash told")
        assert warning[0].startswith("c: list.accept, list.close")
        await until(pilot, lambda: ready(app), what="the queue screen, before leaving")

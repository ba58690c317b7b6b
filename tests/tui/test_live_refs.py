"""What the console offers follows the company while it is open: a tag, a queue, a quick reply or a
colleague made (or removed) by someone else is offered (or no longer) by the next g, t or /."""

from __future__ import annotations

from textual.widgets import OptionList, SelectionList

from tests.tui.conftest import console, until
from tests.tui.test_features import ANA_SOUZA, accepted
from zingtui.screens.dialogs import TagDialog, TransferDialog


def offered_tags(app) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one("#tags", SelectionList).options]


def offered_targets(app) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one("#targets", OptionList).options]


async def press_in_list(app, pilot, key: str, dialog: type):
    app.main_screen.list.focus()
    await pilot.press(key)
    return await until(pilot, lambda: isinstance(app.screen, dialog) and app.screen, what=dialog.__name__)


async def test_new_tags_queues_replies_and_colleagues_are_offered_at_once(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await accepted(app, pilot, desk, ANA_SOUZA)
        tag = await desk.call("tag.create", {"name": "novo-cliente"})
        queue = await desk.call("queue.create", {"name": "Cobrança"})
        await desk.quick_reply("boasvindas", "Bem-vindo, {{first_name}}!")
        carla = await desk.call("user.create", {"email": "carla@demo.zing", "password": "demo-agent-2",
                                                "name": "Carla Nova"})
        await until(pilot, lambda: any(t["name"] == "novo-cliente" for t in main.directory.tags), what="the tag")
        await press_in_list(app, pilot, "g", TagDialog)
        assert "novo-cliente" in offered_tags(app)
        await pilot.press("escape")

        await until(pilot, lambda: carla["id"] in main.directory.users and
                    any(q["name"] == "Cobrança" for q in main.directory.queues), what="the queue and Carla")
        await press_in_list(app, pilot, "t", TransferDialog)
        assert "Queue  Cobrança" in offered_targets(app)
        assert any(t.startswith("Agent  Carla Nova") for t in offered_targets(app))
        await pilot.press("escape")

        await until(pilot, lambda: any(r["shortcut"] == "boasvindas" for r in main.composer.replies),
                    what="the quick reply")
        main.composer.input.focus()
        await pilot.press(*"/boas")
        menu = main.composer.menu
        await until(pilot, lambda: menu.display and menu.option_count and
                    "/boasvindas" in str(menu.get_option_at_index(0).prompt), what="offered after /")
        main.composer.input.load_text("")

        # Taken away elsewhere: no longer offered.
        await desk.call("tag.delete", {"id": tag["id"]})
        await desk.call("queue.delete", {"id": queue["id"]})
        await desk.call("user.update", {"id": carla["id"], "enabled": False})
        await until(pilot, lambda: carla["id"] not in main.directory.users and not any(
            q["name"] == "Cobrança" for q in main.directory.queues) and not main.directory.tags, what="all gone")
        await press_in_list(app, pilot, "t", TransferDialog)
        assert not any("Cobrança" in t or "Carla" in t for t in offered_targets(app))
        await pilot.press("escape")
        await press_in_list(app, pilot, "g", TagDialog)
        assert "zingctl tags create" in str(app.screen.query_one(".hint").render())

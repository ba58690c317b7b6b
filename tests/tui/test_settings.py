"""The company's settings (e, or "Company settings" in the palette): every tenant setting with its value or
the daemon's default, changed and cleared by an admin through a real zingd; agents have no such key."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Footer, Input, OptionList, Switch
from textual.widgets._footer import FooterKey

from tests.tui.conftest import console, from_palette, toasts, until
from zingd.services.admin import SETTING_DEFAULTS
from zingtui.screens.settings import SettingDialog, SettingsScreen


def lines(screen) -> dict[str, str]:
    """Each setting's line, by its key."""
    view = screen.query_one("#settings", OptionList)
    out = {}
    for i in range(view.option_count):
        key, _, rest = str(view.get_option_at_index(i).prompt).partition(" ")
        out[key] = rest.strip()
    return out


def footer_keys(app) -> list[tuple[str, str]]:
    return [(k.key, k.description) for k in app.main_screen.query_one(Footer).query(FooterKey)]


async def open_settings(app, pilot) -> SettingsScreen:
    app.main_screen.list.focus()
    await until(pilot, lambda: ("e", "Settings") in footer_keys(app), what="e Settings in the footer")
    await pilot.press("e")
    screen = await until(pilot, lambda: isinstance(app.screen, SettingsScreen) and app.screen, what="the settings")
    await until(pilot, lambda: len(lines(screen)) >= len(SETTING_DEFAULTS), what="the list")
    return screen


async def edit(app, pilot, screen, key: str) -> SettingDialog:
    screen.query_one("#settings", OptionList).highlighted = screen.keys.index(key)
    await pilot.press("e")
    return await until(pilot, lambda: isinstance(app.screen, SettingDialog) and app.screen, what="the dialog")


async def settings_of(desk) -> dict:
    return (await desk.call("tenant.get", {}))["settings"]


async def test_an_admin_sees_changes_and_clears_the_company_settings(desk, tokens):
    async with console(desk.z, tokens, credentials=None, size=(120, 40)) as (app, pilot):
        screen = await open_settings(app, pilot)
        shown = lines(screen)
        assert set(shown) == set(SETTING_DEFAULTS)  # every setting, each with the daemon's default
        assert shown["region"] == "(default: BR)" and shown["rating"] == "(default: off)"

        dialog = await edit(app, pilot, screen, "rating_prompt")
        box = dialog.query_one("#value", Input)
        assert box.value == SETTING_DEFAULTS["rating_prompt"]  # starts from what applies now
        box.value = ""
        await pilot.press(*"Nota de 1 a 5?", "enter")
        await until(pilot, lambda: app.screen is screen and lines(screen)["rating_prompt"] == "Nota de 1 a 5?",
                    what="saved and shown")
        assert (await settings_of(desk))["rating_prompt"] == "Nota de 1 a 5?"

        dialog = await edit(app, pilot, screen, "rating")
        await pilot.press("enter")  # the switch: on
        assert dialog.query_one("#value", Switch).value is True
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen and lines(screen)["rating"] == "on", what="rating on")

        dialog = await edit(app, pilot, screen, "opt_out_keywords")
        dialog.query_one("#value", Input).value = ""
        await pilot.press(*"SAIR, stop ,,PARAR", "ctrl+s")
        await until(pilot, lambda: app.screen is screen and lines(screen)["opt_out_keywords"] == "SAIR, stop, PARAR",
                    what="the words")
        settings = await settings_of(desk)
        assert (settings["rating"], settings["opt_out_keywords"]) == (True, ["SAIR", "stop", "PARAR"])

        screen.query_one("#settings", OptionList).highlighted = screen.keys.index("rating_prompt")
        await pilot.press("c")
        default = f"(default: {SETTING_DEFAULTS['rating_prompt']})"
        await until(pilot, lambda: lines(screen)["rating_prompt"] == default, what="back to the default")
        assert "rating_prompt" not in await settings_of(desk)

        await pilot.press("escape")  # the screen's own methods must not shadow how a screen leaves
        await until(pilot, lambda: app.screen is app.main_screen, what="back on the queue")
        assert app.is_running


async def test_a_refusal_keeps_the_dialog_open(desk, tokens):
    """An admin demoted while the dialog is open: zingd refuses, the toast says so, the text stays."""
    await desk.call("user.create", {"email": "carla@demo.zing", "name": "Carla Admin", "role": "admin",
                                    "password": "carla-admin-1"})
    async with console(desk.z, tokens, credentials=("carla@demo.zing", "carla-admin-1")) as (app, pilot):
        screen = await open_settings(app, pilot)
        dialog = await edit(app, pilot, screen, "opt_out_reply")
        await desk.call("user.update", {"id": app.session.me, "role": "agent"})
        dialog.query_one("#value", Input).value = "Pronto, não enviamos mais."
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("admin" in t for t in toasts(app, "error")), what="the refusal")
        assert app.screen is dialog and dialog.query_one("#value", Input).value == "Pronto, não enviamos mais."
        assert "opt_out_reply" not in await settings_of(desk)


async def test_the_palette_opens_the_settings_for_admins(desk, tokens):
    async with console(desk.z, tokens, credentials=None) as (app, pilot):
        hit = await from_palette(app, pilot, "company settings")
        assert "Company settings" in hit and "(e)" in hit
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="the settings")


async def test_an_agent_has_no_settings_key(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):  # Ana, an agent
        app.main_screen.list.focus()
        await until(pilot, lambda: ("d", "Desk") in footer_keys(app), what="the footer")
        assert not any(description == "Settings" for _, description in footer_keys(app))
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is app.main_screen and not any(isinstance(s, SettingsScreen) for s in app.screen_stack)
        await pilot.press("ctrl+p")
        palette = await until(pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen)
        await pilot.press(*"es")  # matches "My desk" and would match "Company settings": one provider lists both
        hits = palette.query("CommandList").first()
        prompts = await until(pilot, lambda: (found := [str(hits.get_option_at_index(i).prompt)
                                                        for i in range(hits.option_count)])
                              and any("My desk" in p for p in found) and found, what="the desk in the palette")
        assert not any("Company settings" in p for p in prompts)
        assert app.is_running

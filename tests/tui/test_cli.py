"""The command line: a password never on it; from stdin, the environment or the login screen instead."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from textual.widgets import Input

from tests.tui.conftest import ANA, fake_console, ready, until
from zingtui.app import console, parse_args
from zingtui.screens.login import LoginScreen


def args_for(z, tmp_path, *argv: str, stdin: str = "", environ: dict | None = None):
    return parse_args(["--socket", str(z.socket), "--config", str(tmp_path / "none.toml"), "--no-bell", *argv],
                      stdin=io.StringIO(stdin), environ=environ or {})


async def logged_in_as(app, email: str) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: ready(app), what="the queue screen")
        assert app.session.user["email"] == email
        app.exit()


async def test_password_from_stdin_logs_in(demo, tokens, tmp_path):
    args = args_for(demo, tmp_path, "--email", ANA[0], "--password-stdin", stdin=f"{ANA[1]}\nignored\n",
                    environ={"ZING_PASSWORD": "not-this-one"})
    assert args.password == ANA[1]
    await logged_in_as(console(args, tokens=tokens), ANA[0])


async def test_password_from_the_environment_logs_in(demo, tokens, tmp_path):
    args = args_for(demo, tmp_path, "--email", ANA[0], environ={"ZING_PASSWORD": ANA[1]})
    assert args.password == ANA[1]
    await logged_in_as(console(args, tokens=tokens), ANA[0])


@pytest.mark.parametrize("argv", [["--password", "secret"], ["--password=secret"], ["--password"]])
def test_a_password_on_the_command_line_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(["--email", ANA[0], *argv], environ={})
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--password is gone" in err and "ps" in err and "--password-stdin" in err and "ZING_PASSWORD" in err


@pytest.mark.parametrize("argv, stdin, says", [
    (["--password-stdin"], "pw\n", "--password-stdin goes with --email"),
    (["--email", ANA[0], "--password-stdin"], "", "no password on stdin"),
])
def test_password_stdin_mistakes_are_told(argv, stdin, says, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv, stdin=io.StringIO(stdin), environ={})
    assert says in capsys.readouterr().err


async def test_an_email_alone_asks_for_its_password(tmp_path):
    app = fake_console(tmp_path, credentials=False)
    app.email = ANA[0]
    async with app.run_test(size=(100, 30)) as pilot:
        login = await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen, what="the login")
        assert login.query_one("#email", Input).value == ANA[0]
        assert login.query_one("#password", Input).has_focus
        await pilot.press(*ANA[1], "enter")
        await until(pilot, lambda: ready(app), what="logged in")


def test_password_stdin_without_a_terminal_says_so(tmp_path):
    """stdin held the password, so the keys must come from the terminal; with none, a clear refusal."""
    env = {**os.environ, "ZING_CONFIG": str(tmp_path / "none.toml")}
    run = subprocess.run([sys.executable, "-c", "import sys; from zingtui.app import main; sys.exit(main())",
                          "--email", ANA[0], "--password-stdin"], input="pw\n", capture_output=True, text=True,
                         env=env, start_new_session=True, timeout=60)  # a new session: no controlling terminal
    assert run.returncode != 0
    assert "no terminal to read keys from" in run.stderr

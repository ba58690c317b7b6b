"""Before the queue: reaching the daemon, and logging in when no stored token works."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static


class SplashScreen(Screen):
    """Shown while connecting; says what is wrong (daemon down, wrong socket) and keeps trying."""

    def compose(self) -> ComposeResult:
        with Center(), Vertical(classes="dialog"):
            yield Static("zing", classes="brand")
            yield Label("Connecting to zingd…", id="splash-status")
        yield Footer()

    def status(self, text: str) -> None:
        self.query_one("#splash-status", Label).update(text)


class LoginScreen(Screen):
    """E-mail and password; Enter in the password field logs in."""

    @dataclass
    class Submitted(Message):
        email: str
        password: str

    def __init__(self, email: str = "") -> None:
        super().__init__()
        self.email = email

    def compose(self) -> ComposeResult:
        with Center(), Vertical(classes="dialog") as box:
            box.border_title = "Log in to zing"
            yield Label("E-mail")
            yield Input(self.email, placeholder="you@company.com", id="email")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="password")
            yield Label("", id="login-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#password" if self.email else "#email", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "email":
            self.query_one("#password", Input).focus()
            return
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        if email and password:
            self.query_one("#login-error", Label).update("Logging in…")
            self.post_message(self.Submitted(email, password))

    def failed(self, reason: str) -> None:
        self.query_one("#login-error", Label).update(reason)
        password = self.query_one("#password", Input)
        password.value = ""
        password.focus()

"""Where the console keeps its session token: the OS keyring, else a 0600 file.

A headless host has no keyring backend (``set_password`` raises
``NoKeyringError``), so the token goes to ``credentials.json`` beside zingctl's,
under its own ``zingtui`` key so the two clients never overwrite each other.
Tokens are stored per socket: one console can talk to several daemons.
"""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import keyring.errors

from zingd.durable import write_atomic
from zingd.paths import credentials_path

SERVICE = "zing"
SECTION = "zingtui"


class TokenStore:
    def __init__(self, path: Path | None = None, use_keyring: bool = True) -> None:
        self.path = path or credentials_path()
        self.use_keyring = use_keyring

    @staticmethod
    def _account(socket: str) -> str:
        return f"zingtui:{socket}"

    def load(self, socket: str) -> str | None:
        if self.use_keyring:
            try:
                token = keyring.get_password(SERVICE, self._account(socket))
                if token:
                    return token
            except keyring.errors.KeyringError:
                pass
        return self._read().get(SECTION, {}).get(socket)

    def save(self, socket: str, token: str) -> str:
        """Store the token; returns where it went ("keyring" or the file path)."""
        if self.use_keyring:
            try:
                keyring.set_password(SERVICE, self._account(socket), token)
                return "keyring"
            except keyring.errors.KeyringError:
                pass
        data = self._read()
        data.setdefault(SECTION, {})[socket] = token
        self._write(data)
        return str(self.path)

    def forget(self, socket: str) -> None:
        if self.use_keyring:
            try:
                keyring.delete_password(SERVICE, self._account(socket))
            except keyring.errors.KeyringError:
                pass
        data = self._read()
        if data.get(SECTION, {}).pop(socket, None) is not None:
            self._write(data)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict) -> None:
        """Replace the file whole and durably; it is 0600 from its first byte."""
        write_atomic(self.path, json.dumps(data, indent=2))

"""Where zingctl keeps its session token: the OS keyring, or a 0600 file where there is none.

Tokens are kept per socket path, so one user can be logged in to several daemons.
Headless hosts have no keyring backend (keyring's fail/null backends, or
``NoKeyringError``); there the token goes to ``zingd.paths.credentials_path()``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.null
from keyring.errors import KeyringError

from zingd.durable import write_atomic
from zingd.paths import credentials_path

SERVICE = "zing"


def _key(socket: Path) -> str:
    return os.path.abspath(socket)


def _keyring() -> keyring.backend.KeyringBackend | None:
    """The OS keyring, or None where the host has none."""
    backend = keyring.get_keyring()
    if isinstance(backend, (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)):
        return None
    return backend


def _keyring_name(backend: keyring.backend.KeyringBackend) -> str:
    return f"keyring ({type(backend).__module__}.{type(backend).__name__})"


def _read_file() -> dict[str, str]:
    try:
        data = json.loads(credentials_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data.get("tokens", {}) if isinstance(data, dict) else {}


def _write_file(tokens: dict[str, str]) -> None:
    """Replace the file atomically; it is never readable by others, not even half-written."""
    path = credentials_path()
    if not tokens:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, json.dumps({"tokens": tokens}, indent=2))


def save(socket: Path, token: str) -> str:
    """Keep the token for this socket; returns where it went."""
    backend = _keyring()
    if backend is not None:
        try:
            backend.set_password(SERVICE, _key(socket), token)
            return _keyring_name(backend)
        except KeyringError:
            pass
    _write_file({**_read_file(), _key(socket): token})
    return str(credentials_path())


def load(socket: Path) -> tuple[str, str] | None:
    """The stored token for this socket and where it is kept, if any."""
    backend = _keyring()
    if backend is not None:
        try:
            token = backend.get_password(SERVICE, _key(socket))
            if token:
                return token, _keyring_name(backend)
        except KeyringError:
            pass
    token = _read_file().get(_key(socket))
    return (token, str(credentials_path())) if token else None


def delete(socket: Path) -> bool:
    """Forget the token for this socket wherever it is kept; True if there was one."""
    found = False
    backend = _keyring()
    if backend is not None:
        try:
            backend.delete_password(SERVICE, _key(socket))
            found = True
        except KeyringError:
            pass
    tokens = _read_file()
    if tokens.pop(_key(socket), None) is not None:
        _write_file(tokens)
        found = True
    return found

"""Where zing keeps things (XDG via platformdirs), shared by daemon and clients.

Import-light on purpose: zingctl and zingtui use it to find the socket.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "zing"


def default_data_dir() -> Path:
    return Path(os.environ.get("ZING_DATA_DIR") or platformdirs.user_data_dir(APP))


def socket_dir() -> Path:
    """zing's own runtime directory, where the default socket lives: zingd makes it private
    (0700), so only its user's processes can reach the socket. A socket named by the user
    (``--socket``, ``ZING_SOCKET``) lives wherever they put it, and zingd leaves that directory
    as it finds it."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / APP if runtime else Path(platformdirs.user_state_dir(APP)) / "run"


def default_socket_path() -> Path:
    env = os.environ.get("ZING_SOCKET")
    if env:
        return Path(env)
    return socket_dir() / "zingd.sock"


def default_config_path() -> Path:
    return Path(os.environ.get("ZING_CONFIG") or Path(platformdirs.user_config_dir(APP)) / "config.toml")


def credentials_path() -> Path:
    """The 0600 token file used when the host has no keyring backend."""
    return Path(platformdirs.user_config_dir(APP)) / "credentials.json"

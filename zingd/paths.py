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


def default_socket_path() -> Path:
    """The socket lives in a private runtime directory (mode 0700)."""
    env = os.environ.get("ZING_SOCKET")
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / APP if runtime else Path(platformdirs.user_state_dir(APP)) / "run"
    return base / "zingd.sock"


def default_config_path() -> Path:
    return Path(os.environ.get("ZING_CONFIG") or Path(platformdirs.user_config_dir(APP)) / "config.toml")


def credentials_path() -> Path:
    """The 0600 token file used when the host has no keyring backend."""
    return Path(platformdirs.user_config_dir(APP)) / "credentials.json"

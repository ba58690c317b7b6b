"""Lazy, quiet access to neonize.

Importing neonize loads a Go shared library and calls ``logging.basicConfig``,
which would take over the daemon's root logger. zingd must also start (and its
other tests run) without paying for the Go runtime. So neonize is imported here,
once, on first use, and the root logger's handlers and level are put back
afterwards; whatsmeow's own log lines then reach zingd's handlers through the
``whatsmeow.*`` loggers like any other library's.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# neonize reads this logger's level to decide how chatty the Go side is.
_GO_LOG_LEVEL_LOGGER = "neonize.utils.log"

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()

_JID_USERS = {
    "s.whatsapp.net": re.compile(r"\d{5,20}"),
    "lid": re.compile(r"\d{1,30}"),
    "g.us": re.compile(r"\d{5,30}(-\d{5,20})?"),
    "newsletter": re.compile(r"\d{5,30}"),
    "broadcast": re.compile(r"[\w.-]{1,40}"),
}


@functools.cache
def load() -> SimpleNamespace:
    """Import neonize once, leaving the root logger as the daemon set it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # Its import-time "ffmpeg not found" warning is not ours: without ffmpeg, voice notes go
    # out as documents (whatsapp.outbound) and nothing else needs it.
    logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)
    try:
        from neonize import events
        from neonize.client import NewClient
        from neonize.proto import Neonize_pb2
        from neonize.proto.waCommon.WACommon_pb2 import MessageKey
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
        from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as waE2E
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia, MediaType, ReceiptType
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    logging.getLogger(_GO_LOG_LEVEL_LOGGER).setLevel(logging.WARNING)
    return SimpleNamespace(
        NewClient=NewClient, events=events, EVENT_TO_INT=events.EVENT_TO_INT,
        proto=Neonize_pb2, waE2E=waE2E, MessageKey=MessageKey, DeviceProps=DeviceProps,
        ChatPresence=ChatPresence, ChatPresenceMedia=ChatPresenceMedia,
        MediaType=MediaType, ReceiptType=ReceiptType,
    )


def new_client(session_path: Path) -> Any:
    """The real client, one per session file for the life of the process.

    neonize names the Go session after the database path and stops it when the
    Python client object is garbage collected. A second client for the same file
    (a restarted connection) would then be stopped at a random moment by the
    collection of the first; reusing the object avoids that, and the new channel
    simply registers its handlers over the old ones. The phone lists the device
    as "zing" under Linked devices.
    """
    key = str(Path(session_path).resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            lib = load()
            props = lib.DeviceProps(os="zing", platformType=lib.DeviceProps.CHROME)
            client = _clients[key] = lib.NewClient(key, props=props)
        return client


def parse_jid(text: str) -> tuple[str, str]:
    """Split and validate ``user@server``; ``c.us`` is the legacy phone server."""
    user, _, server = text.strip().partition("@")
    server = "s.whatsapp.net" if server == "c.us" else server
    pattern = _JID_USERS.get(server)
    if pattern is None or not pattern.fullmatch(user):
        raise ValueError(f"invalid JID {text!r}: expected user@server, e.g. 5511999990001@s.whatsapp.net")
    return user, server


def to_jid(text: str) -> Any:
    """A JID proto for neonize calls (no device: zing addresses users, not devices)."""
    user, server = parse_jid(text)
    return load().proto.JID(User=user, Server=server, RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def empty_jid() -> Any:
    """What whatsmeow takes for "no participant" (1:1 chats)."""
    return load().proto.JID(User="", Server="", RawAgent=0, Device=0, Integrator=0, IsEmpty=True)

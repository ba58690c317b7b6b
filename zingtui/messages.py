"""Messages that cross the app: what the daemon says, posted by the RPC client's callbacks.

Widget-local messages live on their widgets (``TicketList.Highlighted``,
``Composer.Submitted``, ``QueuePane.Opened``); these are the ones the app and its screens share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


class Daemon:
    """From zingd, through the RPC client."""

    @dataclass
    class Event(Message):
        """One event notification: its params (subscription, seq, type, ts, data)."""

        params: dict[str, Any]

        @property
        def type(self) -> str:
            return self.params.get("type", "")

        @property
        def data(self) -> dict[str, Any]:
            return self.params.get("data") or {}

    @dataclass
    class State(Message):
        """The client lost the daemon ("reconnecting") or has it back ("connected")."""

        state: str

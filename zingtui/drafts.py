"""What an agent typed and has not seen go out: each ticket's unsent text, and the replies waiting for zingd.

Both live in a 0600 JSON file in the user's state directory (``zingtui-drafts.json`` beside zing's
other state, as ``credentials.json`` sits beside zingctl's), one section per daemon socket and
user, so neither a console restart, a crash, a colleague taking the ticket nor a daemon outage
loses a word. A waiting reply carries the key (``client_ref``) it is sent under, the same on every
attempt, so a send whose answer was lost is never queued twice (``message.send``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from zingd.durable import write_atomic
from zingd.paths import APP


def drafts_path() -> Path:
    return Path(platformdirs.user_state_dir(APP)) / "zingtui-drafts.json"


def new_ref() -> str:
    """A key for one reply, chosen before its first send."""
    return secrets.token_hex(8)


@dataclass
class Waiting:
    """A reply the agent sent that zingd has not taken yet (it was unreachable)."""

    ticket_id: int
    body: str
    created_at: float
    ref: str = field(default_factory=new_ref)
    quoted_id: int | None = None
    signature: bool | None = None
    attachment: str | None = None  # a file's path: read when the reply goes

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ticket_id": self.ticket_id, "body": self.body, "client_ref": self.ref}
        if self.quoted_id is not None:
            out["quoted_id"] = self.quoted_id
        if self.signature is not None:
            out["signature"] = self.signature
        return out


class Drafts:
    """One user's drafts (ticket id -> text) and waiting replies, written through to the file."""

    def __init__(self, path: Path | None, section: str) -> None:
        self.path = path
        self.section = section
        data = self._read().get(section, {})
        self.texts: dict[int, str] = {int(k): v for k, v in (data.get("drafts") or {}).items()
                                      if isinstance(v, str) and v.strip()}
        self.waiting: list[Waiting] = []
        for row in data.get("waiting") or ():
            try:
                self.waiting.append(Waiting(**row))
            except TypeError:  # written by another version: skip what can't be read, keep the rest
                continue

    def text(self, ticket_id: int) -> str:
        return self.texts.get(ticket_id, "")

    def keep(self, ticket_id: int | None, text: str) -> None:
        """The ticket's unsent text as it is now (empty: none)."""
        if ticket_id is None or self.texts.get(ticket_id, "") == (text if text.strip() else ""):
            return
        if text.strip():
            self.texts[ticket_id] = text
        else:
            self.texts.pop(ticket_id, None)
        self.save()

    def wait(self, reply: Waiting) -> None:
        self.waiting.append(reply)
        self.save()

    def done(self, reply: Waiting) -> None:
        self.waiting = [w for w in self.waiting if w.ref != reply.ref]
        self.save()

    def waiting_for(self, ticket_id: int) -> list[Waiting]:
        return [w for w in self.waiting if w.ticket_id == ticket_id]

    def save(self) -> None:
        if self.path is None:
            return
        data = self._read()
        data[self.section] = {"drafts": {str(k): v for k, v in self.texts.items()},
                              "waiting": [asdict(w) for w in self.waiting]}
        write_atomic(self.path, json.dumps(data, indent=1, ensure_ascii=False))

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

"""The seam between the helpdesk and a messaging network.

A channel turns network traffic into the normalized events below and hands them
to its ``ChannelSink`` (the daemon's inbound service). ``sink.message(...)``
returns only after the message is committed: a channel acknowledges a message to
the network after that call returns, never before, so a crash in between means
redelivery (harmless: message ids are stored once), never loss.

Outbound, the daemon's outbox calls ``send(...)`` with a message id it fixed
before the first attempt; a channel must send under that id so a retry can't
make two different messages.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal, Protocol

MessageType = Literal[
    "text", "image", "audio", "video", "document", "sticker", "location", "contact",
    "reaction", "system", "unsupported", "undecryptable",
]

# Connection states shared by every channel (DESIGN "Connection lifecycle").
STATES = ("pairing", "connecting", "connected", "degraded", "disconnected", "logged_out", "locked", "banned",
          "outdated")
FINAL_STATES = ("logged_out", "locked", "banned", "outdated")  # stop retrying; an admin must act
# What an admin can do about a final state (zingctl connections list, the console's numbers screen).
# locked and banned are WhatsApp's logout reasons 403 and 406 (whatsmeow: MainDeviceGone, UnknownLogout,
# "now called LOCKED / BANNED in the WhatsApp web code"); a temporary ban (TemporaryBan) is banned too.
ADVICE = {
    "logged_out": "pair again: zingctl connections pair <id>",
    "locked": "WhatsApp locked the account: open WhatsApp on the phone and follow its steps to unlock it, then "
              "pair again; pairing before that fails",
    "banned": "WhatsApp banned the number: a temporary ban ends by itself (see the reason), then restart the "
              "connection; otherwise request a review on the phone (WhatsApp > Settings > Help > Contact us) and "
              "pair again once it is lifted",
    "outdated": "upgrade neonize and restart zingd",
}


@dataclass(slots=True)
class Media:
    """Media already saved by the channel (path) or a failure to fetch it (error)."""

    mime: str = ""
    path: str | None = None
    size: int | None = None
    filename: str = ""
    error: str | None = None
    retryable: bool = False  # the download failed in a way a later attempt may not (Channel.fetch_media)


# The ticket's line for a call (zing takes no calls, so every call it sees is missed).
CALL_LINES = {"voice": "📞 missed voice call", "video": "📹 missed video call"}


@dataclass(slots=True)
class InboundMessage:
    wa_id: str
    chat: str                     # the conversation JID: a person, or a group
    sender: str                   # who wrote it (the participant in a group)
    ts: float                     # WhatsApp's own time of the message (when it was sent), not its arrival
    type: MessageType = "text"
    body: str = ""
    push_name: str = ""
    from_me: bool = False         # written from the company's own phone
    is_group: bool = False
    sender_alt: str = ""          # the other address of the 1:1 chat's contact (phone <-> LID)
    media: Media | None = None
    quoted_wa_id: str | None = None
    edit_of: str | None = None    # an edit: the id of the edited message
    revoke_of: str | None = None  # delete-for-everyone: the id of the revoked message
    reaction_to: str | None = None  # a reaction: the id of the message reacted to (body = emoji)
    call: Literal["", "voice", "video"] = ""  # a call zing could not answer (type system, body says so)
    media_seconds: int | None = None  # an audio's (a voice note's) or video's length
    waveform: bytes = b""         # a voice note's levels, 64 values 0-100
    group_name: str = ""          # the group's subject, when the channel knows it


@dataclass(slots=True)
class Receipt:
    """The network's word on messages zing sent. ``ours``, beside ``wa_ids`` (same order, "" where
    unknown): zing's own id of each, as it travelled in the message (the Cloud API hands
    ``biz_opaque_callback_data`` back), so a status still finds its message when the send's answer,
    and with it the network's id, was lost. ``sent`` proves an unconfirmed send; ``failed`` carries
    the network's ``error``."""

    chat: str
    wa_ids: list[str]
    type: Literal["sent", "delivered", "read", "played", "failed"]
    ts: float
    ours: list[str] = field(default_factory=list)
    error: str = ""


@dataclass(slots=True)
class StateChange:
    state: str
    reason: str = ""
    qr: str | None = None          # a new pairing QR code to show
    pair_code: str | None = None   # a pairing code to type on the phone
    phone: str | None = None       # the number, once paired


@dataclass(slots=True)
class AccountNotice:
    """What the network says about the number itself, not a message: a quality rating or messaging
    limit change (``kind`` "quality"), a template approved, rejected or paused ("template")."""

    kind: Literal["quality", "template"]
    data: dict


@dataclass(slots=True)
class OutboundMessage:
    wa_id: str                     # fixed before the first attempt
    chat: str
    type: MessageType = "text"
    body: str = ""
    media_path: str | None = None
    media_mime: str | None = None
    filename: str = ""
    quoted_wa_id: str | None = None
    quoted_body: str = ""
    quoted_sender: str = ""
    reaction_to: str | None = None
    template: dict | None = None   # an approved template: {"name", "language", "params": [...]} (Cloud API)
    extra: dict = field(default_factory=dict)


@dataclass(slots=True)
class SendResult:
    wa_id: str
    ts: float


class SendError(Exception):
    """A send that failed; ``retryable`` says whether another attempt can help.

    ``unconfirmed``: the request may have reached the network (a timeout or a
    dropped connection after the send started). Another attempt could show the
    customer the message twice, so the outbox never retries it on its own: the
    message waits as ``unconfirmed`` for a receipt or the agent's word.

    ``throttle_s``: the network said the number sends too fast (a rate or spam limit): the outbox
    waits that long before this number's next attempt and the governor slows its automated sends.
    """

    def __init__(self, message: str, retryable: bool = True, unconfirmed: bool = False,
                 throttle_s: float = 0.0) -> None:
        super().__init__(message)
        self.retryable = retryable and not unconfirmed
        self.unconfirmed = unconfirmed
        self.throttle_s = throttle_s


class ChannelSink(Protocol):
    """What the daemon gives a channel to report to."""

    async def message(self, connection_id: int, msg: InboundMessage) -> None: ...
    async def receipt(self, connection_id: int, receipt: Receipt) -> None: ...
    async def state(self, connection_id: int, change: StateChange) -> None: ...
    async def learn_ids(self, connection_id: int, pairs: list[tuple[str, str]]) -> None:
        """(address, the address WhatsApp knows it by) pairs the network revealed, committed on return:
        (phone JID, LID JID) from a history sync; (typed phone JID, account phone JID) from a lookup."""
    async def notice(self, connection_id: int, notice: AccountNotice) -> None:
        """The network's word on the number (quality, templates), committed on return."""
    async def number_changed(self, connection_id: int, old: str, new: str) -> None:
        """The customer at phone JID ``old`` now writes from ``new`` (Meta's user_changed_number)."""


class Channel(abc.ABC):
    """One WhatsApp number (or its simulation)."""

    kind: str = ""
    # Sending again under the same id shows the customer the message once (WhatsApp's own protocol,
    # the sim). False where the network gives each send its own id (the Cloud API): there a send cut
    # off by a crash must not be repeated (the outbox stamps it before it leaves).
    resend_is_safe: bool = True

    def __init__(self, connection_id: int, sink: ChannelSink) -> None:
        self.connection_id = connection_id
        self.sink = sink
        self.state = "disconnected"
        self.reason = ""

    async def _set_state(self, state: str, reason: str = "", **extra: str | None) -> None:
        self.state, self.reason = state, reason
        await self.sink.state(self.connection_id, StateChange(state, reason, **extra))

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (or start pairing); return quickly, keep working in tasks."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect cleanly; keep the session for the next start."""

    @abc.abstractmethod
    async def send(self, msg: OutboundMessage) -> SendResult:
        """Send under ``msg.wa_id``; raise SendError on failure."""

    @abc.abstractmethod
    async def mark_read(self, chat: str, wa_ids: list[str], sender: str = "") -> None:
        """Tell the network the agent read these messages."""

    async def pair(self, phone: str | None = None) -> None:
        """Start pairing: QR codes (or a pairing code for ``phone``) arrive as StateChange."""
        raise SendError(f"{self.kind} connections do not pair", retryable=False)

    async def logout(self) -> None:
        """Unlink the device; the session is gone and must be paired again."""
        await self.stop()
        await self._set_state("logged_out", "logged out by an admin")

    async def typing(self, chat: str, composing: bool) -> None:
        """Show (or stop showing) 'typing…' to the customer; optional."""

    async def profile(self, jid: str) -> dict:
        """The contact's push name and picture URL as the network knows them; optional."""
        return {}

    async def fetch_media(self, wa_id: str) -> None:
        """Download a received message's file again after a failed download, and hand the message
        over again (the daemon then stores the file on it). LookupError: nothing to fetch again."""
        raise LookupError(f"{self.kind} numbers keep no files to fetch again")

    def health(self) -> dict:
        return {"state": self.state, "reason": self.reason}

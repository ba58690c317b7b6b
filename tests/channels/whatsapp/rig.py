"""The offline rig for the WhatsApp channel.

The client is a real neonize ``NewClient`` that never connects: events are real
neonize protos, serialized and pushed through ``client.event.execute`` (the path
the Go callback takes) from a worker thread, as Go does. Only the calls that
would reach Go (connect, send, upload, download…) are replaced, at the
``client_factory`` edge.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from tests.helpers import until
from zingd.channels.whatsapp.channel import NeonizeChannel, Timings
from zingd.channels.whatsapp.lib import load

lib = load()
P = lib.proto
E = lib.waE2E

from neonize.exc import DownloadError, NeonizeError, SendMessageError  # noqa: E402  (after load(): quiet import)
from neonize.exc import GetGroupInfoError  # noqa: E402

OWN = "5511900000000@s.whatsapp.net"
CUSTOMER = "5511999990001@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
FAST = Timings(reconnect_initial=0.01, reconnect_max=0.04, jitter=0, start_spread=0, watchdog_interval=3600,
               pairing_timeout=0.3, sink_timeout=5, stop_timeout=2, replay_initial=0.05, replay_max=0.2)


def jid(text: str):
    user, server = text.split("@")
    user, _, device = user.partition(":")
    return P.JID(User=user, Server=server, RawAgent=0, Device=int(device or 0), Integrator=0, IsEmpty=False)


EMPTY_JID = P.JID(User="", Server="", RawAgent=0, Device=0, Integrator=0, IsEmpty=True)


class FakeContacts:
    def get_contact(self, target):
        return P.ContactInfo(Found=True, PushName="Maria")


class FakeClient(lib.NewClient):
    """A real neonize client whose Go-bound calls are replaced; dispatch stays neonize's."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.contact = FakeContacts()
        self.connect_errors: list[Exception] = []
        self.connects = self.stops = self.disconnects = 0
        self.in_session = threading.Event()
        self._stopped = threading.Event()
        self.sent, self.uploads, self.downloads, self.reads, self.presence = [], [], [], [], []
        self.lookups: list[str] = []
        self.group_names: dict[str, str] = {GROUP: "Loja Centro"}
        self.group_lookups: list[str] = []
        self.media = b"\xff\xd8 jpeg bytes"
        self.download_error: Exception | None = None
        self.send_failure: Exception | None = None
        self.probe_failure: Exception | None = None
        self.on_whatsapp = True
        self.accounts: dict[str, str] = {}  # "+number" -> the account JID WhatsApp answers for it
        self.logged_out = False
        self.send_gate = threading.Event()
        self.send_gate.set()
        self._ids = itertools.count(1)

    def connect(self, proxy_settings=None) -> None:
        self.connects += 1
        if self.connect_errors:
            raise self.connect_errors.pop(0)
        self._session_db("CREATE TABLE IF NOT EXISTS whatsmeow_device (jid TEXT PRIMARY KEY)")
        self._stopped.clear()
        self.in_session.set()
        self._stopped.wait()
        self.in_session.clear()

    def stop(self) -> None:
        self.stops += 1
        self._stopped.set()

    def disconnect(self) -> None:
        """Like whatsmeow: the socket closes, the session call does not return (neonize waits in FetchMe)."""
        self.disconnects += 1

    def send_message(self, to, message, *args, **kwargs):
        self.send_gate.wait(5)
        if self.send_failure is not None:
            raise self.send_failure
        self.sent.append((to, message))
        return P.SendResponse(ID=f"3EB0REMOTE{next(self._ids)}", Timestamp=1_700_000_100)

    def upload(self, binary, media_type=None):
        self.uploads.append((binary, media_type))
        return P.UploadResponse(url="https://mmg.whatsapp.net/x", DirectPath="/v/x", Handle="", MediaKey=b"key",
                                FileEncSHA256=b"enc", FileSHA256=b"sha", FileLength=len(binary))

    def download_any(self, message, path=None):
        self.downloads.append(message)
        if self.download_error is not None:
            raise self.download_error
        return self.media

    def get_pn_from_lid(self, lid):
        return jid("5511999990009@s.whatsapp.net") if lid.User == "777" else EMPTY_JID

    def _session_db(self, sql: str) -> None:
        """whatsmeow keeps the session in this SQLite file; the channel checks it before connecting."""
        with closing(sqlite3.connect(self.name)) as db, db:
            db.execute(sql)

    def get_me(self):
        self._session_db(f"INSERT OR IGNORE INTO whatsmeow_device (jid) VALUES ('{OWN}')")
        return P.Device(JID=jid(OWN), Platform="", BussinessName="", PushName="Acme", Initialized=True)

    def is_on_whatsapp(self, *numbers):
        self.lookups.extend(numbers)
        if self.probe_failure is not None:
            raise self.probe_failure
        return [P.IsOnWhatsAppResponse(Query=n, JID=jid(self.accounts.get(n, n[1:] + "@s.whatsapp.net")),
                                       IsIn=self.on_whatsapp) for n in numbers]

    def mark_read(self, *message_ids, chat, sender, receipt, timestamp=None):
        self.reads.append((message_ids, chat, sender, receipt))

    def send_chat_presence(self, jid_, state, media):
        self.presence.append((jid_, state, media))

    def PairPhone(self, phone, show_push_notification, *args):
        return f"CODE-{phone[-4:]}"

    def logout(self):
        self.logged_out = True

    def get_profile_picture(self, jid_, extra=None):
        return P.ProfilePictureInfo(URL="https://pps.whatsapp.net/m.jpg")

    def get_group_info(self, jid_):
        self.group_lookups.append(f"{jid_.User}@{jid_.Server}")
        name = self.group_names.get(f"{jid_.User}@{jid_.Server}")
        if name is None:
            raise GetGroupInfoError("not a participant")
        return P.GroupInfo(JID=jid_, GroupName=P.GroupName(Name=name))


class Sink:
    def __init__(self) -> None:
        self.messages, self.receipts, self.states = [], [], []
        self.learned: list[tuple[str, str]] = []
        self.failures = 0              # the next N messages or receipts raise, as a busy database would
        self.hold = asyncio.Event()    # cleared: the sink blocks until a test sets it
        self.hold.set()
        self.held = 0                  # calls waiting on hold now

    async def _commit(self) -> None:
        self.held += 1
        try:
            await self.hold.wait()
        finally:
            self.held -= 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")

    async def message(self, connection_id, msg):
        await self._commit()
        self.messages.append(msg)

    async def receipt(self, connection_id, receipt):
        await self._commit()
        self.receipts.append(receipt)

    async def state(self, connection_id, change):
        self.states.append(change)

    async def learn_ids(self, connection_id, pairs):
        self.learned.extend(pairs)

    def reasons(self, state: str) -> list[str]:
        return [c.reason for c in self.states if c.state == state]


class Rig:
    def __init__(self, tmp_path: Path, timings: Timings = FAST, connect_errors: int = 0) -> None:
        self.connect_errors = connect_errors
        self.sink = Sink()
        self.clients: list[FakeClient] = []
        self.session = tmp_path / "sessions" / "7.db"
        self.media_dir = tmp_path / "media"
        self.channel = NeonizeChannel(7, self.sink, self.session, self.media_dir, max_media_bytes=1000,
                                      client_factory=self._make, timings=timings)

    def _make(self, path: Path) -> FakeClient:
        client = FakeClient(path)
        client.connect_errors = [NeonizeError("dial tcp: lookup web.whatsapp.com: no such host")] * self.connect_errors
        self.clients.append(client)
        return client

    @property
    def client(self) -> FakeClient:
        return self.clients[0]

    async def push(self, event) -> None:
        """Serialize and dispatch like the Go callback does, off the loop thread."""
        data = event.SerializePartialToString()
        buffer = ctypes.create_string_buffer(data, max(len(data), 1))
        code = lib.EVENT_TO_INT[type(event)]
        await asyncio.to_thread(self.client.event.execute, self.client.uuid, ctypes.addressof(buffer), len(data), code)

    async def qr(self, code: str) -> None:
        buffer = ctypes.create_string_buffer(code.encode())
        await asyncio.to_thread(self.client._NewClient__onQr, 0, ctypes.addressof(buffer))

    async def connected(self) -> FakeClient:
        await self.channel.start()
        await until(lambda: self.clients and self.client.in_session.is_set())
        await self.push(P.Connected(status=True))
        await until(lambda: self.channel.state == "connected")
        return self.client

    async def deliver(self, content, **kwargs):
        before = len(self.sink.messages)
        await self.push(message_event(content, **kwargs))
        await self.media_done()
        return self.sink.messages[before] if len(self.sink.messages) > before else None

    async def media_done(self) -> None:
        """Messages with media are delivered by the channel's media worker: wait for it."""
        await until(lambda: self.channel.media_pending() == 0)


def message_event(content, *, wa_id="3EB0IN1", chat=CUSTOMER, sender=None, from_me=False, group=False,
                  sender_alt=None, recipient_alt=None, ts_ms=1_700_000_000_000, push_name="Maria"):
    source = P.MessageSource(Chat=jid(chat), Sender=jid(sender or chat), IsFromMe=from_me, IsGroup=group,
                             SenderAlt=jid(sender_alt) if sender_alt else EMPTY_JID,
                             RecipientAlt=jid(recipient_alt) if recipient_alt else EMPTY_JID)
    info = P.MessageInfo(MessageSource=source, ID=wa_id, Pushname=push_name, Timestamp=ts_ms)
    return P.Message(Info=info, Message=content)


def call_offer_event(call_id="CALL0001", caller=CUSTOMER, video=False, ts=1_700_000_300, caller_alt=None):
    """A CallOffer as whatsmeow builds it: the offer node lists audio (and video) children."""
    meta = P.BasicCallMeta(callCreator=jid(caller), callCreatorAlt=jid(caller_alt) if caller_alt else EMPTY_JID,
                           callID=call_id, timestamp=ts, **{"from": jid(caller.replace("@", ":3@"))})
    children = [P.Node(Tag="audio"), *([P.Node(Tag="video")] if video else [])]
    return P.CallOffer(basicCallMeta=meta, callRemoteMeta=P.CallRemoteMeta(remotePlatform="android"),
                       data=P.Node(Tag="offer", Nodes=children))


def receipt_event(ids, kind, chat=CUSTOMER):
    source = P.MessageSource(Chat=jid(chat), Sender=jid(chat), IsFromMe=False, IsGroup=False)
    return P.Receipt(MessageSource=source, MessageIDs=ids, Timestamp=1_700_000_200,
                     Type=P.Receipt.ReceiptType.Value(kind))



def fast(**changes: float) -> Timings:
    return Timings(**{**{f: getattr(FAST, f) for f in FAST.__dataclass_fields__}, **changes})


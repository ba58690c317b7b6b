"""NeonizeChannel, offline.

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
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.helpers import until
from zingd.channels import neonize_outbound
from zingd.channels.base import OutboundMessage, SendError
from zingd.channels.neonize_channel import Backoff, NeonizeChannel, Timings
from zingd.channels.neonize_lib import load, new_client, parse_jid
from zingd.channels.neonize_outbound import send_error
from zingd.channels.neonize_store import ChannelStore, session_problem, sidecar_path

lib = load()
P = lib.proto
E = lib.waE2E

from neonize.exc import DownloadError, NeonizeError, SendMessageError  # noqa: E402  (after load(): quiet import)

OWN = "5511900000000@s.whatsapp.net"
CUSTOMER = "5511999990001@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
FAST = Timings(reconnect_initial=0.01, reconnect_max=0.04, watchdog_interval=3600, watchdog_timeout=0.5,
               pairing_timeout=0.3, sink_timeout=5, stop_timeout=2)


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
        self.connects = self.stops = 0
        self.in_session = threading.Event()
        self._stopped = threading.Event()
        self.sent, self.uploads, self.downloads, self.reads, self.presence = [], [], [], [], []
        self.lookups: list[str] = []
        self.media = b"\xff\xd8 jpeg bytes"
        self.download_error: Exception | None = None
        self.send_failure: Exception | None = None
        self.probe_failure: Exception | None = None
        self.on_whatsapp = True
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
        return [P.IsOnWhatsAppResponse(Query=n, JID=jid(n[1:] + "@s.whatsapp.net"), IsIn=self.on_whatsapp)
                for n in numbers]

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


class Sink:
    def __init__(self) -> None:
        self.messages, self.receipts, self.states = [], [], []
        self.fail_next_message = False

    async def message(self, connection_id, msg):
        if self.fail_next_message:
            self.fail_next_message = False
            raise RuntimeError("database is locked")
        self.messages.append(msg)

    async def receipt(self, connection_id, receipt):
        self.receipts.append(receipt)

    async def state(self, connection_id, change):
        self.states.append(change)

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
        return self.sink.messages[before] if len(self.sink.messages) > before else None


def message_event(content, *, wa_id="3EB0IN1", chat=CUSTOMER, sender=None, from_me=False, group=False,
                  sender_alt=None, recipient_alt=None, ts_ms=1_700_000_000_000, push_name="Maria"):
    source = P.MessageSource(Chat=jid(chat), Sender=jid(sender or chat), IsFromMe=from_me, IsGroup=group,
                             SenderAlt=jid(sender_alt) if sender_alt else EMPTY_JID,
                             RecipientAlt=jid(recipient_alt) if recipient_alt else EMPTY_JID)
    info = P.MessageInfo(MessageSource=source, ID=wa_id, Pushname=push_name, Timestamp=ts_ms)
    return P.Message(Info=info, Message=content)


def receipt_event(ids, kind, chat=CUSTOMER):
    source = P.MessageSource(Chat=jid(chat), Sender=jid(chat), IsFromMe=False, IsGroup=False)
    return P.Receipt(MessageSource=source, MessageIDs=ids, Timestamp=1_700_000_200,
                     Type=P.Receipt.ReceiptType.Value(kind))


@pytest.fixture
async def make_rig(tmp_path):
    rigs: list[Rig] = []

    def make(timings: Timings = FAST, connect_errors: int = 0) -> Rig:
        rigs.append(Rig(tmp_path, timings, connect_errors))
        return rigs[-1]

    yield make
    for made in rigs:
        await made.channel.stop()


@pytest.fixture
async def rig(make_rig):
    return make_rig()


def fast(**changes: float) -> Timings:
    return Timings(**{**{f: getattr(FAST, f) for f in FAST.__dataclass_fields__}, **changes})


# ------------------------------------------------------------------- inbound


async def test_text_message(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(conversation="oi, preciso de ajuda"))
    assert (msg.wa_id, msg.chat, msg.sender, msg.type, msg.body) == (
        "3EB0IN1", CUSTOMER, CUSTOMER, "text", "oi, preciso de ajuda")
    assert (msg.ts, msg.push_name, msg.from_me, msg.is_group) == (1_700_000_000.0, "Maria", False, False)


async def test_extended_text_reply_names_the_quoted_message(rig):
    await rig.connected()
    content = E.Message(extendedTextMessage=E.ExtendedTextMessage(
        text="this one", contextInfo=E.ContextInfo(stanzaID="3EB0OLD", participant=CUSTOMER)))
    msg = await rig.deliver(content)
    assert (msg.type, msg.body, msg.quoted_wa_id) == ("text", "this one", "3EB0OLD")


async def test_group_message_from_a_participant_device(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(conversation="hi all"), chat=GROUP, sender="5511999990002:3@s.whatsapp.net",
                            group=True)
    assert (msg.chat, msg.sender, msg.is_group) == (GROUP, "5511999990002@s.whatsapp.net", True)


async def test_message_written_on_the_phone_is_from_me(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(conversation="sent from the phone"), chat="555@lid", sender=OWN,
                            sender_alt="900@lid", recipient_alt=CUSTOMER, from_me=True)
    assert (msg.from_me, msg.chat, msg.sender) == (True, "555@lid", OWN)
    assert msg.sender_alt == CUSTOMER   # the customer's other address, not the company's


async def test_sender_alt_given_or_looked_up_for_a_lid(rig):
    await rig.connected()
    given = await rig.deliver(E.Message(conversation="a"), chat="555@lid", sender_alt=CUSTOMER)
    looked_up = await rig.deliver(E.Message(conversation="b"), wa_id="3EB0IN2", chat="777@lid")
    unknown = await rig.deliver(E.Message(conversation="c"), wa_id="3EB0IN3", chat="888@lid")
    assert given.sender_alt == CUSTOMER
    assert (looked_up.sender, looked_up.sender_alt) == ("777@lid", "5511999990009@s.whatsapp.net")
    assert unknown.sender_alt == ""


async def test_image_is_downloaded_to_the_month_folder(rig):
    client = await rig.connected()
    image = E.ImageMessage(mimetype="image/jpeg", caption="the receipt", fileLength=len(client.media))
    msg = await rig.deliver(E.Message(imageMessage=image))
    assert (msg.type, msg.body) == ("image", "the receipt")
    path = rig.media_dir / "2023-11" / "3EB0IN1.jpg"
    assert msg.media.path == str(path) and msg.media.error is None
    assert path.read_bytes() == client.media and msg.media.size == len(client.media)
    assert client.downloads[0].imageMessage.caption == "the receipt"


@pytest.mark.parametrize(("field", "media", "kind", "name"), [
    ("videoMessage", E.VideoMessage(mimetype="video/mp4"), "video", "3EB0IN1.mp4"),
    ("ptvMessage", E.VideoMessage(mimetype="video/mp4"), "video", "3EB0IN1.mp4"),
    ("audioMessage", E.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True), "audio", "3EB0IN1.ogg"),
    ("documentMessage", E.DocumentMessage(mimetype="application/pdf", fileName="Nota Fiscal.PDF"),
     "document", "3EB0IN1.pdf"),
    ("stickerMessage", E.StickerMessage(mimetype="image/webp"), "sticker", "3EB0IN1.webp"),
])
async def test_media_kinds(rig, field, media, kind, name):
    client = await rig.connected()
    msg = await rig.deliver(E.Message(**{field: media}))
    assert msg.type == kind
    assert Path(msg.media.path).name == name
    assert client.downloads[0].HasField("videoMessage" if field == "ptvMessage" else field)
    if field == "documentMessage":
        assert msg.media.filename == "Nota Fiscal.PDF"


async def test_oversized_media_is_not_downloaded_but_the_message_arrives(rig):
    client = await rig.connected()
    msg = await rig.deliver(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg", fileLength=5000)))
    assert msg.type == "image" and msg.media.path is None
    assert "5000 bytes is over the 1000-byte limit" in msg.media.error
    assert client.downloads == []


async def test_download_failure_is_recorded_on_the_media(rig):
    client = await rig.connected()
    client.download_error = DownloadError("failed to download media: 404")
    msg = await rig.deliver(E.Message(audioMessage=E.AudioMessage(mimetype="audio/ogg")))
    assert msg.media.error == "download failed: failed to download media: 404"


async def test_disk_failure_is_recorded_on_the_media(rig):
    await rig.connected()
    rig.media_dir.write_text("not a directory")
    msg = await rig.deliver(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg")))
    assert msg.media.error.startswith("could not save:") and msg.media.path is None


async def test_location_and_live_location(rig):
    await rig.connected()
    pin = await rig.deliver(E.Message(locationMessage=E.LocationMessage(
        degreesLatitude=-23.5505199, degreesLongitude=-46.6333094, name="Loja Centro")))
    live = await rig.deliver(E.Message(liveLocationMessage=E.LiveLocationMessage(
        degreesLatitude=1.5, degreesLongitude=2.25, caption="on my way")), wa_id="3EB0IN2")
    assert (pin.type, pin.body) == ("location", "📍 -23.55052,-46.633309 Loja Centro")
    assert live.body == "📍 1.5,2.25 on my way"


async def test_contact_cards(rig):
    await rig.connected()
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:João Silva\nitem1.TEL;waid=5511988887777:+55 11 98888-7777\nEND:VCARD"
    one = await rig.deliver(E.Message(contactMessage=E.ContactMessage(displayName="João Silva", vcard=vcard)))
    many = await rig.deliver(E.Message(contactsArrayMessage=E.ContactsArrayMessage(contacts=[
        E.ContactMessage(displayName="A", vcard="TEL:+1 555 0100"), E.ContactMessage(vcard="FN:B\nTEL:+44 20")])),
        wa_id="3EB0IN2")
    assert (one.type, one.body) == ("contact", "👤 João Silva: +55 11 98888-7777")
    assert many.body == "👤 A: +1 555 0100\n👤 B: +44 20"


async def test_reaction(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(reactionMessage=E.ReactionMessage(
        key=lib.MessageKey(remoteJID=CUSTOMER, fromMe=True, ID="3EB0MINE"), text="👍")))
    assert (msg.type, msg.body, msg.reaction_to) == ("reaction", "👍", "3EB0MINE")


async def test_edit_wrapped_and_unwrapped(rig):
    await rig.connected()
    edit = E.ProtocolMessage(type=E.ProtocolMessage.MESSAGE_EDIT, key=lib.MessageKey(ID="3EB0ORIG"),
                             editedMessage=E.Message(conversation="fixed typo"))
    wrapped = await rig.deliver(E.Message(editedMessage=E.FutureProofMessage(message=E.Message(protocolMessage=edit))))
    bare = await rig.deliver(E.Message(protocolMessage=edit), wa_id="3EB0IN2")
    for msg in (wrapped, bare):
        assert (msg.type, msg.body, msg.edit_of) == ("text", "fixed typo", "3EB0ORIG")


async def test_revoke(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(protocolMessage=E.ProtocolMessage(
        type=E.ProtocolMessage.REVOKE, key=lib.MessageKey(ID="3EB0GONE"))))
    assert (msg.type, msg.revoke_of) == ("system", "3EB0GONE")


async def test_unknown_kind_is_unsupported_never_dropped(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(pollCreationMessageV3=E.PollCreationMessage(name="lunch?")))
    assert (msg.type, msg.body) == ("unsupported", "pollCreationMessageV3")


async def test_disappearing_timer_and_empty_messages(rig):
    await rig.connected()
    timer = await rig.deliver(E.Message(protocolMessage=E.ProtocolMessage(
        type=E.ProtocolMessage.EPHEMERAL_SETTING, ephemeralExpiration=86400)))
    empty = await rig.deliver(E.Message(), wa_id="3EB0IN2")
    assert (timer.type, timer.body) == ("system", "disappearing messages: 86400s")
    assert (empty.type, empty.body) == ("unsupported", "empty message")


async def test_envelopes_are_unwrapped(rig):
    await rig.connected()
    inner = E.Message(conversation="disappearing hello")
    msg = await rig.deliver(E.Message(ephemeralMessage=E.FutureProofMessage(message=E.Message(
        viewOnceMessageV2=E.FutureProofMessage(message=inner)))))
    assert (msg.type, msg.body) == ("text", "disappearing hello")


async def test_undecryptable(rig):
    await rig.connected()
    info = message_event(E.Message()).Info
    await rig.push(P.UndecryptableMessage(Info=info, IsUnavailable=False,
                                          DecryptFailMode=P.UndecryptableMessage.DECRYPT_FAIL_SHOW))
    await rig.push(P.UndecryptableMessage(Info=info, IsUnavailable=False,
                                          DecryptFailMode=P.UndecryptableMessage.DECRYPT_FAIL_HIDE))
    assert [(m.type, m.wa_id) for m in rig.sink.messages] == [("undecryptable", "3EB0IN1")]


async def test_plumbing_and_status_updates_are_skipped(rig):
    await rig.connected()
    skdm = E.Message(senderKeyDistributionMessage=E.SenderKeyDistributionMessage(groupID=GROUP))
    history = E.Message(protocolMessage=E.ProtocolMessage(type=E.ProtocolMessage.HISTORY_SYNC_NOTIFICATION))
    assert await rig.deliver(skdm, chat=GROUP, group=True) is None
    assert await rig.deliver(history, from_me=True) is None
    assert await rig.deliver(E.Message(conversation="my status"), chat="status@broadcast") is None
    with_content = E.Message(senderKeyDistributionMessage=E.SenderKeyDistributionMessage(groupID=GROUP),
                             conversation="first group message")
    assert (await rig.deliver(with_content, chat=GROUP, group=True)).body == "first group message"


async def test_offline_backlog_is_not_filtered_by_age(rig):
    await rig.connected()
    msg = await rig.deliver(E.Message(conversation="sent while we were down"), ts_ms=1_420_070_400_000)
    assert msg.ts == 1_420_070_400.0


async def test_receipts(rig):
    await rig.connected()
    for kind in ("DELIVERED", "READ", "PLAYED", "SENDER", "READ_SELF", "RETRY"):
        await rig.push(receipt_event(["3EB0A", "3EB0B"], kind))
    assert [(r.type, r.wa_ids, r.chat, r.ts) for r in rig.sink.receipts] == [
        (kind, ["3EB0A", "3EB0B"], CUSTOMER, 1_700_000_200.0) for kind in ("delivered", "read", "played")]


async def test_a_failing_handler_is_counted_and_logged(rig, caplog):
    await rig.connected()
    rig.sink.fail_next_message = True
    with caplog.at_level(logging.ERROR, logger="zingd.channels.neonize_channel"):
        await rig.push(message_event(E.Message(conversation="lost?")))
    assert rig.channel.health()["handler_failures"] == 1
    assert "Message handler failed" in caplog.text and "database is locked" in caplog.text
    assert (await rig.deliver(E.Message(conversation="next"), wa_id="3EB0IN2")).body == "next"


# -------------------------------------------------------------------- states


async def test_connect_fails_then_succeeds_with_backoff(make_rig):
    rig = make_rig(connect_errors=2)
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    assert [c.state for c in rig.sink.states] == ["connecting", "disconnected", "connecting", "disconnected",
                                                  "connecting"]
    assert rig.sink.reasons("disconnected") == [
        "could not connect: dial tcp: lookup web.whatsapp.com: no such host; retrying in 0.01s",
        "could not connect: dial tcp: lookup web.whatsapp.com: no such host; retrying in 0.02s",
    ]
    await rig.push(P.Connected(status=True))
    await until(lambda: rig.channel.state == "connected")
    assert rig.sink.states[-1].phone == "5511900000000"
    assert rig.channel.health()["next_retry_delay"] == 0.01


async def test_backoff_doubles_and_is_capped(make_rig):
    rig = make_rig(connect_errors=4)
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    delays = [r.rsplit("retrying in ", 1)[1] for r in rig.sink.reasons("disconnected")]
    assert delays == ["0.01s", "0.02s", "0.04s", "0.04s"]
    assert rig.channel.health()["reconnects"] == 4


def test_backoff_sequence():
    backoff = Backoff(2, 300)
    assert [backoff.next() for _ in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    backoff.reset()
    assert backoff.next() == 2


async def test_disconnect_restarts_the_session_after_backoff(rig):
    client = await rig.connected()
    await rig.push(P.Disconnected(status=True))
    await until(lambda: client.connects == 2 and client.in_session.is_set())
    assert "connection lost; reconnecting" in rig.sink.reasons("disconnected")
    assert "connection lost; retrying in 0.01s" in rig.sink.reasons("disconnected")
    assert client.stops >= 1 and rig.channel.state == "connecting"


async def _assert_no_reconnect(client: FakeClient) -> None:
    await asyncio.sleep(0.1)
    assert client.connects == 1 and not client.in_session.is_set()


async def test_logged_out_is_final_and_tells_how_to_pair(rig):
    client = await rig.connected()
    await rig.push(P.LoggedOut(OnConnect=False, Reason=P.LOGGED_OUT))
    await until(lambda: rig.channel.state == "logged_out")
    assert "zingctl connections pair 7" in rig.channel.reason and "LOGGED_OUT" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_temporary_ban_is_final_with_its_expiry(rig):
    client = await rig.connected()
    await rig.push(P.TemporaryBan(Code=P.TemporaryBan.SENT_TOO_MANY_SAME_MESSAGE, Expire=3600))
    await until(lambda: rig.channel.state == "banned")
    assert "SENT_TOO_MANY_SAME_MESSAGE" in rig.channel.reason and "ends in 1h00m" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_stream_replaced_does_not_fight_the_other_client(rig):
    client = await rig.connected()
    await rig.push(P.StreamReplaced())
    await until(lambda: rig.channel.state == "disconnected")
    assert rig.channel.reason.startswith("another client took over this session")
    await _assert_no_reconnect(client)


async def test_keepalive_timeout_degrades_and_restore_reconnects(rig):
    await rig.connected()
    await rig.push(P.KeepAliveTimeout(ErrorCount=3, LastSuccess=1_700_000_000))
    assert (rig.channel.state, rig.channel.reason) == ("degraded", "keepalive timed out (3 in a row)")
    await rig.push(P.KeepAliveRestored())
    assert rig.channel.state == "connected"


async def test_client_outdated_is_final(rig):
    client = await rig.connected()
    await rig.push(P.ClientOutdated())
    await until(lambda: rig.channel.state == "outdated")
    await _assert_no_reconnect(client)


async def test_watchdog_round_trip_degrades_then_reconnects(make_rig):
    rig = make_rig(fast(watchdog_interval=0.02))
    client = await rig.connected()
    await until(lambda: client.lookups)
    assert client.lookups[0] == "+5511900000000" and rig.channel.state == "connected"
    client.probe_failure = NeonizeError("info query timed out")
    await until(lambda: client.connects == 2)
    assert rig.sink.reasons("degraded") == ["server round trip failed: info query timed out"]
    assert "server round trip failed twice (info query timed out); reconnecting" in rig.sink.reasons("disconnected")


async def test_corrupt_session_asks_for_pairing(rig):
    rig.session.parent.mkdir(parents=True)
    rig.session.write_bytes(b"this is not sqlite, just garbage " * 64)
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    assert "corrupt" in rig.channel.reason and "zingctl connections pair 7" in rig.channel.reason
    assert rig.clients == []


async def test_missing_session_of_a_paired_number_asks_for_pairing(rig):
    ChannelStore(sidecar_path(rig.session)).set_paired_phone("5511900000000")
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    assert rig.channel.reason.startswith("the WhatsApp session file is missing")


async def test_qr_codes_then_pair_code_then_pairing_success(rig):
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    await rig.qr("2@first,code")
    await rig.qr("2@second,code")
    assert [c.qr for c in rig.sink.states if c.qr] == ["2@first,code", "2@second,code"]
    await rig.channel.pair("+55 (11) 90000-0000")
    assert rig.sink.states[-1].pair_code == "CODE-0000" and rig.channel.state == "pairing"
    await rig.qr("2@third,code")
    assert rig.sink.states[-1].pair_code == "CODE-0000"   # QR codes no longer shown
    await rig.push(P.PairStatus(ID=jid(OWN), BusinessName="", Platform="android", Status=P.PairStatus.SUCCESS))
    assert (rig.channel.state, rig.sink.states[-1].phone) == ("connecting", "5511900000000")
    assert ChannelStore(sidecar_path(rig.session)).paired_phone() == "5511900000000"


async def test_a_pairing_nobody_completes_times_out(make_rig):
    rig = make_rig(fast(watchdog_interval=0.05, pairing_timeout=0.1))
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    await rig.qr("2@only,code")
    await until(lambda: rig.channel.state == "disconnected" and "pairing timed out" in rig.channel.reason)
    await _assert_no_reconnect(rig.client)


async def test_pair_sets_a_corrupt_session_aside_and_starts_fresh(rig):
    rig.session.parent.mkdir(parents=True)
    rig.session.write_bytes(b"garbage " * 100)
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    await rig.channel.pair()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    [aside] = rig.session.parent.glob("7.db.broken-*")
    assert aside.read_bytes().startswith(b"garbage") and session_problem(rig.session, "") is None


async def test_pair_refuses_when_already_paired(rig):
    await rig.connected()
    with pytest.raises(SendError, match="already paired with \\+5511900000000") as caught:
        await rig.channel.pair()
    assert not caught.value.retryable


async def test_logout_unlinks_and_stays_down(rig):
    client = await rig.connected()
    await rig.channel.logout()
    await until(lambda: not client.in_session.is_set())
    assert client.logged_out and rig.channel.state == "logged_out"
    assert "zingctl connections pair 7" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_stop_then_start_again(rig):
    client = await rig.connected()
    await rig.channel.stop()
    assert (rig.channel.state, rig.channel.reason) == ("disconnected", "stopped")
    assert not client.in_session.is_set()
    await rig.channel.start()
    await until(lambda: client.connects == 2 and client.in_session.is_set())


# ------------------------------------------------------------------ outbound


def outbound(**kwargs) -> OutboundMessage:
    return OutboundMessage(**{"wa_id": "zing-1", "chat": CUSTOMER, "body": "olá!", **kwargs})


async def test_send_text_under_the_daemon_id(rig):
    client = await rig.connected()
    result = await rig.channel.send(outbound())
    to, message = client.sent[0]
    assert (to.User, to.Server, message) == ("5511999990001", "s.whatsapp.net", E.Message(conversation="olá!"))
    assert (result.wa_id, result.ts) == ("zing-1", 1_700_000_100.0)
    assert client.lookups == ["+5511999990001"]


async def test_retrying_a_sent_message_does_not_send_it_twice(rig):
    client = await rig.connected()
    first = await rig.channel.send(outbound())
    again = await rig.channel.send(outbound())
    assert len(client.sent) == 1 and again == first


async def test_a_retry_joins_an_attempt_the_caller_stopped_waiting_for(rig):
    client = await rig.connected()
    client.send_gate.clear()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(rig.channel.send(outbound()), 0.05)
    retry = asyncio.create_task(rig.channel.send(outbound()))
    await asyncio.sleep(0.02)
    client.send_gate.set()
    assert (await retry).wa_id == "zing-1"
    assert (await rig.channel.send(outbound())).wa_id == "zing-1"
    assert len(client.sent) == 1


async def test_whatsapp_ids_are_translated_to_the_daemon_ids(rig):
    await rig.connected()
    await rig.channel.send(outbound())
    await rig.push(receipt_event(["3EB0REMOTE1", "3EB0OTHER"], "READ"))
    reply = await rig.deliver(E.Message(extendedTextMessage=E.ExtendedTextMessage(
        text="ok", contextInfo=E.ContextInfo(stanzaID="3EB0REMOTE1"))), wa_id="3EB0IN9")
    assert rig.sink.receipts[0].wa_ids == ["zing-1", "3EB0OTHER"]
    assert reply.quoted_wa_id == "zing-1"


async def test_quoted_reply(rig):
    client = await rig.connected()
    await rig.channel.send(outbound(wa_id="zing-0"))
    await rig.channel.send(outbound(body="sure", quoted_wa_id="3EB0IN1", quoted_body="can I pay by pix?",
                                    quoted_sender=CUSTOMER))
    await rig.channel.send(outbound(wa_id="zing-2", body="as I said", quoted_wa_id="zing-0", quoted_body="olá!"))
    customer_quote = client.sent[1][1].extendedTextMessage
    own_quote = client.sent[2][1].extendedTextMessage.contextInfo
    assert customer_quote.text == "sure"
    assert (customer_quote.contextInfo.stanzaID, customer_quote.contextInfo.participant) == ("3EB0IN1", CUSTOMER)
    assert customer_quote.contextInfo.quotedMessage.conversation == "can I pay by pix?"
    assert (own_quote.stanzaID, own_quote.participant) == ("3EB0REMOTE1", OWN)


async def test_send_image(rig, tmp_path):
    client = await rig.connected()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a small jpeg")
    await rig.channel.send(outbound(type="image", body="your order", media_path=str(photo)))
    data, media_type = client.uploads[0]
    image = client.sent[0][1].imageMessage
    assert (data, media_type) == (photo.read_bytes(), lib.MediaType.MediaImage)
    assert (image.URL, image.directPath, image.mimetype, image.caption) == (
        "https://mmg.whatsapp.net/x", "/v/x", "image/jpeg", "your order")
    assert (image.mediaKey, image.fileSHA256, image.fileEncSHA256, image.fileLength) == (b"key", b"sha", b"enc", 15)


async def test_send_document(rig, tmp_path):
    client = await rig.connected()
    pdf = tmp_path / "x1.bin"
    pdf.write_bytes(b"%PDF-1.4")
    await rig.channel.send(outbound(type="document", body="", media_path=str(pdf), media_mime="application/pdf",
                                    filename="boleto.pdf"))
    doc = client.sent[0][1].documentMessage
    assert (doc.fileName, doc.mimetype, doc.HasField("caption")) == ("boleto.pdf", "application/pdf", False)
    assert client.uploads[0][1] == lib.MediaType.MediaDocument


async def test_voice_note_without_ffmpeg_goes_out_as_a_document(rig, tmp_path, monkeypatch):
    client = await rig.connected()
    monkeypatch.setattr(neonize_outbound.shutil, "which", lambda name: None)
    voice = tmp_path / "note.m4a"
    voice.write_bytes(b"m4a audio")
    await rig.channel.send(outbound(type="audio", body="", media_path=str(voice), media_mime="audio/mp4"))
    doc = client.sent[0][1].documentMessage
    assert (doc.fileName, doc.mimetype) == ("note.m4a", "audio/mp4")


async def test_voice_note_is_converted_to_opus_with_ffmpeg(rig, tmp_path, monkeypatch):
    client = await rig.connected()
    fake_ffmpeg = tmp_path / "bin" / "ffmpeg"
    fake_ffmpeg.parent.mkdir()
    fake_ffmpeg.write_text('#!/bin/sh\nfor last; do :; done\nprintf "OggS opus" > "$last"\n')
    fake_ffmpeg.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_ffmpeg.parent}{os.pathsep}{os.environ['PATH']}")
    voice = tmp_path / "note.m4a"
    voice.write_bytes(b"m4a audio")
    await rig.channel.send(outbound(type="audio", body="", media_path=str(voice), media_mime="audio/mp4"))
    audio = client.sent[0][1].audioMessage
    assert (audio.PTT, audio.mimetype) == (True, "audio/ogg; codecs=opus")
    assert client.uploads[0] == (b"OggS opus", lib.MediaType.MediaAudio)


async def test_reactions_to_theirs_and_ours(rig):
    client = await rig.connected()
    await rig.channel.send(outbound(wa_id="zing-0"))
    await rig.channel.send(outbound(type="reaction", body="❤️", reaction_to="3EB0IN1"))
    await rig.channel.send(outbound(wa_id="zing-2", type="reaction", body="👍", reaction_to="zing-0"))
    theirs, ours = client.sent[1][1].reactionMessage, client.sent[2][1].reactionMessage
    assert (theirs.text, theirs.key.ID, theirs.key.remoteJID, theirs.key.fromMe) == ("❤️", "3EB0IN1", CUSTOMER, False)
    assert (ours.key.ID, ours.key.fromMe) == ("3EB0REMOTE1", True)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"chat": "not-a-jid"}, "invalid JID"),
    ({"type": "image", "media_path": "/nonexistent/x.jpg"}, "media file not found"),
    ({"type": "location"}, "cannot send 'location' messages"),
])
async def test_permanent_send_errors(rig, kwargs, expected):
    await rig.connected()
    with pytest.raises(SendError, match=expected) as caught:
        await rig.channel.send(outbound(**kwargs))
    assert caught.value.retryable is False


async def test_too_large_and_not_on_whatsapp_are_permanent(rig, tmp_path):
    client = await rig.connected()
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(SendError, match="too large") as too_large:
        await rig.channel.send(outbound(type="image", media_path=str(big)))
    client.on_whatsapp = False
    with pytest.raises(SendError, match="is not on WhatsApp") as absent:
        await rig.channel.send(outbound(wa_id="zing-2", chat="5511912345678@s.whatsapp.net"))
    assert not too_large.value.retryable and not absent.value.retryable


async def test_network_failures_are_retryable(rig):
    client = await rig.connected()
    client.send_failure = SendMessageError("failed to send message: websocket not connected")
    with pytest.raises(SendError) as caught:
        await rig.channel.send(outbound())
    assert caught.value.retryable and rig.channel.health()["handler_failures"] == 0
    await rig.push(P.Disconnected(status=True))
    with pytest.raises(SendError, match="WhatsApp is (disconnected|connecting)") as down:
        await rig.channel.send(outbound(wa_id="zing-2"))
    assert down.value.retryable


@pytest.mark.parametrize(("text", "retryable"), [
    ("context deadline exceeded", True),
    ("info query returned status 429: rate-overlimit", True),
    ("info query returned status 500: internal-server-error", True),
    ("info query returned status 403: forbidden", False),
    ("server returned error 406: not-acceptable", False),
    ("invalid JID: unknown server", False),
])
def test_error_classification(text, retryable):
    assert send_error(NeonizeError(text)).retryable is retryable


async def test_mark_read_and_typing(rig):
    client = await rig.connected()
    await rig.channel.mark_read(CUSTOMER, ["3EB0IN1", "3EB0IN2"])
    await rig.channel.mark_read(GROUP, ["3EB0G1"], sender="5511999990002@s.whatsapp.net")
    await rig.channel.typing(CUSTOMER, True)
    await rig.channel.typing(CUSTOMER, False)
    (ids, chat, sender, receipt), (_, group, participant, _) = client.reads
    assert (ids, chat.User, sender.IsEmpty, receipt) == (("3EB0IN1", "3EB0IN2"), "5511999990001", True,
                                                         lib.ReceiptType.READ)
    assert (group.Server, participant.User) == ("g.us", "5511999990002")
    assert [p[1] for p in client.presence] == [lib.ChatPresence.CHAT_PRESENCE_COMPOSING,
                                               lib.ChatPresence.CHAT_PRESENCE_PAUSED]


async def test_profile_is_cached(rig, monkeypatch):
    client = await rig.connected()
    calls = []
    monkeypatch.setattr(client, "get_profile_picture", lambda target, extra=None: calls.append(target) or
                        P.ProfilePictureInfo(URL="https://pps.whatsapp.net/m.jpg"))
    first = await rig.channel.profile(CUSTOMER)
    second = await rig.channel.profile(CUSTOMER)
    assert first == second == {"jid": CUSTOMER, "push_name": "Maria", "picture_url": "https://pps.whatsapp.net/m.jpg"}
    assert len(calls) == 1


# --------------------------------------------------------------------- misc


def test_one_real_client_per_session_file(tmp_path):
    first = new_client(tmp_path / "a.db")
    assert new_client(tmp_path / "a.db") is first and new_client(tmp_path / "b.db") is not first
    assert first.uuid == str((tmp_path / "a.db").resolve()).encode()


def test_jid_parsing():
    assert parse_jid("5511999990001@c.us") == ("5511999990001", "s.whatsapp.net")
    assert parse_jid("120363000000000001-1600000000@g.us")[1] == "g.us"
    for bad in ("5511999990001", "abc@s.whatsapp.net", "1@example.com", ""):
        with pytest.raises(ValueError):
            parse_jid(bad)


def test_neonize_is_imported_lazily_and_leaves_logging_alone():
    script = (
        "import logging, sys\n"
        "import zingd.channels.neonize_channel\n"
        "assert 'neonize' not in sys.modules\n"
        "handler = logging.StreamHandler(sys.stderr)\n"
        "logging.getLogger().addHandler(handler); logging.getLogger().setLevel(logging.ERROR)\n"
        "from zingd.channels.neonize_lib import load; load()\n"
        "assert logging.getLogger().handlers == [handler], logging.getLogger().handlers\n"
        "assert logging.getLogger().level == logging.ERROR\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""

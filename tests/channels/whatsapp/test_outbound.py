"""Sending, offline: text, media, quotes, reactions, ids, and how send errors are classified."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing

import pytest

from tests.channels.whatsapp.rig import lib, P, E, NeonizeError, SendMessageError, OWN, CUSTOMER, GROUP, receipt_event
from zingd.channels.base import OutboundMessage, SendError
from zingd.channels.whatsapp import outbound as neonize_outbound
from zingd.channels.whatsapp.outbound import message_send_error, send_error


def outbound(**kwargs) -> OutboundMessage:
    return OutboundMessage(**{"wa_id": "zing-1", "chat": CUSTOMER, "body": "olá!", **kwargs})


async def test_send_text_under_the_daemon_id(rig):
    client = await rig.connected()
    result = await rig.channel.send(outbound())
    to, message = client.sent[0]
    assert (to.User, to.Server, message.conversation) == ("5511999990001", "s.whatsapp.net", "olá!")
    assert len(message.messageContextInfo.messageSecret) == 32  # how an ambiguous attempt's id is found later
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


@pytest.mark.parametrize(("text", "kind"), [
    # whatsmeow's send.go: refused before the message node was written -> not sent, retried
    ("failed to send message node: websocket not connected", "retry"),
    ("failed to get device list: info query timed out", "retry"),
    ("failed to encrypt peer message for 5511999990001@s.whatsapp.net: no session", "retry"),
    ("server returned error 500", "retry"),
    ("the store doesn't contain a device JID", "retry"),
    # written, then no answer (or the socket dropped while waiting) -> it may have arrived
    ("timed out waiting for message send response", "unconfirmed"),
    ("websocket disconnected before message send returned response", "unconfirmed"),
    ("failed to send message node: write tcp 10.0.0.2:4431: broken pipe", "unconfirmed"),
    ("something neonize never said before", "unconfirmed"),
    ("invalid JID: unknown server", "permanent"),
    ("server returned error 406: not-acceptable", "permanent"),
])
def test_message_send_error_classification(text, kind):
    error = message_send_error(SendMessageError(text), outbound())
    assert {"retry": (True, False), "unconfirmed": (False, True), "permanent": (False, False)}[kind] == (
        error.retryable, error.unconfirmed)


def test_an_ambiguous_reaction_is_retried_it_shows_once_anyway():
    error = message_send_error(SendMessageError("timed out waiting for message send response"),
                               outbound(type="reaction", reaction_to="3EB0IN1"))
    assert error.retryable and not error.unconfirmed


def _whatsmeow_times_out_after_sending(client, remote_id: str):
    """What whatsmeow's SendMessage does on a lost answer: it stores the message secret under the id
    it chose, writes the node, then gives up waiting for the server's ack."""
    def send_message(to, message, *args, **kwargs):
        with closing(sqlite3.connect(client.name)) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS whatsmeow_message_secrets (our_jid TEXT, chat_jid TEXT, "
                       "sender_jid TEXT, message_id TEXT, key bytea NOT NULL, "
                       "PRIMARY KEY (our_jid, chat_jid, sender_jid, message_id))")
            db.execute("INSERT INTO whatsmeow_message_secrets VALUES (?, ?, ?, ?, ?)",
                       (OWN, CUSTOMER, OWN, remote_id, message.messageContextInfo.messageSecret))
        raise SendMessageError("timed out waiting for message send response")
    return send_message


async def test_an_ambiguous_send_is_unconfirmed_and_its_receipt_maps_back(rig, monkeypatch):
    client = await rig.connected()
    monkeypatch.setattr(client, "send_message", _whatsmeow_times_out_after_sending(client, "3EB0LOST1"))
    with pytest.raises(SendError, match="timed out") as caught:
        await rig.channel.send(outbound())
    assert caught.value.unconfirmed and not caught.value.retryable
    await rig.push(receipt_event(["3EB0LOST1"], "DELIVERED"))
    assert rig.sink.receipts[0].wa_ids == ["zing-1"], "the receipt proves the daemon's message arrived"
    # the agent resends it anyway: a new attempt (neonize picks a new id), both ids are the daemon's
    monkeypatch.undo()
    await rig.channel.send(outbound())
    assert len(client.sent) == 1
    await rig.push(receipt_event(["3EB0REMOTE1"], "READ"))
    assert rig.sink.receipts[1].wa_ids == ["zing-1"]


async def test_a_failed_media_upload_means_not_sent(rig, tmp_path, monkeypatch):
    client = await rig.connected()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a small jpeg")

    def upload(binary, media_type=None):
        raise NeonizeError("failed to upload media: Post https://mmg.whatsapp.net: i/o timeout")
    monkeypatch.setattr(rig.channel._outbound, "upload", upload)  # bound to the client when it was made
    with pytest.raises(SendError, match="media upload failed") as caught:
        await rig.channel.send(outbound(type="image", media_path=str(photo)))
    assert caught.value.retryable and not caught.value.unconfirmed and not client.sent


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


async def test_a_number_is_sent_to_as_whatsapp_knows_it_and_looked_up_once(make_rig):
    """Brazil's ninth digit: the typed +55 11 98765-4321 is account 551187654321 on WhatsApp."""
    typed, account = "5511987654321@s.whatsapp.net", "551187654321@s.whatsapp.net"
    rig = make_rig()
    client = await rig.connected()
    client.accounts["+5511987654321"] = account
    await rig.channel.send(outbound(chat=typed))
    await rig.channel.send(outbound(wa_id="zing-2", chat=typed))
    assert [f"{to.User}@{to.Server}" for to, _ in client.sent] == [account, account]
    assert client.lookups == ["+5511987654321"] and rig.sink.learned == [(typed, account)]
    await rig.channel.stop()

    again = make_rig()  # a restart: the sidecar remembers, no second usync query for this chat
    second = await again.connected()
    await again.channel.send(outbound(wa_id="zing-3", chat=typed))
    assert second.lookups == [] and [f"{to.User}@{to.Server}" for to, _ in second.sent] == [account]
    assert again.sink.learned == [(typed, account)]

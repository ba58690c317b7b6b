"""Inbound, offline: real neonize protos pushed through the Go callback path become zing's messages and receipts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.channels.whatsapp.rig import lib, P, E, DownloadError, OWN, CUSTOMER, GROUP, fast, message_event, receipt_event
from tests.helpers import until


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


async def test_a_failing_handler_is_counted_logged_parked_and_replayed(rig, caplog):
    await rig.connected()
    rig.sink.failures = 1
    with caplog.at_level(logging.WARNING, logger="zingd.channels.whatsapp.channel"):
        await rig.push(message_event(E.Message(conversation="lost?")))
    assert rig.channel.health()["handler_failures"] == 1
    assert "Message handler failed" in caplog.text and "database is locked" in caplog.text
    assert "Message parked" in caplog.text
    assert (await rig.deliver(E.Message(conversation="next"), wa_id="3EB0IN2")).body == "next"
    await until(lambda: rig.channel.health()["parked"] == 0)
    assert sorted((m.wa_id, m.body) for m in rig.sink.messages) == [("3EB0IN1", "lost?"), ("3EB0IN2", "next")]
    assert rig.channel.health()["replayed"] == 1


async def test_receipts_are_parked_too(rig):
    await rig.connected()
    rig.sink.failures = 1
    await rig.push(receipt_event(["3EB0A"], "READ"))
    await until(lambda: [r.wa_ids for r in rig.sink.receipts] == [["3EB0A"]])
    await until(lambda: rig.channel.health()["parked"] == 0)  # the replay unparks it after the sink took it


async def test_an_event_the_daemon_does_not_take_in_time_is_parked(make_rig):
    """The sink timeout no longer drops the message: it is parked, and the replay commits it
    (the daemon ignores the second copy when the first one committed after all)."""
    rig = make_rig(fast(sink_timeout=0.2))
    await rig.connected()
    rig.sink.hold.clear()
    await rig.push(message_event(E.Message(conversation="slow day")))
    assert rig.channel.health()["parked"] == 1
    rig.sink.hold.set()
    await until(lambda: rig.channel.health()["parked"] == 0)
    assert {m.wa_id for m in rig.sink.messages} == {"3EB0IN1"}


async def test_parked_events_survive_a_restart_and_are_replayed_once_connected(tmp_path, make_rig):
    first = make_rig()
    await first.connected()
    first.sink.failures = 100  # the daemon refuses everything until this connection stops
    await first.push(message_event(E.Message(conversation="before the crash"), wa_id="3EB0P1"))
    await first.push(message_event(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg", fileLength=11)),
                                   wa_id="3EB0P2"))
    await until(lambda: first.channel.health()["parked"] == 2)
    await first.channel.stop()
    parked = sorted(p.name for p in (tmp_path / "sessions" / "7.db.parked").iterdir())
    assert [name.rsplit("-", 1)[1] for name in parked] == ["Message.pb", "Message.pb"]

    second = make_rig()
    assert second.channel.health()["parked"] == 2
    await second.connected()
    await until(lambda: len(second.sink.messages) == 2)
    assert [m.wa_id for m in second.sink.messages] == ["3EB0P1", "3EB0P2"]
    assert second.sink.messages[1].media.path  # downloaded in the replay
    await until(lambda: second.channel.health()["parked"] == 0)  # unparked once the sink took it: just after
    assert not list((tmp_path / "sessions" / "7.db.parked").iterdir())


async def test_messages_waiting_for_media_at_a_stop_are_parked(make_rig):
    rig = make_rig(fast(sink_timeout=120))  # only the stop parks here: no sink timeout on a loaded machine
    await rig.connected()
    rig.sink.hold.clear()  # the worker's first message waits in the sink; the second waits in the queue
    for n in (1, 2):
        await rig.push(message_event(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg", fileLength=11)),
                                     wa_id=f"3EB0M{n}"))
    await until(lambda: rig.channel.media_pending() == 2 and rig.sink.held == 1)  # the first is in the worker's hand
    stopping = asyncio.ensure_future(rig.channel.stop())
    await until(lambda: rig.channel.health()["parked"] == 1)
    rig.sink.hold.set()
    await stopping
    await until(lambda: rig.sink.messages)  # the one in hand when the stop came is delivered, not parked
    assert [m.wa_id for m in rig.sink.messages] == ["3EB0M1"] and rig.channel.health()["parked"] == 1

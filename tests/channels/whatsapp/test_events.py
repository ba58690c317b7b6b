"""The events beyond messages, offline: real neonize protos pushed through the Go callback path.

WhatsApp's own timestamps, voice notes' length and waveform, calls, group names, locked and
banned logouts, history and offline sync progress."""

from __future__ import annotations

import threading

from tests.channels.whatsapp.rig import CUSTOMER, GROUP, E, P, call_offer_event, fast, jid
from tests.helpers import until
from zingd.channels.base import ADVICE, FINAL_STATES

# after the rig's load(): a quiet neonize import
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import HistorySync as HistoryData  # noqa: E402
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import PhoneNumberToLIDMapping as Mapping  # noqa: E402


async def test_a_voice_note_carries_its_length_and_waveform(rig):
    await rig.connected()
    levels = bytes(range(0, 64))
    note = E.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, seconds=42, waveform=levels)
    msg = await rig.deliver(E.Message(audioMessage=note))
    assert (msg.type, msg.media_seconds, msg.waveform) == ("audio", 42, levels)
    video = await rig.deliver(E.Message(videoMessage=E.VideoMessage(mimetype="video/mp4", seconds=7)),
                              wa_id="3EB0IN2")
    assert (video.media_seconds, video.waveform) == (7, b"")
    image = await rig.deliver(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg")), wa_id="3EB0IN3")
    assert (image.media_seconds, image.waveform) == (None, b"")


async def test_a_call_is_a_missed_call_line(rig):
    await rig.connected()
    await rig.push(call_offer_event("CALL0001", caller="777@lid", caller_alt=CUSTOMER))
    await rig.push(call_offer_event("CALL0002", video=True))
    voice, video = rig.sink.messages
    assert (voice.wa_id, voice.chat, voice.sender, voice.sender_alt) == ("CALL0001", "777@lid", "777@lid", CUSTOMER)
    assert (voice.type, voice.body, voice.call) == ("system", "📞 missed voice call", "voice")
    assert voice.ts == 1_700_000_300.0
    assert (video.chat, video.body, video.call) == (CUSTOMER, "📹 missed video call", "video")


async def test_a_group_is_named_after_its_subject_looked_up_once(rig):
    client = await rig.connected()
    first = await rig.deliver(E.Message(conversation="hi all"), chat=GROUP, sender="5511999990002@s.whatsapp.net",
                              group=True, push_name="Carla")
    second = await rig.deliver(E.Message(conversation="again"), wa_id="3EB0IN2", chat=GROUP,
                               sender="5511999990003@s.whatsapp.net", group=True, push_name="Diego")
    assert (first.group_name, second.group_name, first.push_name) == ("Loja Centro", "Loja Centro", "Carla")
    assert client.group_lookups == [GROUP]
    one_to_one = await rig.deliver(E.Message(conversation="hi"), wa_id="3EB0IN3")
    assert one_to_one.group_name == "" and client.group_lookups == [GROUP]


async def test_a_group_lookup_that_hangs_does_not_hold_the_number(make_rig):
    """WhatsApp does not answer the group query: the message goes on unnamed after lookup_timeout."""
    rig = make_rig(fast(lookup_timeout=0.2))
    client = await rig.connected()
    answer = threading.Event()
    plain = client.get_group_info
    client.get_group_info = lambda jid_: answer.wait(30) and plain(jid_)
    try:
        msg = await rig.deliver(E.Message(conversation="anyone?"), chat=GROUP, group=True, sender=CUSTOMER)
        assert msg.group_name == "" and msg.body == "anyone?"
        text = await rig.deliver(E.Message(conversation="next"), wa_id="3EB0IN2")
        assert text.body == "next"
    finally:
        answer.set()


async def test_a_group_whatsapp_will_not_describe_stays_unnamed_without_asking_again(rig):
    client = await rig.connected()
    other = "120363000000000002@g.us"
    for n in (1, 2):
        msg = await rig.deliver(E.Message(conversation="x"), wa_id=f"3EB0G{n}", chat=other, group=True,
                                sender=CUSTOMER)
        assert msg.group_name == ""
    assert client.group_lookups == [other]


async def test_a_new_group_subject_is_a_line_and_renames_the_group(rig):
    client = await rig.connected()
    await rig.push(P.GroupInfoEvent(JID=jid(GROUP), Sender=jid(CUSTOMER), Timestamp=1_700_000_400,
                                    Name=P.GroupName(Name="Loja Sul", NameSetAt=1_700_000_400)))
    await rig.push(P.GroupInfoEvent(JID=jid(GROUP), Topic=P.GroupTopic(Topic="not a name")))  # no line
    [line] = rig.sink.messages
    assert (line.chat, line.sender, line.type, line.body) == (GROUP, CUSTOMER, "system", "group name: Loja Sul")
    assert (line.group_name, line.is_group, line.ts) == ("Loja Sul", True, 1_700_000_400.0)
    msg = await rig.deliver(E.Message(conversation="hi"), chat=GROUP, sender=CUSTOMER, group=True)
    assert msg.group_name == "Loja Sul" and client.group_lookups == []


async def test_joining_a_group_teaches_its_name(rig):
    client = await rig.connected()
    other = "120363000000000003@g.us"
    await rig.push(P.JoinedGroup(Reason="invite", GroupInfo=P.GroupInfo(JID=jid(other),
                                                                        GroupName=P.GroupName(Name="Parceiros"))))
    assert rig.sink.messages == []
    msg = await rig.deliver(E.Message(conversation="welcome"), chat=other, sender=CUSTOMER, group=True)
    assert msg.group_name == "Parceiros" and client.group_lookups == []


async def test_logged_out_403_is_locked_and_406_banned_with_their_own_advice(make_rig):
    for reason, state, text in (("MAIN_DEVICE_GONE", "locked", "(403)"), ("UNKNOWN_LOGOUT", "banned", "(406)"),
                                ("LOGGED_OUT", "logged_out", "pair again")):
        rig = make_rig()
        await rig.connected()
        await rig.push(P.LoggedOut(OnConnect=False, Reason=P.ConnectFailureReason.Value(reason)))
        await until(lambda: rig.channel.state == state)
        assert text in rig.channel.reason and state in FINAL_STATES
        assert "pair again" not in rig.channel.reason or state == "logged_out"
    assert "unlock" in ADVICE["locked"] and "review" in ADVICE["banned"]


async def test_sync_progress_is_in_the_health(rig):
    await rig.connected()
    assert rig.channel.sync.view() == {"state": "idle", "total": 0, "done": 0, "history_chunks": 0,
                                       "history_percent": 0}
    await rig.push(P.HistorySync(Data=HistoryData(syncType=HistoryData.RECENT, chunkOrder=1, progress=40)))
    assert rig.channel.sync.view()["state"] == "history"
    await rig.push(P.OfflineSyncPreview(Total=120, Message=100, Receipts=20))
    assert rig.channel.sync.view() == {"state": "offline", "total": 120, "done": 0, "history_chunks": 1,
                                       "history_percent": 40}
    await rig.push(P.OfflineSyncCompleted(Count=120))
    assert rig.channel.sync.view()["state"] == "done" and rig.channel.sync.view()["done"] == 120


async def test_a_history_sync_hands_its_lid_phone_pairs_to_the_daemon(rig):
    await rig.connected()
    data = HistoryData(syncType=HistoryData.INITIAL_BOOTSTRAP, phoneNumberToLidMappings=[
        Mapping(pnJID="5511999990001:2@s.whatsapp.net", lidJID="777@lid")])
    await rig.push(P.HistorySync(Data=data))
    await rig.push(P.HistorySync(Data=HistoryData(syncType=HistoryData.RECENT, progress=100)))  # none: no call
    assert rig.sink.learned == [(CUSTOMER, "777@lid")]

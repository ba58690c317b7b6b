"""Meta's webhook JSON into zing's events (``zingd.channels.cloud.payloads``): pure functions, fed
Meta's documented shapes (the first test is pywa's recorded text delivery verbatim)."""

from __future__ import annotations

import json

from tests.channels.cloud import webhooks as W
from zingd.channels.cloud import payloads as P

PHONE = "5511987654321"
CHAT = f"{PHONE}@s.whatsapp.net"
BSUID = "BR.1502576394655843"


def one(value: dict) -> P.Incoming:
    parsed = P.parse("messages", value)
    assert not parsed.skipped, parsed.skipped
    [incoming] = parsed.messages
    return incoming


def test_a_recorded_text_delivery():
    body = json.loads("""{"object": "whatsapp_business_account", "entry": [{"id": "1234567890987654321",
      "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "972123456789", "phone_number_id": "1122334455667"},
        "contacts": [{"profile": {"name": "Test Name"}, "wa_id": "972987654321"}],
        "messages": [{"from": "972987654321", "id": "wamid.xyzxyz", "timestamp": "1697043223",
                      "text": {"body": "Body Text"}, "type": "text"}]}, "field": "messages"}]}]}""")
    change = body["entry"][0]["changes"][0]
    msg = one(change["value"]).msg
    assert (msg.wa_id, msg.chat, msg.sender, msg.ts, msg.type, msg.body, msg.push_name, msg.from_me) == (
        "wamid.xyzxyz", "972987654321@s.whatsapp.net", "972987654321@s.whatsapp.net", 1697043223.0, "text",
        "Body Text", "Test Name", False)
    assert msg.sender_alt == "" and msg.media is None and msg.quoted_wa_id is None


def test_the_business_scoped_user_id_rides_beside_the_phone():
    msg = one(W.value(W.text("oi", user_id=BSUID))).msg
    assert (msg.chat, msg.sender_alt) == (CHAT, f"{BSUID}@bsuid")
    # Meta's recorded shape: the ids on the contacts entry only
    msg = one(W.value(W.text("oi"), contacts=[W.contact(PHONE, "Ana", BSUID)])).msg
    assert (msg.chat, msg.sender_alt, msg.push_name) == (CHAT, f"{BSUID}@bsuid", "Ana")


def test_a_customer_with_a_username_and_no_phone_is_their_user_id():
    m = W.text("sou eu", sender=None, user_id=BSUID)
    msg = one(W.value(m, contacts=[W.contact(None, "", BSUID, username="@ana.lima")])).msg
    assert (msg.chat, msg.sender, msg.sender_alt, msg.push_name) == (f"{BSUID}@bsuid", f"{BSUID}@bsuid", "",
                                                                      "@ana.lima")
    parsed = P.parse("messages", W.value(W.text("?", sender=None, user_id="BR.1@evil.example"), contacts=[]))
    assert not parsed.messages and "no phone number or user id" in parsed.skipped[0]


def test_media_carry_metas_media_id_for_the_download_after_commit():
    img = one(W.value(W.media("image", "1290000000001", "image/jpeg", caption="a nota")))
    assert (img.msg.type, img.msg.body, img.media_id, img.mime, img.msg.media) == (
        "image", "a nota", "1290000000001", "image/jpeg", None)
    doc = one(W.value(W.media("document", "1290000000002", "application/pdf", caption="segue",
                              filename="boleto.pdf")))
    assert (doc.msg.type, doc.msg.body, doc.filename) == ("document", "segue", "boleto.pdf")
    for kind, mime in (("audio", "audio/ogg; codecs=opus"), ("video", "video/mp4"), ("sticker", "image/webp")):
        got = one(W.value(W.media(kind, "1290000000003", mime)))
        assert (got.msg.type, got.msg.body, got.media_id, got.mime) == (kind, "", "1290000000003", mime)
    broken = one(W.value(W.message("image", {"mime_type": "image/jpeg"})))
    assert (broken.msg.type, broken.media_id) == ("unsupported", "")


def test_location_and_contacts_read_as_neonizes_do():
    loc = one(W.value(W.location(37.4611978, -122.2164385, "Facebook HQ", "1 Hacker Way, Menlo Park")))
    assert (loc.msg.type, loc.msg.body) == ("location", "📍 37.461198,-122.216438 Facebook HQ 1 Hacker Way, Menlo Park")
    assert one(W.value(W.location(-23.5, -46.6))).msg.body == "📍 -23.5,-46.6"
    cards = one(W.value(W.shared_contacts(("Chandler Bing", "+1 555-555-5555"), ("Monica", "+1 666-666-6666"))))
    assert (cards.msg.type, cards.msg.body) == ("contact", "👤 Chandler Bing: +1 555-555-5555\n👤 Monica: +1 666-666-6666")


def test_reactions_and_their_removal():
    msg = one(W.value(W.reaction("wamid.OURS", "👍"))).msg
    assert (msg.type, msg.body, msg.reaction_to, msg.quoted_wa_id) == ("reaction", "👍", "wamid.OURS", None)
    gone = one(W.value(W.message("reaction", {"message_id": "wamid.OURS"}))).msg  # Meta leaves the emoji out
    assert (gone.type, gone.body, gone.reaction_to) == ("reaction", "", "wamid.OURS")


def test_taps_read_as_what_the_customer_chose():
    msg = one(W.value(W.button_reply("opt-2", "Suporte", "wamid.MENU"))).msg
    assert (msg.type, msg.body, msg.quoted_wa_id) == ("text", "Suporte", "wamid.MENU")
    msg = one(W.value(W.list_reply("sku-9", "Plano Ouro", "R$ 99", "wamid.LIST"))).msg
    assert (msg.type, msg.body) == ("text", "Plano Ouro")
    msg = one(W.value(W.quick_reply("Quero falar com alguém", "HUMAN", "wamid.TPL"))).msg
    assert (msg.type, msg.body, msg.quoted_wa_id) == ("text", "Quero falar com alguém", "wamid.TPL")
    msg = one(W.value(W.flow_reply('{"cpf": "123", "flow_token": "t"}'))).msg
    assert msg.body == 'Sent\n{"cpf": "123", "flow_token": "t"}'


def test_quotes_edits_and_deletions_name_the_message_they_touch():
    msg = one(W.value(W.text("isso", context={"from": PHONE, "id": "wamid.EARLIER"}))).msg
    assert msg.quoted_wa_id == "wamid.EARLIER"
    forwarded = one(W.value(W.text("fwd", context={"forwarded": True}))).msg
    assert forwarded.quoted_wa_id is None
    msg = one(W.value(W.edit("wamid.EARLIER", "corrigido"))).msg
    assert (msg.type, msg.body, msg.edit_of) == ("text", "corrigido", "wamid.EARLIER")
    caption = W.message("edit", {"original_message_id": "wamid.PIC", "message": {
        "type": "image", "image": {"caption": "nova legenda", "mime_type": "image/jpeg", "id": "65463453"}}})
    msg = one(W.value(caption))
    assert (msg.msg.type, msg.msg.body, msg.msg.edit_of, msg.media_id) == ("image", "nova legenda", "wamid.PIC", "")
    msg = one(W.value(W.revoke("wamid.EARLIER"))).msg
    assert (msg.type, msg.revoke_of, msg.body) == ("system", "wamid.EARLIER", "")


def test_what_zing_does_not_know_is_kept_as_unsupported_with_metas_words():
    msg = one(W.value(W.unsupported())).msg
    assert (msg.type, msg.body) == ("unsupported",
                                    "Message type unknown (131051): Message type is currently not supported.")
    # an interactive message Meta could not describe: its error sits on the change, not the message
    value = W.value(W.message("interactive"), errors=[W.meta_error(131000, "Something went wrong",
                                                                   "Unsupported webhook payload")])
    assert one(value).msg.body == "Something went wrong (131000): Unsupported webhook payload"
    msg = one(W.value(W.order(("HAMBURGER", 3, 30), ("SODA", 2, 10)))).msg
    assert (msg.type, msg.body) == ("unsupported", "🛒 order: 3 × HAMBURGER (30 BRL), 2 × SODA (10 BRL)")
    assert one(W.value(W.message("video_note", {"id": "1"}))).msg.type == "unsupported"


def test_an_ad_click_keeps_the_ad_in_the_body():
    referral = {"source_url": "https://fb.me/ad1", "source_id": "ADID", "source_type": "ad", "headline": "Promo",
                "body": "50% off", "media_type": "image", "ctwa_clid": "CLID"}
    assert one(W.value(W.text("Oi!", referral=referral))).msg.body == "Oi!\n↪ ad: Promo — 50% off — https://fb.me/ad1"


def test_an_opened_chat_is_not_a_message():
    parsed = P.parse("messages", W.value(W.message("request_welcome")))
    assert not parsed.messages and "opened the chat" in parsed.skipped[0]


def test_a_number_change_is_said_and_learned():
    parsed = P.parse("messages", W.value(W.changed_number(PHONE, "5511911112222")))
    [incoming] = parsed.messages
    assert (incoming.msg.type, incoming.msg.chat, incoming.msg.body) == (
        "system", CHAT, f"User Cliente changed from {PHONE} to 5511911112222")
    assert parsed.changed == [(CHAT, "5511911112222@s.whatsapp.net")] and parsed.learned == []
    change = W.message("system", {"body": "User changed from CO.1234567890 to MX.0987654321",
                                  "user_id": "MX.0987654321", "previous_user_id": "CO.1234567890",
                                  "type": "user_changed_user_id"}, sender=None)
    parsed = P.parse("messages", W.value(change))
    assert parsed.messages[0].msg.chat == "CO.1234567890@bsuid"
    assert parsed.learned == [("CO.1234567890@bsuid", "MX.0987654321@bsuid")]


def test_a_group_message_is_the_groups():
    msg = one(W.value(W.text("bom dia", group_id="Y2FwaV9ncm91cDpFWEFNUExF"))).msg
    assert (msg.chat, msg.sender, msg.is_group) == ("Y2FwaV9ncm91cDpFWEFNUExF@g.us", CHAT, True)


def test_statuses_become_receipts_with_zings_own_id():
    parsed = P.parse("messages", W.value(statuses=[
        W.status("wamid.A", "sent", ours="3EB0AAAA", ts=1698266945),
        W.status("wamid.A", "delivered"), W.status("wamid.A", "read", user_id=BSUID),
        W.status("wamid.B", "failed", errors=[W.meta_error(
            131047, "Re-engagement message", "Message failed to send because more than 24 hours have passed")]),
        W.status("wamid.C", "delivered", recipient=None, user_id=BSUID),
        W.status("wamid.D", "deleted")]))
    sent, delivered, read, failed, by_id = parsed.receipts
    assert (sent.chat, sent.wa_ids, sent.type, sent.ts, sent.ours) == (CHAT, ["wamid.A"], "sent", 1698266945.0,
                                                                       ["3EB0AAAA"])
    assert (delivered.type, delivered.ours, read.type, read.chat) == ("delivered", [""], "read", CHAT)
    assert failed.type == "failed" and failed.error == (
        "Re-engagement message (131047): Message failed to send because more than 24 hours have passed")
    assert by_id.chat == f"{BSUID}@bsuid"
    assert parsed.skipped == ["status 'deleted' of wamid.D"]


def test_template_quality_and_account_webhooks_are_notices():
    [n] = P.parse("message_template_status_update",
                  W.template_status("12345678", "pedido_saiu", "pt-BR", "REJECTED", "INVALID_FORMAT")).notices
    assert (n.kind, n.data) == ("template", {"remote_id": "12345678", "name": "pedido_saiu", "language": "pt_BR",
                                             "status": "REJECTED", "reason": "INVALID_FORMAT"})
    [n] = P.parse("message_template_status_update",
                  W.template_status("12345678", "pedido_saiu", "pt_BR", "APPROVED")).notices
    assert (n.data["status"], n.data["reason"]) == ("APPROVED", "")
    [n] = P.parse("phone_number_quality_update", W.quality("FLAGGED", "1000")).notices
    assert (n.kind, n.data["event"], n.data["quality_rating"], n.data["messaging_limit"]) == (
        "quality", "FLAGGED", "RED", "1000")
    [n] = P.parse("phone_number_quality_update", W.quality("UPGRADE", "10000")).notices
    assert (n.data["quality_rating"], n.data["messaging_limit"]) == (None, "10000")
    [n] = P.parse("account_update", {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE"}}).notices
    assert (n.kind, n.data["event"], n.data["ban_info"]) == ("quality", "DISABLED_UPDATE", {"waba_ban_state": "DISABLE"})
    parsed = P.parse("calls", {"calls": []})
    assert not (parsed.messages or parsed.notices) and parsed.skipped == ["field 'calls' (not one zing reads)"]


def test_an_echo_from_the_business_app_is_the_companys_own():
    echo = {"from": W.DISPLAY_PHONE, "to": PHONE, "id": "wamid.ECHO", "timestamp": "1697044968", "type": "text",
            "text": {"body": "respondi pelo app"}}
    [incoming] = P.parse("smb_message_echoes", {"messaging_product": "whatsapp", "message_echoes": [echo]}).messages
    assert (incoming.msg.chat, incoming.msg.from_me, incoming.msg.body) == (CHAT, True, "respondi pelo app")


def test_garbage_is_skipped_not_raised():
    for value in ({}, {"messages": "x"}, {"messages": [None, 3, {"type": "text"}]}, {"statuses": [{}]}, []):
        parsed = P.parse("messages", value)
        assert not parsed.messages and not parsed.receipts

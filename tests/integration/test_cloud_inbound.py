"""What customers send to a cloud number, through a real zingd and FakeGraph's signed webhooks: every
kind of message as the console shows it, files fetched after the commit (with the Bearer, retried
by media.fetch, resumed after a kill -9), one contact for a user id and its phone, and statuses on
zing's messages (found by zing's own id when the send's answer never came)."""

from __future__ import annotations


from tests.channels.cloud import webhooks as W
from tests.helpers import wait_for
from tests.integration.support import db_rows
from tests.integration.template_desk import cd, g  # noqa: F401 - cd, g: fixtures
from zingd.channels.cloud.inbound import DOWNLOADING, EXPIRED

NUMBER = "5511987650001"
BSUID = "BR.1502576394655843"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64 + b"\xff\xd9"


def post(cd, *messages: dict, contacts: list[dict] | None = None) -> None:
    status, text = cd.g.post_webhook(cd.url, W.envelope(("messages", W.value(*messages, contacts=contacts))))
    assert (status, text) == (200, "ok")


def inbound(cd) -> list[dict]:
    ticket = wait_for(lambda: cd.ticket(NUMBER))
    return [m for m in cd.d.messages(ticket["id"]) if m["direction"] == "in"]


def message(cd, wa_id: str, **where) -> dict:
    """The stored message with that id, once it satisfies ``where`` (a column equal, or a predicate)."""
    def found():
        rows = db_rows(cd.d.z, "SELECT * FROM messages WHERE connection_id = ? AND wa_id = ?", (cd.cloud_id, wa_id))
        if rows and all(v(rows[0][k]) if callable(v) else rows[0][k] == v for k, v in where.items()):
            return rows[0]
        return None
    return wait_for(found, timeout=20)


def test_every_kind_is_stored_as_the_console_shows_it(cd):
    first, second = W.text("oi, tudo bem?", sender=NUMBER), W.text("mensagem errada", sender=NUMBER)
    post(cd, first, second)
    post(cd,
         W.text("sobre isso", sender=NUMBER, context={"from": NUMBER, "id": first["id"]}),
         W.location(-23.561414, -46.655881, "Av. Paulista", "São Paulo, SP", sender=NUMBER),
         W.shared_contacts(("Maria Souza", "+55 11 91234-5678"), sender=NUMBER),
         W.reaction(first["id"], "❤️", sender=NUMBER),
         W.button_reply("suporte", "Suporte", first["id"], sender=NUMBER),
         W.quick_reply("Falar com atendente", "HUMAN", first["id"], sender=NUMBER),
         W.unsupported(sender=NUMBER),
         W.order(("CAMISETA-P", 2, 59.9), sender=NUMBER),
         W.edit(first["id"], "oi, tudo bem? (editado)", sender=NUMBER),
         W.revoke(second["id"], sender=NUMBER))
    got = {m["wa_id"]: m for m in wait_for(lambda: len(inbound(cd)) >= 10 and inbound(cd))}
    assert len(got) == 10  # the edit and the deletion touched the messages they name, added none
    edited, deleted = got[first["id"]], got[second["id"]]
    assert (edited["body"], edited["edited"], deleted["deleted"]) == ("oi, tudo bem? (editado)", 1, 1)
    shown = [(m["type"], m["body"]) for m in sorted(got.values(), key=lambda m: m["id"])][2:]
    assert shown == [
        ("text", "sobre isso"),
        ("location", "📍 -23.561414,-46.655881 Av. Paulista São Paulo, SP"),
        ("contact", "👤 Maria Souza: +55 11 91234-5678"),
        ("reaction", "❤️"),
        ("text", "Suporte"),
        ("text", "Falar com atendente"),
        ("unsupported", "Message type unknown (131051): Message type is currently not supported."),
        ("unsupported", "🛒 order: 2 × CAMISETA-P (59.9 BRL)"),
    ]
    quote, reaction = (next(m for m in got.values() if m["body"] == b) for b in ("sobre isso", "❤️"))
    assert quote["quoted_id"] == reaction["reaction_to"] == edited["id"]
    ticket = cd.ticket(NUMBER)
    assert ticket["last_message"] == "🛒 order: 2 × CAMISETA-P (59.9 BRL)" and ticket["connection_kind"] == "cloud"


def test_files_arrive_after_the_commit_with_the_bearer(cd, g):
    photo = g.add_media(JPEG, "image/jpeg")
    pdf = g.add_media(b"%PDF-1.4 boleto", "application/pdf", "boleto.pdf")
    voice = g.add_media(b"OggS voice", "audio/ogg; codecs=opus")
    msgs = [W.media("image", photo, "image/jpeg", caption="a nota", sender=NUMBER),
            W.media("document", pdf, "application/pdf", caption="segue", filename="boleto.pdf", sender=NUMBER),
            W.media("audio", voice, "audio/ogg; codecs=opus", sender=NUMBER)]
    post(cd, *msgs)
    done = [message(cd, m["id"], media_path=bool) for m in msgs]
    image, document, audio = done
    assert (image["type"], image["body"], image["media_mime"], image["media_size"], image["media_error"]) == (
        "image", "a nota", "image/jpeg", len(JPEG), None)
    assert open(image["media_path"], "rb").read() == JPEG
    assert document["media_path"].endswith(".pdf") and open(document["media_path"], "rb").read() == b"%PDF-1.4 boleto"
    assert (audio["type"], audio["media_mime"]) == ("audio", "audio/ogg; codecs=opus")
    files = [r for r in g.requests if r["path"].startswith("/whatsapp_business/attachments")]
    assert len(files) == 3 and {r["auth"] for r in files} == {f"Bearer {g.token}"}
    events = db_rows(cd.d.z, "SELECT type FROM events WHERE type IN ('message.created', 'message.updated') "
                     "AND json_extract(data, '$.message.id') = ?", (image["id"],))
    assert [e["type"] for e in events] == ["message.created", "message.updated"]  # stored first, file after
    created = db_rows(cd.d.z, "SELECT json_extract(data, '$.message.media_error') AS e FROM events WHERE "
                      "type = 'message.created' AND json_extract(data, '$.message.id') = ?", (image["id"],))
    assert created == [{"e": DOWNLOADING}]


def test_a_failed_download_says_why_and_media_fetch_tries_again(cd, g):
    photo = g.add_media(JPEG, "image/jpeg")
    g.offline = True  # Graph drops every connection: the file can't be fetched
    first = W.media("image", photo, "image/jpeg", sender=NUMBER)
    post(cd, first)
    failed = message(cd, first["id"], media_error=lambda e: e and e != DOWNLOADING)
    assert failed["media_path"] is None and failed["media_error"].startswith("download failed: ")
    g.offline = False
    fetched = cd.admin.call("media.fetch", {"message_id": failed["id"]})
    assert fetched["media_error"] is None and open(fetched["media_path"], "rb").read() == JPEG

    gone = g.add_media(JPEG, "image/jpeg")
    g.fail_media(gone)  # Meta no longer keeps it: GET /{media_id} answers code 100
    second = W.media("image", gone, "image/jpeg", sender=NUMBER)
    post(cd, second)
    expired = message(cd, second["id"], media_error=EXPIRED)
    again = cd.admin.call("media.fetch", {"message_id": expired["id"]})
    assert (again["media_path"], again["media_error"]) == (None, EXPIRED)
    asked = len([r for r in g.requests if r["path"].endswith(f"/{gone}")])
    post(cd, second)  # Meta delivers it again: the message keeps its state, nothing is fetched again
    assert message(cd, second["id"])["media_error"] == EXPIRED
    assert len([r for r in g.requests if r["path"].endswith(f"/{gone}")]) == asked

    big = g.add_media(b"x" * 16, "video/mp4", file_size=(64 << 20) + 1)  # Meta declares it over zing's limit
    third = W.media("video", big, "video/mp4", sender=NUMBER)
    post(cd, third)
    refused = message(cd, third["id"], media_error=lambda e: e and e != DOWNLOADING)
    assert refused["media_error"] == f"not downloaded: {(64 << 20) + 1} bytes is over the {64 << 20}-byte limit"
    assert not [r for r in g.requests if r["path"].startswith("/whatsapp_business/") and big in r["query"].get("mid", "")]


def test_a_file_pending_at_a_kill_arrives_after_the_restart(cd, g):
    photo = g.add_media(JPEG, "image/jpeg")
    g.slow_media = 120.0  # the file's bytes don't come: zingd dies while it waits for them
    msg = W.media("image", photo, "image/jpeg", sender=NUMBER)
    post(cd, msg)
    message(cd, msg["id"], media_error=DOWNLOADING)
    g.wait(lambda: [r for r in g.requests if r["path"].startswith("/whatsapp_business/attachments")])
    cd.d.z.kill()
    g.slow_media = 0.0
    cd.d.z.start()
    row = message(cd, msg["id"], media_path=bool)
    assert row["media_error"] is None and open(row["media_path"], "rb").read() == JPEG
    cd.d.admin = cd.d.z.client()  # the old client's daemon is gone


def test_a_user_id_and_its_phone_are_one_contact(cd, g):
    """A customer who hides their number writes first (only the BSUID); later Meta shares the phone
    beside it: the placeholder folds into one contact with both ids, and the ticket follows."""
    post(cd, W.text("sou eu, sem número", sender=None, user_id=BSUID),
         contacts=[W.contact(None, "", BSUID, username="@ana.lima")])
    ghost = wait_for(lambda: [c for c in cd.admin.call("contact.list") if c["number"] == f"{BSUID}@bsuid"])[0]
    assert ghost["push_name"] == "@ana.lima"
    ticket = cd.ticket(f"{BSUID}@bsuid")
    cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Olá! Como posso ajudar?"})
    [sent] = g.wait_sent(1)
    assert sent["json"]["recipient"] == BSUID and "to" not in sent["json"]

    post(cd, W.text("agora com número", sender=NUMBER, user_id=BSUID),
         contacts=[W.contact(NUMBER, "Ana Lima", BSUID)])
    contacts = wait_for(lambda: (cs := cd.admin.call("contact.list")) and all(c["number"] == NUMBER for c in cs) and cs)
    [person] = contacts
    full = cd.admin.call("contact.get", {"id": person["id"]})
    assert (full["id"], full["ids"], full["merges"]) == (ghost["id"], [f"{NUMBER}@s.whatsapp.net", f"{BSUID}@bsuid"],
                                                         [])  # the placeholder became the person
    [active] = [t for t in full["tickets"] if t["status"] != "closed"]
    assert active["id"] == ticket["id"]
    bodies = [m["body"] for m in cd.d.messages(active["id"])]
    assert bodies[:3] == ["sou eu, sem número", "Olá! Como posso ajudar?", "agora com número"]
    cd.admin.call("message.send", {"ticket_id": active["id"], "body": "Recebi!"})
    assert g.wait_sent(2)[1]["json"]["to"] == NUMBER  # the phone, once known


def test_a_user_id_placeholder_folds_into_the_contact_of_its_phone(cd):
    """Known by phone first, then a message by user id alone (a placeholder, its own ticket), then
    both together: the placeholder folds into the phone's contact, tickets joined, and why is kept."""
    known = cd.writes(NUMBER, "pelo telefone")
    post(cd, W.text("pelo usuário", sender=None, user_id=BSUID), contacts=[W.contact(None, "Ana", BSUID)])
    ghost = wait_for(lambda: cd.ticket(f"{BSUID}@bsuid"))
    assert ghost["id"] != known["id"]
    post(cd, W.text("os dois", sender=NUMBER, user_id=BSUID), contacts=[W.contact(NUMBER, "Ana", BSUID)])
    [person] = wait_for(lambda: (cs := cd.admin.call("contact.list")) and len(cs) == 1 and cs)
    full = cd.admin.call("contact.get", {"id": person["id"]})
    assert full["ids"] == [f"{NUMBER}@s.whatsapp.net", f"{BSUID}@bsuid"]
    [merge] = full["merges"]
    assert merge["reason"] == f"Meta said user id {BSUID} is +{NUMBER}"
    assert merge["tickets_joined"] == [[known["id"], ghost["id"]]]
    post(cd, W.text("de novo sem número", sender=None, user_id=BSUID), contacts=[W.contact(None, "Ana", BSUID)])
    wait_for(lambda: len([m for m in cd.d.messages(known["id"]) if m["direction"] == "in"]) == 4)
    assert [m["body"] for m in cd.d.messages(known["id"]) if m["direction"] == "in"] == [
        "pelo telefone", "pelo usuário", "os dois", "de novo sem número"]
    assert len(cd.admin.call("contact.list")) == 1


def test_statuses_move_the_ack_and_a_failure_says_why(cd, g):
    ticket = cd.writes(NUMBER, "oi")
    ok = cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Olá!"})
    bad = cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Mais uma coisa"})
    one, two = g.wait_sent(2)
    assert (one["json"]["biz_opaque_callback_data"], two["json"]["biz_opaque_callback_data"]) == (ok["wa_id"],
                                                                                                  bad["wa_id"])
    message(cd, one["wamid"], ack="sent")
    for state in ("delivered", "read"):
        assert g.post_webhook(cd.url, g.envelope(g.statuses(one["wamid"], state, NUMBER, ours=ok["wa_id"])))[0] == 200
        message(cd, one["wamid"], ack=state)
    g.post_webhook(cd.url, g.envelope(g.statuses(two["wamid"], "failed", NUMBER, ours=bad["wa_id"], error=131026)))
    failed = message(cd, two["wamid"], ack="failed")
    assert failed["error"].startswith("Message Undeliverable (131026)")
    # a late "delivered" for the read one changes nothing: acks only move forward
    g.post_webhook(cd.url, g.envelope(g.statuses(one["wamid"], "delivered", NUMBER, ours=ok["wa_id"])))
    assert message(cd, one["wamid"])["ack"] == "read"


def test_a_status_with_only_zings_id_finds_a_send_whose_answer_never_came(cd, g):
    ticket = cd.writes(NUMBER, "oi")
    g.hang_next()  # Meta takes the message (the customer gets it) but its answer doesn't come back
    msg = cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Chegou?"})
    [sent] = g.wait_sent(1)
    assert message(cd, msg["wa_id"])["ack"] in ("queued", "unconfirmed")
    status = g.statuses(sent["wamid"], "delivered", NUMBER, ours=msg["wa_id"])
    assert g.post_webhook(cd.url, g.envelope(status)) == (200, "ok")
    proved = message(cd, sent["wamid"], ack="delivered")  # found by zing's id, now under Meta's
    assert proved["id"] == msg["id"]
    g.release()  # the late answer names the same message: nothing changes, nothing is sent again
    wait_for(lambda: not db_rows(cd.d.z, "SELECT 1 FROM outbox WHERE message_id = ?", (msg["id"],)))
    assert message(cd, sent["wamid"])["ack"] == "delivered" and len(g.sent) == 1


def test_a_quality_webhook_shows_on_the_number(cd, g):
    g.numbers[g.phone_number_id].update(quality_rating="YELLOW", messaging_limit_tier="TIER_250")
    value = g.quality("DOWNGRADE", "TIER_250", old_limit="TIER_1K")
    assert g.post_webhook(cd.url, g.envelope(value, field="phone_number_quality_update")) == (200, "ok")
    [row] = db_rows(cd.d.z, "SELECT quality_rating, messaging_limit, json_extract(last_notice, '$.event') AS event "
                    "FROM cloud_accounts WHERE connection_id = ?", (cd.cloud_id,))
    assert row == {"quality_rating": "YELLOW", "messaging_limit": "TIER_250", "event": "DOWNGRADE"}


def test_a_changed_number_is_said_and_the_new_one_reaches_the_same_contact(cd):
    ticket = cd.writes(NUMBER, "meu número antigo")
    post(cd, W.changed_number(NUMBER, "5511911112222", "Ana"))
    post(cd, W.text("agora pelo novo", sender="5511911112222"))
    wait_for(lambda: len(cd.d.messages(ticket["id"])) >= 3)
    assert [(m["type"], m["body"]) for m in cd.d.messages(ticket["id"]) if m["direction"] == "in"] == [
        ("text", "meu número antigo"), ("system", f"User Ana changed from {NUMBER} to 5511911112222"),
        ("text", "agora pelo novo")]
    [person] = cd.admin.call("contact.list")
    assert person["number"] == "5511911112222", "the new number is the contact's: answers go there"
    assert cd.admin.call("contact.get", {"id": person["id"]})["ids"] == [
        "5511911112222@s.whatsapp.net", f"{NUMBER}@s.whatsapp.net"]
    cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "anotado!"})
    assert cd.g.wait_sent(1)[0]["to"] == "5511911112222"


def test_a_change_to_a_number_someone_else_has_folds_nobody(cd):
    """A recycled number: its last owner is another contact. Meta's word doesn't merge two people."""
    cd.writes("5511911113333", "sou o dono antigo", name="Bruno")
    ticket = cd.writes(NUMBER, "oi", name="Ana")
    post(cd, W.changed_number(NUMBER, "5511911113333", "Ana"))
    wait_for(lambda: any(m["type"] == "system" for m in cd.d.messages(ticket["id"])))
    numbers = sorted(c["number"] for c in cd.admin.call("contact.list"))
    assert numbers == sorted([NUMBER, "5511911113333"]), "two people still"


def test_a_file_url_that_redirects_elsewhere_gets_no_token(cd, g):
    photo = g.add_media(JPEG, "image/jpeg")
    g.redirect_media(photo, "https://files.example.net/steal?mid=1")
    msg = W.media("image", photo, "image/jpeg", sender=NUMBER)
    post(cd, msg)
    refused = message(cd, msg["id"], media_error=lambda e: e and e != DOWNLOADING)
    assert refused["media_error"] == "not downloaded: refusing a redirect to files.example.net, a host Graph didn't name"


def test_a_batch_is_stored_whole_and_in_its_order(cd):
    """One change with many messages (handed to the database together): all committed before the 200,
    in the order Meta sent them, one ticket."""
    bodies = [f"parte {i}" for i in range(25)]
    post(cd, *(W.text(b, sender=NUMBER) for b in bodies))
    stored = inbound(cd)  # no wait: the 200 came after every commit
    assert [m["body"] for m in stored] == bodies
    assert len({m["ticket_id"] for m in stored}) == 1

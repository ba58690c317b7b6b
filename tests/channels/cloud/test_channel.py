"""CloudChannel against the fake Graph server with a recording sink: start states, sends of every type,
zing's id on every message, and Graph's errors as the outbox and the admin need them."""

from __future__ import annotations

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import until
from zingd.channels.base import OutboundMessage, SendError
from zingd.channels.cloud import channel as cloud_channel
from zingd.channels.cloud.account import CloudAccount
from zingd.channels.cloud.channel import CloudChannel
from zingd.channels.cloud.graph import Timeouts
from zingd.errors import ChannelDown

CUSTOMER = "5511999990001"
CHAT = f"{CUSTOMER}@s.whatsapp.net"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


class Sink:
    def __init__(self) -> None:
        self.messages, self.receipts, self.states, self.notices, self.learned = [], [], [], [], []

    async def message(self, connection_id, msg):
        self.messages.append(msg)

    async def receipt(self, connection_id, receipt):
        self.receipts.append(receipt)

    async def state(self, connection_id, change):
        self.states.append(change)

    async def learn_ids(self, connection_id, pairs):
        self.learned.extend(pairs)

    async def notice(self, connection_id, notice):
        self.notices.append(notice)

    async def number_changed(self, connection_id, old, new):
        self.learned.append((old, new))


@pytest.fixture
def fake():
    with FakeGraph() as g:
        yield g


@pytest.fixture
async def make_channel(fake, tmp_path):
    made: list[CloudChannel] = []

    async def make(connected: bool = True, request: float = 5, **override) -> CloudChannel:
        account = CloudAccount(**fake.cloud_params(**override))
        ch = CloudChannel(7, Sink(), account, tmp_path / "media", tmp_path / f"cloud-{len(made)}.db",
                          timeouts=Timeouts(connect=2, request=request, download=5), retry_initial=0.01,
                          retry_max=0.05)
        made.append(ch)
        await ch.start()
        if connected:
            await until(lambda: ch.state == "connected", what="connected")
        return ch

    yield make
    for ch in made:
        await ch.stop()


def out(wa_id: str = "3EB0ZING0001", **kw) -> OutboundMessage:
    return OutboundMessage(wa_id=wa_id, chat=kw.pop("chat", CHAT), **kw)


async def test_start_connects_and_keeps_the_numbers_health(make_channel, fake):
    fake.numbers[fake.phone_number_id].update(quality_rating="YELLOW", messaging_limit_tier="TIER_10K")
    ch = await make_channel()
    assert [s.state for s in ch.sink.states] == ["connecting", "connected"]
    assert ch.sink.states[-1].phone == "+55 11 4000-0001"
    health = ch.health()
    assert health["state"] == "connected" and health["display_phone"] == "+55 11 4000-0001"
    assert (health["verified_name"], health["quality_rating"], health["messaging_limit"]) == (
        "Fake Co", "YELLOW", "TIER_10K")
    assert health["throttled"] is None


async def test_a_refused_token_at_start_is_logged_out_with_the_fix(make_channel, fake):
    fake.token_valid = False
    ch = await make_channel(connected=False)
    await until(lambda: ch.state == "logged_out", what="logged_out")
    assert ch.reason.startswith("Meta refused the access token (code 190: Error validating access token")
    assert ch.reason.endswith("set a new one with zingctl connections update 7 --access-token -")
    await until(lambda: ch._runner.done(), what="the runner ends")  # no retrying a token Meta refused
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert not caught.value.retryable and fake.sent == []


async def test_unreachable_at_start_retries_with_backoff(make_channel, fake):
    fake.offline = True
    ch = await make_channel(connected=False)
    await until(lambda: len([s for s in ch.sink.states if s.state == "disconnected"]) >= 2, what="retries")
    assert "retrying in" in ch.reason
    fake.offline = False
    await until(lambda: ch.state == "connected", what="connected")
    assert ch.health()["next_retry_delay"] == 0.01


async def test_stop_is_clean_and_says_so(make_channel):
    ch = await make_channel()
    await ch.stop()
    assert ch.state == "disconnected" and ch.reason == "stopped" and ch.graph is None


async def test_text_with_zings_id_and_a_quote(make_channel, fake):
    ch = await make_channel()
    result = await ch.send(out(body="Olá!", quoted_wa_id="wamid.CUSTOMER1"))
    sent = fake.wait_sent(1)[0]
    assert result.wa_id == sent["wamid"]
    assert sent["json"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
                            "type": "text", "text": {"body": "Olá!", "preview_url": False},
                            "context": {"message_id": "wamid.CUSTOMER1"},
                            "biz_opaque_callback_data": "3EB0ZING0001"}
    await ch.send(out("3EB0ZING0002", body="again", quoted_wa_id="3EB0NEVERNAMED"))  # Meta never named it
    assert "context" not in fake.wait_sent(2)[1]["json"]


async def test_a_customer_known_only_by_user_id(make_channel, fake):
    ch = await make_channel()
    await ch.send(out(chat="BR.1502576394655843@bsuid", body="oi"))
    sent = fake.wait_sent(1)[0]["json"]
    assert sent["recipient"] == "BR.1502576394655843" and "to" not in sent


async def test_groups_and_foreign_addresses_are_refused(make_channel, fake):
    ch = await make_channel()
    for chat in ("120363000000000001@g.us", "123456789@lid"):
        with pytest.raises(SendError) as caught:
            await ch.send(out(chat=chat, body="oi"))
        assert not caught.value.retryable
    assert fake.sent == []


async def test_media_is_uploaded_then_sent_by_id(make_channel, fake, tmp_path):
    ch = await make_channel()
    png = tmp_path / "foto.png"
    png.write_bytes(PNG)
    await ch.send(out(type="image", body="a foto", media_path=str(png), media_mime="image/png"))
    pdf = tmp_path / "abc123.bin"
    pdf.write_bytes(b"%PDF-1.4")
    await ch.send(out("3EB0ZING0002", type="document", body="a nota", media_path=str(pdf),
                      media_mime="application/pdf", filename="nota.pdf"))
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    await ch.send(out("3EB0ZING0003", type="image", media_path=str(gif), media_mime="image/gif"))
    ogg = tmp_path / "voz.ogg"
    ogg.write_bytes(b"OggS")
    await ch.send(out("3EB0ZING0004", type="audio", body="(voice)", media_path=str(ogg),
                      media_mime="audio/ogg; codecs=opus"))
    sent = [s["json"] for s in fake.wait_sent(4)]
    ups = fake.uploads
    assert [u["mime"] for u in ups] == ["image/png", "application/pdf", "image/gif", "audio/ogg"]
    assert ups[0]["data"] == PNG and ups[1]["filename"] == "nota.pdf"
    assert sent[0]["type"] == "image" and sent[0]["image"] == {"id": ups[0]["media_id"], "caption": "a foto"}
    assert sent[1]["document"] == {"id": ups[1]["media_id"], "caption": "a nota", "filename": "nota.pdf"}
    assert sent[2]["type"] == "document" and sent[2]["document"]["filename"] == "a.gif"  # Meta's images: jpeg/png
    assert sent[3]["audio"] == {"id": ups[3]["media_id"]}  # audio takes no caption
    assert all(s["biz_opaque_callback_data"].startswith("3EB0ZING") for s in sent)


async def test_a_retried_media_send_uploads_once(make_channel, fake, tmp_path):
    ch = await make_channel()
    png = tmp_path / "foto.png"
    png.write_bytes(PNG)
    fake.fail_next(131000)
    with pytest.raises(SendError) as caught:
        await ch.send(out(type="image", media_path=str(png), media_mime="image/png"))
    assert caught.value.retryable and not caught.value.unconfirmed
    await ch.send(out(type="image", media_path=str(png), media_mime="image/png"))
    assert len(fake.uploads) == 1 and len(fake.wait_sent(1)) == 1


async def test_a_file_gone_or_too_big_fails_for_good(make_channel, fake, tmp_path, monkeypatch):
    ch = await make_channel()
    with pytest.raises(SendError, match="gone") as caught:
        await ch.send(out(type="image", media_path=str(tmp_path / "missing.png"), media_mime="image/png"))
    assert not caught.value.retryable
    monkeypatch.setitem(cloud_channel.MEDIA, "document", (None, 4))
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4 more than four bytes")
    with pytest.raises(SendError, match="WhatsApp takes up to") as caught:
        await ch.send(out(type="document", media_path=str(big), media_mime="application/pdf"))
    assert not caught.value.retryable and fake.uploads == []


async def test_reaction_and_template(make_channel, fake):
    ch = await make_channel()
    await ch.send(out(type="reaction", body="👍", reaction_to="wamid.CUSTOMER1"))
    fake.add_template("pedido_saiu")
    await ch.send(out("3EB0ZING0002", body="Olá Ana, seu pedido 42 saiu.",
                      template={"name": "pedido_saiu", "language": "pt_BR", "params": ["Ana", "42"]}))
    sent = [s["json"] for s in fake.wait_sent(2)]
    assert sent[0]["reaction"] == {"message_id": "wamid.CUSTOMER1", "emoji": "👍"}
    assert sent[1]["template"] == {"name": "pedido_saiu", "language": {"code": "pt_BR"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]}]}
    assert sent[1]["biz_opaque_callback_data"] == "3EB0ZING0002"


async def test_template_components_and_named_params(make_channel, fake):
    ch = await make_channel()
    fake.add_template("rastreio", body="Oi {{nome}}!", header="Pedido {{1}}",
                      buttons=[{"type": "URL", "text": "Rastrear", "url": "https://loja.example/r/{{1}}"}])
    components = [{"type": "header", "parameters": [{"type": "text", "text": "42"}]},
                  {"type": "body", "parameters": [{"type": "text", "text": "Ana", "parameter_name": "nome"}]},
                  {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "42"}]}]
    await ch.send(out(template={"name": "rastreio", "language": "pt_BR", "params": [], "components": components}))
    assert fake.wait_sent(1)[0]["json"]["template"]["components"] == components
    fake.add_template("so_nome", body="Oi {{nome}}!")
    await ch.send(out("3EB0ZING0002", template={"name": "so_nome", "language": "pt_BR",
                                                "params": [{"name": "nome", "text": "Ana"}]}))
    assert fake.wait_sent(2)[1]["json"]["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ana", "parameter_name": "nome"}]


async def test_templates_meta_refuses(make_channel, fake):
    ch = await make_channel()
    fake.add_template("pausado", status="PAUSED")
    for template, code in (({"name": "nenhum", "language": "pt_BR", "params": []}, "132001"),
                           ({"name": "pausado", "language": "pt_BR", "params": ["a", "b"]}, "132015")):
        with pytest.raises(SendError, match=f"Meta refused the template .*code {code}") as caught:
            await ch.send(out(template=template))
        assert not caught.value.retryable
    fake.add_template("ok")
    with pytest.raises(SendError, match="132000"):
        await ch.send(out(template={"name": "ok", "language": "pt_BR", "params": ["só um"]}))


async def test_outside_the_window(make_channel, fake):
    ch = await make_channel()
    fake.cold.add(CUSTOMER)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert not caught.value.retryable and not caught.value.throttle_s
    assert str(caught.value).startswith("outside the 24-hour window: send an approved template")
    assert "131047" in str(caught.value)
    fake.add_template("pedido_saiu")
    await ch.send(out(template={"name": "pedido_saiu", "language": "pt_BR", "params": ["Ana", "42"]}))
    assert ch.state == "connected"


async def test_a_token_refused_mid_send_logs_out_with_advice(make_channel, fake):
    ch = await make_channel()
    fake.token_valid = False
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert not caught.value.retryable
    assert ch.state == "logged_out" and "zingctl connections update 7 --access-token -" in ch.reason
    assert str(caught.value) == ch.reason
    assert ch.sink.states[-1].state == "logged_out"


async def test_a_permission_error_says_which_permissions(make_channel, fake):
    ch = await make_channel()
    fake.fail_next(200)
    with pytest.raises(SendError):
        await ch.send(out(body="oi"))
    assert ch.state == "logged_out" and "whatsapp_business_messaging" in ch.reason


async def test_rate_limits_throttle(make_channel, fake):
    ch = await make_channel()
    fake.fail_next(130429)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.retryable and caught.value.throttle_s == 60
    fake.fail_next(131056, retry_after=7)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.throttle_s == 7
    assert ch.state == "connected" and ch.health()["throttled"]["reason"].startswith("Meta's rate limit")


async def test_the_spam_limit_pauses_an_hour_then_resumes(make_channel, fake, monkeypatch):
    ch = await make_channel()
    fake.fail_next(131048)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.retryable and caught.value.throttle_s == 3600
    assert ch.state == "degraded" and ch.reason.startswith("Meta's spam rate limit")
    assert "sends paused for 60 min" in ch.reason and "131048" in ch.reason
    monkeypatch.setattr(cloud_channel, "SPAM_PAUSE_S", 0.05)
    fake.fail_next(131048)
    with pytest.raises(SendError):
        await ch.send(out(body="oi"))
    await until(lambda: ch.state == "connected", what="the pause ends")


async def test_blocked_and_locked_accounts_are_final(make_channel, fake):
    ch = await make_channel()
    fake.fail_next(368)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert not caught.value.retryable and ch.state == "banned" and "Account quality" in ch.reason
    other = await make_channel()
    fake.fail_next(131031)
    with pytest.raises(SendError):
        await other.send(out(body="oi"))
    assert other.state == "locked"


async def test_server_errors_retry_and_a_hang_is_unconfirmed(make_channel, fake):
    ch = await make_channel(request=1)  # the hang below waits this long
    fake.fail_next(131000)
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.retryable and not caught.value.unconfirmed
    fake.hang_next()
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.unconfirmed and not caught.value.retryable
    assert fake.sent[-1]["json"]["biz_opaque_callback_data"] == "3EB0ZING0001"  # a status can still find it
    for code in (131026, 100):
        fake.fail_next(code)
        with pytest.raises(SendError, match="Meta refused the message") as caught:
            await ch.send(out(body="oi"))
        assert not caught.value.retryable
    assert ch.state == "connected"


async def test_graph_out_of_reach_mid_send_retries_and_rechecks_the_number(make_channel, fake, monkeypatch):
    from zingd.channels.cloud.graph import GraphError

    ch = await make_channel()

    async def unreachable(payload):
        raise GraphError("unreachable", 0, "could not reach Graph at http://127.0.0.1:1: refused")

    monkeypatch.setattr(ch.graph, "send", unreachable)
    fake.offline = True
    with pytest.raises(SendError) as caught:
        await ch.send(out(body="oi"))
    assert caught.value.retryable and not caught.value.unconfirmed  # nothing left: another attempt is safe
    await until(lambda: ch.state == "disconnected", what="the number checked again")
    fake.offline = False
    await until(lambda: ch.state == "connected", what="connected again")

async def test_mark_read_marks_the_newest(make_channel, fake):
    ch = await make_channel()
    await ch.mark_read(CHAT, ["wamid.NEWEST", "wamid.OLDER", "wamid.OLDEST"])
    assert fake.reads == ["wamid.NEWEST"]


async def test_templates_for_sync(make_channel, fake):
    ch = await make_channel()
    for i in range(3):
        fake.add_template(f"t{i}")
    assert [t["name"] for t in await ch.templates()] == ["t0", "t1", "t2"]
    fake.token_valid = False
    with pytest.raises(ChannelDown, match="Meta refused the access token"):
        await ch.templates()
    assert ch.state == "logged_out"


async def test_webhook_changes_go_to_the_inbound(make_channel, fake):
    ch = await make_channel()
    await ch.on_change("messages", fake.statuses("wamid.SENT1", "delivered", CUSTOMER, ours="3EB0ZING0001"))
    assert len(ch.sink.receipts) == 1
    receipt = ch.sink.receipts[0]
    assert (receipt.wa_ids, receipt.type, receipt.ours) == (["wamid.SENT1"], "delivered", ["3EB0ZING0001"])



async def test_a_quality_webhook_refreshes_the_numbers_health(make_channel, fake):
    ch = await make_channel()
    fake.numbers[fake.phone_number_id].update(quality_rating="RED", messaging_limit_tier="TIER_250")
    await ch.on_change("phone_number_quality_update", fake.quality("DOWNGRADE", "TIER_250", "TIER_1K"))
    assert ch.sink.notices and ch.sink.notices[0].kind == "quality"
    await until(lambda: ch.health()["quality_rating"] == "RED", what="the new rating")
    assert ch.health()["messaging_limit"] == "TIER_250"

# -- through a real zingd -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """A zingd with its HTTP server (the webhook) on a free port, and a fake Graph for its cloud number."""
    import socket

    from tests.helpers import Zingd, bootstrap

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with FakeGraph() as g:
        z = Zingd(tmp_path_factory.mktemp("cloud-channel"),
                  env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)}).start()
        z.token = bootstrap(z)
        z.webhook = f"http://127.0.0.1:{port}/webhooks/whatsapp"
        try:
            yield z, g
        finally:
            z.stop()


def test_a_cloud_number_through_zingd(daemon):
    from tests.channels.cloud import webhooks as W
    from tests.helpers import wait_for

    z, g = daemon
    with z.client(z.token) as admin:
        admin.call("user.create", {"email": "ana@acme.test", "name": "Ana", "role": "agent",
                                   "password": "password-123"})
        made = admin.call("connection.create", {"name": "Cloud", "kind": "cloud", "cloud": g.cloud_params()})
        cid = made["id"]
        conn = wait_for(lambda: (c := admin.call("connection.get", {"id": cid}))["status"] == "connected" and c)
        assert conn["phone"] == g.display_phone and conn["kind"] == "cloud"

        status, _ = g.post_webhook(z.webhook, W.envelope(("messages", W.value(W.text("oi, preciso de ajuda",
                                                                                   sender="5511987650001")))))
        assert status == 200
        with z.client() as agent:
            agent.call("auth.login", {"email": "ana@acme.test", "password": "password-123"})
            ticket = wait_for(lambda: agent.call("ticket.list", {"status": "pending"})["tickets"])[0]
            agent.call("ticket.accept", {"id": ticket["id"]})
            answer = agent.call("message.send", {"ticket_id": ticket["id"], "body": "Olá! Como posso ajudar?"})
            [sent] = g.wait_sent(1)
            assert sent["to"] == "5511987650001" and sent["json"]["text"]["body"] == "Olá! Como posso ajudar?"
            ours = sent["json"]["biz_opaque_callback_data"]
            assert ours == answer["wa_id"] and ours != sent["wamid"]  # zing's own id travels with it

            def stored() -> dict:
                return next(m for m in agent.call("message.list", {"ticket_id": ticket["id"]})["messages"]
                            if m["id"] == answer["id"])

            assert wait_for(lambda: stored()["wa_id"] == sent["wamid"])  # Meta's id replaces it once sent
            g.post_webhook(z.webhook, g.envelope(g.statuses(sent["wamid"], "delivered", "5511987650001", ours=ours)))
            assert wait_for(lambda: stored()["ack"] == "delivered")

            g.token_valid = False  # the admin revoked the token in Meta's Business Manager
            late = agent.call("message.send", {"ticket_id": ticket["id"], "body": "Ainda está aí?"})
            conn = wait_for(lambda: (c := admin.call("connection.get", {"id": cid}))["status"] == "logged_out" and c)
            assert conn["status_reason"].startswith("Meta refused the access token (code 190")
            assert f"zingctl connections update {cid} --access-token -" in conn["status_reason"]
            assert conn["advice"]
            failed = wait_for(lambda: next((m for m in agent.call("message.list", {"ticket_id": ticket["id"]})[
                "messages"] if m["id"] == late["id"] and m["ack"] == "failed"), None))
            assert "Meta refused the access token" in failed["error"]
    assert g.token not in z.log.read_text()

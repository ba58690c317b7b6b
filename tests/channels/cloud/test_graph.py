"""The Graph client against the fake Graph server: calls, the Bearer, paging, limits, every error kind."""

from __future__ import annotations

import logging

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from zingd.channels.cloud.account import CloudAccount
from zingd.channels.cloud.graph import KIND_NAMES, Graph, GraphError, Timeouts, _retry_after, kind_of


@pytest.fixture
def fake():
    with FakeGraph() as g:
        yield g


@pytest.fixture
async def graph(fake):
    client = Graph(account(fake), Timeouts(connect=2, request=2, download=2))
    await client.open()
    yield client
    await client.close()


def account(g: FakeGraph, **override) -> CloudAccount:
    return CloudAccount(**{k: v for k, v in g.cloud_params(**override).items()})


def text_to(number: str, body: str = "oi") -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": number, "type": "text",
            "text": {"body": body}}


async def test_send_read_and_number_carry_the_bearer(fake, graph):
    wamid = await graph.send(text_to("5511999990001"))
    assert wamid.startswith("wamid.") and fake.sent[0]["wamid"] == wamid
    await graph.mark_read("wamid.in-1")
    assert fake.reads == ["wamid.in-1"]
    number = await graph.number()
    assert number["display_phone_number"] == "+55 11 4000-0001" and number["quality_rating"] == "GREEN"
    assert number["messaging_limit_tier"] == "TIER_1K"
    assert {r["auth"] for r in fake.requests} == {f"Bearer {fake.token}"}
    assert all(r["path"].startswith("/v23.0/") for r in fake.requests)
    assert "fields" in fake.requests[-1]["query"]


async def test_upload_then_download_through_media_info(fake, graph):
    media_id = await graph.upload(b"%PDF-1.4 fake", "application/pdf", "nota.pdf")
    assert fake.uploads[0] == {"media_id": media_id, "mime": "application/pdf", "filename": "nota.pdf",
                               "size": 13, "data": b"%PDF-1.4 fake"}
    info = await graph.media_info(media_id)
    assert info["mime_type"] == "application/pdf" and info["file_size"] == 13
    assert await graph.download(info["url"], limit=1024) == b"%PDF-1.4 fake"
    attachment = [r for r in fake.requests if r["path"].startswith("/whatsapp_business/")]
    assert attachment and attachment[0]["auth"] == f"Bearer {fake.token}"


async def test_download_refuses_over_the_limit_and_urls_graph_did_not_name(fake, graph):
    media_id = fake.add_media(b"x" * 5000, "image/jpeg")
    info = await graph.media_info(media_id)
    with pytest.raises(GraphError, match="over the 4096-byte limit"):
        await graph.download(info["url"], limit=4096)
    before = len(fake.requests)
    with pytest.raises(GraphError, match="didn't name") as caught:
        await graph.download("https://evil.example/steal?mid=1", limit=4096)
    assert caught.value.kind == "invalid" and len(fake.requests) == before  # nothing was sent anywhere


async def test_download_follows_no_redirect_off_graphs_hosts(fake, graph):
    media_id = fake.add_media(b"abc", "image/jpeg")
    fake.redirect_media(media_id, "https://evil.example/collect")
    info = await graph.media_info(media_id)
    with pytest.raises(GraphError, match="refusing a redirect to evil.example"):
        await graph.download(info["url"], limit=4096)


async def test_download_of_a_file_meta_no_longer_has(fake, graph):
    media_id = fake.add_media(b"abc", "image/jpeg")
    fake.fail_media(media_id)
    with pytest.raises(GraphError) as caught:
        await graph.media_info(media_id)
    assert (caught.value.kind, caught.value.code, caught.value.http_status) == ("invalid", 100, 404)
    other = fake.add_media(b"abc", "image/jpeg")
    fake.fail_media(other, http_status=404, stage="download")
    info = await graph.media_info(other)
    with pytest.raises(GraphError, match="HTTP 404"):
        await graph.download(info["url"], limit=4096)


async def test_templates_follow_every_page(fake, graph):
    for i in range(5):
        fake.add_template(f"pedido_{i}")
    fake.add_template("outra_conta", waba_id="2090000000999")
    templates = await graph.templates()
    assert [t["name"] for t in templates] == [f"pedido_{i}" for i in range(5)]
    pages = [r for r in fake.requests if r["path"].endswith("/message_templates")]
    assert len(pages) == 3 and "after" in pages[1]["query"]
    assert set(pages[0]["query"]["fields"].split(",")) >= {"name", "status", "language", "category", "components",
                                                           "rejected_reason"}
    assert templates[0]["components"][0]["type"] == "BODY" and templates[0]["status"] == "APPROVED"


async def test_template_paging_stays_on_graphs_host(fake, graph, monkeypatch):
    fake.add_template("a")
    fake.add_template("b")
    fake.add_template("c")
    real = graph._call

    async def tampered(method, path, **kw):
        answer = await real(method, path, **kw)
        if answer.get("paging", {}).get("next"):
            answer["paging"]["next"] = "https://evil.example/v23.0/next"
        return answer

    monkeypatch.setattr(graph, "_call", tampered)
    with pytest.raises(GraphError, match="another host"):
        await graph.templates()


@pytest.mark.parametrize("code, kind", [
    (190, "auth"), (10, "auth"), (200, "auth"), (294, "auth"),
    (4, "throttle"), (80007, "throttle"), (130429, "throttle"), (131056, "throttle"),
    (131048, "spam"), (368, "blocked"), (131031, "blocked"), (131047, "window"),
    (132000, "template"), (132001, "template"), (132005, "template"), (132007, "template"), (132012, "template"),
    (132015, "template"), (132016, "template"),
    (131026, "invalid"), (131021, "invalid"), (100, "invalid"),
    (131000, "server"), (131016, "server"),
])
async def test_every_error_code_maps_to_its_kind(fake, graph, code, kind):
    fake.fail_next(code)
    with pytest.raises(GraphError) as caught:
        await graph.send(text_to("5511999990001"))
    assert (caught.value.kind, caught.value.code) == (kind, code)
    assert caught.value.message.startswith(f"(#{code})") or code == 190
    assert fake.sent == []


def test_unknown_codes_fall_back_on_the_http_status():
    assert [kind_of(999999, s) for s in (401, 403, 429, 500, 503, 400, 404)] == [
        "auth", "auth", "throttle", "server", "server", "invalid", "invalid"]
    assert set(KIND_NAMES) >= {"auth", "throttle", "spam", "window", "template", "blocked", "invalid", "server",
                               "timeout", "unreachable", "bad_response"}


async def test_error_details_and_retry_after(fake, graph):
    fake.fail_next(130429, retry_after=7)
    with pytest.raises(GraphError) as caught:
        await graph.send(text_to("5511999990001"))
    assert caught.value.retry_after == 7.0
    fake.cold.add("5511999990002")
    with pytest.raises(GraphError) as caught:
        await graph.send(text_to("5511999990002"))
    assert caught.value.kind == "window" and "more than 24 hours" in str(caught.value)


def test_metas_wait_from_its_headers():
    assert _retry_after({"Retry-After": "12"}) == 12.0
    usage = '{"2090000000001": [{"type": "whatsapp_business_messaging", "call_count": 100, ' \
            '"estimated_time_to_regain_access": 5}]}'
    assert _retry_after({"X-Business-Use-Case-Usage": usage}) == 300.0
    assert _retry_after({"X-Business-Use-Case-Usage": "not json"}) is None
    assert _retry_after({}) is None


async def test_an_expired_token_on_every_call(fake, graph):
    fake.token_valid = False
    for call in (graph.number(), graph.send(text_to("5511999990001")), graph.templates(), graph.mark_read("wamid.x")):
        with pytest.raises(GraphError) as caught:
            await call
        assert (caught.value.kind, caught.value.code, caught.value.http_status) == ("auth", 190, 401)


async def test_a_wrong_token_is_refused(fake):
    client = Graph(account(fake, access_token="EAAGwrong"))
    try:
        with pytest.raises(GraphError) as caught:
            await client.number()
        assert caught.value.kind == "auth"
    finally:
        await client.close()


async def test_transport_failures(fake, graph):
    fake.hang_next()
    with pytest.raises(GraphError) as caught:
        await graph.send(text_to("5511999990001"))
    assert caught.value.kind == "timeout" and len(fake.sent) == 1  # it reached Meta: the caller can't know
    fake.offline = True
    with pytest.raises(GraphError) as caught:
        await graph.number()
    assert caught.value.kind == "timeout" and "dropped" in str(caught.value)
    fake.offline = False
    dead = Graph(CloudAccount("1", "2", "tok", "sec", "ver", base_url="http://127.0.0.1:1"), Timeouts(connect=2))
    try:
        with pytest.raises(GraphError) as caught:
            await dead.number()
        assert caught.value.kind == "unreachable"
    finally:
        await dead.close()


async def test_answers_that_are_not_graphs(fake, graph, monkeypatch):
    monkeypatch.setattr("zingd.channels.cloud.graph.JSON_LIMIT", 64)
    fake.numbers[fake.phone_number_id]["verified_name"] = "x" * 500
    with pytest.raises(GraphError, match="over 64 bytes") as caught:
        await graph.number()
    assert caught.value.kind == "bad_response"


async def test_the_token_never_in_logs_or_errors(fake, caplog):
    secret = "EAAGsecret-" + "z" * 40
    fake.token = secret
    client = Graph(account(fake), Timeouts(connect=2, request=1, download=1))
    caplog.set_level(logging.DEBUG)
    texts = []
    try:
        for code in (190, 130429, 131047, 131000):
            fake.fail_next(code, message=f"(#{code}) echo {secret}", details=f"token {secret}")
            with pytest.raises(GraphError) as caught:
                await client.send(text_to("5511999990001"))
            texts += [str(caught.value), repr(caught.value), caught.value.details]
        fake.hang_next()
        with pytest.raises(GraphError) as caught:
            await client.send(text_to("5511999990001"))
        texts.append(str(caught.value))
        with pytest.raises(GraphError) as caught:
            await client.download("https://evil.example/x", 10)
        texts.append(str(caught.value))
    finally:
        await client.close()
    texts += [r.getMessage() for r in caplog.records]
    assert texts and not [t for t in texts if secret in t]
    assert "[token]" in " ".join(texts)
    assert secret not in repr(client.account)

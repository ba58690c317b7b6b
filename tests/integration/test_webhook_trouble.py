"""Webhooks show their trouble (issue 13): while an event fails and is retried, webhook.get/list
and `zingctl webhooks` say how (failures, last error, next retry); it holds up the events after
it only up to max_attempts or retry_window_s, then it is a dead letter and delivery goes on in
order; dead letters are listed and replayed; unknown event types are refused. Through a real
zingd and a real receiver on 127.0.0.1 that fails on demand; retry timings shrunk by ZING_WEBHOOKS__*."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from pathlib import Path

import pytest
from aiohttp import web

from tests.cli.conftest import Cli
from tests.helpers import wait_for
from tests.integration.desk import make_desk
from zingd.errors import Invalid, NotFound
from zingd.services.webhooks import EVENT_TYPES

# retries 1 s, then 4 s apart: the test reads the trouble between them, on a loaded machine too
FAST = {"ZING_WEBHOOKS__BACKOFF_BASE_S": "1", "ZING_WEBHOOKS__BACKOFF_CAP_S": "4",
        "ZING_WEBHOOKS__MAX_ATTEMPTS": "3", "ZING_WEBHOOKS__RETRY_WINDOW_S": "60"}


class Receiver:
    """A webhook receiver on 127.0.0.1: answers 500 to the events ``fails`` picks, 200 to the others."""

    def __init__(self) -> None:
        self.sock = socket.socket()  # kept bound and served as is: no other test can take its port meanwhile
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.fails = lambda event: False
        self.hits: list[dict] = []      # every POST, in order
        self.accepted: list[dict] = []  # those answered 200
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()

        async def hook(request: web.Request) -> web.Response:
            event = json.loads(await request.read())
            self.hits.append(event)
            if self.fails(event):
                return web.Response(status=500, text="not now")
            self.accepted.append(event)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, self.sock).start())
        ready.set()
        loop.run_forever()

    def bodies(self, events: list[dict]) -> list[str]:
        return [e["data"]["message"]["body"] for e in events]


def said(event: dict, text: str) -> bool:
    return event["type"] == "message.created" and event["data"]["message"]["body"] == text


def failing_hook(desk, number: str, bad: str, good: str) -> tuple[Receiver, dict]:
    """A webhook for message.created whose receiver refuses ``bad``; the customer says ``bad``, then ``good``."""
    rx = Receiver()
    rx.fails = lambda e: said(e, bad)
    hook = desk.admin.call("webhook.create", {"url": rx.url, "event_types": ["message.created"]})
    desk.say(number, bad)
    desk.say(number, good)
    return rx, hook


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path, env=FAST)
    yield d
    d.close()
    d.z.kill()


def test_a_failing_event_shows_its_trouble_goes_to_the_dead_letters_and_does_not_block_the_rest(desk):
    rx, hook = failing_hook(desk, "5511960000031", "falha", "depois")

    # while it is retried: how often it failed, why, which event and when it is tried again
    def retrying():
        w = desk.admin.call("webhook.get", {"id": hook["id"]})
        return w if w["retry_seq"] is not None else None
    w = wait_for(retrying)
    bad_seq = w["retry_seq"]
    assert w["failures"] >= 1 and w["last_error"] == "HTTP 500" and w["last_error_at"]
    assert w["retry_attempts"] >= 1 and w["next_attempt_at"] is not None and w["dead_letters"] == 0
    assert rx.accepted == []  # "depois" waits behind it: order is kept while it is retried
    listed = Cli(desk.z.socket)("webhooks", "list").stdout
    assert "HTTP 500" in listed and f"retrying event {bad_seq}" in listed

    # after max_attempts it is a dead letter and the next event goes out
    wait_for(lambda: rx.bodies(rx.accepted) == ["depois"])
    assert sum(said(e, "falha") for e in rx.hits) == 3
    [dead] = desk.admin.call("webhook.dead_letters", {"id": hook["id"]})
    assert (dead["event_seq"], dead["status"], dead["attempts"], dead["last_error"], dead["http_status"]) == \
        (bad_seq, "dead", 3, "HTTP 500", 500)
    # the receiver has answered; zingd records the delivery just after: wait for that, not for luck
    w = wait_for(lambda: (x := desk.admin.call("webhook.get", {"id": hook["id"]}))["last_seq"] > bad_seq and x)
    assert (w["failures"], w["retry_seq"], w["dead_letters"], w["last_error"]) == (0, None, 1, "HTTP 500")

    # replayed once the receiver is fixed: sent again, and no longer a dead letter
    rx.fails = lambda e: False
    cli = Cli(desk.z.socket)
    assert "no dead letter for event(s) 999999" in cli("webhooks", "replay", str(hook["id"]), "999999",
                                                      code=1).stderr
    assert "1 dead letter(s) queued" in cli("webhooks", "replay", str(hook["id"])).stdout
    wait_for(lambda: rx.bodies(rx.accepted) == ["depois", "falha"])
    wait_for(lambda: desk.admin.call("webhook.dead_letters", {"id": hook["id"]}) == [])
    assert desk.admin.call("webhook.get", {"id": hook["id"]})["dead_letters"] == 0


def test_a_replay_that_fails_again_stays_a_dead_letter_and_the_cli_lists_it(desk):
    rx, hook = failing_hook(desk, "5511960000032", "nunca", "sim")
    wait_for(lambda: rx.bodies(rx.accepted) == ["sim"])
    cli = Cli(desk.z.socket)
    [dead] = cli.json("webhooks", "dead-letters", str(hook["id"]))
    assert "HTTP 500" in cli("webhooks", "dead-letters", str(hook["id"])).stdout
    out = cli.json("webhooks", "replay", str(hook["id"]), str(dead["event_seq"]))
    assert out == {"webhook_id": hook["id"], "queued": [dead["event_seq"]], "gone": []}
    wait_for(lambda: sum(said(e, "nunca") for e in rx.hits) == 4)  # 3 attempts, then the replay's one
    [again] = wait_for(lambda: [d for d in desk.admin.call("webhook.dead_letters", {"id": hook["id"]})
                                if d["status"] == "dead"])
    assert again["attempts"] == 4 and again["event_seq"] == dead["event_seq"]
    assert re.search(r"dead_letters +1", cli("webhooks", "show", str(hook["id"])).stdout)


def test_the_retry_window_bounds_how_long_one_event_holds_up_the_rest(tmp_path):
    d = make_desk(tmp_path, env={"ZING_WEBHOOKS__BACKOFF_BASE_S": "0.2", "ZING_WEBHOOKS__BACKOFF_CAP_S": "0.3",
                                 "ZING_WEBHOOKS__MAX_ATTEMPTS": "1000", "ZING_WEBHOOKS__RETRY_WINDOW_S": "1.5"})
    try:
        rx, hook = failing_hook(d, "5511960000033", "lento", "rápido")
        wait_for(lambda: rx.bodies(rx.accepted) == ["rápido"], timeout=30)
        [dead] = d.admin.call("webhook.dead_letters", {"id": hook["id"]})
        assert 2 <= dead["attempts"] < 1000
    finally:
        d.close()
        d.z.kill()


def test_retrying_goes_on_across_a_restart(desk):
    rx = Receiver()
    rx.fails = lambda e: True
    hook = desk.admin.call("webhook.create", {"url": rx.url, "event_types": ["message.created"]})
    desk.say("5511960000034", "antes")
    wait_for(lambda: desk.admin.call("webhook.get", {"id": hook["id"]})["retry_seq"] is not None)
    desk.admin.close()
    desk.z.restart()
    desk.admin = desk.z.client()
    rx.fails = lambda e: False
    wait_for(lambda: rx.bodies(rx.accepted) == ["antes"], timeout=20)
    w = wait_for(lambda: (w := desk.admin.call("webhook.get", {"id": hook["id"]}))["failures"] == 0 and w)
    assert w["retry_seq"] is None and w["dead_letters"] == 0 and w["last_error"] == "HTTP 500"


def test_unknown_event_types_are_refused_with_the_known_ones(desk):
    with pytest.raises(Invalid) as e:
        desk.admin.call("webhook.create", {"url": "http://127.0.0.1:9/h", "event_types": ["no.such.event"]})
    assert "no.such.event" in e.value.message and "ticket.created" in e.value.message
    assert e.value.details["known"] == list(EVENT_TYPES)
    err = Cli(desk.z.socket)("webhooks", "create", "http://127.0.0.1:9/h", "-e", "no.such.event", code=1).stderr
    assert "unknown event type(s) no.such.event" in err and "message.created" in err
    assert desk.admin.call("webhook.list") == []
    with pytest.raises(NotFound):
        desk.admin.call("webhook.replay", {"id": 424242})


def test_the_known_event_types_are_what_zingd_emits():
    """Every event type the source names (``emit(..., "x.y"``, or a quoted "x.created" / ".updated" /
    ".deleted" / ".ack" / ".revoked") is known, and every known one is named there: the list can't
    drift from the code."""
    root = Path(__file__).resolve().parents[2] / "zingd"
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    named = set(re.findall(r'emit\w*\([^()]*?"([a-z_]+\.[a-z_]+)"', source))
    named |= set(re.findall(r'"([a-z]+\.(?:[a-z]+_)*(?:created|updated|deleted|ack|revoked))"', source))
    assert named == set(EVENT_TYPES)

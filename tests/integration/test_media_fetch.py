"""A customer's file whose download failed: stored at once with the error, fetched again later by an
agent who can see the ticket (media.fetch, `zingctl messages fetch-media`), through a real zingd."""

from __future__ import annotations

import pytest

from tests.cli.conftest import run_zingctl
from tests.helpers import wait_for
from tests.integration.support import Raw
from zingd.errors import ChannelDown, Conflict, NotFound


def _failed_photo(desk, number="5511955550001"):
    desk.admin.call("sim.fault", {"failed_downloads": 1})
    desk.say(number, "", type="image")
    ticket = desk.ticket_of(number)
    [photo] = [m for m in desk.messages(ticket["id"]) if m["type"] == "image"]
    assert photo["media_path"] is None and "did not answer" in photo["media_error"]
    return ticket, photo


def test_a_failed_download_is_fetched_again_once(desk):
    ticket, photo = _failed_photo(desk)
    with Raw(desk.z.socket) as watcher:
        sub = watcher.call("events.subscribe", {"topics": [f"ticket:{ticket['id']}"]})["subscription"]
        fetched = desk.admin.call("media.fetch", {"message_id": photo["id"]})
        assert fetched["media_error"] is None and fetched["media_path"].endswith(".png") and fetched["media_size"]

        def updated():
            watcher.read_available(quiet=0.05, limit=1)
            return [f["params"]["data"]["message"]["id"] for f in watcher.frames
                    if f.get("method") == "event" and f["params"]["subscription"] == sub
                    and f["params"]["type"] == "message.updated"]
        assert wait_for(updated) == [photo["id"]]
    with pytest.raises(Conflict, match="no failed download"):
        desk.admin.call("media.fetch", {"message_id": photo["id"]})
    assert [m["id"] for m in desk.messages(ticket["id"]) if m["type"] == "image"] == [photo["id"]]  # no copy
    [entry] = desk.admin.call("audit.list", {"action": "media.fetch"})
    assert entry["target_id"] == photo["id"]


def test_only_whoever_sees_the_ticket_may_fetch(desk):
    ana = desk.agent("ana", status="online")
    bruno = desk.agent("bruno", status="online")
    desk.queue("Vendas", ["ana", "bruno"])
    ticket, photo = _failed_photo(desk)
    ana.call("ticket.accept", {"id": ticket["id"]})
    with pytest.raises(NotFound):  # a colleague's ticket: as if the message did not exist
        bruno.call("media.fetch", {"message_id": photo["id"]})
    with pytest.raises(NotFound):
        ana.call("media.fetch", {"message_id": 999_999})
    ana.call("message.send", {"ticket_id": ticket["id"], "body": "recebi?"})
    sent = [m for m in desk.messages(ticket["id"]) if m["direction"] == "out"][-1]
    with pytest.raises(Conflict):  # not a failed download
        ana.call("media.fetch", {"message_id": sent["id"]})
    assert ana.call("media.fetch", {"message_id": photo["id"]})["media_path"]


def test_zingctl_fetches_and_says_why_not(desk):
    _, photo = _failed_photo(desk)
    socket = ["--socket", str(desk.z.socket)]
    assert run_zingctl(*socket, "sim", "fault", "--disconnect", "60").returncode == 0
    refused = run_zingctl(*socket, "messages", "fetch-media", str(photo["id"]))
    assert refused.returncode != 0 and "disconnected" in refused.stderr, refused.stderr
    with pytest.raises(ChannelDown):
        desk.admin.call("media.fetch", {"message_id": photo["id"]})
    desk.admin.call("connection.restart", {"id": desk.connection_id})
    wait_for(lambda: desk.admin.call("connection.get", {"id": desk.connection_id})["status"] == "connected")
    done = run_zingctl(*socket, "messages", "fetch-media", str(photo["id"]))
    assert done.returncode == 0 and "file saved" in done.stdout, done.stderr

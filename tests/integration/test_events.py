"""Events: topics, seq order, replay from since_seq across restarts, the async client's resubscribe,
agent visibility, invalid topics. The events table (read directly, read-only) is the reference."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.helpers import Zingd, wait_for
from tests.integration.support import (
    INVALID,
    INVALID_PARAMS,
    Raw,
    assert_serves,
    db_rows,
    error_code,
    login,
    settle,
    ticket_of,
)
from zingd.rpc.client import Client

AGENT_PASSWORD = "demo-agent"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A demo daemon shared by the small cases of this module."""
    z = Zingd(tmp_path_factory.mktemp("seeded"), demo=True).start()
    yield z
    z.kill()


def db_events(z: Zingd, after: int = 0, tenant_id: int = 1) -> list[dict]:
    return db_rows(z, "SELECT seq, ticket_id, type FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq",
                   (tenant_id, after))


def collect(r: Raw, sub: int, count: int, timeout: float = 15.0) -> list[dict]:
    """Read until ``count`` events of subscription ``sub`` arrived (then a little more, to catch extras)."""
    def enough() -> bool:
        r.read_available(quiet=0.05, limit=1)
        return sum(1 for f in r.frames if f.get("method") == "event"
                   and f["params"]["subscription"] == sub) >= count
    wait_for(enough, timeout=timeout)
    r.read_available(quiet=0.3)
    mine = [f["params"] for f in r.frames if f.get("method") == "event" and f["params"]["subscription"] == sub]
    r.frames = [f for f in r.frames if not (f.get("method") == "event" and f["params"]["subscription"] == sub)]
    return mine


def traffic(z: Zingd, numbers: list[str], replies: bool = True) -> list[int]:
    """Customers write; the admin answers each ticket once. Returns the ticket ids."""
    tickets = []
    with z.client() as c:
        for i, n in enumerate(numbers):
            c.call("sim.say", {"from": n, "body": f"hello from {n} #{i}"})
        for n in numbers:
            [t] = c.call("ticket.list", {"contact_id": _contact_id(c, n)})["tickets"]
            tickets.append(t["id"])
            if replies:
                c.call("message.send", {"ticket_id": t["id"], "body": f"answer to {n}"})
    return tickets


def _contact_id(c, number: str) -> int:
    [contact] = [x for x in c.call("contact.list", {"limit": 500}) if x["number"] == number]
    return contact["id"]


def test_topics_tenant_ticket_and_type(demo):
    z = demo
    t1, t2 = traffic(z, ["5511900000001", "5511900000002"], replies=False)
    settle(z)
    with Raw(z.socket) as r:
        tenant = r.call("events.subscribe", {"topics": ["tenant"]})
        one = r.call("events.subscribe", {"topics": [f"ticket:{t1}"]})
        acks = r.call("events.subscribe", {"topics": ["type:message.ack"]})
        both = r.call("events.subscribe", {"topics": [f"ticket:{t2}", "type:ticket.updated"]})
        head = max(tenant["seq"], one["seq"], acks["seq"], both["seq"])
        with z.client() as c:
            c.call("message.send", {"ticket_id": t1, "body": "one"})
            c.call("message.send", {"ticket_id": t2, "body": "two"})
            c.call("sim.say", {"from": "5511900000001", "body": "thanks"})
            c.call("ticket.close", {"id": t2})
        settle(z)
        expected = db_events(z, head)
        got_tenant = collect(r, tenant["subscription"], len(expected))
        assert [e["seq"] for e in got_tenant] == [e["seq"] for e in expected]
        assert [e["type"] for e in got_tenant] == [e["type"] for e in expected]
        want_one = [e["seq"] for e in expected if e["ticket_id"] == t1]
        assert want_one and [e["seq"] for e in collect(r, one["subscription"], len(want_one))] == want_one
        want_acks = [e["seq"] for e in expected if e["type"] == "message.ack"]
        assert want_acks and [e["seq"] for e in collect(r, acks["subscription"], len(want_acks))] == want_acks
        want_both = [e["seq"] for e in expected if e["ticket_id"] == t2 or e["type"] == "ticket.updated"]
        got_both = collect(r, both["subscription"], len(want_both))
        assert [e["seq"] for e in got_both] == want_both, "a multi-topic subscription gets each event once"
        # the payload is what the store says
        for ev in got_tenant:
            if ev["type"] == "message.created":
                assert ticket_of(ev) == ev["data"]["ticket"]["id"] == ev["data"]["message"]["ticket_id"]
        assert r.frames == [] or all(f.get("method") != "event" for f in r.frames)
    assert_serves(z)


def test_unsubscribe_stops_delivery(demo):
    with Raw(demo.socket) as r:
        sub = r.call("events.subscribe", {"topics": ["tenant"]})
        assert r.call("events.unsubscribe", {"subscription": sub["subscription"]}) == {"removed": True}
        assert r.call("events.unsubscribe", {"subscription": sub["subscription"]}) == {"removed": False}
        with demo.client() as c:
            c.call("sim.say", {"from": "5511900000009", "body": "nobody listens"})
        settle(demo)
        assert [f for f in r.silence(0.3) if f.get("method") == "event"] == []
    assert_serves(demo)


def test_seq_order_under_concurrent_writers(demo):
    z = demo
    with Raw(z.socket) as r:
        sub = r.call("events.subscribe", {"topics": ["tenant"]})

        def writer(k: int) -> None:
            with z.client() as c:
                for i in range(10):
                    c.call("sim.say", {"from": f"551190001{k:04d}", "body": f"w{k} m{i}"})

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        settle(z)
        expected = [e["seq"] for e in db_events(z, sub["seq"])]
        got = [e["seq"] for e in collect(r, sub["subscription"], len(expected))]
        assert got == expected, "every event once, in strictly increasing seq order"
    assert_serves(z)


def test_since_seq_after_restart_replays_exactly_the_missed_events(demo):
    z = demo
    traffic(z, ["5511900000101", "5511900000102"])
    settle(z)
    with Raw(z.socket) as r:
        sub = r.call("events.subscribe", {"topics": ["tenant"], "since_seq": 0})
        everything = db_events(z)
        got = collect(r, sub["subscription"], len(everything))
        assert [e["seq"] for e in got] == [e["seq"] for e in everything], "since_seq 0 replays the whole log"
        last_seen = got[-1]["seq"]
    # the client is gone; the daemon restarts; life goes on
    assert z.stop() == 0
    z.start()
    tickets = traffic(z, ["5511900000101", "5511900000103"])
    with z.client() as c:
        c.call("ticket.close", {"id": tickets[0]})
    settle(z)
    missed = db_events(z, last_seen)
    assert {"connection.updated", "message.created", "message.ack", "ticket.updated"} <= {e["type"] for e in missed}
    with Raw(z.socket) as r:
        sub = r.call("events.subscribe", {"topics": ["tenant"], "since_seq": last_seen})
        assert sub["seq"] == missed[-1]["seq"], "the head is the last persisted event"
        got = collect(r, sub["subscription"], len(missed))
        assert [e["seq"] for e in got] == [e["seq"] for e in missed], "no gaps, no duplicates, in order"
        assert [e["type"] for e in got] == [e["type"] for e in missed]
        # and live events follow the replay seamlessly
        with z.client() as c:
            c.call("sim.say", {"from": "5511900000104", "body": "live"})
        settle(z)
        live = db_events(z, missed[-1]["seq"])
        assert [e["seq"] for e in collect(r, sub["subscription"], len(live))] == [e["seq"] for e in live]
        # replay from the middle of the log, and from past the head
        mid = missed[len(missed) // 2]["seq"]
        sub2 = r.call("events.subscribe", {"topics": ["tenant"], "since_seq": mid})
        want = [e["seq"] for e in db_events(z, mid)]
        assert [e["seq"] for e in collect(r, sub2["subscription"], len(want))] == want
        sub3 = r.call("events.subscribe", {"topics": ["tenant"], "since_seq": 10**9})
        assert [f for f in r.silence(0.3) if f.get("params", {}).get("subscription") == sub3["subscription"]] == []
    assert_serves(z)


def test_replay_larger_than_the_subscriber_buffer_is_complete_or_announced(tmp_path):
    """A reconnecting client's backlog may exceed rpc.subscriber_buffer (4 MiB by default; lowered here to keep
    the test quick). It must get every event, or a "lagged" notice telling it to catch up: never a silent gap."""
    z = Zingd(tmp_path, demo=True, env={"ZING_RPC__SUBSCRIBER_BUFFER": str(128 << 10)}).start()
    try:
        with z.client() as c:
            for i in range(40):
                c.call("sim.say", {"from": f"55119002{i % 4:05d}", "body": f"big {i} " + "y" * 30_000})
        settle(z)
        everything = [e["seq"] for e in db_events(z)]
        with Raw(z.socket, timeout=30) as r:
            sub = r.call("events.subscribe", {"topics": ["tenant"], "since_seq": 0})
            r.read_available(quiet=1.0)
            events = [f["params"] for f in r.frames if f.get("method") == "event"
                      and f["params"]["subscription"] == sub["subscription"]]
            got = [e["seq"] for e in events if e["type"] != "lagged"]
            lagged = [e for e in events if e["type"] == "lagged"]
            assert got == sorted(got)
            assert got == everything or lagged, (
                f"replay stopped silently: {len(got)} of {len(everything)} events delivered "
                f"(last {got[-1] if got else None}, head {everything[-1]}), and no 'lagged' notice was sent")
        assert_serves(z)
    finally:
        z.kill()


@pytest.mark.parametrize("topics", [
    ["bogus"], ["ticket:abc"], ["ticket:"], ["ticket:-1"], ["type:"], [], ["tenant", "nope"],
    ["tenant:1"], [f"ticket:{1}"] * 101,
], ids=lambda t: repr(t)[:30])
def test_invalid_topics_are_invalid(seeded, topics):
    with Raw(seeded.socket) as r:
        rep = r.request("events.subscribe", {"topics": topics})
        assert error_code(rep) == INVALID and rep["error"]["data"]["kind"] == "invalid", rep
        with seeded.client() as c:
            assert c.call("daemon.status")["subscribers"] == 0, "a refused subscription leaves nothing behind"
    assert_serves(seeded)


def test_invalid_since_seq(demo):
    with Raw(demo.socket) as r:
        assert error_code(r.request("events.subscribe", {"topics": ["tenant"], "since_seq": -1})) == INVALID
        assert error_code(r.request("events.subscribe", {"topics": ["tenant"], "since_seq": "0"})) == INVALID_PARAMS
    assert_serves(demo)


# -- agents only hear about tickets they may see ------------------------------------

def _agent_setup(z: Zingd) -> tuple[int, Any, Raw]:
    """A fresh pending ticket, and Ana and Bruno logged in: (ticket id, Ana's client, Bruno's raw socket)."""
    with z.client() as admin:
        admin.call("sim.say", {"from": "5511900000201", "body": "I need help"})
        [t] = admin.call("ticket.list", {"status": "pending"})["tickets"]
    settle(z)
    ana = login(z, "ana@demo.zing", AGENT_PASSWORD)
    bruno = Raw(z.socket)
    bruno.call("auth.login", {"email": "bruno@demo.zing", "password": AGENT_PASSWORD})
    return t["id"], ana, bruno


def _handoff(event: dict) -> bool:
    """The one event an agent gets of a ticket that leaves their view: it was pending, now it isn't."""
    return event["type"] == "ticket.updated" and (event["data"].get("was") or {}).get("status") == "pending"


def test_agent_gets_no_ticket_events_of_another_agents_ticket(demo):
    z = demo
    tid, ana, bruno = _agent_setup(z)
    try:
        assert bruno.call("ticket.get", {"id": tid})["status"] == "pending", "pending and unqueued: all agents see it"
        sub = bruno.call("events.subscribe", {"topics": ["tenant", f"ticket:{tid}"]})
        ana.call("ticket.accept", {"id": tid})
        ana.call("message.send", {"ticket_id": tid, "body": "Ana here"})
        with z.client() as admin:
            admin.call("sim.say", {"from": "5511900000201", "body": "thanks Ana"})
            admin.call("sim.say", {"from": "5511900000202", "body": "someone else"})  # a ticket Bruno may see
        settle(z)
        assert error_code(bruno.request("ticket.get", {"id": tid})) == -32003
        bruno.read_available(quiet=0.5)
        events = bruno.drain_events()
        assert events, "Bruno still hears about tickets he may see"
        with_ticket = [e for e in events if isinstance(e["data"].get("ticket"), dict) and ticket_of(e) == tid
                       and not _handoff(e)]
        assert with_ticket == [], f"Bruno received Ana's ticket: {[e['type'] for e in with_ticket]}"
        # nor does a replay show them
        replay = bruno.call("events.subscribe", {"topics": ["tenant"], "since_seq": sub["seq"]})
        bruno.read_available(quiet=0.5)
        again = [e for e in bruno.drain_events() if e["subscription"] == replay["subscription"]]
        assert [e for e in again if isinstance(e["data"].get("ticket"), dict) and ticket_of(e) == tid
                and not _handoff(e)] == []
    finally:
        bruno.close()
        ana.close()
    assert_serves(z)


def test_agent_gets_no_ack_events_of_another_agents_ticket(demo):
    """message.ack events name the ticket too: an agent who may not see the ticket must not get them."""
    z = demo
    tid, ana, bruno = _agent_setup(z)
    try:
        bruno.call("events.subscribe", {"topics": ["tenant"]})
        ana.call("ticket.accept", {"id": tid})
        sent = ana.call("message.send", {"ticket_id": tid, "body": "only for Ana's customer"})
        settle(z)
        bruno.read_available(quiet=0.5)
        leaked = [e for e in bruno.drain_events() if ticket_of(e) == tid and not _handoff(e)]
        assert leaked == [], (
            f"Bruno (agent) received {len(leaked)} event(s) of ticket {tid}, assigned to Ana: "
            f"{[(e['type'], e['data']) for e in leaked][:3]} (message {sent['id']})")
    finally:
        bruno.close()
        ana.close()
    assert_serves(z)


# -- the async client ---------------------------------------------------------------

async def _until(predicate, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


async def _busy_loop(stop: asyncio.Event) -> None:
    """Keep the client's event loop busy in 30 ms slices, like a console rendering a big screen: the
    daemon's frames then reach the client in bunches (a reply and the events after it in one read)."""
    import time
    while not stop.is_set():
        time.sleep(0.03)  # noqa: ASYNC251 - blocking on purpose: a busy client loop
        await asyncio.sleep(0)


async def test_async_client_subscribe_with_since_seq_gets_the_full_replay(demo):
    z = demo
    await asyncio.to_thread(traffic, z, ["5511900000301", "5511900000302", "5511900000303"])
    await asyncio.to_thread(settle, z)
    expected = [e["seq"] for e in db_events(z)]
    got: list[int] = []
    stop = asyncio.Event()
    async with Client(z.socket, reconnect=False) as client:
        busy = asyncio.create_task(_busy_loop(stop))
        await client.subscribe(["tenant"], lambda ev: got.append(ev["seq"]), since_seq=0)
        await _until(lambda: len(got) >= len(expected), 4.0)
        await asyncio.sleep(0.2)
        stop.set()
        await busy
    missing = sorted(set(expected) - set(got))
    assert got == expected, f"{len(missing)} replayed event(s) never reached the handler: {missing[:10]}"


async def test_async_client_reconnects_and_resubscribes_across_a_restart(demo):
    z = demo
    got: list[int] = []
    states: list[str] = []
    stop = asyncio.Event()
    busy = asyncio.create_task(_busy_loop(stop))
    async with Client(z.socket, on_state=states.append) as client:
        head = await client.subscribe(["tenant"], lambda ev: got.append(ev["seq"]))
        await asyncio.to_thread(traffic, z, ["5511900000401", "5511900000402"])
        await asyncio.to_thread(settle, z)
        # stop, let the daemon be gone a moment, start again; customers write meanwhile (journal -> redelivery)
        assert await asyncio.to_thread(z.stop) == 0
        await asyncio.sleep(0.3)
        await asyncio.to_thread(z.start)
        await asyncio.to_thread(traffic, z, ["5511900000401", "5511900000403"])
        await client.wait_connected(timeout=15)
        await _until(lambda: states.count("connected") >= 2, 15.0)
        assert states.count("connected") >= 2, states
        await asyncio.to_thread(traffic, z, ["5511900000404"])
        last = await asyncio.to_thread(settle, z)
        await _until(lambda: bool(got) and got[-1] >= last, 6.0)
        await asyncio.sleep(0.3)
        # a call on the reconnected client works too
        assert (await client.call("rpc.hello"))["name"] == "zingd"
    stop.set()
    await busy
    expected = [e["seq"] for e in db_events(z, head)]
    dups = len(got) - len(set(got))
    missing = sorted(set(expected) - set(got))
    assert dups == 0, "duplicated events across the reconnect"
    assert got == expected, f"missed {len(missing)} event(s) across the restart: {missing[:10]}"


def test_an_agents_schedules_reach_only_them_and_the_supervisors(tmp_path):
    """schedule.list shows an agent their own schedules only; its events must not tell colleagues more."""
    # no quiet hours: from 21:00 in Demo Co's zone the schedule would wait for the morning
    z = Zingd(tmp_path, demo=True, env={"ZING_PACING__QUIET_START": "00:00", "ZING_PACING__QUIET_END": "00:00"})
    z.start()
    tid, ana, bruno = _agent_setup(z)
    watcher = Raw(z.socket)  # the demo admin, linked to this OS user
    try:
        mine = bruno.call("events.subscribe", {"topics": ["tenant"]})
        theirs = watcher.call("events.subscribe", {"topics": ["type:schedule.updated"]})
        ana.call("ticket.accept", {"id": tid})
        ana.call("schedule.create", {"ticket_id": tid, "body": "Ana's private reminder", "run_at": time.time() + 1})
        [fired] = collect(watcher, theirs["subscription"], 1, timeout=30)  # it went out: schedule.updated
        assert fired["data"]["schedule"]["body"] == "Ana's private reminder"
        settle(z)
        bruno.read_available(quiet=0.5)
        assert [e["type"] for e in bruno.drain_events() if e["subscription"] == mine["subscription"]
                and e["type"].startswith("schedule.")] == []
        replay = bruno.call("events.subscribe", {"topics": ["tenant"], "since_seq": mine["seq"]})
        bruno.read_available(quiet=0.5)
        assert [e for e in bruno.drain_events() if e["subscription"] == replay["subscription"]
                and e["type"].startswith("schedule.")] == []
    finally:
        for c in (bruno, watcher, ana):
            c.close()
        z.kill()

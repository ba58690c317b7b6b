"""The connection's states, offline: connect, backoff, disconnects, bans, pairing, logout, stop."""

from __future__ import annotations

import asyncio

import pytest

from tests.channels.whatsapp.rig import E, P, OWN, jid, FakeClient, fast, message_event
from tests.helpers import until
from zingd.channels.base import SendError
from zingd.channels.backoff import Backoff
from zingd.channels.whatsapp.store import ChannelStore, session_problem, sidecar_path


async def test_connect_fails_then_succeeds_with_backoff(make_rig):
    rig = make_rig(connect_errors=2)
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    assert [c.state for c in rig.sink.states] == ["connecting", "disconnected", "connecting", "disconnected",
                                                  "connecting"]
    assert rig.sink.reasons("disconnected") == [
        "could not connect: dial tcp: lookup web.whatsapp.com: no such host; retrying in 0.01s",
        "could not connect: dial tcp: lookup web.whatsapp.com: no such host; retrying in 0.02s",
    ]
    await rig.push(P.Connected(status=True))
    await until(lambda: rig.channel.state == "connected")
    assert rig.sink.states[-1].phone == "5511900000000"
    assert rig.channel.health()["next_retry_delay"] == 0.01


async def test_backoff_doubles_and_is_capped(make_rig):
    rig = make_rig(connect_errors=4)
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    delays = [r.rsplit("retrying in ", 1)[1] for r in rig.sink.reasons("disconnected")]
    assert delays == ["0.01s", "0.02s", "0.04s", "0.04s"]
    assert rig.channel.health()["reconnects"] == 4


def test_backoff_sequence():
    backoff = Backoff(2, 300)
    assert [backoff.next() for _ in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    backoff.reset()
    assert backoff.next() == 2


def test_backoff_jitter_spreads_numbers_that_failed_together():
    backoffs = [Backoff(2, 300, jitter=0.5) for _ in range(50)]
    firsts = {b.next() for b in backoffs}
    assert len(firsts) > 40 and min(firsts) >= 1 and max(firsts) <= 2
    capped = [[b.next() for _ in range(10)][-1] for b in backoffs]
    assert all(150 <= d <= 300 for d in capped) and len(set(capped)) > 40


async def test_a_lost_connection_is_left_to_whatsmeow(rig):
    """whatsmeow reconnects the same client at once; stopping it would race that and drop its backlog."""
    client = await rig.connected()
    await rig.push(P.Disconnected(status=True))
    assert rig.sink.reasons("disconnected") == ["connection lost; WhatsApp client reconnecting"]
    await rig.push(P.Connected(status=True))
    assert rig.channel.state == "connected"
    assert (client.connects, client.stops, client.in_session.is_set()) == (1, 0, True)


async def _assert_no_reconnect(client: FakeClient) -> None:
    await asyncio.sleep(0.1)
    assert client.connects == 1 and not client.in_session.is_set()


async def test_logged_out_is_final_and_tells_how_to_pair(rig):
    client = await rig.connected()
    await rig.push(P.LoggedOut(OnConnect=False, Reason=P.LOGGED_OUT))
    await until(lambda: rig.channel.state == "logged_out")
    assert "zingctl connections pair 7" in rig.channel.reason and "LOGGED_OUT" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_temporary_ban_is_final_with_its_expiry(rig):
    client = await rig.connected()
    await rig.push(P.TemporaryBan(Code=P.TemporaryBan.SENT_TOO_MANY_SAME_MESSAGE, Expire=3600))
    await until(lambda: rig.channel.state == "banned")
    assert "SENT_TOO_MANY_SAME_MESSAGE" in rig.channel.reason and "ends in 1h00m" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_stream_replaced_does_not_fight_the_other_client(rig):
    client = await rig.connected()
    await rig.push(P.StreamReplaced())
    await until(lambda: rig.channel.state == "disconnected")
    assert rig.channel.reason.startswith("another client took over this session")
    await _assert_no_reconnect(client)


async def test_keepalive_timeout_degrades_and_restore_reconnects(rig):
    await rig.connected()
    await rig.push(P.KeepAliveTimeout(ErrorCount=3, LastSuccess=1_700_000_000))
    assert (rig.channel.state, rig.channel.reason) == ("degraded", "keepalive timed out (3 in a row)")
    await rig.push(P.KeepAliveRestored())
    assert rig.channel.state == "connected"


async def test_client_outdated_is_final(rig):
    client = await rig.connected()
    await rig.push(P.ClientOutdated())
    await until(lambda: rig.channel.state == "outdated")
    await _assert_no_reconnect(client)


async def test_watchdog_starts_a_new_session_when_whatsmeow_stays_down(make_rig):
    rig = make_rig(fast(watchdog_interval=0.02, stuck_after=0.2))
    client = await rig.connected()
    await rig.push(P.Disconnected(status=True))
    await until(lambda: client.connects == 2 and client.in_session.is_set())
    assert client.stops == 1 and client.lookups == []  # no server query to find out
    assert any(r.startswith("no working connection for ") for r in rig.sink.reasons("disconnected"))


async def test_watchdog_restarts_a_session_whose_keepalives_keep_failing(make_rig):
    rig = make_rig(fast(watchdog_interval=0.02, stuck_after=0.2))
    client = await rig.connected()
    await rig.push(P.KeepAliveTimeout(ErrorCount=1, LastSuccess=1_700_000_000))
    await until(lambda: client.connects == 2)
    assert client.stops == 1


async def test_watchdog_reports_a_blocked_event_pipeline(make_rig):
    rig = make_rig(fast(watchdog_interval=0.02, pipeline_stall=0.1))
    await rig.connected()
    release = asyncio.get_running_loop().create_future()

    async def slow_sink(connection_id, msg):
        await release

    rig.sink.message = slow_sink
    delivery = asyncio.create_task(rig.push(message_event(E.Message(conversation="hi"))))
    await until(lambda: rig.channel.state == "degraded")
    assert rig.channel.reason == "an event has been in handling for over 0.1s"
    release.set_result(None)
    await delivery
    await until(lambda: rig.channel.state == "connected")
    assert rig.channel.reason == "events flow again"


async def test_corrupt_session_asks_for_pairing(rig):
    rig.session.parent.mkdir(parents=True)
    rig.session.write_bytes(b"this is not sqlite, just garbage " * 64)
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    assert "corrupt" in rig.channel.reason and "zingctl connections pair 7" in rig.channel.reason
    assert rig.clients == []


async def test_missing_session_of_a_paired_number_asks_for_pairing(rig):
    ChannelStore(sidecar_path(rig.session)).set_paired_phone("5511900000000")
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    assert rig.channel.reason.startswith("the WhatsApp session file is missing")


async def test_qr_codes_then_pair_code_then_pairing_success(rig):
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    await rig.qr("2@first,code")
    await rig.qr("2@second,code")
    assert [c.qr for c in rig.sink.states if c.qr] == ["2@first,code", "2@second,code"]
    await rig.channel.pair("+55 (11) 90000-0000")
    assert rig.sink.states[-1].pair_code == "CODE-0000" and rig.channel.state == "pairing"
    await rig.qr("2@third,code")
    assert rig.sink.states[-1].pair_code == "CODE-0000"   # QR codes no longer shown
    await rig.push(P.PairStatus(ID=jid(OWN), BusinessName="", Platform="android", Status=P.PairStatus.SUCCESS))
    assert (rig.channel.state, rig.sink.states[-1].phone) == ("connecting", "5511900000000")
    assert ChannelStore(sidecar_path(rig.session)).paired_phone() == "5511900000000"


async def test_a_pairing_nobody_completes_times_out(make_rig):
    """It is disconnected, not stopped (neonize would race the session's last map read into a nil pointer)."""
    rig = make_rig(fast(watchdog_interval=0.05, pairing_timeout=0.1))
    await rig.channel.start()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    await rig.qr("2@only,code")
    await until(lambda: rig.channel.state == "disconnected" and "pairing timed out" in rig.channel.reason)
    await until(lambda: rig.client.disconnects == 1)
    await rig.channel.stop()   # does not wait for the parked session thread
    assert (rig.client.connects, rig.client.stops) == (1, 0)


async def test_pair_sets_a_corrupt_session_aside_and_starts_fresh(rig):
    rig.session.parent.mkdir(parents=True)
    rig.session.write_bytes(b"garbage " * 100)
    await rig.channel.start()
    await until(lambda: rig.channel.state == "logged_out")
    await rig.channel.pair()
    await until(lambda: rig.clients and rig.client.in_session.is_set())
    [aside] = rig.session.parent.glob("7.db.broken-*")
    assert aside.read_bytes().startswith(b"garbage") and session_problem(rig.session, "") is None


async def test_pair_refuses_when_already_paired(rig):
    await rig.connected()
    with pytest.raises(SendError, match="already paired with \\+5511900000000") as caught:
        await rig.channel.pair()
    assert not caught.value.retryable


async def test_logout_unlinks_and_stays_down(rig):
    client = await rig.connected()
    await rig.channel.logout()
    await until(lambda: not client.in_session.is_set())
    assert client.logged_out and rig.channel.state == "logged_out"
    assert "zingctl connections pair 7" in rig.channel.reason
    await _assert_no_reconnect(client)


async def test_stop_then_start_again(rig):
    client = await rig.connected()
    await rig.channel.stop()
    assert (rig.channel.state, rig.channel.reason) == ("disconnected", "stopped")
    assert not client.in_session.is_set()
    await rig.channel.start()
    await until(lambda: client.connects == 2 and client.in_session.is_set())

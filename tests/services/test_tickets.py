"""Ticket transitions (zingd/services/tickets.py): accept, transfer, close, reopen; the accept
race; who may do what (agents: their own tickets and their queues' pending ones; supervisors
and up: any of the tenant's; another tenant: nothing)."""

from __future__ import annotations

import asyncio

import pytest

from zingd.errors import Conflict, Invalid, NotFound, ZingError
from zingd.services import admin, connections, messages, queues, tickets
from zingd.store.rows import loads


async def pending(customers, number: str, choice: str = "1", push_name: str = "") -> dict:
    """A customer who picked a queue from the menu: a pending ticket in Sales (1) or Support (2)."""
    await customers.say(number, "hi", push_name=push_name)
    await customers.say(number, choice)
    t = await customers.ticket(number)
    assert t["status"] == "pending" and t["queue_id"] is not None
    return t


async def accepted(db, customers, seed, number: str, who: str = "ana") -> dict:
    t = await pending(customers, number)
    return await db.write(tickets.accept, seed[who], t["id"])


async def fails(kind: str, coro) -> ZingError:
    with pytest.raises(ZingError) as e:
        await coro
    assert e.value.kind == kind, e.value.message
    return e.value


# -- accept ---------------------------------------------------------------------------------------

async def test_accept_takes_a_pending_ticket(db, seed, customers, heard, clock):
    t = await pending(customers, "5511900000001")
    heard.clear()
    clock.advance(30)
    view = await db.write(tickets.accept, seed["ana"], t["id"])
    assert (view["status"], view["user_id"], view["user_name"], view["accepted_at"]) == (
        "open", seed.users["ana"], "Ana", clock.now)
    assert await customers.log(t["id"]) == ["queue", "accept"]
    audit = await db.one("SELECT * FROM audit_log WHERE action = 'ticket.accept'")
    assert (audit["user_id"], audit["tenant_id"], audit["target_id"]) == (seed.users["ana"], seed.tenant, t["id"])
    [event] = heard.events
    assert event.type == "ticket.updated" and event.ticket_id == t["id"]
    assert event.data["was"] == {"user_id": None, "queue_id": seed.queues["Sales"], "status": "pending"}
    assert event.data["ticket"]["user_id"] == seed.users["ana"]


async def test_two_supervisors_accepting_at_once_one_wins_the_other_gets_a_conflict(db, seed, customers, heard):
    t = await pending(customers, "5511900000002")
    heard.clear()
    results = await asyncio.gather(db.write(tickets.accept, seed["sue"], t["id"]),
                                   db.write(tickets.accept, seed["adam"], t["id"]), return_exceptions=True)
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], Conflict) and lost[0].kind == "conflict"
    winner = won[0]["user_id"]
    assert lost[0].details == {"status": "open", "user_id": winner}
    assert (await customers.reload(t["id"]))["user_id"] == winner
    assert (await customers.log(t["id"])).count("accept") == 1
    assert await db.value("SELECT count(*) FROM audit_log WHERE action = 'ticket.accept'") == 1
    assert len(heard.of("ticket.updated")) == 1  # the loser's unit published nothing


async def test_an_agent_losing_the_race_is_told_nothing_of_the_winner(db, seed, customers):
    """The ticket the loser tried to take is now a colleague's: as invisible as one that never existed."""
    t = await pending(customers, "5511900000008")
    results = await asyncio.gather(db.write(tickets.accept, seed["ana"], t["id"]),
                                   db.write(tickets.accept, seed["bia"], t["id"]), return_exceptions=True)
    [won] = [r for r in results if isinstance(r, dict)]
    [lost] = [r for r in results if isinstance(r, Exception)]
    assert isinstance(lost, NotFound) and lost.details == {"id": t["id"]}
    assert lost.message == f"no ticket {t['id']} waiting for you (someone else took it, or it isn't there)"
    assert (await customers.reload(t["id"]))["user_id"] == won["user_id"]


async def test_many_concurrent_accepts_exactly_one_wins(db, seed, customers):
    t = await pending(customers, "5511900000003")
    results = await asyncio.gather(*(db.write(tickets.accept, seed[w], t["id"])
                                     for w in ("ana", "bia", "caio", "sue", "adam", "root") * 3),
                                   return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, Conflict) if w in ("sue", "adam", "root") else isinstance(r, (Conflict, NotFound))
               for w, r in zip(("ana", "bia", "caio", "sue", "adam", "root") * 3, results) if not isinstance(r, dict))


async def test_accepting_a_taken_ticket_says_by_whom_to_a_supervisor_only(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000004", "bia")
    err = await fails("conflict", db.write(tickets.accept, seed["sue"], t["id"]))
    assert err.message == f"ticket {t['id']} is open by Bia, not pending"
    err = await fails("not_found", db.write(tickets.accept, seed["ana"], t["id"]))  # a colleague's: invisible
    nothing = await fails("not_found", db.write(tickets.accept, seed["ana"], 10**6))
    assert err.details == {"id": t["id"]} and "Bia" not in err.message
    assert err.message.replace(str(t["id"]), "N") == nothing.message.replace(str(10**6), "N")  # nothing to tell apart


async def test_an_agent_outside_the_queue_cannot_see_it_to_accept_it(db, seed, customers):
    t = await pending(customers, "5511900000005", "2")  # Support: ana only
    await fails("not_found", db.write(tickets.accept, seed["bia"], t["id"]))
    await fails("not_found", db.write(tickets.accept, seed["olga"], t["id"]))  # another tenant
    assert (await customers.reload(t["id"]))["status"] == "pending"
    assert (await db.write(tickets.accept, seed["sue"], t["id"]))["user_name"] == "Sue"  # a supervisor may


async def test_a_ticket_still_in_the_menu_is_anyones(db, seed, customers):
    await customers.say("5511900000006", "hi")
    t = await customers.ticket("5511900000006")
    assert (await db.write(tickets.accept, seed["dora"], t["id"]))["user_name"] == "Dora"


async def test_answering_a_pending_ticket_takes_it(db, seed, customers):
    t = await pending(customers, "5511900000007", push_name="Zé Carlos")
    msg = await db.write(messages.send_unit, seed["bia"], t["id"], "Oi {{first_name}}, aqui é {{agent}}", None, None)
    assert (msg["body"], msg["user_id"], msg["ack"]) == ("Oi Zé, aqui é Bia", seed.users["bia"], "queued")
    t = await customers.reload(t["id"])
    assert (t["status"], t["user_name"], t["unread"]) == ("open", "Bia", 0)
    await fails("not_found", db.write(messages.send_unit, seed["ana"], t["id"], "me too", None, None))


# -- transfer -------------------------------------------------------------------------------------

async def test_transfer_to_a_colleague(db, seed, customers, heard):
    t = await accepted(db, customers, seed, "5511900000010")
    heard.clear()
    view = await db.write(tickets.transfer, seed["ana"], t["id"], seed.users["bia"], None,
                          "Passing you to {{queue}}, protocol {{protocol}}")
    assert (view["status"], view["user_name"], view["queue_id"]) == ("open", "Bia", seed.queues["Sales"])
    sent = await db.one("SELECT body, user_id FROM messages WHERE ticket_id = ? AND direction = 'out' "
                        "ORDER BY id DESC LIMIT 1", (t["id"],))
    assert sent["user_id"] == seed.users["ana"]
    assert sent["body"] == f"Passing you to Sales, protocol 20260304-{t['id']:06d}"
    data = loads(await db.value("SELECT data FROM ticket_log WHERE ticket_id = ? AND action = 'transfer'", (t["id"],)))
    assert data == {"from_user": seed.users["ana"], "to_user": seed.users["bia"],
                    "from_queue": seed.queues["Sales"], "to_queue": seed.queues["Sales"]}
    assert heard.types() == ["message.created", "ticket.updated"]
    assert heard.events[-1].data["was"]["user_id"] == seed.users["ana"]
    # ana no longer sees it; bia does
    await fails("not_found", db.write(tickets.close, seed["ana"], t["id"]))
    assert (await db.write(tickets.close, seed["bia"], t["id"]))["status"] == "closed"


async def test_transfer_to_a_queue_makes_it_pending_there(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000011")
    before = await customers.bot_texts(t["id"])
    view = await db.write(tickets.transfer, seed["ana"], t["id"], None, seed.queues["Support"])
    assert (view["status"], view["user_id"], view["queue_name"]) == ("pending", None, "Support")
    assert await customers.bot_texts(t["id"]) == before  # no greeting of the new queue, no menu
    await fails("not_found", db.write(tickets.accept, seed["bia"], t["id"]))  # not a Support member
    assert (await db.write(tickets.accept, seed["ana"], t["id"]))["status"] == "open"


async def test_transfer_to_a_queue_with_auto_assign_hands_it_out(db, seed, customers):
    await db.write(queues.update, seed["adam"], seed.queues["Support"], {"assign_mode": "round_robin"})
    await db.write(queues.set_members, seed["adam"], seed.queues["Support"], [seed.users["bia"]])
    t = await accepted(db, customers, seed, "5511900000012")
    await db.write(tickets.transfer, seed["ana"], t["id"], None, seed.queues["Support"])
    t = await customers.reload(t["id"])  # ana's slot freed -> rebalance -> Support's only online member
    assert (t["status"], t["user_name"], t["queue_name"]) == ("open", "Bia", "Support")


@pytest.mark.parametrize("target, kind", [
    ({}, "invalid"),
    ({"user_id": 999}, "not_found"),
    ({"user": "olga"}, "not_found"),            # another tenant's user
    ({"queue": "Elsewhere"}, "not_found"),      # another tenant's queue
    ({"queue_id": 999}, "not_found"),
    ({"user": "caio", "disabled": True}, "not_found"),
])
async def test_transfer_refuses_bad_targets(db, seed, customers, target, kind):
    t = await accepted(db, customers, seed, "5511900000013")
    if target.get("disabled"):
        await db.write(admin.update_user, seed["adam"], seed.users["caio"], {"enabled": 0})
    user_id = seed.users[target["user"]] if "user" in target else target.get("user_id")
    queue_id = seed.queues[target["queue"]] if "queue" in target else target.get("queue_id")
    await fails(kind, db.write(tickets.transfer, seed["ana"], t["id"], user_id, queue_id))
    after = await customers.reload(t["id"])
    assert (after["user_id"], after["queue_id"], after["status"]) == (seed.users["ana"], seed.queues["Sales"], "open")


async def test_who_may_transfer(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000014")
    await fails("not_found", db.write(tickets.transfer, seed["bia"], t["id"], seed.users["bia"], None))
    await fails("not_found", db.write(tickets.transfer, seed["olga"], t["id"], seed.users["olga"], None))
    assert (await db.write(tickets.transfer, seed["sue"], t["id"], seed.users["caio"], None))["user_name"] == "Caio"
    await db.write(tickets.close, seed["sue"], t["id"])
    await fails("conflict", db.write(tickets.transfer, seed["sue"], t["id"], seed.users["ana"], None))


# -- close ----------------------------------------------------------------------------------------

async def test_close_with_the_farewell(db, seed, customers, heard, clock):
    await db.write(connections.update, seed["adam"], seed.connection, {"farewell": "Tchau, {{first_name}}!"})
    t = await accepted(db, customers, seed, "5511900000020")
    await customers.say("5511900000020", "obrigado", push_name="Lia Souza")
    heard.clear()
    clock.advance(60)
    view = await db.write(tickets.close, seed["ana"], t["id"])
    assert (view["status"], view["closed_at"], view["unread"], view["chatbot_state"]) == ("closed", clock.now, 0, {})
    assert (await customers.bot_texts(t["id"]))[-1] == "Tchau, Lia!"
    assert heard.types() == ["message.created", "ticket.updated"]
    assert heard.events[-1].data["was"]["status"] == "open"
    await fails("conflict", db.write(tickets.close, seed["ana"], t["id"]))


async def test_close_without_farewell_sends_nothing(db, seed, customers):
    await db.write(connections.update, seed["adam"], seed.connection, {"farewell": "Bye"})
    t = await accepted(db, customers, seed, "5511900000021")
    before = await customers.bot_texts(t["id"])
    await db.write(tickets.close, seed["ana"], t["id"], False)
    assert await customers.bot_texts(t["id"]) == before


async def test_close_asks_for_a_rating_and_the_answer_is_kept(db, seed, customers):
    await db.write(admin.tenant_settings, seed["adam"], {"rating": True})
    t = await accepted(db, customers, seed, "5511900000022")
    await db.write(tickets.close, seed["ana"], t["id"])
    assert (await customers.bot_texts(t["id"]))[-1] == tickets.RATING_PROMPT
    assert (await customers.reload(t["id"]))["chatbot_state"] == {"stage": "rating"}
    await customers.say("5511900000022", " 5 ")
    t = await customers.reload(t["id"])
    assert (t["rating"], t["status"], t["chatbot_state"]) == (5, "closed", {})
    assert (await customers.bot_texts(t["id"]))[-1].startswith("Obrigado pela avaliação")
    # the next message opens a new ticket: the survey is over
    await customers.say("5511900000022", "hello again")
    assert (await customers.ticket("5511900000022"))["id"] != t["id"]


async def test_a_second_non_rating_answer_ends_the_survey_and_opens_a_ticket(db, seed, customers):
    await db.write(admin.tenant_settings, seed["adam"], {"rating": True})
    t = await accepted(db, customers, seed, "5511900000023")
    await db.write(tickets.close, seed["ana"], t["id"])
    await customers.say("5511900000023", "ok")  # asked again, on the closed ticket
    assert (await customers.reload(t["id"]))["chatbot_state"] == {"stage": "rating", "asked_again": True}
    assert (await customers.ticket("5511900000023"))["id"] == t["id"]
    await customers.say("5511900000023", "I have another question")
    old = await customers.reload(t["id"])
    assert old["rating"] is None and old["chatbot_state"] == {}
    new = await customers.ticket("5511900000023")
    assert new["id"] != t["id"] and new["status"] == "pending"


async def test_who_may_close(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000024")
    await fails("not_found", db.write(tickets.close, seed["bia"], t["id"]))
    await fails("not_found", db.write(tickets.close, seed["olga"], t["id"]))
    p = await pending(customers, "5511900000025")  # unowned, in bia's queue: she may close it
    assert (await db.write(tickets.close, seed["bia"], p["id"]))["status"] == "closed"
    assert (await db.write(tickets.close, seed["sue"], t["id"]))["status"] == "closed"


async def test_closing_frees_a_slot_for_a_waiting_ticket(db, seed, customers, heard):
    await db.write(admin.set_status, seed["bia"], "offline")
    await db.write(admin.update_user, seed["adam"], seed.users["ana"], {"max_tickets": 1})
    await db.write(queues.update, seed["adam"], seed.queues["Sales"], {"assign_mode": "round_robin"})
    await customers.say("5511900000026", "hi")
    await customers.say("5511900000026", "1")
    first = await customers.ticket("5511900000026")
    await customers.say("5511900000027", "hi")
    await customers.say("5511900000027", "1")
    waiting = await customers.ticket("5511900000027")
    assert first["user_name"] == "Ana" and waiting["user_id"] is None
    heard.clear()
    await db.write(tickets.close, seed["ana"], first["id"], False)
    waiting = await customers.reload(waiting["id"])
    assert (waiting["status"], waiting["user_name"]) == ("open", "Ana")
    assert [e.ticket_id for e in heard.of("ticket.updated")] == [waiting["id"], first["id"]]


async def test_auto_close_after_the_customer_is_silent(db, seed, customers, clock):
    await db.write(queues.update, seed["adam"], seed.queues["Sales"],
                   {"auto_close_hours": 2, "auto_close_message": "Closing for now, {{first_name}}."})
    t = await pending(customers, "5511900000028", push_name="Bete")
    clock.advance(2 * 3600 - 1)
    assert await db.write(tickets.auto_close_unit) == 0
    clock.advance(2)
    assert await db.write(tickets.auto_close_unit) == 1
    t = await customers.reload(t["id"])
    assert t["status"] == "closed"
    assert (await customers.bot_texts(t["id"]))[-1] == "Closing for now, Bete."
    assert await db.write(tickets.auto_close_unit) == 0


# -- reopen ---------------------------------------------------------------------------------------

async def test_the_owner_reopens_a_closed_ticket(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000030")
    await db.write(tickets.close, seed["ana"], t["id"], False)
    view = await db.write(tickets.reopen, seed["ana"], t["id"])
    assert (view["status"], view["user_name"], view["closed_at"]) == ("open", "Ana", None)
    assert (await customers.log(t["id"]))[-2:] == ["close", "reopen"]
    await fails("conflict", db.write(tickets.reopen, seed["ana"], t["id"]))  # open, not closed


async def test_who_may_reopen(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000031")
    await db.write(tickets.close, seed["ana"], t["id"], False)
    await fails("not_found", db.write(tickets.reopen, seed["bia"], t["id"]))
    await fails("not_found", db.write(tickets.reopen, seed["olga"], t["id"]))
    assert (await db.write(tickets.reopen, seed["sue"], t["id"]))["user_name"] == "Sue"  # and it is hers


async def test_reopen_refuses_when_the_contact_has_an_active_ticket(db, seed, customers):
    t = await accepted(db, customers, seed, "5511900000032")
    await db.write(tickets.close, seed["ana"], t["id"], False)
    await customers.say("5511900000032", "new question")
    new = await customers.ticket("5511900000032")
    assert new["id"] != t["id"]
    err = await fails("conflict", db.write(tickets.reopen, seed["ana"], t["id"]))
    assert err.details == {"ticket_id": new["id"]}


async def test_a_customer_writing_within_the_window_reopens_the_last_ticket(db, seed, customers, clock):
    customers.reopen_window_s = 600
    t = await accepted(db, customers, seed, "5511900000033")
    await db.write(tickets.close, seed["ana"], t["id"], False)
    clock.advance(599)
    await customers.say("5511900000033", "one more thing")
    again = await customers.ticket("5511900000033")
    assert again["id"] == t["id"] and (again["status"], again["user_name"]) == ("open", "Ana")
    assert (await customers.log(t["id"]))[-1] == "reopen"
    await db.write(tickets.close, seed["ana"], t["id"], False)
    clock.advance(601)
    await customers.say("5511900000033", "much later")
    assert (await customers.ticket("5511900000033"))["id"] != t["id"]


# -- reads ----------------------------------------------------------------------------------------

async def test_what_each_role_sees(db, seed, customers):
    mine = await accepted(db, customers, seed, "5511900000040", "ana")
    sales = await pending(customers, "5511900000041", "1")
    support = await pending(customers, "5511900000042", "2")
    bias = await accepted(db, customers, seed, "5511900000043", "bia")
    done = await accepted(db, customers, seed, "5511900000044", "ana")
    await db.write(tickets.close, seed["ana"], done["id"], False)
    await customers.say("5511900000045", "hi")  # still in the menu: no queue yet
    menu = await customers.ticket("5511900000045")
    everything = {mine["id"], sales["id"], support["id"], bias["id"], done["id"], menu["id"]}

    async def ids(who, **filters):
        rows, more = await tickets.list_tickets(db, seed[who], **filters)
        assert more is False
        return {r["id"] for r in rows}

    # agents: their own tickets (any status) and the pending ones of their queues or of no queue
    assert await ids("ana") == {mine["id"], done["id"], sales["id"], support["id"], menu["id"]}
    assert await ids("bia") == {bias["id"], sales["id"], menu["id"]}
    assert await ids("dora") == {menu["id"]}
    assert await ids("olga") == set()
    assert await ids("sue") == await ids("adam") == await ids("root") == everything
    assert await ids("ana", status="open") == {mine["id"]}
    assert await ids("ana", status="closed") == {done["id"]}
    assert await ids("ana", status="pending") == {sales["id"], support["id"], menu["id"]}
    assert await ids("bia", status="closed") == set()
    assert await ids("ana", mine=True) == {mine["id"], done["id"]}
    assert await ids("ana", queue_id=seed.queues["Support"]) == {support["id"]}
    assert await ids("sue", status="pending") == {sales["id"], support["id"], menu["id"]}
    assert await ids("sue", user_id=seed.users["bia"]) == {bias["id"]}
    # accepting is not reading: customers' first messages are still unread; closed ones don't count
    assert (await tickets.counts(db, seed["ana"])) == {"open": {"count": 1, "unread": 1},
                                                       "pending": {"count": 3, "unread": 3}}
    assert (await tickets.counts(db, seed["dora"])) == {"pending": {"count": 1, "unread": 1}}
    assert (await tickets.counts(db, seed["olga"])) == {}
    await fails("not_found", tickets.get_ticket(db, seed["bia"], mine["id"]))
    await fails("not_found", tickets.get_ticket(db, seed["olga"], sales["id"]))
    assert (await tickets.get_ticket(db, seed["ana"], done["id"]))["status"] == "closed"
    with pytest.raises(Invalid):
        await tickets.list_tickets(db, seed["ana"], status="deleted")
    history = await tickets.history(db, seed["ana"], mine["id"])
    assert [h["action"] for h in history] == ["queue", "accept"] and history[1]["user_name"] == "Ana"


async def page_through(db, actor, limit: int, **filters) -> list[int]:
    out, before = [], None
    while True:
        rows, more = await tickets.list_tickets(db, actor, limit=limit, before=before, **filters)
        out += [r["id"] for r in rows]
        if not more:
            return out
        before = (rows[-1]["last_message_at"], rows[-1]["id"])


async def test_list_pages_newest_first(db, seed, customers, clock):
    made = []
    for n in range(5):
        clock.advance(1)
        made.append((await pending(customers, f"55119000001{n:02d}"))["id"])
    rows, more = await tickets.list_tickets(db, seed["sue"], limit=2)
    assert [r["id"] for r in rows] == made[:-3:-1] and more
    last = rows[-1]
    rows, more = await tickets.list_tickets(db, seed["sue"], limit=10, before=(last["last_message_at"], last["id"]))
    assert [r["id"] for r in rows] == made[-3::-1] and not more


async def test_an_agents_pages_merge_every_status_newest_first(db, seed, customers, clock):
    """An agent's list mixes own open, own closed and pending tickets; paged in any size it is
    the same newest-first list a supervisor sees filtered to what that agent may see."""
    for n in range(9):
        clock.advance(1)
        number = f"55119000002{n:02d}"
        t = await pending(customers, number, "1" if n % 4 else "2")
        if n % 3 == 1:
            await db.write(tickets.accept, seed["ana"], t["id"])
        if n % 3 == 2:
            await db.write(tickets.accept, seed["bia" if n % 2 else "ana"], t["id"])
            await db.write(tickets.close, seed["sue"], t["id"], False)
    clock.advance(1)
    await customers.say("5511900000211", "still in the menu")
    rows, _ = await tickets.list_tickets(db, seed["sue"], limit=500)
    visible = [r["id"] for r in rows if r["user_id"] == seed.users["ana"] or (
        r["status"] == "pending" and r["queue_id"] in (None, *seed["ana"].queue_ids))]
    assert len(visible) >= 7
    for limit in (1, 2, 3, 50):
        assert await page_through(db, seed["ana"], limit) == visible, limit

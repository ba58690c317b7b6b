"""Routing of a new conversation (zingd/services/routing.py, run inside the inbound unit of
zingd/services/inbound.py): chatbot menu, retries, default queue, single queue, wallet owner,
round-robin / balanced auto-assignment, and the closed-queue path."""

from __future__ import annotations

import pytest

from tests.services.support import at
from zingd.services import admin, connections, contacts, queues, routing
from zingd.store.rows import loads

MENU = "Welcome!\n*1* - Sales\n*2* - Support"
INVALID = "Opção inválida / invalid option. Responda com o número:"


async def configure(db, actor, connection_id, **settings):
    """Change a connection's settings through the service (validated as an admin's call is)."""
    return await db.write(connections.update, actor, connection_id, {}, settings)


async def set_queue(db, actor, queue_id, **changes):
    return await db.write(queues.update, actor, queue_id, changes)


# -- the chatbot menu -----------------------------------------------------------------------------

async def test_first_message_opens_a_pending_ticket_and_asks_the_menu(db, seed, customers, heard):
    row = await customers.say("5511988880001", "hello", push_name="Maria Silva")
    t = await customers.ticket("5511988880001")
    assert row["ticket_id"] == t["id"] and row["direction"] == "in" and row["body"] == "hello"
    assert (t["status"], t["queue_id"], t["user_id"], t["unread"]) == ("pending", None, None, 1)
    assert t["chatbot_state"] == {"stage": "menu", "path": [], "tries": 0}
    assert await customers.bot_texts(t["id"]) == [MENU]
    # everything committed in one unit and published in order: the ticket, the customer's
    # message, zing's menu, then the routed ticket
    assert heard.types() == ["ticket.created", "message.created", "message.created", "ticket.updated"]
    assert heard.events[2].data["message"]["body"] == MENU
    assert await db.value("SELECT count(*) FROM outbox") == 1  # the menu is queued to be sent
    contact = await db.one("SELECT * FROM contacts WHERE number = '5511988880001'")
    assert contact["push_name"] == "Maria Silva"


async def test_a_menu_choice_puts_the_ticket_in_that_queue_with_its_greeting(seed, customers):
    await customers.say("5511988880002", "hi", push_name="Maria Silva")
    await customers.say("5511988880002", " 1 ")
    t = await customers.ticket("5511988880002")
    assert (t["queue_id"], t["queue_name"], t["status"], t["user_id"]) == (
        seed.queues["Sales"], "Sales", "pending", None)
    assert t["chatbot_state"] == {}
    assert await customers.bot_texts(t["id"]) == [MENU, "Sales here, Maria!"]  # {{first_name}} expanded
    assert await customers.log(t["id"]) == ["queue"]


async def test_after_the_choice_the_bot_stays_quiet(seed, customers):
    await customers.say("5511988880003", "hi")
    await customers.say("5511988880003", "2")
    await customers.say("5511988880003", "1")  # now just a message to the Support team
    t = await customers.ticket("5511988880003")
    assert t["queue_id"] == seed.queues["Support"]
    assert await customers.bot_texts(t["id"]) == [MENU]  # Support has no greeting, and no second menu


@pytest.mark.parametrize("answer", ["0", "3", "-1", "1.0", "one", "", "1 2"])
async def test_anything_but_an_offered_number_is_an_invalid_answer(seed, customers, answer):
    await customers.say("5511988880004", "hi")
    await customers.say("5511988880004", answer)
    t = await customers.ticket("5511988880004")
    assert t["queue_id"] is None
    assert t["chatbot_state"] == {"stage": "menu", "path": [], "tries": 1}
    assert await customers.bot_texts(t["id"]) == [MENU, f"{INVALID}\n*1* - Sales\n*2* - Support"]


async def test_unicode_decimal_digits_are_a_choice(seed, customers):
    """Arabic-Indic and full-width digits are decimal digits: they pick the option."""
    for number, answer in (("5511988880014", "\u0662"), ("5511988880015", "\uff12")):
        await customers.say(number, "hi")
        await customers.say(number, answer)
        assert (await customers.ticket(number))["queue_id"] == seed.queues["Support"]


@pytest.mark.parametrize("answer", ["\u00b2", "\u2460"])
async def test_a_superscript_or_circled_digit_is_just_an_invalid_answer(seed, customers, answer):
    await customers.say("5511988880016", "hi")
    await customers.say("5511988880016", answer)
    t = await customers.ticket("5511988880016")
    assert t["chatbot_state"] == {"stage": "menu", "path": [], "tries": 1}


async def test_too_many_invalid_answers_land_in_the_default_queue(db, seed, customers):
    await configure(db, seed["adam"], seed.connection, menu_max_retries=2, default_queue_id=seed.queues["Support"])
    await customers.say("5511988880005", "hello")
    await customers.say("5511988880005", "9")
    t = await customers.ticket("5511988880005")
    assert t["queue_id"] is None and t["chatbot_state"]["tries"] == 1
    await customers.say("5511988880005", "what?")
    t = await customers.reload(t["id"])
    assert t["queue_id"] == seed.queues["Support"] and t["chatbot_state"] == {}
    assert await customers.bot_texts(t["id"]) == [MENU, f"{INVALID}\n*1* - Sales\n*2* - Support"]


async def test_without_a_default_queue_retries_end_in_the_first_option(seed, customers):
    await customers.say("5511988880006", "hello")
    for n in range(routing.DEFAULT_RETRIES):
        t = await customers.ticket("5511988880006")
        assert t["queue_id"] is None, f"left the menu after {n} invalid answers"
        await customers.say("5511988880006", "??")
    t = await customers.ticket("5511988880006")
    assert t["queue_id"] == seed.queues["Sales"]
    reasks = routing.DEFAULT_RETRIES - 1  # the last invalid answer lands instead of asking again
    assert await customers.bot_texts(t["id"]) == [MENU, *[f"{INVALID}\n*1* - Sales\n*2* - Support"] * reasks,
                                                  "Sales here, 5511988880006!"]  # no name: the number


async def test_a_valid_choice_after_invalid_ones_still_lands(db, seed, customers):
    await customers.say("5511988880007", "hello")
    await customers.say("5511988880007", "x")
    await customers.say("5511988880007", "x")
    await customers.say("5511988880007", "2")
    t = await customers.ticket("5511988880007")
    assert t["queue_id"] == seed.queues["Support"]


async def test_nested_menu_walks_down_and_reasks_the_submenu(db, seed, customers):
    internet = await db.write(queues.create, seed["adam"], {"name": "Internet", "greeting": "Internet team"})
    menu = [{"label": "Buy", "queue_id": seed.queues["Sales"]},
            {"label": "Help", "options": [{"label": "Internet", "queue_id": internet["id"]},
                                          {"label": "Other", "queue_id": seed.queues["Support"]}]}]
    await configure(db, seed["adam"], seed.connection, menu=menu)
    await customers.say("5511988880008", "hi")
    await customers.say("5511988880008", "2")
    t = await customers.ticket("5511988880008")
    assert t["chatbot_state"] == {"stage": "menu", "path": [1], "tries": 0}
    await customers.say("5511988880008", "7")  # invalid in the submenu: the submenu is asked again
    await customers.say("5511988880008", "1")
    t = await customers.reload(t["id"])
    assert t["queue_name"] == "Internet"
    assert await customers.bot_texts(t["id"]) == [
        "Welcome!\n*1* - Buy\n*2* - Help", "*1* - Internet\n*2* - Other",
        f"{INVALID}\n*1* - Internet\n*2* - Other", "Internet team"]


async def test_changing_the_menu_while_a_customer_is_in_a_submenu(db, seed, customers):
    nested = [{"label": "Buy", "queue_id": seed.queues["Sales"]},
              {"label": "Help", "options": [{"label": "Other", "queue_id": seed.queues["Support"]}]}]
    await configure(db, seed["adam"], seed.connection, menu=nested)
    await customers.say("5511988880009", "hi")
    await customers.say("5511988880009", "2")  # in the Help submenu: path [1]
    flat = [{"label": "Buy", "queue_id": seed.queues["Sales"]}, {"label": "Help", "queue_id": seed.queues["Support"]}]
    await configure(db, seed["adam"], seed.connection, menu=flat)
    await customers.say("5511988880009", "1")
    t = await customers.ticket("5511988880009")
    assert await db.value("SELECT count(*) FROM messages WHERE ticket_id = ? AND direction = 'in'", (t["id"],)) == 3
    assert t["queue_id"] is not None or t["chatbot_state"]["stage"] == "menu"


async def test_a_single_linked_queue_skips_the_menu(db, seed, customers):
    await db.write(queues.link_connection, seed["adam"], seed.connection, [seed.queues["Sales"]])
    await customers.say("5511988880010", "hello", push_name="João Souza")
    t = await customers.ticket("5511988880010")
    assert t["queue_id"] == seed.queues["Sales"] and t["chatbot_state"] == {}
    assert await customers.bot_texts(t["id"]) == ["Sales here, João!"]  # no menu, no connection greeting


async def test_a_tenant_with_one_queue_skips_the_menu(db, seed, customers):
    await customers.say("5511988880017", "hello", tenant=seed.other_tenant, connection=seed.other_connection)
    t = await customers.ticket("5511988880017", tenant=seed.other_tenant)
    assert (t["queue_name"], t["status"]) == ("Elsewhere", "pending")
    assert await customers.bot_texts(t["id"]) == []  # no greeting anywhere


async def test_linked_queues_are_the_menu(db, seed, customers):
    extra = await db.write(queues.create, seed["adam"], {"name": "Billing"})
    await db.write(queues.link_connection, seed["adam"], seed.connection, [extra["id"], seed.queues["Support"]])
    await customers.say("5511988880011", "hello")
    t = await customers.ticket("5511988880011")
    assert await customers.bot_texts(t["id"]) == ["Welcome!\n*1* - Support\n*2* - Billing"]  # by queue id


async def test_a_single_option_with_a_submenu_still_asks(db, seed, customers):
    menu = [{"label": "Help", "options": [{"label": "Sales", "queue_id": seed.queues["Sales"]},
                                          {"label": "Support", "queue_id": seed.queues["Support"]}]}]
    await configure(db, seed["adam"], seed.connection, menu=menu)
    await customers.say("5511988880012", "hello")
    t = await customers.ticket("5511988880012")
    assert t["queue_id"] is None and await customers.bot_texts(t["id"]) == ["Welcome!\n*1* - Help"]


async def test_menu_settings_are_validated(db, seed):
    from zingd.errors import Invalid, NotFound
    with pytest.raises(Invalid, match="needs a queue_id or options") as e:
        await configure(db, seed["adam"], seed.connection, menu=[{"label": "x"}])
    assert e.value.kind == "invalid"
    with pytest.raises(Invalid, match="at most 3 levels"):
        deep = [{"label": "a", "options": [{"label": "b", "options": [{"label": "c", "options": [
            {"label": "d", "queue_id": seed.queues["Sales"]}]}]}]}]
        await configure(db, seed["adam"], seed.connection, menu=deep)
    with pytest.raises(NotFound) as e:  # another tenant's queue is no queue at all
        await configure(db, seed["adam"], seed.connection, default_queue_id=seed.queues["Elsewhere"])
    assert e.value.kind == "not_found"
    with pytest.raises(Invalid, match="menu_max_retries"):
        await configure(db, seed["adam"], seed.connection, menu_max_retries=0)


async def test_a_redelivered_message_changes_nothing(db, seed, customers):
    from zingd.channels.base import InboundMessage
    from zingd.services.inbound import ingest
    msg = InboundMessage("WA-ONCE", "5511988880013@s.whatsapp.net", "5511988880013@s.whatsapp.net", 0.0, body="hi")
    assert await db.write(ingest, seed.tenant, seed.connection, msg, 0.0) is not None
    assert await db.write(ingest, seed.tenant, seed.connection, msg, 0.0) is None
    assert await db.value("SELECT count(*) FROM messages WHERE wa_id = 'WA-ONCE'") == 1
    t = await customers.ticket("5511988880013")
    assert await customers.bot_texts(t["id"]) == [MENU] and t["unread"] == 1


async def test_groups_can_be_ignored(db, seed, customers):
    await customers.say("5511944440001", "hi all", group="120363000000001")
    t = await customers.ticket("120363000000001@g.us")
    assert t["is_group"] == 1
    await configure(db, seed["adam"], seed.connection, groups="ignore")
    assert await customers.say("5511944440001", "ignored", group="120363000000002") is None
    assert await db.value("SELECT count(*) FROM contacts WHERE number = '120363000000002@g.us'") == 0


# -- wallet owner ---------------------------------------------------------------------------------

async def own(db, seed, number: str, owner: str | None) -> int:
    """Create the contact (as an agent would) and set its wallet owner as an admin."""
    row = await db.write(contacts.create, seed["adam"], {"number": number})
    await db.write(contacts.update, seed["adam"], row["id"],
                   {"owner_user_id": seed.users[owner] if owner else None})
    return row["id"]


async def test_the_wallet_owner_gets_a_new_ticket_directly(db, seed, customers, heard):
    await own(db, seed, "5511955550001", "caio")  # offline does not matter: the customer is theirs
    await customers.say("5511955550001", "hello")
    t = await customers.ticket("5511955550001")
    assert (t["status"], t["user_name"], t["queue_id"]) == ("open", "Caio", None)
    assert t["accepted_at"] is not None
    assert await customers.bot_texts(t["id"]) == []  # no menu
    assert await customers.log(t["id"]) == ["assign"]
    by = loads(await db.value("SELECT data FROM ticket_log WHERE ticket_id = ?", (t["id"],)))
    assert by == {"user_id": seed.users["caio"], "by": "wallet"}
    assert heard.of("ticket.updated")[-1].data["ticket"]["user_id"] == seed.users["caio"]


async def test_a_disabled_wallet_owner_is_skipped(db, seed, customers):
    await own(db, seed, "5511955550002", "bia")
    await db.write(admin.update_user, seed["adam"], seed.users["bia"], {"enabled": 0})
    await customers.say("5511955550002", "hello")
    t = await customers.ticket("5511955550002")
    assert t["user_id"] is None and await customers.bot_texts(t["id"]) == [MENU]


async def test_the_wallet_owner_only_takes_new_tickets(db, seed, customers):
    await customers.say("5511955550003", "hello")  # in the menu already
    cid = await db.value("SELECT id FROM contacts WHERE number = '5511955550003'")
    await db.write(contacts.update, seed["adam"], cid, {"owner_user_id": seed.users["ana"]})
    await customers.say("5511955550003", "2")
    t = await customers.ticket("5511955550003")
    assert t["user_id"] is None and t["queue_id"] == seed.queues["Support"]


# -- auto-assignment ------------------------------------------------------------------------------

async def choose_sales(customers, numbers):
    owners = []
    for number in numbers:
        await customers.say(number, "oi")
        await customers.say(number, "1")
        owners.append((await customers.ticket(number))["user_name"])
    return owners


async def test_round_robin_online_agents_under_their_limit(db, seed, customers):
    await db.write(admin.update_user, seed["adam"], seed.users["bia"], {"max_tickets": 1})
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="round_robin")
    owners = await choose_sales(customers, [f"55119777700{n:02d}" for n in range(4)])
    # caio is offline; bia takes one and is full; ana takes the rest
    assert owners == ["Ana", "Bia", "Ana", "Ana"]
    cursor = await db.value("SELECT rr_last_user_id FROM queues WHERE id = ?", (seed.queues["Sales"],))
    assert cursor == seed.users["ana"]
    t = await customers.ticket("5511977770000")
    assert t["status"] == "open" and t["accepted_at"] is not None
    assert await customers.log(t["id"]) == ["queue", "assign"]


async def test_round_robin_cycles_and_wraps(db, seed, customers):
    await db.write(admin.set_status, seed["caio"], "online")
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="round_robin")
    owners = await choose_sales(customers, [f"55119777701{n:02d}" for n in range(5)])
    assert owners == ["Ana", "Bia", "Caio", "Ana", "Bia"]


async def test_balanced_picks_the_least_loaded_then_the_lowest_id(db, seed, customers):
    from zingd.services import tickets
    for n in range(2):  # ana carries two open tickets
        await customers.say(f"55119666600{n:02d}", "oi")
        await customers.say(f"55119666600{n:02d}", "1")
        t = await customers.ticket(f"55119666600{n:02d}")
        await db.write(tickets.accept, seed["ana"], t["id"])
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="balanced")
    owners = await choose_sales(customers, ["5511966660090", "5511966660091", "5511966660092", "5511966660093"])
    # bia 0 -> 1, then bia and ana are 1 vs 2 -> bia, then 2 vs 2 -> ana (lower id), then bia
    assert owners == ["Bia", "Bia", "Ana", "Bia"]


async def test_nobody_eligible_leaves_the_ticket_waiting_until_someone_comes_online(db, seed, customers, heard):
    await db.write(admin.set_status, seed["ana"], "offline")
    await db.write(admin.set_status, seed["bia"], "away")
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="round_robin")
    assert await choose_sales(customers, ["5511977770200"]) == [None]
    t = await customers.ticket("5511977770200")
    assert t["status"] == "pending" and t["queue_id"] == seed.queues["Sales"]
    heard.clear()
    await db.write(admin.set_status, seed["caio"], "online")  # rebalance on coming online
    t = await customers.reload(t["id"])
    assert (t["status"], t["user_name"]) == ("open", "Caio")
    assert heard.types() == ["ticket.updated", "user.updated"]


async def test_assign_mode_off_never_assigns(db, seed, customers):
    assert await choose_sales(customers, ["5511977770300"]) == [None]
    assert await db.write(routing.rebalance, seed.tenant) == 0


# -- business hours on the routing path -----------------------------------------------------------

CLOSED_AT_NIGHT = {"timezone": "America/Sao_Paulo", "days": {d: [["08:00", "18:00"]] for d in
                                                              ("mon", "tue", "wed", "thu", "fri")}}


async def test_a_closed_queue_says_so_and_assigns_nobody(db, seed, customers, clock):
    from zoneinfo import ZoneInfo
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="round_robin", business_hours=CLOSED_AT_NIGHT,
                    out_of_hours_message="We're closed, {{first_name}}; back at 8.")
    clock.set(at("2026-03-04 22:30", ZoneInfo("America/Sao_Paulo")))  # Wednesday night in São Paulo
    await customers.say("5511988880100", "anyone?", push_name="Rita Lee")
    await customers.say("5511988880100", "1")
    t = await customers.ticket("5511988880100")
    assert (t["status"], t["queue_id"], t["user_id"]) == ("pending", seed.queues["Sales"], None)
    assert await customers.bot_texts(t["id"]) == [MENU, "Sales here, Rita!", "We're closed, Rita; back at 8."]
    assert await customers.log(t["id"]) == ["queue", "out_of_hours"]
    # agents coming online at night don't get it either
    assert await db.write(routing.rebalance, seed.tenant) == 0
    # in the morning the waiting ticket goes to the next agent
    clock.set(at("2026-03-05 08:00", ZoneInfo("America/Sao_Paulo")))
    assert await db.write(routing.rebalance, seed.tenant) == 1
    assert (await customers.reload(t["id"]))["user_name"] == "Ana"


async def test_an_open_queue_with_hours_assigns(db, seed, customers, clock):
    from zoneinfo import ZoneInfo
    await set_queue(db, seed["adam"], seed.queues["Sales"], assign_mode="round_robin", business_hours=CLOSED_AT_NIGHT,
                    out_of_hours_message="closed")
    clock.set(at("2026-03-04 17:59", ZoneInfo("America/Sao_Paulo")))
    assert await choose_sales(customers, ["5511988880101"]) == ["Ana"]
    t = await customers.ticket("5511988880101")
    assert "closed" not in await customers.bot_texts(t["id"])


async def test_queue_list_reports_open_now(db, seed, clock):
    from zoneinfo import ZoneInfo
    await set_queue(db, seed["adam"], seed.queues["Sales"], business_hours=CLOSED_AT_NIGHT)
    clock.set(at("2026-03-07 10:00", ZoneInfo("America/Sao_Paulo")))  # Saturday
    listed = {q["name"]: q for q in await queues.list_queues(db, clock, seed["ana"])}
    assert listed["Sales"]["open_now"] is False and listed["Support"]["open_now"] is True
    assert listed["Sales"]["members"] == [seed.users[n] for n in ("ana", "bia", "caio")]
    assert "Elsewhere" not in listed

"""Quick replies and the variables every sent text may use (zingd/services/quickreplies.py):
{{name}} {{first_name}} {{number}} {{agent}} {{protocol}} {{queue}} {{date}}; unknown ones
stay as typed. And who may create or change which quick replies."""

from __future__ import annotations

import time

import pytest

from zingd.errors import ZingError
from zingd.services import admin, contacts, quickreplies, tickets
from zingd.services.quickreplies import expand
from zingd.store import tickets as T


@pytest.fixture
def process_tz(monkeypatch):
    """Pin the process's time zone (and put it back after): {{date}} must follow the tenant's, not this."""
    def set_tz(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    set_tz("UTC")
    yield set_tz
    monkeypatch.undo()
    time.tzset()


async def render(db, ticket_id: int, actor, text: str) -> str:
    return await db.write(lambda tx: expand(tx, T.get(tx, 1, ticket_id), actor, text))


async def ticket_of(customers, number="5511988887777", push_name="Maria da Silva", choice: str | None = "1"):
    await customers.say(number, "oi", push_name=push_name)
    if choice:
        await customers.say(number, choice)
    return await customers.ticket(number)


async def test_every_variable(db, seed, customers, process_tz):
    t = await ticket_of(customers)
    text = "{{name}}|{{first_name}}|{{number}}|{{agent}}|{{protocol}}|{{queue}}|{{date}}"
    assert await render(db, t["id"], seed["ana"], text) == (
        f"Maria da Silva|Maria|5511988887777|Ana|20260304-{t['id']:06d}|Sales|04/03/2026")


async def test_names_are_case_and_space_insensitive(db, seed, customers, process_tz):
    t = await ticket_of(customers)
    assert await render(db, t["id"], seed["ana"], "{{ NAME }}, {{First_Name}}, {{  agent}}") == (
        "Maria da Silva, Maria, Ana")


@pytest.mark.parametrize("text", ["{{foo}}", "{{ foo }}", "{{first-name}}", "{name}", "{{}}", "{{ }}", "{{name",
                                  "name}}", "{{na me}}", "{{nome}}"])
async def test_unknown_or_malformed_variables_stay_as_typed(db, seed, customers, text):
    t = await ticket_of(customers)
    assert await render(db, t["id"], seed["ana"], f"Olá {text}!") == f"Olá {text}!"


async def test_a_known_next_to_an_unknown(db, seed, customers):
    t = await ticket_of(customers)
    assert await render(db, t["id"], seed["ana"], "{{first_name}}{{x}}{{first_name}}") == "Maria{{x}}Maria"


async def test_values_are_not_expanded_again(db, seed, customers):
    t = await ticket_of(customers, push_name="{{agent}} {{protocol}}")
    assert await render(db, t["id"], seed["ana"], "Oi {{name}}") == "Oi {{agent}} {{protocol}}"


async def test_the_contact_name_wins_over_the_push_name_then_the_number(db, seed, customers):
    t = await ticket_of(customers, number="5511988887778", push_name="")
    assert await render(db, t["id"], None, "{{name}}/{{first_name}}") == "5511988887778/5511988887778"
    cid = t["contact_id"]
    await db.write(contacts.update, seed["ana"], cid, {"name": "José Álvares"})
    assert await render(db, t["id"], None, "{{name}}/{{first_name}}") == "José Álvares/José"


async def test_zing_itself_has_no_agent_name_and_no_queue_before_the_menu(db, seed, customers):
    t = await ticket_of(customers, choice=None)
    assert await render(db, t["id"], None, "[{{agent}}][{{queue}}]") == "[][]"


async def test_the_protocol_is_the_ticket_day_in_utc_and_its_id(db, seed, customers, clock):
    clock.set(clock.now + 10 * 3600 + 59 * 60)  # 23:59 UTC on 4 March
    t = await ticket_of(customers)
    clock.advance(3 * 86400)
    assert await render(db, t["id"], None, "{{protocol}}") == f"20260304-{t['id']:06d}"


async def test_variables_reach_what_is_sent(db, seed, customers):
    t = await ticket_of(customers)
    await db.write(tickets.accept, seed["bia"], t["id"])
    await db.write(quickreplies.create, seed["bia"], "oi", "Olá {{first_name}}, sou {{agent}} de {{queue}}.", True)
    [reply] = await quickreplies.list_replies(db, seed["bia"], "/oi")
    from zingd.services import messages
    msg = await db.write(messages.send_unit, seed["bia"], t["id"], reply["body"], None, None)
    assert msg["body"] == "Olá Maria, sou Bia de Sales."
    stored = await db.value("SELECT body FROM messages WHERE id = ?", (msg["id"],))
    assert stored == "Olá Maria, sou Bia de Sales."


async def test_a_blank_name_does_not_break_first_name(db, seed, customers):
    t = await ticket_of(customers, push_name="")
    await db.write(contacts.update, seed["ana"], t["contact_id"], {"name": "   "})
    out = await render(db, t["id"], seed["ana"], "Oi {{first_name}}")
    assert "{{" not in out


async def test_a_blank_contact_name_does_not_lose_the_customers_message(db, seed, customers):
    t = await ticket_of(customers, push_name="", choice=None)
    await db.write(contacts.update, seed["ana"], t["contact_id"], {"name": "  "})
    await customers.say("5511988887777", "1")
    assert await db.value("SELECT count(*) FROM messages WHERE ticket_id = ? AND direction = 'in'", (t["id"],)) == 2


async def test_the_date_is_the_tenants_local_date(db, seed, customers, clock, process_tz):
    await db.write(admin.update_tenant, seed["root"], seed.tenant, {"timezone": "America/Sao_Paulo"})
    t = await ticket_of(customers)
    clock.set(1772674200.0)  # 2026-03-05 01:30 UTC = 2026-03-04 22:30 in São Paulo
    assert await render(db, t["id"], seed["ana"], "{{date}}") == "04/03/2026"


async def test_the_date_follows_the_clock(db, seed, customers, clock, process_tz):
    t = await ticket_of(customers)
    clock.advance(86400 * 30)
    assert await render(db, t["id"], None, "{{date}}") == "03/04/2026"


# -- the quick replies themselves -----------------------------------------------------------------

async def fails(kind: str, coro) -> ZingError:
    with pytest.raises(ZingError) as e:
        await coro
    assert e.value.kind == kind, e.value.message
    return e.value


async def test_who_may_create_and_change_quick_replies(db, seed):
    mine = await db.write(quickreplies.create, seed["ana"], "/Obrigado", "Obrigado, {{first_name}}!", True)
    assert (mine["shortcut"], mine["scope"], mine["user_id"]) == ("obrigado", "personal", seed.users["ana"])
    await fails("forbidden", db.write(quickreplies.create, seed["ana"], "hours", "8-18", False))
    shared = await db.write(quickreplies.create, seed["sue"], "hours", "8-18", False)
    assert shared["scope"] == "tenant" and shared["user_id"] is None
    await fails("forbidden", db.write(quickreplies.update, seed["ana"], shared["id"], None, "9-17"))
    await fails("forbidden", db.write(quickreplies.delete, seed["ana"], shared["id"]))
    await fails("not_found", db.write(quickreplies.update, seed["bia"], mine["id"], None, "mine now"))
    await fails("not_found", db.write(quickreplies.delete, seed["olga"], shared["id"]))
    assert (await db.write(quickreplies.update, seed["adam"], shared["id"], None, "9-17"))["body"] == "9-17"
    assert (await db.write(quickreplies.update, seed["ana"], mine["id"], "valeu", None))["shortcut"] == "valeu"
    # bia's personal /hours does not clash with the tenant's /hours; a second one of hers does
    await db.write(quickreplies.create, seed["bia"], "hours", "my hours", True)
    await fails("conflict", db.write(quickreplies.create, seed["bia"], "hours", "again", True))
    await fails("conflict", db.write(quickreplies.create, seed["adam"], "HOURS", "again", False))


@pytest.mark.parametrize("shortcut, body", [("", "x"), ("two words", "x"), ("a" * 41, "x"), ("ok", "  ")])
async def test_bad_quick_replies(db, seed, shortcut, body):
    await fails("invalid", db.write(quickreplies.create, seed["ana"], shortcut, body, True))


async def test_listing_puts_personal_first_and_filters_fuzzily(db, seed):
    await db.write(quickreplies.create, seed["sue"], "obrigado", "Obrigado pelo contato", False)
    await db.write(quickreplies.create, seed["ana"], "oi", "Olá!", True)
    await db.write(quickreplies.create, seed["bia"], "bia-only", "Bia's", True)
    assert [r["shortcut"] for r in await quickreplies.list_replies(db, seed["ana"], None)] == ["oi", "obrigado"]
    assert [r["shortcut"] for r in await quickreplies.list_replies(db, seed["ana"], "/ob")] == ["obrigado"]
    assert [r["shortcut"] for r in await quickreplies.list_replies(db, seed["ana"], "contato")] == ["obrigado"]
    assert await quickreplies.list_replies(db, seed["olga"], None) == []

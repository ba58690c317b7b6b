"""Contact import (zingd/services/contact_import.py parses, contacts.import_rows writes):
valid and invalid rows, duplicates in one file, merging into existing contacts, dry run,
skip_invalid; phone number normalization, with properties; and one contact per person: a LID
placeholder folded into the person when WhatsApp maps it (zingd/store/contacts.py learn/fold)."""

from __future__ import annotations

import functools
import math
import sqlite3

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.services.support import props
from zingd.channels.base import InboundMessage
from zingd.errors import Conflict, Invalid
from zingd.services import admin, contact_import, contacts, tickets
from zingd.services.contact_import import MAX_ROWS, Parsed, normalize_number, parse_csv, parse_vcard
from zingd.services.inbound import ingest, learn_ids
from zingd.store import contacts as C
from zingd.store.rows import loads

CSV = """Nome,Telefone,Email,Tags,Cidade
Ana Lima,(11) 99999-0001,ana@x.test,vip;2024,São Paulo
Bruno,+55 21 98888-0002,,,
Sem número,,,,
Curto,12345,,,
Ana L.,5511999990001,,"novo, vip",Campinas
"""


async def people(db, tenant: int = 1) -> dict[str, dict]:
    rows = await db.all("SELECT * FROM contacts WHERE tenant_id = ? ORDER BY id", (tenant,))
    return {r["number"]: {**r, "custom_fields": loads(r["custom_fields"])} for r in rows}


async def tags_of(db, number: str) -> list[str]:
    rows = await db.all("SELECT g.name FROM contact_tags ct JOIN tags g ON g.id = ct.tag_id "
                        "JOIN contacts c ON c.id = ct.contact_id WHERE c.number = ? ORDER BY g.name", (number,))
    return [r["name"] for r in rows]


# -- parsing --------------------------------------------------------------------------------------

def test_csv_rows_are_normalized_merged_and_errors_reported_per_row():
    parsed = parse_csv(CSV, "BR")
    assert parsed.total == 5 and parsed.duplicates == 1
    assert parsed.errors == [{"row": 4, "column": "Telefone", "error": "empty number"},
                             {"row": 5, "column": "Telefone", "error": "not a phone number: '12345'"}]
    ana, bruno = parsed.rows
    # the same person twice: later values win, empty ones don't erase, tags are the union
    assert ana == {"number": "5511999990001", "name": "Ana L.", "email": "ana@x.test",
                   "tags": ["2024", "novo", "vip"], "custom_fields": {"cidade": "Campinas"}}
    assert bruno == {"number": "5521988880002", "name": "Bruno", "email": "", "tags": [], "custom_fields": {}}


def test_csv_needs_a_header_with_a_number_column():
    with pytest.raises(Invalid, match="no header row"):
        parse_csv("", "BR")
    with pytest.raises(Invalid, match="no number column") as e:
        parse_csv("name,email\nAna,a@x\n", "BR")
    assert e.value.kind == "invalid"


def test_a_row_with_more_cells_than_headers_is_an_error():
    parsed = parse_csv("phone,name\n11999990001,Ana,extra\n11999990002,Bia\n", "BR")
    assert parsed.errors == [{"row": 2, "column": None, "error": "more cells than header columns"}]
    assert [r["number"] for r in parsed.rows] == ["5511999990002"] and parsed.total == 2


def test_local_numbers_are_read_in_the_tenants_region():
    assert parse_csv("phone\n912 345 678\n", "PT").rows[0]["number"] == "351912345678"
    assert parse_csv("phone\n912 345 678\n", "BR").errors[0]["row"] == 2


def test_vcards():
    text = ("BEGIN:VCARD\nVERSION:3.0\nFN:Ana Lima\nTEL;TYPE=CELL:+55 11 99999-0001\nTEL:+55 11 3333-4444\n"
            "EMAIL:ana@x.test\nEND:VCARD\nBEGIN:VCARD\nFN:No phone\nEND:VCARD\n"
            "BEGIN:VCARD\nFN:Bad\nTEL:123\nEND:VCARD\n")
    parsed = parse_vcard(text, "BR")
    assert parsed.rows == [{"number": "5511999990001", "name": "Ana Lima", "email": "ana@x.test", "tags": [],
                            "custom_fields": {}}]  # the first TEL is the number
    assert parsed.errors == [{"row": 8, "column": "TEL", "error": "vCard without TEL"},
                             {"row": 11, "column": "TEL", "error": "not a phone number: '123'"}]
    with pytest.raises(Invalid, match="no vCards"):
        parse_vcard("FN:Ana\n", "BR")


def test_merging_duplicates_in_a_file_is_a_lookup_not_a_scan(monkeypatch):
    """A row is merged with an earlier one of the same number found by key, not by comparing it
    with every row so far (quadratic: 20k rows took 9 s). Counted, not timed."""
    comparisons = 0

    class Number(str):
        __hash__ = str.__hash__

        def __eq__(self, other):
            nonlocal comparisons
            comparisons += 1
            return str.__eq__(self, other)

    monkeypatch.setattr(contact_import, "normalize_number", lambda raw, region: Number(raw))
    parsed = Parsed()
    for n in range(2000):
        parsed.add(n, "phone", f"55119{n % 1000:08d}", "", "", [], {}, "BR")
    assert (len(parsed.rows), parsed.duplicates) == (1000, 1000)
    assert comparisons <= 2000  # a scan makes ~1.5 million


# -- importing ------------------------------------------------------------------------------------

async def test_import_with_invalid_rows_imports_nothing(db, seed):
    parsed = parse_csv(CSV, "BR")
    with pytest.raises(Invalid, match="2 invalid row") as e:
        await db.write(contacts.import_rows, seed["adam"], parsed, False, False)
    assert e.value.kind == "invalid"
    report = e.value.details["report"]
    assert (report["rows"], report["valid"], report["to_create"], report["imported"]) == (5, 3, 2, False)
    assert [r["row"] for r in report["invalid"]] == [4, 5]
    assert await people(db) == {}
    assert await db.value("SELECT count(*) FROM tags") == 0


async def test_skip_invalid_imports_the_valid_rows(db, seed):
    report = await db.write(contacts.import_rows, seed["adam"], parse_csv(CSV, "BR"), False, True)
    assert report == {"rows": 5, "valid": 3, "invalid": parse_csv(CSV, "BR").errors, "merged_in_file": 1,
                      "to_create": 2, "to_update": 0, "dry_run": False, "imported": True}
    found = await people(db)
    assert set(found) == {"5511999990001", "5521988880002"}
    ana = found["5511999990001"]
    assert (ana["name"], ana["email"], ana["custom_fields"]) == ("Ana L.", "ana@x.test", {"cidade": "Campinas"})
    assert await tags_of(db, "5511999990001") == ["2024", "novo", "vip"]
    # a WhatsApp address maps to the new contact, so the customer's first message finds it
    assert await db.value("SELECT contact_id FROM contact_ids WHERE jid = '5511999990001@s.whatsapp.net'") == ana["id"]
    audit = loads(await db.value("SELECT data FROM audit_log WHERE action = 'contact.import'"))
    assert audit == {"created": 2, "updated": 0, "skipped": 2}


async def test_dry_run_reports_what_the_import_would_do(db, seed):
    parsed = parse_csv(CSV, "BR")
    dry = await db.write(contacts.import_rows, seed["adam"], parsed, True, False)
    real = await db.write(contacts.import_rows, seed["adam"], parse_csv(CSV, "BR"), False, True)
    assert {**dry, "dry_run": False, "imported": True} == real
    assert dry["dry_run"] is True and dry["imported"] is False


async def test_a_dry_run_writes_nothing(db, seed):
    await db.write(contacts.import_rows, seed["adam"], parse_csv(CSV, "BR"), True, False)
    assert await people(db) == {}
    assert await db.value("SELECT count(*) FROM audit_log WHERE action = 'contact.import'") == 0
    # and the database's own dry run of the real import keeps nothing either
    report = await db.dry_run(contacts.import_rows, seed["adam"], parse_csv(CSV, "BR"), False, True)
    assert report["imported"] is True
    assert await people(db) == {} and await db.value("SELECT count(*) FROM tags") == 0


async def test_import_merges_into_existing_contacts(db, seed, customers):
    # a new tag is created on first use by a supervisor (an agent's must exist)
    await db.write(contacts.create, seed["sue"], {"number": "5511999990001", "name": "Ana Antiga",
                                                  "email": "old@x.test", "custom_fields": {"plano": "ouro"},
                                                  "tags": ["cliente"]})
    await customers.say("5521988880002", "oi", push_name="Bruno WA")  # known only from WhatsApp
    parsed = parse_csv("phone,name,email,plano,cidade\n11999990001,,,,Santos\n21988880002,Bruno Reis,,prata,\n",
                       "BR")
    report = await db.write(contacts.import_rows, seed["adam"], parsed, False, False)
    assert (report["to_create"], report["to_update"]) == (0, 2)
    found = await people(db)
    ana, bruno = found["5511999990001"], found["5521988880002"]
    assert (ana["name"], ana["email"]) == ("Ana Antiga", "old@x.test")  # empty cells keep what was there
    assert ana["custom_fields"] == {"plano": "ouro", "cidade": "Santos"}
    assert await tags_of(db, "5511999990001") == ["cliente"]
    assert (bruno["name"], bruno["push_name"], bruno["custom_fields"]) == ("Bruno Reis", "Bruno WA", {"plano": "prata"})
    assert len(found) == 2


async def test_import_never_merges_into_another_tenants_contact(db, seed):
    await db.write(contacts.create, seed["olga"], {"number": "5511999990001", "name": "Globex's"})
    report = await db.write(contacts.import_rows, seed["adam"], parse_csv("phone\n11999990001\n", "BR"), False, False)
    assert (report["to_create"], report["to_update"]) == (1, 0)
    assert (await people(db, seed.other_tenant))["5511999990001"]["name"] == "Globex's"
    assert "5511999990001" in await people(db, seed.tenant)


async def test_the_tenants_region_setting(db, seed):
    assert await contacts.tenant_region(db, seed.tenant) == "BR"
    await db.write(admin.tenant_settings, seed["adam"], {"region": "PT"})
    assert await contacts.tenant_region(db, seed.tenant) == "PT"


async def test_create_refuses_a_number_that_exists(db, seed):
    await db.write(contacts.create, seed["ana"], {"number": "5511999990001"})
    with pytest.raises(Conflict) as e:
        await db.write(contacts.create, seed["bia"], {"number": "5511999990001"})
    assert e.value.kind == "conflict" and e.value.details == {"field": "number"}
    assert await db.value("SELECT count(*) FROM contacts WHERE number = '5511999990001'") == 1


async def test_merge_folds_one_contact_into_another(db, seed, customers):
    await customers.say("5511999990008", "from my other phone", push_name="Zé")  # known from WhatsApp only
    other = await db.one("SELECT * FROM contacts WHERE number = '5511999990008'")
    target = await db.write(contacts.create, seed["ana"], {"number": "5511999990009", "name": "Real Name"})
    merged = await db.write(contacts.merge, seed["sue"], other["id"], target["id"])
    assert merged["id"] == target["id"] and merged["name"] == "Real Name"
    assert await db.value("SELECT count(*) FROM contacts WHERE id = ?", (other["id"],)) == 0
    assert await db.value("SELECT count(*) FROM tickets WHERE contact_id = ?", (target["id"],)) == 1
    jid = "5511999990008@s.whatsapp.net"
    assert await db.value("SELECT contact_id FROM contact_ids WHERE jid = ?", (jid,)) == target["id"]
    with pytest.raises(Invalid):
        await db.write(contacts.merge, seed["sue"], target["id"], target["id"])


async def test_a_large_import_fits_in_sqlite_default_limits(db, seed):
    default_limit = 32766

    def as_stock_sqlite(tx):
        if tx.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) > default_limit:
            tx.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, default_limit)

    await db.write(as_stock_sqlite)
    assert default_limit < MAX_ROWS
    parsed = Parsed(rows=[{"number": f"55119{n:08d}", "name": "", "email": "", "tags": [], "custom_fields": {}}
                          for n in range(default_limit)], total=default_limit)
    report = await db.write(contacts.import_rows, seed["adam"], parsed, True, False)
    assert report["to_create"] == default_limit


# -- normalization --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["(11) 99999-0001", "11 99999 0001", "011 99999 0001", "+55 11 99999-0001",
                                 "+55 (11) 9 9999-0001", "5511999990001", "0055 11 99999-0001", "  5511999990001 ",
                                 "\uff11\uff11999990001"])
def test_the_ways_people_write_a_brazilian_mobile(raw):
    assert normalize_number(raw, "BR") == "5511999990001"


@pytest.mark.parametrize("raw", ["", "   ", "12345", "99999-0001", "abc", "+", "+999 1234", "5511"])
def test_not_numbers(raw):
    with pytest.raises(Invalid) as e:
        normalize_number(raw, "BR")
    assert e.value.kind == "invalid"


REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if r != "001")
TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
FORMATS = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@st.composite
def numbers(draw, regions=REGIONS):
    """A valid number of some region: its example number with the last digits changed when that
    stays valid."""
    region = draw(st.sampled_from(regions))
    example_ = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    if example_ is None:
        example_ = phonenumbers.example_number(region)
    national = str(example_.national_number)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    candidate = phonenumbers.parse(f"+{example_.country_code}{national[:-3]}{tail}")
    return region, candidate if phonenumbers.is_valid_number(candidate) else example_


def e164(number) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


@props(60)
@given(numbers(), st.sampled_from(FORMATS), st.sampled_from(["BR", "PT", "US", "DE"]))
def test_any_written_international_number_normalizes_to_its_e164_digits(case, fmt, tenant_region):
    _, number = case
    written = phonenumbers.format_number(number, fmt)
    out = normalize_number(written, tenant_region)
    assert out == e164(number)
    assert out.isdigit() and len(out) <= 15
    assert normalize_number("+" + out, tenant_region) == out  # with its '+', the output is a fixed point
    assert normalize_number("00" + out, tenant_region) == out


@props(60)
@given(numbers(["BR"]), st.sampled_from([*FORMATS, phonenumbers.PhoneNumberFormat.NATIONAL]))
def test_normalizing_a_number_of_the_tenants_region_is_idempotent(case, fmt):
    _, number = case
    once = normalize_number(phonenumbers.format_number(number, fmt), "BR")
    assert normalize_number(once, "BR") == once == e164(number)


@props(30)
@given(numbers(), st.sampled_from(FORMATS))
@example(("RU", phonenumbers.parse("+7 495 123-45-67")), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
@example(("DE", phonenumbers.parse("+49 30 123456")), phonenumbers.PhoneNumberFormat.E164)
def test_normalizing_is_idempotent_once_written_as_e164(case, fmt):
    """Bare digits are read in the tenant's region first (Brazilians type numbers without 55), so
    the round trip of any number is through its E.164 form; zing's own bare-digit output is
    matched to the contact it is (test_reimporting_an_export_merges_foreign_contacts)."""
    _, number = case
    once = normalize_number(phonenumbers.format_number(number, fmt), "BR")
    assert normalize_number("+" + once, "BR") == once == e164(number)


def test_bare_digits_are_read_in_the_tenants_region_first():
    assert normalize_number("74951234567", "BR") == "5574951234567"   # (74) 95123-4567, Bahia
    assert normalize_number("+74951234567", "BR") == "74951234567"    # Moscow, written as such


async def test_reimporting_an_export_merges_foreign_contacts(db, seed):
    await db.write(contacts.create, seed["ana"], {"number": normalize_number("+7 495 123-45-67", "BR"),
                                                  "name": "Ivan"})
    exported = await contacts.export(db, seed["adam"])
    text = "number,name\n" + "".join(f"{c['number']},{c['name']}\n" for c in exported)
    report = await db.write(contacts.import_rows, seed["adam"], parse_csv(text, "BR"), False, False)
    assert (report["to_create"], report["to_update"]) == (0, 1)


async def test_a_number_passed_back_as_stored_is_that_contact(db, seed):
    """message.send_to and contact.create: digits that are a contact's number are that contact."""
    tenant = seed["adam"].tenant_id
    assert await contacts.resolve_number(db, tenant, "74951234567") == "5574951234567"
    await db.write(contacts.create, seed["ana"], {"number": "74951234567", "name": "Ivan"})
    assert await contacts.resolve_number(db, tenant, "74951234567") == "74951234567"
    assert await contacts.resolve_number(db, tenant, "(74) 95123-4567") == "5574951234567"


@props(100)
@given(st.text(max_size=40) | st.from_regex(r"\A[+0(]?[\d \-().]{0,25}\Z"), st.sampled_from(["BR", "US", "ZZ", ""]))
def test_garbage_is_invalid_or_digits(raw, region):
    try:
        out = normalize_number(raw, region)
    except Invalid as e:
        assert e.message
        return
    assert out.isdigit() and 2 < len(out) <= 15


# -- one contact per person: a LID placeholder merges when WhatsApp maps it ---------------------

PHONE, LID = "5511933330001", "987654321012345"
PHONE_JID, LID_JID = f"{PHONE}@s.whatsapp.net", f"{LID}@lid"


class Writes:
    """One customer's messages by phone, by LID alone, or with the mapping (chat + SenderAlt)."""

    def __init__(self, db, seed) -> None:
        self.db, self.seed, self.n = db, seed, 0

    async def say(self, chat: str, alt: str = "", body: str = "hi", connection: int | None = None) -> dict:
        self.n += 1
        msg = InboundMessage(wa_id=f"LIDTEST{self.n:04d}", chat=chat, sender=chat, ts=self.db.clock(), body=body,
                             push_name="Zé", sender_alt=alt)
        live = functools.partial(ingest, reopen_window_s=0.0, backlog_age_s=math.inf)
        return await self.db.write(live, self.seed.tenant, connection or self.seed.connection, msg)


@pytest.fixture
def writes(db, seed) -> Writes:
    return Writes(db, seed)


async def contacts_of(db) -> list[dict]:
    return await db.all("SELECT id, number FROM contacts WHERE tenant_id = 1 ORDER BY id")


async def active_tickets(db) -> list[dict]:
    return await db.all("SELECT id, contact_id, connection_id FROM tickets WHERE status != 'closed' ORDER BY id")


async def test_a_lid_placeholder_never_merged_before(db, seed, writes):
    """The defect, reproduced: phone first, then the LID alone, then both: one contact, one ticket."""
    await writes.say(PHONE_JID, body="from my phone")
    await writes.say(LID_JID, body="from my hidden id")
    assert [c["number"] for c in await contacts_of(db)] == [PHONE, f"{LID}@lid"]  # unknown yet: a placeholder
    await writes.say(LID_JID, PHONE_JID, body="now WhatsApp says who I am")
    assert [c["number"] for c in await contacts_of(db)] == [PHONE]
    [t] = await active_tickets(db)
    bodies = await db.all("SELECT body, contact_id FROM messages WHERE ticket_id = ? AND direction = 'in' "
                          "ORDER BY id", (t["id"],))
    assert [m["body"] for m in bodies] == ["from my phone", "from my hidden id", "now WhatsApp says who I am"]
    assert {m["contact_id"] for m in bodies} == {t["contact_id"]}


async def test_the_placeholder_folds_in_with_its_tags_fields_and_ticket(db, seed, writes, heard):
    await writes.say(PHONE_JID, body="from my phone")
    real = await db.one("SELECT * FROM contacts WHERE number = ?", (PHONE,))
    await writes.say(LID_JID, body="from my hidden id")
    ghost = await db.one("SELECT * FROM contacts WHERE number = ?", (f"{LID}@lid",))
    await db.write(contacts.update, seed["ana"], ghost["id"], {"custom_fields": {"plan": "gold"}})
    await db.write(contacts.update, seed["ana"], real["id"], {"custom_fields": {"city": "SP"}})
    await db.write(contacts.set_contact_tags, seed["sue"], ghost["id"], ["vip"])
    older, newer = await db.all("SELECT * FROM tickets ORDER BY id")
    heard.clear()
    await writes.say(LID_JID, PHONE_JID, body="mapped")

    merged = await db.one("SELECT * FROM contacts WHERE id = ?", (real["id"],))
    assert loads(merged["custom_fields"]) == {"city": "SP", "plan": "gold"}
    assert await tags_of(db, PHONE) == ["vip"]
    ids = await db.all("SELECT jid FROM contact_ids WHERE contact_id = ? ORDER BY jid", (real["id"],))
    assert [r["jid"] for r in ids] == [PHONE_JID, LID_JID]
    # the pair became the older ticket; the other is closed, both logs say so
    kept, closed = await db.all("SELECT * FROM tickets ORDER BY id")
    assert (kept["id"], kept["status"], kept["contact_id"]) == (older["id"], older["status"], real["id"])
    assert (closed["id"], closed["status"], closed["contact_id"]) == (newer["id"], "closed", real["id"])
    assert await db.value("SELECT count(*) FROM messages WHERE ticket_id = ?", (closed["id"],)) == 0
    logs = await db.all("SELECT ticket_id, data FROM ticket_log WHERE action = 'merged' ORDER BY id")
    assert [(r["ticket_id"], loads(r["data"])) for r in logs] == [
        (newer["id"], {"into": older["id"]}), (older["id"], {"ticket_id": newer["id"]})]
    [record] = await db.all("SELECT * FROM contact_merges")
    assert (record["contact_id"], record["merged_id"], record["merged_number"], record["user_id"]) == (
        real["id"], ghost["id"], f"{LID}@lid", None)
    assert record["reason"] == f"WhatsApp said LID {LID} is +{PHONE}"
    # subscribers: the placeholder is gone, both tickets redrawn, then the message lands in the kept one
    assert [e.data["merged"] for e in heard.of("contact.updated")] == [ghost["id"]]
    assert {e.data["ticket"]["id"]: e.data["ticket"]["status"] for e in heard.of("ticket.updated")}[
        newer["id"]] == "closed"
    assert heard.of("message.created")[0].data["ticket"]["id"] == older["id"]
    audit = await db.one("SELECT * FROM audit_log WHERE action = 'contact.merge'")
    assert audit["tenant_id"] == seed.tenant and audit["user_id"] is None


async def test_an_older_placeholder_ticket_is_the_one_kept(db, seed, writes, heard):
    """The LID wrote first: its ticket is the older, so it goes on under the real contact."""
    await writes.say(LID_JID, body="hidden first")
    await writes.say(PHONE_JID, body="then by phone")
    first, second = await db.all("SELECT id FROM tickets ORDER BY id")
    real = await db.value("SELECT id FROM contacts WHERE number = ?", (PHONE,))
    heard.clear()
    await writes.say(PHONE_JID, LID_JID, body="mapped, the other way round")  # a phone chat's SenderAlt is the LID
    assert await active_tickets(db) == [{"id": first["id"], "contact_id": real, "connection_id": seed.connection}]
    redrawn = {e.data["ticket"]["id"]: e.data for e in heard.of("ticket.updated")}
    assert redrawn[second["id"]]["ticket"]["status"] == "closed"
    assert redrawn[second["id"]]["merged_into"] == first["id"]
    assert redrawn[first["id"]]["ticket"]["contact_id"] == real
    bodies = await db.all("SELECT body FROM messages WHERE ticket_id = ? AND direction = 'in' ORDER BY id",
                          (first["id"],))
    assert [m["body"] for m in bodies] == ["hidden first", "then by phone", "mapped, the other way round"]


async def test_the_agent_of_the_joined_ticket_stays_on_it(db, seed, writes):
    await writes.say(PHONE_JID, body="by phone, still pending")
    await writes.say(LID_JID, body="by LID")
    _, ghost_ticket = await db.all("SELECT id FROM tickets ORDER BY id")
    await db.write(tickets.accept, seed["ana"], ghost_ticket["id"])
    await writes.say(LID_JID, PHONE_JID, body="mapped")
    [t] = await db.all("SELECT * FROM tickets WHERE status != 'closed'")
    assert (t["status"], t["user_id"]) == ("open", seed.users["ana"])


async def test_tickets_on_different_numbers_both_follow(db, seed, writes):
    second = await db.write(lambda tx: tx.insert("connections", {
        "tenant_id": seed.tenant, "name": "Second", "kind": "sim", "created_at": tx.now, "updated_at": tx.now}))
    await writes.say(PHONE_JID, body="to Main")
    await writes.say(LID_JID, body="to Second", connection=second)
    await writes.say(LID_JID, PHONE_JID, body="mapped, on Second", connection=second)
    real = await db.value("SELECT id FROM contacts WHERE number = ?", (PHONE,))
    assert await active_tickets(db) == [{"id": 1, "contact_id": real, "connection_id": seed.connection},
                                        {"id": 2, "contact_id": real, "connection_id": second}]
    assert await db.value("SELECT tickets_joined FROM contact_merges") == "[]"


async def test_a_placeholder_whose_phone_is_new_just_gets_the_number(db, seed, writes, heard):
    await writes.say(LID_JID, body="hidden")
    [ghost] = await contacts_of(db)
    heard.clear()
    await writes.say(LID_JID, PHONE_JID, body="mapped")
    assert await contacts_of(db) == [{"id": ghost["id"], "number": PHONE}]
    ids = await db.all("SELECT jid FROM contact_ids ORDER BY jid")
    assert [r["jid"] for r in ids] == [PHONE_JID, LID_JID]
    assert await db.value("SELECT count(*) FROM contact_merges") == 0
    assert heard.of("contact.updated")[0].data["contact"]["number"] == PHONE
    assert heard.of("ticket.updated")[0].data["ticket"]["contact_number"] == PHONE
    assert len(await active_tickets(db)) == 1


async def test_learning_a_mapping_again_changes_nothing(db, seed, writes, heard):
    await writes.say(PHONE_JID)
    await writes.say(LID_JID)
    await writes.say(LID_JID, PHONE_JID)
    heard.clear()
    for chat, alt in ((LID_JID, PHONE_JID), (PHONE_JID, LID_JID), (LID_JID, PHONE_JID)):
        await writes.say(chat, alt, body="again")
    assert len(await contacts_of(db)) == 1 and len(await active_tickets(db)) == 1
    assert await db.value("SELECT count(*) FROM contact_merges") == 1
    assert heard.of("contact.updated") == []


async def test_a_lid_on_a_contact_with_a_number_is_never_folded_by_itself(db, seed, writes):
    """WhatsApp names another phone for a LID already on a real contact: a number change or a
    mistake, not a placeholder; nothing merges (a person can, with contact.merge)."""
    await writes.say(LID_JID, PHONE_JID, body="I am 0001")
    await writes.say("5511933330002@s.whatsapp.net", body="I am 0002")
    await writes.say(LID_JID, "5511933330002@s.whatsapp.net", body="now the LID says 0002")
    assert [c["number"] for c in await contacts_of(db)] == [PHONE, "5511933330002"]
    assert await db.value("SELECT count(*) FROM contact_merges") == 0


async def test_a_manual_merge_is_recorded_and_refuses_two_active_tickets(db, seed, writes):
    await writes.say("5511999990008@s.whatsapp.net", body="one")
    await writes.say("5511999990009@s.whatsapp.net", body="two")
    a, b = await db.all("SELECT * FROM contacts ORDER BY id")
    with pytest.raises(Conflict, match="close one first"):
        await db.write(contacts.merge, seed["sue"], a["id"], b["id"])
    await db.write(lambda tx: tx.execute("UPDATE tickets SET status = 'closed' WHERE contact_id = ?", (a["id"],)))
    await db.write(contacts.merge, seed["sue"], a["id"], b["id"])
    record = await db.one("SELECT * FROM contact_merges")
    assert (record["contact_id"], record["merged_id"], record["user_id"], record["reason"]) == (
        b["id"], a["id"], seed.users["sue"], "")


async def test_owner_notes_schedules_and_campaigns_follow_the_placeholder(db, seed, writes):
    await writes.say(PHONE_JID, body="by phone")
    await writes.say(LID_JID, body="by LID")
    real, ghost = await contacts_of(db)
    older, newer = await db.all("SELECT id FROM tickets ORDER BY id")
    await db.write(contacts.update, seed["sue"], ghost["id"], {"owner_user_id": seed.users["bia"], "opted_out": True})

    def extras(tx):
        campaign = tx.insert("campaigns", {"tenant_id": seed.tenant, "name": "Promo", "created_at": tx.now,
                                           "updated_at": tx.now})
        for contact, state in ((real["id"], "sent"), (ghost["id"], "pending")):
            tx.insert("campaign_recipients", {"campaign_id": campaign, "contact_id": contact, "state": state,
                                              "updated_at": tx.now})
        tx.insert("notes", {"tenant_id": seed.tenant, "ticket_id": newer["id"], "user_id": seed.users["ana"],
                            "body": "asked by LID", "created_at": tx.now})
        tx.insert("schedules", {"tenant_id": seed.tenant, "contact_id": ghost["id"], "ticket_id": newer["id"],
                                "body": "follow up", "run_at": tx.now + 3600, "created_at": tx.now,
                                "updated_at": tx.now})
    await db.write(extras)
    await writes.say(LID_JID, PHONE_JID, body="mapped")

    contact = await db.one("SELECT owner_user_id, opted_out FROM contacts WHERE id = ?", (real["id"],))
    assert contact == {"owner_user_id": seed.users["bia"], "opted_out": 1}  # the customer's opt-out stands
    assert await db.all("SELECT contact_id, state FROM campaign_recipients") == [
        {"contact_id": real["id"], "state": "sent"}]  # reached twice: the real contact's row is kept
    assert await db.value("SELECT ticket_id FROM notes") == older["id"]
    assert await db.one("SELECT contact_id, ticket_id FROM schedules") == {"contact_id": real["id"],
                                                                          "ticket_id": older["id"]}


async def test_a_mapping_learned_without_a_message_points_the_lid_at_the_person(db, seed, writes):
    """A history sync or a lookup tells zing a LID before it ever writes: no placeholder is made later."""
    await writes.say(PHONE_JID)
    await db.write(C.learn, seed.tenant, PHONE_JID, LID_JID)
    await writes.say(LID_JID, body="first time by LID, no SenderAlt")
    assert [c["number"] for c in await contacts_of(db)] == [PHONE]
    assert len(await active_tickets(db)) == 1


# -- one contact per person: a number typed one way, known to WhatsApp another (the ninth digit) ----

TYPED_JID, ACCOUNT_JID = "5511987654321@s.whatsapp.net", "551187654321@s.whatsapp.net"


async def test_replies_from_the_account_whatsapp_names_reach_the_typed_contact(db, seed, writes):
    await db.write(contacts.create, seed["ana"], {"number": "5511987654321", "name": "Dona Maria"})
    await db.write(learn_ids, seed.tenant, [(TYPED_JID, ACCOUNT_JID)])
    await writes.say(ACCOUNT_JID, body="oi, recebi sua mensagem")
    [maria] = await contacts_of(db)
    assert maria["number"] == "5511987654321"
    [t] = await active_tickets(db)
    assert t["contact_id"] == maria["id"]


async def test_a_contact_the_account_made_first_absorbs_the_typed_one(db, seed, writes):
    await writes.say(ACCOUNT_JID, body="written before anyone typed her number")
    typed = await db.write(contacts.create, seed["ana"], {"number": "5511987654321", "name": "Dona Maria"})
    await db.write(learn_ids, seed.tenant, [(TYPED_JID, ACCOUNT_JID)])
    [kept] = await contacts_of(db)
    assert kept["number"] == "551187654321"
    merge = await db.one("SELECT * FROM contact_merges WHERE merged_id = ?", (typed["id"],))
    assert merge["reason"] == "WhatsApp said +5511987654321 is +551187654321" and merge["user_id"] is None
    await db.write(learn_ids, seed.tenant, [(TYPED_JID, ACCOUNT_JID)])  # told again (a restart): nothing more
    assert len(await contacts_of(db)) == 1


async def test_a_joined_ticket_previews_the_customers_latest_words(db, seed, writes):
    """The pending list shows last_inbound: after a fold it is the newer ticket's, not the kept one's."""
    await writes.say(PHONE_JID, body="from my phone")
    await writes.say(LID_JID, body="from my hidden id, later")
    await db.write(C.learn, seed.tenant, PHONE_JID, LID_JID)  # a history sync maps them: no new message
    [t] = await active_tickets(db)
    assert await db.value("SELECT last_inbound FROM tickets WHERE id = ?", (t["id"],)) == "from my hidden id, later"

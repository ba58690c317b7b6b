"""What an agent may touch, method by method (``AGENT_SCOPE`` in zingd/services/permissions.py),
through the real socket.

One company: agent Ana (queue Sales), her colleague Bia (Sales and Support), admin Ada, supervisor
Sue; another tenant, Bravo. As Ana, every method that takes an object id is called with the ids of
what isn't hers: Bia's open and closed tickets, Ada's ticket, a ticket pending in Support (a queue
Ana isn't in), Bia's and Ada's schedules, messages, quick replies, tokens and subscriptions, and
Bravo's. Each answer must be exactly the answer for an id that never existed (so it carries no
name, status or text), and the database must be unchanged after it. Then the rules beyond
visibility (writing to a customer in a colleague's conversation, opt-out, wallet owner, tags), and
what Ana may still do: her own ticket, pending ones of her queue, her own schedules.

A method an agent may call without a row in AGENT_SCOPE, or a row without one in WALK here, fails.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers import Zingd, bootstrap
from tests.integration.support import Raw, assert_serves, db_ro, settle
from zingd.services.permissions import AGENT_SCOPE, ALIASES

PASSWORD = "password-123"
MISSING = 987654  # an id nothing has
NAMES = ("Ana Quintela", "Bia Zorzal", "Ada Pereira", "Sue Marlow", "Bob Bravo")
# Text only the objects Ana can't see carry: none may reach her.
HIDDEN = ("bia-secret-4411", "support-secret-5522", "admin-secret-6633", "bia-closed-secret-7744",
          "bia-reply-secret", "bia-schedule-secret", "admin-schedule-secret", "bia-qr-secret",
          "admin-second-secret", "b-secret-8855", "b-schedule-secret", "b-knowledge-secret")
STATUS = re.compile(r"\b(open|pending|closed)\b", re.I)
DENY = ("not_found", "forbidden")


class Slot(str):
    """Where an object id goes in a probe's params."""


class Own(str):
    """An id of the caller's own (an attribute of the world) in a probe's params."""


TICKET, CONTACT, SCHEDULE, MESSAGE = Slot("ticket"), Slot("contact"), Slot("schedule"), Slot("message")
USER, CONNECTION, QUICKREPLY, TOKEN = Slot("user"), Slot("connection"), Slot("quickreply"), Slot("token")
SUBSCRIPTION, COLLEAGUE, UPLOAD = Slot("subscription"), Slot("colleague"), Slot("upload")
KNOWLEDGE = Slot("knowledge")
LATER = time.time() + 30 * 86400

# Per method: the probes to walk with every foreign id of their slot, or why there is none to walk.
WALK: dict[str, list[dict[str, Any]] | str] = {
    "auth.whoami": "no object ids: the caller's session",
    "auth.logout": "no object ids: the caller's session",
    "daemon.status": "no object ids",
    "user.get": [{"id": USER}],
    "user.set_status": "no object ids: the caller",
    "user.directory": "no object ids",
    "user.update_me": "no object ids: the caller",
    "connection.list": "no object ids",
    "connection.get": [{"id": CONNECTION}],
    "queue.list": "no object ids",
    "tag.list": "no object ids",
    "sim.customers": "no object ids",
    "contact.list": "no object ids (another tenant's: test_tenant_isolation)",
    "contact.get": [{"id": CONTACT}],
    "contact.update": [{"id": CONTACT, "name": "pwned"}],
    "contact.create": "no object ids; its tags: test_agents_attach_only_existing_tags",
    "contact.set_tags": [{"id": CONTACT, "tags": ["vip"]}],
    "ticket.list": [{"contact_id": CONTACT}, {"user_id": COLLEAGUE}],
    "ticket.get": [{"id": TICKET}],
    "ticket.history": [{"id": TICKET}],
    "ticket.accept": [{"id": TICKET}],
    "ticket.transfer": [{"id": TICKET, "user_id": Own("ana")}],
    "ticket.close": [{"id": TICKET}],
    "ticket.reopen": [{"id": TICKET}],
    "ticket.set_tags": [{"id": TICKET, "tags": ["vip"]}],
    "note.create": [{"ticket_id": TICKET, "body": "intrusion"}],
    "note.list": [{"ticket_id": TICKET}],
    "message.list": [{"ticket_id": TICKET}, {"contact_id": CONTACT}],
    "message.search": [{"query": "secret", "ticket_id": TICKET}],
    "message.send": [{"ticket_id": TICKET, "body": "intrusion"}],
    "message.retry": [{"id": MESSAGE}],
    "message.read": [{"ticket_id": TICKET}],
    "message.typing": [{"ticket_id": TICKET, "composing": True}],
    "media.upload": [{"upload_id": UPLOAD, "data": "aW50cnVzaW9u"}],
    "media.discard": [{"upload_id": UPLOAD}],
    "media.fetch": [{"message_id": MESSAGE}],
    "message.send_to": "a number, not an id: test_writing_to_a_customer_in_someone_elses_conversation_is_refused",
    "schedule.create": [{"ticket_id": TICKET, "body": "intrusion", "run_at": LATER}],
    "schedule.list": [{"contact_id": CONTACT}],
    "schedule.update": [{"id": SCHEDULE, "body": "pwned"}],
    "schedule.cancel": [{"id": SCHEDULE}],
    "quickreply.list": "no object ids",
    "quickreply.create": "no object ids",
    "quickreply.update": [{"id": QUICKREPLY, "body": "pwned"}],
    "quickreply.delete": [{"id": QUICKREPLY}],
    "token.create": "no object ids",
    "token.list": "no object ids: own tokens (all_users is an admin's)",
    "token.revoke": [{"id": TOKEN}],
    "events.subscribe": "topics are filtered per event, not refused (tests/integration/test_events.py)",
    "events.unsubscribe": [{"subscription": SUBSCRIPTION}],
    "assistant.status": "no object ids: which of the tenant's assistant features are on",
    "copilot.suggest": [{"ticket_id": TICKET}, {"ticket_id": TICKET, "stream": True}],
    "copilot.rewrite": [{"text": "intrusion", "style": "translate", "ticket_id": TICKET},
                        {"text": "intrusion", "style": "shorter", "ticket_id": TICKET}],
    "copilot.summarize": [{"ticket_id": TICKET}, {"ticket_id": TICKET, "note": True}],
    "copilot.tags": [{"ticket_id": TICKET}],
    "knowledge.list": "no object ids: the tenant's entries, read only",
    "knowledge.get": [{"id": KNOWLEDGE}],
    "knowledge.search": "a query, not an id: the tenant's own entries (test_knowledge_search_finds_no_other_tenants)",
    "template.list": "no object ids: the tenant's numbers' templates, read only",
    "message.send_template": [{"ticket_id": TICKET, "template_id": 1, "params": []}],
    "message.react": [{"message_id": MESSAGE, "emoji": "👍"}],
}
WALK.update({old: WALK[new] for old, new in ALIASES.items() if new in WALK})

# What counts as a colleague's, an invisible or another tenant's, per slot (names of World ids).
FOREIGN = {
    TICKET: ("bia_ticket", "bia_closed", "admin_ticket", "support_ticket", "b_ticket"),
    CONTACT: ("b_contact",),
    SCHEDULE: ("bia_schedule", "admin_schedule", "b_schedule"),
    MESSAGE: ("bia_message", "admin_message", "b_message"),
    USER: ("b_admin",),
    COLLEAGUE: ("bia", "admin", "b_admin"),
    CONNECTION: ("b_connection",),
    QUICKREPLY: ("bia_quickreply", "b_quickreply"),
    TOKEN: ("bia_token", "b_token"),
    SUBSCRIPTION: ("bia_subscription",),
    UPLOAD: ("bia_upload", "b_upload"),
    KNOWLEDGE: ("b_knowledge",),
}

# The tables a refused call must leave as they were (the volatile columns of sessions/tokens left out).
FINGERPRINT = ("tickets", "messages", "notes", "schedules", "contacts", "contact_tags", "ticket_tags", "tags",
               "outbox", "ticket_log", "audit_log", "quick_replies", "events", "users", "uploads",
               "assistant_usage", "knowledge_entries", "knowledge_chunks")


# -- the world ------------------------------------------------------------------------------------

class Session(Raw):
    def __init__(self, z: Zingd, token: str) -> None:
        super().__init__(z.socket)
        self.call("auth.token", {"token": token})


def _token(z: Zingd, email: str) -> str:
    with Raw(z.socket) as r:
        return r.call("auth.login", {"email": email, "password": PASSWORD})["token"]


def _ticket_of(admin: Raw, number: str) -> dict[str, Any]:
    [contact] = [c for c in admin.call("contact.list", {"query": number}) if c["number"] == number]
    return admin.call("ticket.list", {"contact_id": contact["id"]})["tickets"][0]


def _customer(admin: Raw, number: str, body: str, **transfer: Any) -> dict[str, Any]:
    """A customer writes in (a pending ticket in the menu); ``transfer`` moves it (to a queue, an agent)."""
    admin.call("sim.say", {"from": number, "body": body, "name": f"Customer {number[-3:]}"})
    t = _ticket_of(admin, number)
    return admin.call("ticket.transfer", {"id": t["id"], **transfer}) if transfer else t


def _build(z: Zingd) -> SimpleNamespace:
    w = SimpleNamespace(z=z)
    with Session(z, bootstrap(z)) as root:
        b_tenant = root.call("tenant.create", {"name": "Bravo"})["id"]
        for email, name, role, tenant in (("ada@acme.test", "Ada Pereira", "admin", None),
                                          ("ana@acme.test", "Ana Quintela", "agent", None),
                                          ("bia@acme.test", "Bia Zorzal", "agent", None),
                                          ("sue@acme.test", "Sue Marlow", "supervisor", None),
                                          ("bob@bravo.test", "Bob Bravo", "admin", b_tenant)):
            params = {"email": email, "password": PASSWORD, "role": role, "name": name}
            user = root.call("user.create", params if tenant is None else {**params, "tenant_id": tenant})
            setattr(w, email.split("@")[0], user["id"])
    w.tokens = {name: _token(z, f"{name}@{'bravo' if name == 'bob' else 'acme'}.test")
                for name in ("ada", "ana", "bia", "sue", "bob")}
    w.admin = w.ada
    with Session(z, w.tokens["ada"]) as ada, Session(z, w.tokens["bia"]) as bia:
        w.connection = ada.call("connection.create", {"name": "Main", "kind": "sim"})["id"]
        w.sales = ada.call("queue.create", {"name": "Sales"})["id"]
        w.support = ada.call("queue.create", {"name": "Support"})["id"]
        ada.call("queue.set_members", {"id": w.sales, "user_ids": [w.ana, w.bia]})
        ada.call("queue.set_members", {"id": w.support, "user_ids": [w.bia]})
        ada.call("tag.create", {"name": "vip"})
        w.own_ticket = _customer(ada, "5511930000001", "ana's customer", user_id=w.ana, queue_id=w.sales)["id"]
        bia_t = _customer(ada, "5511930000003", "bia-secret-4411", user_id=w.bia, queue_id=w.sales)
        w.bia_ticket, w.bia_contact = bia_t["id"], bia_t["contact_id"]
        support = _customer(ada, "5511930000004", "support-secret-5522", queue_id=w.support)
        w.support_ticket, w.support_contact = support["id"], support["contact_id"]
        sent = ada.call("message.send_to", {"number": "+5511930000005", "body": "admin-secret-6633"})
        w.admin_ticket, w.admin_contact, w.admin_message = sent["ticket_id"], sent["contact_id"], sent["id"]
        w.bia_closed = _customer(ada, "5511930000006", "bia-closed-secret-7744", user_id=w.bia)["id"]
        ada.call("ticket.close", {"id": w.bia_closed, "farewell": False})
        w.bia_message = bia.call("message.send", {"ticket_id": w.bia_ticket, "body": "bia-reply-secret"})["id"]
        w.bia_schedule = bia.call("schedule.create", {"ticket_id": w.bia_ticket, "body": "bia-schedule-secret",
                                                      "run_at": LATER})["id"]
        w.admin_schedule = ada.call("schedule.create", {"contact_id": w.admin_contact, "run_at": LATER,
                                                        "body": "admin-schedule-secret"})["id"]
        w.bia_quickreply = bia.call("quickreply.create", {"shortcut": "biaqr", "body": "bia-qr-secret",
                                                          "personal": True})["id"]
        w.bia_token = bia.call("token.create", {"name": "bia-script"})["id"]
        w.bia_upload = bia.call("media.upload", {"name": "bia.txt", "data": "Ymlh"})["upload_id"]
        # Ana's closed ticket, whose customer is now in Ada's conversation
        closed = _customer(ada, "5511930000010", "ana's old customer", user_id=w.ana)
        w.own_closed = closed["id"]
        ada.call("ticket.close", {"id": w.own_closed, "farewell": False})
        ada.call("message.send_to", {"number": "+5511930000010", "body": "admin-second-secret"})
        ada.call("sim.say", {"from": "5511930000007", "body": "SAIR"})
        w.opted_out = [c for c in ada.call("contact.list", {"query": "5511930000007"})][0]["id"]
        w.wallet = ada.call("contact.create", {"number": "+5511930000008", "name": "Wallet Customer"})["id"]
        ada.call("contact.update", {"id": w.wallet, "owner_user_id": w.bia})
    with Session(z, w.tokens["bob"]) as bob:
        w.b_admin = w.bob
        w.b_connection = bob.call("connection.create", {"name": "Bravo line", "kind": "sim"})["id"]
        bob.call("sim.say", {"from": "5521940000001", "body": "b-secret-8855"})
        b_t = _ticket_of(bob, "5521940000001")
        w.b_ticket, w.b_contact = b_t["id"], b_t["contact_id"]
        w.b_message = bob.call("message.send", {"ticket_id": w.b_ticket, "body": "b reply"})["id"]
        w.b_schedule = bob.call("schedule.create", {"contact_id": w.b_contact, "body": "b-schedule-secret",
                                                    "run_at": LATER})["id"]
        w.b_quickreply = bob.call("quickreply.create", {"shortcut": "bqr", "body": "b", "personal": True})["id"]
        w.b_token = bob.call("token.create", {"name": "bob-script"})["id"]
        w.b_upload = bob.call("media.upload", {"name": "bob.txt", "data": "Ym9i"})["upload_id"]
        w.b_knowledge = bob.call("knowledge.add", {"kind": "faq", "title": "Bravo refunds",
                                                   "body": "b-knowledge-secret refunds take 3 days"})["id"]
    w.bia_session = Session(z, w.tokens["bia"])   # stays subscribed: Ana must not end it
    w.bia_subscription = w.bia_session.call("events.subscribe", {"topics": ["tenant"]})["subscription"]
    settle(z)
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    z = Zingd(tmp_path_factory.mktemp("object-rules")).start()
    w = None
    try:
        w = _build(z)
        yield w
    finally:
        if w is not None:
            w.bia_session.close()
        z.kill()


@pytest.fixture
def ana(world):
    with Session(world.z, world.tokens["ana"]) as s:
        yield s


# -- helpers --------------------------------------------------------------------------------------

def fingerprint(z: Zingd) -> dict[str, str]:
    """A hash of every row of the FINGERPRINT tables, and the tokens' revocations (each call marks its
    token used: that column moves)."""
    conn = db_ro(z)
    try:
        out = {t: hashlib.sha256(json.dumps([list(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY rowid")],
                                            default=str).encode()).hexdigest() for t in FINGERPRINT}
        out["tokens"] = repr([tuple(r) for r in conn.execute("SELECT id, revoked_at FROM tokens ORDER BY id")])
        return out
    finally:
        conn.close()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [t for t in before if before[t] != after[t]]


def fill(params: dict[str, Any], ids: dict[Slot, int], w: SimpleNamespace) -> dict[str, Any]:
    return {k: ids[v] if isinstance(v, Slot) else getattr(w, v) if isinstance(v, Own) else v
            for k, v in params.items()}


def answer(rep: dict[str, Any]) -> str:
    """A reply without its JSON-RPC id, as text."""
    return json.dumps(rep.get("error") or {"result": rep.get("result")}, sort_keys=True, ensure_ascii=False)


def leaks(text: str) -> list[str]:
    """Names, hidden text and status words in an answer."""
    found = [m for m in HIDDEN + NAMES if m.lower() in text.lower()]
    return found + [f"status word {m.group(0)!r}" for m in STATUS.finditer(text)]


def refused(rep: dict[str, Any], kind: str) -> str:
    assert "error" in rep, f"expected {kind}, but it SUCCEEDED: {json.dumps(rep['result'])[:300]}"
    assert rep["error"]["data"]["kind"] == kind, rep["error"]
    text = answer(rep)
    assert not leaks(text), f"the refusal tells of what the caller can't see ({leaks(text)}): {text}"
    return rep["error"]["message"]


def is_empty(rep: dict[str, Any]) -> bool:
    if "error" in rep:
        return rep["error"]["data"]["kind"] in DENY
    return rep["result"] in ([], {"tickets": []}, {"removed": False}, {"messages": [], "more": False})


# -- the table ------------------------------------------------------------------------------------

def test_every_method_an_agent_may_call_has_an_object_rule_and_is_walked(world):
    with Session(world.z, world.tokens["ana"]) as s:
        methods = s.call("rpc.discover")["methods"]
    agents = {m["name"] for m in methods if m["x-role"] == "agent"}
    assert agents, "rpc.discover lists no agent methods?"
    no_rule = sorted(agents - set(AGENT_SCOPE))
    assert not no_rule, f"agent-callable method(s) without a row in AGENT_SCOPE (permissions.py): {no_rule}"
    stray = sorted(set(AGENT_SCOPE) - agents)
    assert not stray, f"AGENT_SCOPE rows for methods an agent can't call (or that don't exist): {stray}"
    unwalked = sorted(set(AGENT_SCOPE) - set(WALK))
    assert not unwalked, f"AGENT_SCOPE method(s) with no row in WALK (tests/security/test_object_rules.py): {unwalked}"


def test_an_agent_gets_nothing_of_what_is_not_theirs(world, ana):
    """Every probe with every foreign id: the answer for an id that never existed, and nothing written."""
    w = world
    problems: list[str] = []
    walked = 0
    for method, probes in WALK.items():
        if isinstance(probes, str) or method in ALIASES:
            continue
        for probe in probes:
            [slot] = [v for v in probe.values() if isinstance(v, Slot)]
            missing = ana.request(method, fill(probe, {slot: MISSING}, w))
            if not is_empty(missing):
                problems.append(f"{method}({probe}) with an id that doesn't exist: {answer(missing)[:200]}")
                continue
            for name in FOREIGN[slot]:
                real = getattr(w, name)
                before = fingerprint(w.z)
                rep = ana.request(method, fill(probe, {slot: real}, w))
                walked += 1
                after = fingerprint(w.z)
                where = f"{method}({json.dumps(fill(probe, {slot: real}, w))}) [{name}]"
                expected = answer(missing).replace(str(MISSING), str(real))
                if answer(rep) != expected:
                    problems.append(f"{where}: {answer(rep)[:300]}\n      an unknown id gets: {expected[:300]}")
                if changed(before, after):
                    problems.append(f"{where}: wrote to {changed(before, after)}")
    assert walked > 100, walked
    assert not problems, f"{len(problems)} of {walked} calls told or touched what isn't the agent's:\n  " + \
        "\n  ".join(problems)
    assert_serves(w.z)


# -- beyond visibility ----------------------------------------------------------------------------

def test_writing_to_a_customer_in_someone_elses_conversation_is_refused(world, ana):
    """message.send_to and schedule.create to a contact reach no conversation the agent can't see."""
    w = world
    for number, contact in (("+5511930000003", w.bia_contact), ("+5511930000005", w.admin_contact),
                            ("+5511930000004", w.support_contact)):
        before = fingerprint(w.z)
        refused(ana.request("message.send_to", {"number": number, "body": "intrusion"}), "forbidden")
        refused(ana.request("schedule.create", {"contact_id": contact, "body": "intrusion", "run_at": LATER}),
                "forbidden")
        assert not changed(before, fingerprint(w.z)), number
    reopen = ana.request("ticket.reopen", {"id": w.own_closed})   # its customer is in Ada's conversation now
    refused(reopen, "conflict")
    assert "ticket_id" not in reopen["error"]["data"], reopen


def test_an_agent_opts_a_customer_out_but_never_back_in(world, ana):
    w = world
    message = refused(ana.request("contact.update", {"id": w.opted_out, "opted_out": False}), "forbidden")
    assert "supervisor" in message
    assert ana.call("contact.get", {"id": w.opted_out})["opted_out"]
    free = ana.call("contact.create", {"number": "+5511930000020"})["id"]
    assert ana.call("contact.update", {"id": free, "opted_out": True})["opted_out"]   # on the customer's request
    assert ana.call("contact.update", {"id": free, "opted_out": True, "name": "Still Out"})["name"] == "Still Out"
    with Session(w.z, w.tokens["sue"]) as sue:
        assert not sue.call("contact.update", {"id": free, "opted_out": False})["opted_out"]


def test_an_agent_takes_no_colleagues_customer(world, ana):
    w = world
    free = ana.call("contact.create", {"number": "+5511930000021"})["id"]
    for params in ({"id": w.wallet, "owner_user_id": w.ana}, {"id": w.wallet, "owner_user_id": None},
                   {"id": free, "owner_user_id": w.bia}):
        before = fingerprint(w.z)
        refused(ana.request("contact.update", params), "forbidden")
        assert not changed(before, fingerprint(w.z)), params
    assert ana.call("contact.get", {"id": w.wallet})["owner_user_id"] == w.bia
    assert ana.call("contact.update", {"id": free, "owner_user_id": w.ana})["owner_user_id"] == w.ana
    assert ana.call("contact.update", {"id": free, "owner_user_id": w.ana, "name": "Mine"})["name"] == "Mine"
    assert ana.call("contact.update", {"id": free, "owner_user_id": None})["owner_user_id"] is None
    with Session(w.z, w.tokens["sue"]) as sue:
        assert sue.call("contact.update", {"id": w.wallet, "owner_user_id": w.ana})["owner_user_id"] == w.ana
        sue.call("contact.update", {"id": w.wallet, "owner_user_id": w.bia})


def test_knowledge_search_finds_no_other_tenants(world, ana):
    """A query, not an id: what it finds is the caller's tenant's knowledge only."""
    before = fingerprint(world.z)
    found = ana.call("knowledge.search", {"query": "b-knowledge-secret Bravo refunds take 3 days"})
    assert not leaks(json.dumps(found)), found
    assert ana.call("knowledge.list") == []
    assert not changed(before, fingerprint(world.z))


def test_agents_attach_only_existing_tags(world, ana):
    w = world
    for method, params in (("contact.set_tags", {"id": w.wallet, "tags": ["vip", "brand-new-tag"]}),
                           ("contact.tag", {"id": w.wallet, "tags": ["brand-new-tag"]}),
                           ("ticket.set_tags", {"id": w.own_ticket, "tags": ["brand-new-tag"]}),
                           ("ticket.tag", {"id": w.own_ticket, "tags": ["brand-new-tag"]}),
                           ("contact.create", {"number": "+5511930000022", "tags": ["brand-new-tag"]})):
        before = fingerprint(w.z)
        message = refused(ana.request(method, params), "not_found")
        assert "'brand-new-tag'" in message and "supervisor creates tags" in message, message
        assert not changed(before, fingerprint(w.z)), method
    assert "brand-new-tag" not in [t["name"] for t in ana.call("tag.list")]
    assert ana.call("ticket.set_tags", {"id": w.own_ticket, "tags": ["vip"]})["tags"] == ["vip"]
    assert ana.call("contact.set_tags", {"id": w.wallet, "tags": ["vip"]})["tags"] == ["vip"]
    assert ana.call("contact.create", {"number": "+5511930000023", "tags": ["vip"]})["number"] == "5511930000023"
    with Session(w.z, w.tokens["sue"]) as sue:   # a supervisor's new name is a new tag
        assert sue.call("contact.set_tags", {"id": w.wallet, "tags": ["sue-tag"]})["tags"] == ["sue-tag"]


def test_a_contact_shows_an_agent_only_the_tickets_they_see(world, ana):
    w = world
    for contact, ticket in ((w.bia_contact, w.bia_ticket), (w.support_contact, w.support_ticket),
                            (w.admin_contact, w.admin_ticket)):
        detail = ana.call("contact.get", {"id": contact})
        assert detail["tickets"] == [], detail["tickets"]
        assert ana.call("message.list", {"contact_id": contact})["messages"] == []
        assert ana.call("schedule.list", {"contact_id": contact}) == []
        text = json.dumps(detail)
        assert not [m for m in HIDDEN if m in text], text
    with Session(w.z, w.tokens["sue"]) as sue:
        assert [t["id"] for t in sue.call("contact.get", {"id": w.bia_contact})["tickets"]] == [w.bia_ticket]


# -- the agent's own work -------------------------------------------------------------------------

def test_an_agent_still_does_their_own_work(world, ana):
    w = world
    with Session(w.z, w.tokens["ada"]) as ada:
        pending = _customer(ada, "5511930000030", "waiting in Sales", queue_id=w.sales)
        waiting = _customer(ada, "5511930000031", "also waiting in Sales", queue_id=w.sales)
    assert ana.call("ticket.get", {"id": w.own_ticket})["user_id"] == w.ana
    assert ana.call("message.send", {"ticket_id": w.own_ticket, "body": "hello"})["user_id"] == w.ana
    assert ana.call("note.create", {"ticket_id": w.own_ticket, "body": "a note"})["ticket_id"] == w.own_ticket
    assert ana.call("ticket.get", {"id": pending["id"]})["status"] == "pending"   # her queue's
    assert ana.call("ticket.accept", {"id": pending["id"]})["user_id"] == w.ana
    # writing to a customer waiting in her queue answers there, and takes the ticket, as a reply does
    sent = ana.call("message.send_to", {"number": "+5511930000031", "body": "I'm on it"})
    assert sent["ticket_id"] == waiting["id"]
    assert ana.call("ticket.get", {"id": waiting["id"]})["user_id"] == w.ana
    fresh = ana.call("message.send_to", {"number": "+5511930000032", "body": "we write first"})
    assert ana.call("ticket.get", {"id": fresh["ticket_id"]})["user_id"] == w.ana
    mine = ana.call("schedule.create", {"ticket_id": w.own_ticket, "body": "follow up", "run_at": LATER})
    to_contact = ana.call("schedule.create", {"contact_id": ana.call("contact.create", {"number": "+5511930000033"})
                                              ["id"], "body": "hi", "run_at": LATER})
    assert ana.call("schedule.update", {"id": mine["id"], "body": "follow up, again"})["body"] == "follow up, again"
    assert ana.call("schedule.cancel", {"id": to_contact["id"]})["status"] == "cancelled"
    listed = {s["id"] for s in ana.call("schedule.list", {})}
    assert listed == {mine["id"], to_contact["id"]}, "an agent lists her own schedules, only"
    with Session(w.z, w.tokens["sue"]) as sue:
        assert {w.bia_schedule, w.admin_schedule, mine["id"]} <= {s["id"] for s in sue.call("schedule.list", {})}
        assert sue.call("schedule.update", {"id": w.bia_schedule, "body": "bia-schedule-secret"})["id"]
        lost = sue.request("ticket.accept", {"id": w.bia_ticket})   # a supervisor is told who holds it
        assert lost["error"]["data"]["kind"] == "conflict" and "Bia Zorzal" in lost["error"]["message"]
    assert_serves(w.z)

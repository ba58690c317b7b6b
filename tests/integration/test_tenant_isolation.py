"""Tenant isolation and roles, method by method, through the real socket.

Two tenants with traffic in each. For EVERY method rpc.discover lists, B's admin calls it with A's ids:
the answer is not_found or forbidden (or, for methods that take no ids, B's own data only), and no reply
ever carries A's data. A discovered method with no row in CASES fails the test: a new method can't ship
without an isolation case. Then every method above a role is refused (-32002) to that role.
Inside one tenant, what an agent may touch (a colleague's, an invisible ticket's ids) is walked by
tests/security/test_object_rules.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.support import FORBIDDEN, Raw, assert_serves, settle
from zingd.actor import RANK
from zingd.services.permissions import ALIASES, PUBLIC

DENY = ("not_found", "forbidden")
PASSWORD = "password-123"

# Strings that exist only in tenant A: none may ever appear in an answer to tenant B.
A_MARKERS = ("Acme", "alpha-admin@acme.test", "alpha-agent@acme.test", "root@example.com", "acme-sim-line",
             "Zyxwv Alpha", "alpha-secret-7f3a", "AcmeQueue", "acme-tag", "acmereply", "acme-script",
             "acme-note-text", "acme-transfer", "acme-campaign", "acme promo", "acme-schedule", "acme-hook",
             "Zyxwv Lonely", "acme-faq")

# Automated sending paced fast enough for a test: a slot a second, no quiet hours.
FAST_PACING = {"ZING_PACING__MIN_INTERVAL_S": "0.7", "ZING_PACING__JITTER_S": "0",
               "ZING_PACING__QUIET_START": "00:00", "ZING_PACING__QUIET_END": "00:00"}


@dataclass
class Case:
    params: dict[str, Any]
    expect: str | tuple[str, ...] = DENY   # "ok": must succeed; "any": success or error; tuple: error kinds
    check: Callable[[Any], str | None] | None = None   # extra check of a successful result
    fresh_login: bool = False              # use a session of its own (the call ends it)
    watch: Callable[[Raw], list] | None = None          # read what arrives after the call


@dataclass
class World:
    z: Zingd
    a: SimpleNamespace       # tenant A's ids
    b: SimpleNamespace       # tenant B's ids
    later: float = 0.0       # a run_at in the future
    tokens: dict[str, str] = field(default_factory=dict)   # B's admin / supervisor / agent
    a_raw: Raw | None = None   # A's admin, subscribed (to prove B can't touch A's subscription)
    a_sub: int = 0


def _empty(key: str) -> Callable[[Any], str | None]:
    return lambda res: None if not res[key] else f"expected no {key}, got {len(res[key])}"


def _rows_empty(res: Any) -> str | None:
    return None if res == [] else f"expected no rows, got {len(res)}"


def _not_existing(res: Any) -> str | None:
    return None if res.get("to_update") == 0 else f"B's import dry run sees A's contact: {res}"


def _own_contact(res: Any) -> str | None:
    return None if res.get("name") == "Bravo Twin" else f"contact.create returned someone else: {res}"


def _removed_false(res: Any) -> str | None:
    return None if res == {"removed": False} else f"B removed a subscription it does not own: {res}"


def _subscribe_watch(w: World) -> Callable[[Raw], list]:
    def watch(r: Raw) -> list:
        with w.z.client() as a_admin:   # A traffic while B listens to "ticket:<A's>" and "tenant"
            a_admin.call("auth.token", {"token": w.tokens["a_admin"]})
            a_admin.call("sim.say", {"from": "5511911110001", "body": "alpha-secret-7f3a again"})
        r.read_available(quiet=0.5, limit=5)
        frames, r.frames = r.frames, []
        return frames
    return watch


def cases(w: World, t: SimpleNamespace, own: SimpleNamespace) -> dict[str, list[Case]]:
    """How to call each method. ``t`` holds the ids to aim at (A's for isolation, B's own for the role
    test); ``own`` is always B's. Keep one row per method: a discovered method without a row fails.
    A deprecated old name (ALIASES) is called with the rows of the method it stands for."""
    table = _cases(w, t, own)
    return {**table, **{old: table[new] for old, new in ALIASES.items()}}


def _cases(w: World, t: SimpleNamespace, own: SimpleNamespace) -> dict[str, list[Case]]:
    return {
        "rpc.hello": [Case({}, "ok")],
        "rpc.discover": [Case({}, "ok")],
        "auth.login": [Case({"email": "alpha-admin@acme.test", "password": "not-the-password"}, ("unauthenticated",))],
        "auth.token": [Case({"token": "zs_" + "A" * 43}, ("unauthenticated",))],
        "auth.bootstrap": [Case({"email": "evil@example.com", "password": PASSWORD, "tenant": "Evil",
                                 "link_os_user": False}, ("conflict", "forbidden"))],
        "auth.whoami": [Case({}, "ok")],
        "auth.logout": [Case({}, "ok", fresh_login=True)],
        "daemon.status": [Case({}, "ok")],
        "tenant.list": [Case({}, ("forbidden",))],
        "tenant.create": [Case({"name": "Evil Co"}, ("forbidden",))],
        "tenant.get": [Case({"id": t.tenant})],
        "tenant.update": [Case({"id": t.tenant, "name": "pwned"})],
        "tenant.update_settings": [Case({"rating": False}, "ok")],
        "user.list": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "user.get": [Case({"id": t.agent}), Case({"id": t.admin}), Case({"id": w.a.root})],
        "user.create": [Case({"tenant_id": t.tenant, "email": "intruder@example.com", "password": PASSWORD,
                              "role": "agent"})],
        "user.update": [Case({"id": t.agent, "name": "pwned"}), Case({"id": t.admin, "enabled": False})],
        "user.set_status": [Case({"status": "away"}, "ok")],
        "user.directory": [Case({}, "ok")],
        "user.update_me": [Case({"name": "Bravo Admin"}, "ok")],
        "connection.list": [Case({}, "ok")],
        "connection.get": [Case({"id": t.connection})],
        "connection.create": [Case({"name": "bravo-extra", "kind": "sim", "start": False}, "ok")],
        "connection.update": [Case({"id": t.connection, "name": "pwned"})],
        "connection.delete": [Case({"id": t.connection})],
        "connection.restart": [Case({"id": t.connection})],
        "connection.pair": [Case({"id": t.connection})],
        "connection.logout": [Case({"id": t.connection})],
        "connection.set_queues": [Case({"id": t.connection, "queue_ids": []}),
                                  Case({"id": own.connection, "queue_ids": [t.queue]})],
        "contact.list": [Case({}, "ok"), Case({"query": "Zyxwv"}, "ok", _rows_empty),
                         Case({"query": t.number}, "ok")],
        "contact.get": [Case({"id": t.contact})],
        "contact.update": [Case({"id": t.contact, "name": "pwned"}),
                           Case({"id": own.contact, "owner_user_id": t.agent})],
        "contact.create": [Case({"number": "+" + w.a.number2, "name": "Bravo Twin"}, "ok", _own_contact)],
        "contact.set_tags": [Case({"id": t.contact, "tags": ["x"]})],
        "contact.import": [Case({"data": f"number,name\n+{w.a.number},Someone\n", "dry_run": True}, "ok",
                                _not_existing),
                           Case({"upload_id": t.upload, "dry_run": True})],
        "contact.export": [Case({}, "ok")],
        "contact.merge": [Case({"id": t.contact, "into_id": own.contact}),
                          Case({"id": own.contact, "into_id": t.contact}),
                          Case({"id": own.contact, "into_id": t.contact, "dry_run": True})],
        "ticket.list": [Case({}, "ok"), Case({"contact_id": t.contact}, "ok", _empty("tickets")),
                        Case({"user_id": t.agent}, "ok", _empty("tickets")),
                        Case({"queue_id": t.queue}, "ok", _empty("tickets")),
                        Case({"connection_id": t.connection}, "ok", _empty("tickets"))],
        "ticket.get": [Case({"id": t.ticket})],
        "ticket.accept": [Case({"id": t.ticket})],
        "ticket.transfer": [Case({"id": t.ticket, "user_id": own.agent}),
                            Case({"id": own.ticket, "user_id": t.agent}),
                            Case({"id": own.ticket, "queue_id": t.queue, "message": "acme-transfer"})],
        "ticket.close": [Case({"id": t.ticket})],
        "ticket.reopen": [Case({"id": t.closed_ticket})],
        "ticket.history": [Case({"id": t.ticket})],
        "ticket.set_tags": [Case({"id": t.ticket, "tags": ["x"]})],
        "message.list": [Case({"ticket_id": t.ticket})],
        "message.send": [Case({"ticket_id": t.ticket, "body": "hi"}),
                         Case({"ticket_id": own.ticket, "body": "quoting", "quoted_id": t.message}),
                         Case({"ticket_id": own.ticket, "body": "their file", "upload_id": t.upload})],
        "media.upload": [Case({"name": "bravo-file.txt", "data": "YnJhdm8=", "done": True}, "ok"),
                         Case({"upload_id": t.upload, "data": "YnJhdm8="})],
        "media.discard": [Case({"upload_id": t.upload})],
        "media.fetch": [Case({"message_id": t.message})],
        "message.retry": [Case({"id": t.message})],
        "message.search": [Case({"query": "alpha secret"}, "ok", _rows_empty),
                           Case({"query": "hello", "ticket_id": t.ticket}, "ok", _rows_empty)],
        "message.read": [Case({"ticket_id": t.ticket})],
        "message.typing": [Case({"ticket_id": t.ticket})],
        "note.create": [Case({"ticket_id": t.ticket, "body": "intrusion"})],
        "note.list": [Case({"ticket_id": t.ticket})],
        "queue.list": [Case({}, "ok")],
        "queue.create": [Case({"name": "bravo-q2"}, "ok")],
        "queue.update": [Case({"id": t.queue, "name": "pwned"})],
        "queue.delete": [Case({"id": t.queue})],
        "queue.set_members": [Case({"id": t.queue, "user_ids": []}),
                              Case({"id": own.queue, "user_ids": [t.agent]})],
        "tag.list": [Case({}, "ok")],
        "tag.create": [Case({"name": "bravo-tag2"}, "ok")],
        "tag.delete": [Case({"id": t.tag})],
        "quickreply.list": [Case({}, "ok")],
        "quickreply.create": [Case({"shortcut": "bravo2", "body": "b"}, "ok")],
        "quickreply.update": [Case({"id": t.quickreply, "body": "pwned"})],
        "quickreply.delete": [Case({"id": t.quickreply})],
        "token.create": [Case({"name": "bravo-script"}, "ok")],
        "token.list": [Case({"all_users": True}, "ok")],
        "token.revoke": [Case({"id": t.token})],
        "audit.list": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "report.summary": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "report.series": [Case({"tenant_id": t.tenant}), Case({"by": "hour", "group": "agent"}, "ok")],
        "report.live": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "sim.say": [Case({"from": "5511922220009", "body": "x", "connection_id": t.connection})],
        "sim.customers": [Case({}, "ok")],
        "sim.fault": [Case({"connection_id": t.connection, "duplicate_inbound": False})],
        "sim.journal": [Case({"connection_id": t.connection})],
        "campaign.list": [Case({}, "ok")],
        "campaign.create": [Case({"name": "bravo-c1", "variants": ["hi"], "contact_ids": [t.contact]}),
                            Case({"name": "bravo-c2", "variants": ["hi"], "contact_ids": [own.contact],
                                  "connection_ids": [t.connection]}),
                            Case({"name": "bravo-c3", "variants": ["hi"], "tag": "acme-tag", "dry_run": True},
                                 ("not_found", "invalid")),
                            Case({"name": "bravo-c4", "variants": ["hi"], "contact_ids": [t.contact],
                                  "dry_run": True})],
        "campaign.get": [Case({"id": t.campaign})],
        "campaign.start": [Case({"id": t.campaign})],
        "campaign.pause": [Case({"id": t.campaign})],
        "campaign.cancel": [Case({"id": t.campaign})],
        "campaign.recipients": [Case({"id": t.campaign})],
        "schedule.create": [Case({"body": "x", "contact_id": t.contact, "run_at": w.later}),
                            Case({"body": "x", "ticket_id": t.ticket, "run_at": w.later}),
                            Case({"body": "x", "contact_id": own.contact, "connection_id": t.connection,
                                  "run_at": w.later})],
        "schedule.list": [Case({}, "ok"), Case({"contact_id": t.contact}, "ok", _rows_empty)],
        "schedule.update": [Case({"id": t.schedule, "body": "pwned"})],
        "schedule.cancel": [Case({"id": t.schedule})],
        "contact.delete": [Case({"id": t.lonely_contact})],
        "message.send_to": [Case({"number": "+" + w.a.number, "body": "bravo writes first"}, "ok",
                                 lambda res: None if res["contact_id"] != w.a.contact else
                                 f"message.send_to wrote into tenant A's contact: {res}"),
                            Case({"number": "+5511922220077", "body": "x", "connection_id": t.connection})],
        "webhook.create": [Case({"url": "http://127.0.0.1:9/bravo-hook", "from_now": False}, "ok")],
        "webhook.list": [Case({}, "ok")],
        "webhook.delete": [Case({"id": t.webhook})],
        "webhook.update": [Case({"id": t.webhook, "enabled": False})],
        "webhook.get": [Case({"id": t.webhook})],
        "webhook.dead_letters": [Case({"id": t.webhook})],
        "webhook.replay": [Case({"id": t.webhook})],
        # a copy of the whole database holds every tenant: not for a tenant's admin
        "daemon.backup": [Case({"name": f"backup-{len(w.tokens)}-{time.monotonic_ns()}.db"}, ("forbidden",))],
        "events.subscribe": [Case({"topics": ["tenant", f"ticket:{t.ticket}"], "since_seq": 0}, "ok",
                                  watch=_subscribe_watch(w))],
        "events.unsubscribe": [Case({"subscription": w.a_sub}, "ok", _removed_false)],
        "assistant.get": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "assistant.update": [Case({"tenant_id": t.tenant, "chat": {"model": "x"}}),
                             Case({"bot": {"queues": [t.queue]}}, ("invalid",)),
                             Case({"bot": {"connections": [t.connection]}}, ("invalid",)),
                             Case({"bot": {"handoff_queue_id": t.queue}}, ("invalid",))],
        "assistant.status": [Case({}, "ok")],
        "assistant.usage": [Case({"tenant_id": t.tenant}), Case({}, "ok")],
        "assistant.models": [Case({"tenant_id": t.tenant}), Case({}, ("unavailable",))],
        "bot.test": [Case({"ticket_id": t.ticket})],
        "bot.list": [Case({}, "ok", _rows_empty)],
        "copilot.suggest": [Case({"ticket_id": t.ticket}), Case({"ticket_id": t.ticket, "stream": True})],
        "copilot.rewrite": [Case({"text": "hi", "style": "translate", "ticket_id": t.ticket})],
        "copilot.summarize": [Case({"ticket_id": t.ticket, "note": True})],
        "copilot.tags": [Case({"ticket_id": t.ticket})],
        "knowledge.add": [Case({"kind": "faq", "title": "bravo-faq2", "body": "b"}, "ok")],
        "knowledge.update": [Case({"id": t.knowledge, "body": "pwned"})],
        "knowledge.delete": [Case({"id": t.knowledge})],
        "knowledge.get": [Case({"id": t.knowledge})],
        "knowledge.list": [Case({}, "ok")],
        "knowledge.search": [Case({"query": "acme faq alpha secret"}, "ok")],
        "template.list": [Case({}, "ok", _rows_empty), Case({"connection_id": t.connection}, "ok", _rows_empty)],
        "template.sync": [Case({"connection_id": t.connection})],
        "message.send_template": [Case({"ticket_id": t.ticket, "template_id": 1, "params": []})],
        "message.react": [Case({"message_id": t.message, "emoji": "👍"}), Case({"message_id": t.message, "emoji": ""})],
    }


# -- the world --------------------------------------------------------------------

def _login(z: Zingd, email: str) -> Raw:
    r = Raw(z.socket)
    r.call("auth.login", {"email": email, "password": PASSWORD})
    return r


def _token(z: Zingd, email: str) -> str:
    with Raw(z.socket) as r:
        return r.call("auth.login", {"email": email, "password": PASSWORD})["token"]


def _populate(z: Zingd, admin: Raw, prefix: str, names: dict[str, str], numbers: list[str], body: str) -> SimpleNamespace:
    ns = SimpleNamespace()
    conn = admin.call("connection.create", {"name": names["connection"], "kind": "sim"})
    ns.connection = conn["id"]
    ns.queue = admin.call("queue.create", {"name": names["queue"]})["id"]
    ns.tag = admin.call("tag.create", {"name": names["tag"]})["id"]
    ns.quickreply = admin.call("quickreply.create", {"shortcut": names["quickreply"], "body": body})["id"]
    ns.token = admin.call("token.create", {"name": names["token"]})["id"]
    for i, number in enumerate(numbers):
        admin.call("sim.say", {"from": number, "body": f"{body} hello {i}", "name": names["customer"]})
    admin.call("sim.say", {"from": numbers[0], "type": "image", "name": names["customer"]})
    tickets = admin.call("ticket.list", {})["tickets"]
    by_number = {t["contact_number"]: t for t in tickets}
    ns.ticket = by_number[numbers[0]]["id"]
    ns.contact = by_number[numbers[0]]["contact_id"]
    ns.closed_ticket = by_number[numbers[1]]["id"]
    admin.call("ticket.close", {"id": ns.closed_ticket, "farewell": False})
    ns.message = admin.call("message.send", {"ticket_id": ns.ticket, "body": f"{body} reply"})["id"]
    admin.call("note.create", {"ticket_id": ns.ticket, "body": names["note"]})
    ns.campaign = admin.call("campaign.create", {"name": names["campaign"], "variants": [f"{prefix} promo"],
                                                 "contact_ids": [ns.contact]})["id"]
    ns.schedule = admin.call("schedule.create", {"body": names["schedule"], "contact_id": ns.contact,
                                                 "run_at": time.time() + 30 * 86400})["id"]
    ns.lonely_contact = admin.call("contact.create", {"number": "+" + numbers[0][:-1] + "9",
                                                      "name": names["lonely"]})["id"]
    ns.webhook = admin.call("webhook.create", {"url": f"http://127.0.0.1:9/{names['hook']}"})["id"]
    ns.upload = admin.call("media.upload", {"name": f"{prefix}-file.txt", "data": base64.b64encode(
        f"{body} file".encode()).decode(), "done": True})["upload_id"]
    ns.knowledge = admin.call("knowledge.add", {"kind": "faq", "title": names["faq"],
                                                "body": f"{body} the {prefix} faq answer"})["id"]
    ns.number, ns.number2 = numbers[0], numbers[1]
    return ns


@pytest.fixture
def world(tmp_path) -> World:
    z = Zingd(tmp_path, env=FAST_PACING).start()
    w = None
    try:
        w = _build_world(z)
        yield w
    finally:
        if w is not None and w.a_raw is not None:
            w.a_raw.close()
        z.kill()


def _build_world(z: Zingd) -> World:
    root_token = bootstrap(z)
    with Raw(z.socket) as root:
        root.call("auth.token", {"token": root_token})
        tenant_b = root.call("tenant.create", {"name": "Bravo"})["id"]
        tenant_a = root.call("auth.whoami")["tenant_id"]
        root_id = root.call("auth.whoami")["id"]
        for email, role, tenant in (("alpha-admin@acme.test", "admin", None), ("alpha-agent@acme.test", "agent", None),
                                    ("bravo-admin@bravo.test", "admin", tenant_b),
                                    ("bravo-super@bravo.test", "supervisor", tenant_b),
                                    ("bravo-agent@bravo.test", "agent", tenant_b)):
            params = {"email": email, "password": PASSWORD, "role": role, "name": email.split("@")[0]}
            if tenant is not None:
                params["tenant_id"] = tenant
            root.call("user.create", params)
    a_admin, b_admin = _login(z, "alpha-admin@acme.test"), _login(z, "bravo-admin@bravo.test")
    try:
        a = _populate(z, a_admin, "acme", {"connection": "acme-sim-line", "queue": "AcmeQueue", "tag": "acme-tag",
                                           "quickreply": "acmereply", "token": "acme-script",
                                           "customer": "Zyxwv Alpha", "note": "acme-note-text",
                                           "campaign": "acme-campaign", "schedule": "acme-schedule",
                                           "lonely": "Zyxwv Lonely", "hook": "acme-hook",
                                           "faq": "acme-faq"},
                      ["5511911110001", "5511911110002"], "alpha-secret-7f3a")
        b = _populate(z, b_admin, "bravo", {"connection": "bravo-sim-line", "queue": "BravoQueue", "tag": "bravo-tag",
                                            "quickreply": "bravoreply", "token": "bravo-script0",
                                            "customer": "Bravo Customer", "note": "bravo-note-text",
                                            "campaign": "bravo-campaign", "schedule": "bravo-schedule",
                                            "lonely": "Bravo Lonely", "hook": "bravo-hook0",
                                            "faq": "bravo-faq"},
                      ["5511922220001", "5511922220002"], "bravo-public")
        a.tenant, b.tenant = tenant_a, tenant_b
        a_users = {u["email"]: u["id"] for u in a_admin.call("user.list", {})}
        b_users = {u["email"]: u["id"] for u in b_admin.call("user.list", {})}
        a.admin, a.agent, a.root = a_users["alpha-admin@acme.test"], a_users["alpha-agent@acme.test"], root_id
        b.admin, b.agent = b_users["bravo-admin@bravo.test"], b_users["bravo-agent@bravo.test"]
        assert not set(a_users.values()) & set(b_users.values())
    finally:
        a_admin.close()
        b_admin.close()
    settle(z)
    w = World(z, a, b, later=time.time() + 30 * 86400)
    w.tokens = {"admin": _token(z, "bravo-admin@bravo.test"), "supervisor": _token(z, "bravo-super@bravo.test"),
                "agent": _token(z, "bravo-agent@bravo.test"), "a_admin": _token(z, "alpha-admin@acme.test")}
    w.a_raw = Raw(z.socket)
    w.a_raw.call("auth.token", {"token": w.tokens["a_admin"]})
    w.a_sub = w.a_raw.call("events.subscribe", {"topics": ["tenant"]})["subscription"]
    return w


# -- helpers --------------------------------------------------------------------------

def leaks(obj: Any, b_tenant: int, asked: str = "") -> list[str]:
    """A's markers in an answer, and any row that says it belongs to another tenant.

    A marker the caller itself sent (``asked``: its params) may be echoed back in an error message."""
    text = json.dumps(obj, ensure_ascii=False).lower()
    asked = asked.lower()
    found = [f"marker {m!r}" for m in A_MARKERS if m.lower() in text and m.lower() not in asked]

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            if "tenant_id" in o and isinstance(o["tenant_id"], int) and o["tenant_id"] != b_tenant:
                found.append(f"a row of tenant {o['tenant_id']}")
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(obj)
    return found


def run(w: World, method: str, case: Case, token: str, login_email: str | None = None) -> tuple[dict, list]:
    with Raw(w.z.socket) as r:
        if case.fresh_login:
            r.call("auth.login", {"email": login_email or "bravo-admin@bravo.test", "password": PASSWORD})
        else:
            r.call("auth.token", {"token": token})
        reply = r.request(method, case.params)
        extra = case.watch(r) if case.watch else []
    return reply, extra


def judge(method: str, case: Case, reply: dict, extra: list, b_tenant: int) -> list[str]:
    problems = []
    where = f"{method}({json.dumps(case.params)[:120]})"
    if "error" in reply:
        kind = (reply["error"].get("data") or {}).get("kind")
        if case.expect == "ok":
            problems.append(f"{where}: expected success, got {kind}: {reply['error']['message']}")
        elif isinstance(case.expect, tuple) and kind not in case.expect:
            problems.append(f"{where}: expected {'/'.join(case.expect)}, got {kind}: {reply['error']['message']}")
    else:
        if isinstance(case.expect, tuple):
            problems.append(f"{where}: expected {'/'.join(case.expect)}, but it SUCCEEDED: "
                            f"{json.dumps(reply['result'])[:200]}")
        elif case.check is not None:
            msg = case.check(reply["result"])
            if msg:
                problems.append(f"{where}: {msg}")
    asked = json.dumps(case.params, ensure_ascii=False)
    for leak in leaks(reply, b_tenant, asked) + leaks(extra, b_tenant):
        problems.append(f"{where}: answer carries tenant A's data ({leak})")
    return problems


# -- the tests --------------------------------------------------------------------------

def test_every_method_with_another_tenants_ids(world):
    w = world
    with w.z.client() as c:
        discovered = [m["name"] for m in c.call("rpc.discover")["methods"]]
    table = cases(w, w.a, w.b)
    missing = sorted(set(discovered) - set(table))
    assert not missing, (f"rpc.discover lists method(s) with no isolation case: {missing}. "
                         "Add a row to CASES in tests/integration/test_tenant_isolation.py.")
    problems: list[str] = []
    for method in discovered:
        for case in table[method]:
            reply, extra = run(w, method, case, w.tokens["admin"])
            problems += judge(method, case, reply, extra, w.b.tenant)
    # A's world is intact: its subscription still delivers, its ids still resolve for A
    with Raw(w.z.socket) as a:
        a.call("auth.token", {"token": w.tokens["a_admin"]})
        t = a.call("ticket.get", {"id": w.a.ticket})
        assert t["status"] in ("pending", "open") and t["tenant_id"] == w.a.tenant
        assert a.call("connection.get", {"id": w.a.connection})["name"] == "acme-sim-line"
        assert [q["name"] for q in a.call("queue.list") if q["id"] == w.a.queue] == ["AcmeQueue"]
        a.call("sim.say", {"from": "5511911110001", "body": "still here"})
    w.a_raw.read_available(quiet=0.3)
    assert w.a_raw.drain_events(), "A's own subscription was removed or starved"
    assert not problems, "tenant isolation broken:\n  " + "\n  ".join(problems)
    assert_serves(w.z)


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_methods_above_a_role_are_forbidden_to_it(world, role):
    w = world
    with w.z.client() as c:
        methods = c.call("rpc.discover")["methods"]
    table = cases(w, w.b, w.b)   # B's own ids: a refusal here is about the role, not the tenant
    above = [m["name"] for m in methods if m["x-role"] != PUBLIC and RANK[m["x-role"]] > RANK[role]]
    assert above, f"no method above {role}?"
    problems = []
    for name in above:
        case = table.get(name, [Case({})])[0]   # a method without a row fails the test above
        with Raw(w.z.socket) as r:
            r.call("auth.token", {"token": w.tokens[role]})
            rep = r.request(name, case.params)
        if "error" not in rep or rep["error"]["code"] != FORBIDDEN:
            problems.append(f"{role} calling {name}: {rep.get('error') or 'SUCCEEDED'}")
        elif rep["error"]["data"]["kind"] != "forbidden":
            problems.append(f"{role} calling {name}: kind {rep['error']['data']['kind']}")
    assert not problems, "\n".join(problems)
    assert_serves(w.z)


def test_no_one_grants_more_than_their_role(world):
    w = world
    with Raw(w.z.socket) as admin:
        admin.call("auth.token", {"token": w.tokens["admin"]})
        for method, params in (
            ("user.create", {"email": "boss@bravo.test", "password": PASSWORD, "role": "superadmin"}),
            ("user.update", {"id": w.b.agent, "role": "superadmin"}),
            ("token.create", {"name": "too-strong", "role": "superadmin"}),
        ):
            rep = admin.request(method, params)
            assert rep.get("error", {}).get("data", {}).get("kind") == "forbidden", (method, rep)
    with Raw(w.z.socket) as agent:
        agent.call("auth.token", {"token": w.tokens["agent"]})
        rep = agent.request("token.create", {"name": "agent-as-admin", "role": "admin"})
        assert rep.get("error", {}).get("data", {}).get("kind") == "forbidden", rep
        # an agent's token works as an agent, never more
        tok = agent.call("token.create", {"name": "agent-script"})["token"]
    with Raw(w.z.socket) as script:
        assert script.call("auth.token", {"token": tok})["role"] == "agent"
        rep = script.request("user.create", {"email": "x@bravo.test", "password": PASSWORD})
        assert rep["error"]["code"] == FORBIDDEN
    assert_serves(w.z)


def test_agent_sees_only_own_and_pending_tickets(world):
    """Inside a tenant: an agent gets not_found for a colleague's open ticket (no cross-agent reads)."""
    w = world
    with Raw(w.z.socket) as admin:
        admin.call("auth.token", {"token": w.tokens["admin"]})
        admin.call("ticket.transfer", {"id": w.b.ticket, "user_id": w.b.admin})   # open, assigned to the admin
    with Raw(w.z.socket) as agent:
        agent.call("auth.token", {"token": w.tokens["agent"]})
        for method, params in (("ticket.get", {"id": w.b.ticket}), ("message.list", {"ticket_id": w.b.ticket}),
                               ("message.send", {"ticket_id": w.b.ticket, "body": "mine now"}),
                               ("ticket.close", {"id": w.b.ticket}), ("note.list", {"ticket_id": w.b.ticket})):
            rep = agent.request(method, params)
            assert rep.get("error", {}).get("data", {}).get("kind") in DENY, (method, rep)
        listed = agent.call("ticket.list", {})["tickets"]
        assert w.b.ticket not in [t["id"] for t in listed]
    assert_serves(w.z)


def test_another_tenants_upload_is_not_found(world):
    """Files travel as uploads (media.upload), never as paths: tenant A's upload id is not_found for B in every
    method that takes one, and stays A's to use."""
    w = world
    problems = []
    with Raw(w.z.socket) as b:
        b.call("auth.token", {"token": w.tokens["admin"]})
        for method, params in (
            ("message.send", {"ticket_id": w.b.ticket, "upload_id": w.a.upload}),
            ("campaign.create", {"name": "bravo-theirs", "variants": ["hi"], "contact_ids": [w.b.contact],
                                 "upload_id": w.a.upload}),
            ("campaign.create", {"name": "bravo-theirs-csv", "variants": ["hi"], "csv": {"upload_id": w.a.upload}}),
            ("message.send_to", {"number": "+5511922220055", "upload_id": w.a.upload}),
            ("contact.import", {"upload_id": w.a.upload}),
        ):
            rep = b.request(method, params)
            if "error" not in rep:
                problems.append(f"{method} with tenant A's upload SUCCEEDED: {json.dumps(rep['result'])[:200]}")
            elif rep["error"]["data"]["kind"] != "not_found":
                problems.append(f"{method} with tenant A's upload: {rep['error']}")
    with Raw(w.z.socket) as a:
        a.call("auth.token", {"token": w.tokens["a_admin"]})
        sent = a.call("message.send", {"ticket_id": w.a.ticket, "upload_id": w.a.upload})
        assert sent["media_size"] == len("alpha-secret-7f3a file") and sent["type"] == "document"
    assert not problems, "\n".join(problems)
    assert_serves(w.z)


def test_another_tenants_campaign_controls_leave_a_running_campaign_alone(world):
    """campaign.pause / campaign.cancel with A's id are not_found for B, and have no effect on A's campaign."""
    w = world
    with Raw(w.z.socket) as a:
        a.call("auth.token", {"token": w.tokens["a_admin"]})
        for i in range(3, 8):
            a.call("contact.create", {"number": f"+55119111100{i:02d}", "name": f"Zyxwv Alpha {i}"})
        contacts = [c["id"] for c in a.call("contact.list", {}) if c["number"].startswith("551191111")]
        assert len(contacts) >= 6
        camp = a.call("campaign.create", {"name": "acme-campaign-live", "variants": ["acme promo live"],
                                          "contact_ids": contacts, "connection_ids": [w.a.connection]})
        a.call("campaign.start", {"id": camp["id"]})
        # once the first message is queued the runner waits for the number's next slot: B acts in that pause
        wait_for(lambda: a.call("campaign.get", {"id": camp["id"]})["counts"]["pending"] < len(contacts),
                 timeout=10, interval=0.01)
        with Raw(w.z.socket) as b:
            b.call("auth.token", {"token": w.tokens["admin"]})
            for method in ("campaign.pause", "campaign.cancel"):
                rep = b.request(method, {"id": camp["id"]})
                assert rep.get("error", {}).get("data", {}).get("kind") in DENY, (method, rep)

        def finished():
            show = a.call("campaign.get", {"id": camp["id"]})
            return show["status"] != "running" and show
        try:
            show = wait_for(finished, timeout=3 + 1.0 * len(contacts))
        except AssertionError:
            show = a.call("campaign.get", {"id": camp["id"]})
            pytest.fail(f"tenant A's running campaign stalled after tenant B called campaign.pause/cancel with its "
                        f"id (which answered not_found): status {show['status']}, counts {show['counts']}")
        assert show["status"] == "done", show
        assert show["counts"].get("pending", 0) == 0
    assert_serves(w.z)

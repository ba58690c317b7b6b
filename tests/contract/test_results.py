"""The result schemas rpc.discover publishes are what the methods really answer.

A walk over a seeded daemon calls every method (old names too) until it succeeds, validating each
answer against its method's result schema (and the params it accepted against the published params
object); a method the walk never got to answer fails the test.
Then the tenant-isolation table (tests/integration/test_tenant_isolation.py) is replayed: its
successes are validated the same way, and every error it provokes must be one the method declares.
"""

from __future__ import annotations

import base64
import json
import time

from tests.assistant.openai_fake import FakeOpenAI
from tests.channels.cloud.graph_fake import FakeGraph
from tests.contract.openrpc import Checked, Contract
from tests.helpers import Zingd, wait_for
from tests.integration.support import Raw
from tests.integration.test_tenant_isolation import cases, run, world  # noqa: F401 - the world fixture
from zingd.errors import Conflict

# Needs a real WhatsApp account to answer (pairing talks to WhatsApp's servers).
NOT_WALKED = {"connection.pair": "pairing needs WhatsApp's servers"}


def test_every_answer_matches_its_result_schema(tmp_path):
    z = Zingd(tmp_path).start()
    seen: set[str] = set()
    try:
        with Raw(z.socket) as r:
            contract = Contract(r.call("rpc.discover"))
        clients = []

        def client(token: str | None = None) -> Checked:
            c = Checked(z.client(token=token), contract, seen)
            clients.append(c)
            return c

        try:
            _walk(z, client)
        finally:
            for c in clients:
                c.close()
    finally:
        z.kill()
    missing = sorted(set(contract.index) - seen - set(NOT_WALKED))
    assert not missing, f"methods the walk never got a successful answer from: {missing}"


def _walk_cloud(admin) -> None:
    """A Cloud API number on the fake Graph server: its account view, templates, a template sent."""
    with FakeGraph() as g:
        g.add_template("order_shipped", body="Olá {{1}}, seu pedido {{2}} saiu.")
        cloud = admin.call("connection.create", {"name": "Cloud", "kind": "cloud", "cloud": g.cloud_params()})
        wait_for(lambda: admin.call("connection.get", {"id": cloud["id"]})["status"] == "connected")
        admin.call("template.sync", {"connection_id": cloud["id"]})
        [template] = admin.call("template.list", {"connection_id": cloud["id"], "status": "APPROVED"})
        first = admin.call("message.send_to", {"number": "5511900000077", "connection_id": cloud["id"],
                                               "template_id": template["id"], "params": ["Eva", "A-1"]})
        admin.call("message.send_template", {"ticket_id": first["ticket_id"], "template_id": template["id"],
                                             "params": ["Eva", "A-2"]})
        g.wait_sent(2)
        admin.call("connection.update", {"id": cloud["id"], "cloud": {"access_token": g.token + "x"}})
        admin.call("connection.logout", {"id": cloud["id"]})


def _walk(z: Zingd, client) -> None:
    anon = client()
    anon.call("rpc.hello")
    anon.call("rpc.discover")
    admin = client()   # bootstrap links this OS user: the admin's connections need no login
    admin.call("auth.bootstrap", {"email": "boss@acme.test", "password": "boss-pass1", "tenant": "Acme"})
    admin.call("auth.whoami")
    admin.call("daemon.status")
    admin.call("rpc.hello")

    # -- tenants and users
    admin.call("tenant.list")
    me = admin.call("tenant.get")
    other = admin.call("tenant.create", {"name": "Other Co"})
    admin.call("tenant.update", {"id": other["id"], "max_users": 9})
    admin.call("tenant.update_settings", {"rating": False, "region": "BR"})
    admin.call("tenant.settings", {"opt_out_reply": "Bye"})
    ana_user = admin.call("user.create", {"email": "ana@acme.test", "password": "secret-pw", "name": "Ana"})
    sup_user = admin.call("user.create", {"email": "sue@acme.test", "password": "secret-pw", "role": "supervisor"})
    admin.call("user.list")
    admin.call("user.update", {"id": sup_user["id"], "name": "Sue"})
    login = client().call("auth.login", {"email": "ana@acme.test", "password": "secret-pw"})
    ana = client()
    ana.call("auth.token", {"token": login["token"]})
    ana.call("user.get", {"id": ana_user["id"]})
    ana.call("user.set_status", {"status": "online"})
    ana.call("user.update_me", {"name": "Ana S."})
    ana.call("user.directory")
    ana.call("daemon.status")   # an agent's, tenant-scoped

    # -- numbers and queues
    conn = admin.call("connection.create", {"name": "Main", "kind": "sim", "greeting": "Hi!"})
    admin.call("connection.list")
    admin.call("connection.get", {"id": conn["id"]})
    admin.call("connection.update", {"id": conn["id"], "farewell": "Bye", "settings": {"groups": "route"}})
    admin.call("connection.restart", {"id": conn["id"]})
    wait_for(lambda: admin.call("connection.get", {"id": conn["id"]})["status"] == "connected")
    spare = admin.call("connection.create", {"name": "Spare", "kind": "sim"})
    admin.call("connection.logout", {"id": spare["id"]})
    admin.call("connection.delete", {"id": spare["id"]})
    sales = admin.call("queue.create", {"name": "Sales", "auto_close_hours": 48})
    admin.call("queue.update", {"id": sales["id"], "greeting": "Sales here"})
    admin.call("queue.set_members", {"id": sales["id"], "user_ids": [ana_user["id"]]})
    admin.call("queue.list")
    admin.call("connection.set_queues", {"id": conn["id"], "queue_ids": [sales["id"]]})
    admin.call("connection.set_queues", {"id": conn["id"], "queue_ids": []})
    gone = admin.call("queue.create", {"name": "Gone", "color": "#aabbcc"})
    admin.call("queue.delete", {"id": gone["id"]})

    # -- customers write in
    admin.call("sim.customers")
    admin.call("sim.say", {"from": "5511900000001", "body": "hello there", "name": "Carla"})
    admin.call("sim.say", {"from": "5511900000002", "body": "hello again", "name": "Davi"})
    admin.call("sim.journal")
    admin.call("sim.fault", {"duplicate_inbound": False})
    page = admin.call("ticket.list", {"counts": True, "limit": 1})
    assert "next" in page and "counts" in page   # both optional parts are validated too
    tickets = admin.call("ticket.list")["tickets"]
    first, second = tickets[-1], tickets[0]
    ana.call("ticket.list", {"mine": False})
    ana.call("ticket.get", {"id": first["id"]})
    ana.call("ticket.accept", {"id": first["id"]})
    sent = ana.call("message.send", {"ticket_id": first["id"], "body": "Hi {{first_name}}"})
    part = ana.call("media.upload", {"name": "notes.txt", "data": base64.b64encode(b"hello").decode()})
    done = ana.call("media.upload", {"upload_id": part["upload_id"], "offset": part["size"], "done": True,
                                     "data": base64.b64encode(b" there").decode()})
    ana.call("message.send", {"ticket_id": first["id"], "upload_id": done["upload_id"]})
    spare = ana.call("media.upload", {"name": "spare.txt", "data": "eA==", "done": True})
    ana.call("media.discard", {"upload_id": spare["upload_id"]})
    admin.call("sim.fault", {"failed_downloads": 1})
    admin.call("sim.say", {"from": "5511900000001", "type": "image"})
    [photo] = [m for m in admin.call("message.list", {"ticket_id": first["id"]})["messages"] if m["type"] == "image"]
    ana.call("media.fetch", {"message_id": photo["id"]})
    ana.call("message.list", {"ticket_id": first["id"], "limit": 1})
    ana.call("message.read", {"ticket_id": first["id"]})
    ana.call("message.typing", {"ticket_id": first["id"]})
    ana.call("message.search", {"query": "hello"})
    ana.call("message.react", {"message_id": sent["id"], "emoji": "👍"})
    for name in ("vip", "lead"):   # agents attach tags; a supervisor creates them
        admin.call("tag.create", {"name": name})
    ana.call("ticket.set_tags", {"id": first["id"], "tags": ["vip"]})
    ana.call("ticket.tag", {"id": first["id"], "tags": ["vip", "lead"]})
    ana.call("note.create", {"ticket_id": first["id"], "body": "calls back at 5"})
    ana.call("note.list", {"ticket_id": first["id"]})
    _walk_cloud(admin)
    with FakeOpenAI() as ai:  # the assistant, against the scripted OpenAI-compatible server
        admin.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"},
                                        "embeddings": {"model": "fake-embed"}})
        admin.call("assistant.get")
        admin.call("assistant.models")
        ana.call("assistant.status")
        faq = admin.call("knowledge.add", {"kind": "faq", "title": "When do you open?", "body": "At 9."})
        admin.call("knowledge.update", {"id": faq["id"], "body": "At 9, Monday to Friday."})
        admin.call("knowledge.list")
        ana.call("knowledge.get", {"id": faq["id"]})
        ana.call("knowledge.search", {"query": "open"})
        ai.reply("We'll call you at 5.")
        ana.call("copilot.suggest", {"ticket_id": first["id"], "stream": True})
        ai.reply("Thank you.")
        ana.call("copilot.rewrite", {"text": "thx", "style": "formal", "ticket_id": first["id"]})
        ai.reply("Calls back at 5.")
        ana.call("copilot.summarize", {"ticket_id": first["id"], "note": True})
        ai.reply('{"tags": ["lead"], "reason": "a sales lead"}')
        ana.call("copilot.tags", {"ticket_id": first["id"]})
        ai.reply("We open at 9.")
        admin.call("bot.test", {"ticket_id": first["id"]})
        admin.call("bot.list")
        admin.call("assistant.usage")
        admin.call("knowledge.delete", {"id": faq["id"]})
    ana.call("ticket.history", {"id": first["id"]})
    admin.call("ticket.transfer", {"id": first["id"], "queue_id": sales["id"], "message": "Moving you"})
    admin.call("ticket.close", {"id": first["id"], "farewell": False})
    admin.call("ticket.reopen", {"id": first["id"]})
    wait_for(lambda: all(m["ack"] != "queued" for m in
                         admin.call("message.list", {"ticket_id": first["id"]})["messages"]))
    # a failed message, retried
    admin.call("ticket.accept", {"id": second["id"]})
    admin.call("sim.fault", {"send_failure_rate": 1.0})
    doomed = admin.call("message.send", {"ticket_id": second["id"], "body": "this one fails"})
    wait_for(lambda: {m["id"]: m for m in admin.call("message.list", {"ticket_id": second["id"]})["messages"]}
             [doomed["id"]]["ack"] == "failed", timeout=15)
    admin.call("sim.fault", {"send_failure_rate": 0.0})
    admin.call("message.retry", {"id": doomed["id"]})
    # an unconfirmed message (its answer lost), listed, resent deliberately, its receipts released
    wait_for(lambda: not admin.call("daemon.status")["outbox"]["queued"])
    admin.call("sim.fault", {"lose_answers": 1})
    lost = admin.call("message.send", {"ticket_id": second["id"], "body": "did this arrive?"})
    wait_for(lambda: {m["id"]: m for m in admin.call("message.list", {"ticket_id": second["id"]})["messages"]}
             [lost["id"]]["ack"] == "unconfirmed", timeout=15)
    admin.call("message.retry", {"id": lost["id"], "resend": True})
    admin.call("sim.fault", {"release_receipts": True})
    admin.call("message.send_to", {"number": "+55 11 90000-0003", "body": "We wrote first"})
    assert sent["ack"] == "queued"

    # -- contacts
    contacts = admin.call("contact.list")
    carla = next(c for c in contacts if c["number"] == "5511900000001")
    admin.call("contact.get", {"id": carla["id"]})
    admin.call("contact.update", {"id": carla["id"], "owner_user_id": ana_user["id"], "custom_fields": {"plan": "gold"}})
    admin.call("contact.get", {"id": carla["id"]})   # with an owner now
    admin.call("contact.set_tags", {"id": carla["id"], "tags": ["vip"]})
    admin.call("contact.tag", {"id": carla["id"], "tags": ["vip", "gold"]})
    twin = admin.call("contact.create", {"number": "+55 11 90000-0009", "name": "Carla (work)", "tags": ["lead"]})
    admin.call("contact.merge", {"id": twin["id"], "into_id": carla["id"], "dry_run": True})
    admin.call("contact.merge", {"id": twin["id"], "into_id": carla["id"]})
    lonely = admin.call("contact.create", {"number": "+55 11 90000-0010"})
    admin.call("contact.delete", {"id": lonely["id"]})
    csv = "number,name,plan,tags\n+55 11 90000-0020,Eva,gold,promo\nnot a number,Broken,,\n"
    admin.call("contact.import", {"data": csv, "dry_run": True})
    admin.call("contact.import", {"data": csv, "skip_invalid": True})
    admin.call("contact.export")

    # -- tags, quick replies, tokens, audit, reports
    tag = admin.call("tag.create", {"name": "temp", "color": "#123456"})
    admin.call("tag.list")
    admin.call("tag.delete", {"id": tag["id"]})
    qr = ana.call("quickreply.create", {"shortcut": "thanks", "body": "Thank you, {{name}}!", "personal": True})
    admin.call("quickreply.create", {"shortcut": "hours", "body": "We open at 8"})
    ana.call("quickreply.list", {"query": "th"})
    ana.call("quickreply.update", {"id": qr["id"], "body": "Thanks!"})
    ana.call("quickreply.delete", {"id": qr["id"]})
    tok = admin.call("token.create", {"name": "crm", "role": "agent", "ttl_days": 30})
    admin.call("token.list", {"all_users": True})
    admin.call("token.revoke", {"id": tok["id"]})
    admin.call("audit.list", {"action": "ticket.*"})
    admin.call("audit.list")
    admin.call("report.summary")
    admin.call("report.series", {"by": "hour", "group": "agent"})
    admin.call("report.series", {"group": "tag"})
    admin.call("report.live")

    # -- campaigns (default pacing: the second message waits its slot, so the campaign is running)
    ids = [c["id"] for c in admin.call("contact.list") if not c["opted_out"]][:3]
    admin.call("campaign.create", {"name": "Preview", "variants": ["Hi {{first_name}}"], "contact_ids": ids,
                                   "dry_run": True})
    camp = admin.call("campaign.create", {"name": "Promo", "variants": ["Hi {{first_name}}", "Hello {{name}}"],
                                          "contact_ids": ids})
    admin.call("campaign.list")
    admin.call("campaign.get", {"id": camp["id"]})   # pending: with a projection
    admin.call("campaign.start", {"id": camp["id"]})
    admin.call("campaign.show", {"id": camp["id"]})
    try:
        admin.call("campaign.pause", {"id": camp["id"]})
    except Conflict:   # it already finished (a quick machine and an open slot for each): cancel a fresh one
        camp = admin.call("campaign.create", {"name": "Promo 2", "variants": ["Hi"], "contact_ids": ids})
        admin.call("campaign.start", {"id": camp["id"]})
        admin.call("campaign.pause", {"id": camp["id"]})
    admin.call("campaign.recipients", {"id": camp["id"]})
    admin.call("campaign.cancel", {"id": camp["id"]})
    admin.call("campaign.get", {"id": camp["id"]})   # nothing pending: no projection

    # -- schedules and webhooks
    later = time.time() + 30 * 86400
    admin.call("ticket.transfer", {"id": first["id"], "user_id": ana_user["id"]})  # hers to schedule into
    s = ana.call("schedule.create", {"body": "Reminder", "contact_id": carla["id"], "run_at": later})
    ana.call("schedule.create", {"body": "Weekly", "ticket_id": first["id"], "cron": "0 9 * * mon"})
    ana.call("schedule.list")
    ana.call("schedule.update", {"id": s["id"], "body": "Reminder!", "cron": "0 10 * * *"})
    ana.call("schedule.update", {"id": s["id"], "cron": None})
    ana.call("schedule.cancel", {"id": s["id"]})
    hook = admin.call("webhook.create", {"url": "http://127.0.0.1:9/hook", "event_types": ["ticket.created"]})
    admin.call("webhook.list")
    admin.call("webhook.update", {"id": hook["id"], "enabled": False})
    admin.call("webhook.update", {"id": hook["id"]})
    admin.call("webhook.enable", {"id": hook["id"], "enabled": True})
    admin.call("webhook.get", {"id": hook["id"]})
    admin.call("webhook.dead_letters", {"id": hook["id"]})
    admin.call("webhook.deliveries", {"id": hook["id"]})
    admin.call("webhook.replay", {"id": hook["id"]})
    admin.call("webhook.delete", {"id": hook["id"]})

    # -- events, the daemon, logging out
    sub = ana.call("events.subscribe", {"topics": ["tenant"], "since_seq": 0})
    ana.call("events.unsubscribe", {"subscription": sub["subscription"]})
    admin.call("daemon.backup", {"name": "walk.db"})
    admin.call("report.summary", {"since": 0})
    ana.call("auth.logout")
    assert me["id"] != other["id"]


def test_the_isolation_table_answers_only_what_discover_declares(world):  # noqa: F811 - the fixture
    """Every call of the tenant-isolation table: a success matches its result schema (and its params the
    published params object), an error is one of the kinds the method declares (data.kind)."""
    w = world
    with Raw(w.z.socket) as r:
        contract = Contract(r.call("rpc.discover"))
    problems = []
    for method, rows in cases(w, w.a, w.b).items():
        for case in rows:
            reply, _ = run(w, method, case, w.tokens["admin"])
            where = f"{method}({json.dumps(case.params)[:100]})"
            if "error" in reply:
                kind = (reply["error"].get("data") or {}).get("kind")
                if kind not in contract.kinds[method]:
                    problems.append(f"{where}: {kind} is not among the declared "
                                    f"{sorted(contract.kinds[method])} ({reply['error']['message'][:120]})")
            else:
                problems += [f"{where}: {p}" for p in contract.problems(method, reply["result"])]
                problems += [f"{where}: {p}" for p in contract.params_problems(method, case.params)]
    assert not problems, "answers rpc.discover does not declare:\n  " + "\n  ".join(problems)

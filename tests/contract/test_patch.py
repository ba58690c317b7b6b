"""Patch semantics through a real zingd, one test per namespace: a field left out keeps its value,
``null`` clears it where clearing makes sense, and ``null`` for a field that can't be empty is
refused (-32602) rather than quietly ignored. "0 clears" is gone: 0 is an id like any other."""

from __future__ import annotations

import time

import pytest

from tests.helpers import wait_for
from tests.integration.desk import make_desk
from zingd.errors import NotFound, ZingError


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path, env={"ZING_TICKETS__AUTO_CLOSE_INTERVAL_S": "0.2"})
    yield d
    d.close()
    d.z.kill()


def invalid_params(call, method: str, params: dict) -> None:
    with pytest.raises(ZingError) as err:
        call(method, params)
    assert err.value.kind == "invalid_params", (method, params, err.value)


def test_queue_auto_close_can_be_switched_off(desk):
    """The issue's case: an auto-close rule of ~1 second, switched off with null, closes nothing."""
    qid = desk.queue("Fast", auto_close_hours=0.0003, auto_close_message="Closing", greeting="Hi")
    q = desk.admin.call("queue.update", {"id": qid, "auto_close_hours": None})
    assert q["auto_close_hours"] is None
    assert (q["greeting"], q["auto_close_message"]) == ("Hi", "Closing")   # left out: kept
    desk.say("5511800000801", "hello")
    t = desk.ticket_of("5511800000801")
    assert t["queue_id"] == qid
    time.sleep(2.0)   # ten auto-close rounds, each past the old rule's second
    assert desk.admin.call("ticket.get", {"id": t["id"]})["status"] != "closed"
    # the same rule, set again, closes it: the wait above was long enough to tell
    desk.admin.call("queue.update", {"id": qid, "auto_close_hours": 0.0003})
    wait_for(lambda: desk.admin.call("ticket.get", {"id": t["id"]})["status"] == "closed")
    invalid_params(desk.admin.call, "queue.update", {"id": qid, "name": None})
    assert desk.admin.call("queue.update", {"id": qid})["name"] == "Fast"


def test_connection_settings_keys_go_back_to_their_default(desk):
    cid = desk.connection_id
    qid = desk.queue("Support")
    c = desk.admin.call("connection.update", {"id": cid, "greeting": "Olá",
                                              "settings": {"default_queue_id": qid, "menu_max_retries": 2,
                                                           "groups": "route"}})
    assert c["settings"] == {"default_queue_id": qid, "menu_max_retries": 2, "groups": "route"}
    c = desk.admin.call("connection.update", {"id": cid, "settings": {"default_queue_id": None,
                                                                      "menu_max_retries": None}})
    assert c["settings"] == {"groups": "route"} and c["greeting"] == "Olá"
    assert desk.admin.call("connection.get", {"id": cid})["settings"] == {"groups": "route"}
    invalid_params(desk.admin.call, "connection.update", {"id": cid, "greeting": None})


def test_contact_owner_and_fields_clear_with_null(desk):
    desk.agent("ana")
    contact = desk.admin.call("contact.create", {"number": "+55 11 90000-0801", "name": "Carla",
                                                 "custom_fields": {"plan": "gold", "city": "Recife"}})
    c = desk.admin.call("contact.update", {"id": contact["id"], "owner_user_id": desk.agent_ids["ana"]})
    assert c["owner_user_id"] == desk.agent_ids["ana"] and c["name"] == "Carla"
    c = desk.admin.call("contact.update", {"id": contact["id"], "owner_user_id": None,
                                           "custom_fields": {"city": None}})
    assert c["owner_user_id"] is None and c["custom_fields"] == {"plan": "gold"}
    assert desk.admin.call("contact.get", {"id": contact["id"]})["owner"] is None
    with pytest.raises(NotFound):   # 0 no longer means "clear": it is an id, and there is no user 0
        desk.admin.call("contact.update", {"id": contact["id"], "owner_user_id": 0})
    invalid_params(desk.admin.call, "contact.update", {"id": contact["id"], "name": None})


def test_schedule_cron_clears_to_a_one_off(desk):
    desk.say("5511800000802", "hi")
    t = desk.ticket_of("5511800000802")
    s = desk.admin.call("schedule.create", {"body": "Weekly", "contact_id": t["contact_id"], "cron": "0 9 * * mon"})
    assert s["cron"] == "0 9 * * mon"
    one = desk.admin.call("schedule.update", {"id": s["id"], "cron": None})
    assert one["cron"] is None and one["run_at"] == s["run_at"] and one["body"] == "Weekly"
    later = time.time() + 86400
    moved = desk.admin.call("schedule.update", {"id": s["id"], "run_at": later})
    assert moved["run_at"] == pytest.approx(later) and moved["cron"] is None
    invalid_params(desk.admin.call, "schedule.update", {"id": s["id"], "body": None})
    invalid_params(desk.admin.call, "schedule.update", {"id": s["id"], "run_at": None})


def test_tenant_settings_go_back_to_their_default(desk):
    out = desk.admin.call("tenant.update_settings", {"region": "PT", "rating": True, "rating_prompt": "1-5?"})
    assert out == {"region": "PT", "rating": True, "rating_prompt": "1-5?"}
    out = desk.admin.call("tenant.update_settings", {"rating_prompt": None, "region": None})
    assert out == {"rating": True}
    assert desk.admin.call("tenant.get")["settings"] == {"rating": True}
    # the deprecated name is the same method
    assert desk.admin.call("tenant.settings", {"rating": None}) == {}
    tenant = desk.admin.call("tenant.update", {"id": 1, "max_users": 12})
    assert desk.admin.call("tenant.update", {"id": 1, "timezone": "America/Recife"})["max_users"] == 12
    invalid_params(desk.admin.call, "tenant.update", {"id": 1, "name": None})
    assert tenant["name"] == "Acme"


def test_users_patch_only_what_they_name(desk):
    ana = desk.agent("ana")
    uid = desk.agent_ids["ana"]
    u = desk.admin.call("user.update", {"id": uid, "max_tickets": 3})
    assert (u["max_tickets"], u["name"], u["role"], u["enabled"]) == (3, "Ana", "agent", 1)
    invalid_params(desk.admin.call, "user.update", {"id": uid, "role": None})
    me = ana.call("user.update_me", {"signature": True})
    assert (me["signature"], me["name"]) == (1, "Ana")
    invalid_params(ana.call, "user.update_me", {"name": None})


def test_quick_replies_and_webhooks_patch_only_what_they_name(desk):
    qr = desk.admin.call("quickreply.create", {"shortcut": "hours", "body": "8 to 6"})
    out = desk.admin.call("quickreply.update", {"id": qr["id"], "body": "8 to 7"})
    assert (out["shortcut"], out["body"]) == ("hours", "8 to 7")
    invalid_params(desk.admin.call, "quickreply.update", {"id": qr["id"], "shortcut": None})
    hook = desk.admin.call("webhook.create", {"url": "http://127.0.0.1:9/hook"})
    assert desk.admin.call("webhook.update", {"id": hook["id"], "enabled": False})["enabled"] == 0
    assert desk.admin.call("webhook.update", {"id": hook["id"]})["enabled"] == 0   # nothing named: unchanged
    assert desk.admin.call("webhook.enable", {"id": hook["id"], "enabled": True})["enabled"] == 1
    with pytest.raises(NotFound):
        desk.admin.call("webhook.update", {"id": hook["id"] + 100})
    invalid_params(desk.admin.call, "webhook.update", {"id": hook["id"], "enabled": None})

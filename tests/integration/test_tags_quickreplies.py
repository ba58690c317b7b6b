"""Tags, quick replies and the team as events: what changes them is published (tenant-scoped, a
personal quick reply to its owner only), colours and variables are checked when saved, and a
ticket is tagged with existing tags only, added to or replaced as asked."""

from __future__ import annotations

import pytest

from tests.integration.support import Raw
from zingd.errors import Invalid, NotFound

PASSWORD = "secret-pw"


def listen(desk, email: str) -> tuple[Raw, int]:
    """A raw connection logged in as ``email``, subscribed to its tenant's events."""
    r = Raw(desk.z.socket)
    r.call("auth.login", {"email": email, "password": PASSWORD})
    return r, r.call("events.subscribe", {"topics": ["tenant"]})["subscription"]


def heard_until(r: Raw, sub: int, last) -> list[dict]:
    """The events of ``sub`` up to and including the first one ``last`` accepts (events come in
    sequence order, so whatever was published before it has arrived by then)."""
    out = []
    while True:
        frame = r.recv()
        if frame.get("method") == "event" and frame["params"]["subscription"] == sub:
            out.append(frame["params"])
            if last(frame["params"]):
                return out


def named(event: dict, type_: str, key: str, value) -> bool:
    return event["type"] == type_ and next(iter(event["data"].values())).get(key) == value


def test_reference_data_changes_are_events(desk):
    desk.agent("ana")
    desk.agent("sue", role="supervisor")
    ana, ana_sub = listen(desk, "ana@acme.test")
    sue, sue_sub = listen(desk, "sue@acme.test")
    root = desk.admin
    other = root.call("tenant.create", {"name": "Other"})
    root.call("user.create", {"email": "olga@other.test", "password": PASSWORD, "role": "admin",
                              "tenant_id": other["id"]})
    olga, olga_sub = listen(desk, "olga@other.test")
    with ana, sue, olga:
        tag = root.call("tag.create", {"name": "vip", "color": "#1C7ED6"})
        root.call("tag.create", {"name": "vip", "color": "#f00"})
        root.call("tag.delete", {"id": tag["id"]})
        queue = root.call("queue.create", {"name": "Billing"})
        reply = root.call("quickreply.create", {"shortcut": "hi", "body": "Hello {{first_name}}"})
        root.call("quickreply.update", {"id": reply["id"], "body": "Hi {{name}}"})
        root.call("quickreply.delete", {"id": reply["id"]})
        mine = ana.call("quickreply.create", {"shortcut": "mine", "body": "ana's own", "personal": True})
        bia = root.call("user.create", {"email": "bia@acme.test", "password": PASSWORD, "name": "Bia"})
        root.call("user.update", {"id": bia["id"], "enabled": False})
        root.call("tag.create", {"name": "marker"})

        events = heard_until(sue, sue_sub, lambda e: named(e, "tag.created", "name", "marker"))
        kinds = [(e["type"], next(iter(e["data"].values())).get("name") or
                  next(iter(e["data"].values())).get("shortcut")) for e in events]
        assert kinds == [("tag.created", "vip"), ("tag.updated", "vip"), ("tag.deleted", "vip"),
                         ("queue.created", "Billing"), ("quickreply.created", "hi"), ("quickreply.updated", "hi"),
                         ("quickreply.deleted", "hi"), ("user.created", "Bia"), ("user.updated", "Bia"),
                         ("tag.created", "marker")]  # not ana's personal reply: it is hers alone
        assert events[0]["data"]["tag"]["color"] == "#1c7ed6" and events[1]["data"]["tag"]["color"] == "#ff0000"
        assert events[3]["data"]["queue"]["id"] == queue["id"]
        assert events[5]["data"]["quick_reply"]["body"] == "Hi {{name}}"
        assert events[8]["data"]["user"]["enabled"] == 0

        heard = heard_until(ana, ana_sub, lambda e: named(e, "tag.created", "name", "marker"))
        assert [e["data"]["quick_reply"]["id"] for e in heard if e["type"] == "quickreply.created"] == \
               [reply["id"], mine["id"]]

        root.call("tag.create", {"name": "other-marker"})  # as Acme's; Olga's tenant hears nothing of it
        olga.call("tag.create", {"name": "theirs"})
        heard = heard_until(olga, olga_sub, lambda e: e["type"] == "tag.created")
        assert [(e["type"], e["data"]["tag"]["name"]) for e in heard] == [("tag.created", "theirs")]


def test_tag_colours_are_checked(desk):
    for bad in ("red", "#12345", "1c7ed6", "#gggggg", ""):
        with pytest.raises(Invalid, match="#rrggbb or #rgb"):
            desk.admin.call("tag.create", {"name": "x", "color": bad})
    assert desk.admin.call("tag.list") == []
    assert desk.admin.call("tag.create", {"name": "x", "color": "#AbC"})["color"] == "#aabbcc"


def test_quick_replies_with_unknown_variables_are_refused(desk):
    ana = desk.agent("ana")
    with pytest.raises(Invalid, match=r"unknown variable \{\{bogus\}\}: the known ones are \{\{name\}\} "
                                      r"\{\{first_name\}\} .*\{\{date\}\}"):
        ana.call("quickreply.create", {"shortcut": "x", "body": "Oi {{name}}, {{bogus}}", "personal": True})
    reply = ana.call("quickreply.create", {"shortcut": "x", "body": "Oi {{ Name }}, {{protocol}}", "personal": True})
    with pytest.raises(Invalid, match=r"\{\{nome\}\}, \{\{x\}\}"):
        ana.call("quickreply.update", {"id": reply["id"], "body": "{{x}} {{nome}}"})
    assert [r["body"] for r in ana.call("quickreply.list")] == ["Oi {{ Name }}, {{protocol}}"]
    # What an agent types is sent as typed where it names no variable: nothing fails over it.
    desk.say("5511800000900", "oi")
    t = desk.ticket_of("5511800000900")
    sent = desk.admin.call("message.send", {"ticket_id": t["id"], "body": "{{bogus}} {{number}}"})
    assert sent["body"] == "{{bogus}} 5511800000900"


def test_tagging_a_ticket_adds_and_never_creates(desk):
    ana = desk.agent("ana", status="online")
    for name in ("vip", "billing"):
        desk.admin.call("tag.create", {"name": name})
    desk.say("5511800000901", "oi")
    t = desk.ticket_of("5511800000901")
    ana.call("ticket.accept", {"id": t["id"]})
    assert ana.call("ticket.set_tags", {"id": t["id"], "tags": ["vip"]})["tags"] == ["vip"]
    assert ana.call("ticket.set_tags", {"id": t["id"], "tags": ["billing"], "mode": "add"})["tags"] == \
           ["billing", "vip"]
    for who in (ana, desk.admin):  # nobody creates a tag by tagging a ticket
        with pytest.raises(NotFound, match="no tag 'nosuchtag'.*tag.create") as e:
            who.call("ticket.set_tags", {"id": t["id"], "tags": ["vip", "nosuchtag"], "mode": "add"})
        assert e.value.details["unknown"] == ["nosuchtag"]
    assert "nosuchtag" not in [g["name"] for g in desk.admin.call("tag.list")]
    assert ana.call("ticket.get", {"id": t["id"]})["tags"] == ["billing", "vip"]
    assert ana.call("ticket.set_tags", {"id": t["id"], "tags": ["vip"], "mode": "remove"})["tags"] == ["billing"]
    assert ana.call("ticket.set_tags", {"id": t["id"], "tags": ["vip"]})["tags"] == ["vip"]  # replace: the default

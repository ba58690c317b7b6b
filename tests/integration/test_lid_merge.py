"""One contact per person, through a real zingd: a customer known by phone who writes by LID
before WhatsApp maps it gets a placeholder; the message that carries the mapping folds it in
(contact, ticket, messages, tags, custom fields), subscribers hear it, and ``zingctl contacts
show`` explains it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.integration.support import db_rows
from zingctl.main import app as zingctl
from zingd.errors import NotFound

PHONE, LID = "5511933330001", "987654321012345"


@pytest.fixture
def show(desk, tmp_path, monkeypatch):
    """``zingctl contacts show ID`` as the desk's admin (linked to this OS user) runs it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ("ZING_TOKEN", "ZING_SOCKET", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)

    def run(contact_id: int) -> str:
        result = CliRunner().invoke(zingctl, ["--socket", str(desk.z.socket), "contacts", "show", str(contact_id)])
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout
    return run


def contacts(desk) -> list[dict]:
    return desk.admin.call("contact.list")


def test_a_lid_placeholder_merges_when_whatsapp_maps_it(desk, show):
    desk.say(PHONE, "by phone")
    [real] = contacts(desk)
    first = desk.ticket_of(PHONE)
    desk.say(PHONE, "by my hidden id", lid=LID, hide_phone=True)
    ghost = next(c for c in contacts(desk) if c["number"] == f"{LID}@lid")  # the mapping is not known yet
    second = desk.ticket_of(f"{LID}@lid")
    assert second["id"] != first["id"]
    desk.admin.call("contact.set_tags", {"id": ghost["id"], "tags": ["vip"]})
    desk.admin.call("contact.update", {"id": ghost["id"], "custom_fields": {"plan": "gold"}})
    seq = db_rows(desk.z, "SELECT max(seq) AS seq FROM events")[0]["seq"]

    desk.say(PHONE, "WhatsApp knows me now", lid=LID)  # the LID with the phone beside it (SenderAlt)
    assert [c["id"] for c in contacts(desk)] == [real["id"]]
    with pytest.raises(NotFound):
        desk.admin.call("contact.get", {"id": ghost["id"]})
    contact = desk.admin.call("contact.get", {"id": real["id"]})
    assert contact["ids"] == [f"{PHONE}@s.whatsapp.net", f"{LID}@lid"]
    assert (contact["tags"], contact["custom_fields"]) == (["vip"], {"plan": "gold"})
    [merge] = contact["merges"]
    assert (merge["merged_id"], merge["user_id"], merge["tickets_joined"]) == (
        ghost["id"], None, [[first["id"], second["id"]]])
    active = [t for t in contact["tickets"] if t["status"] != "closed"]
    assert [t["id"] for t in active] == [first["id"]]
    bodies = [m["body"] for m in desk.messages(first["id"]) if m["direction"] == "in"]
    assert bodies == ["by phone", "by my hidden id", "WhatsApp knows me now"]
    assert desk.messages(second["id"]) == []
    assert desk.admin.call("ticket.get", {"id": second["id"]})["status"] == "closed"

    # what subscribers were sent: the placeholder gone, the closed ticket redrawn
    events = db_rows(desk.z, "SELECT type, ticket_id, json_extract(data, '$.merged') AS merged FROM events "
                             "WHERE seq > ? ORDER BY seq", (seq,))
    assert {"type": "contact.updated", "ticket_id": None, "merged": ghost["id"]} in events
    assert {"type": "ticket.updated", "ticket_id": second["id"], "merged": None} in events

    text = show(real["id"])
    assert f"merged from contact {ghost['id']} (LID {LID}) on " in text
    assert f"automatically: WhatsApp said LID {LID} is +{PHONE}" in text
    assert f"ticket {second['id']} joined into {first['id']}" in text

    desk.say(PHONE, "and again", lid=LID)  # the mapping once more: nothing new to fold
    assert len(desk.admin.call("contact.get", {"id": real["id"]})["merges"]) == 1


def test_a_placeholder_gets_the_number_when_the_phone_is_new(desk):
    desk.say(PHONE, "hidden", lid=LID, hide_phone=True)
    [ghost] = contacts(desk)
    assert ghost["number"] == f"{LID}@lid"
    desk.say(PHONE, "mapped", lid=LID)
    [contact] = contacts(desk)
    assert (contact["id"], contact["number"]) == (ghost["id"], PHONE)
    assert desk.admin.call("contact.get", {"id": contact["id"]})["merges"] == []
    assert len(desk.messages(desk.ticket_of(PHONE)["id"])) >= 2

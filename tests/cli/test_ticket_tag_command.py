"""`zingctl tickets tag`: adds tags (the others stay) unless told --replace or --remove, and an
unknown name is an error on stderr, never a new tag."""

from __future__ import annotations

from tests.cli.test_desk_commands import new_ticket


def test_tickets_tag_adds_replaces_removes_and_never_creates(cli):
    tid = str(new_ticket(cli, "5511910000077", "oi")["id"])
    for name in ("vip", "billing", "lead"):
        cli("tags", "create", name)
    assert cli.json("tickets", "tag", tid, "vip")["tags"] == ["vip"]
    assert "tags: billing, vip" in cli("tickets", "tag", tid, "billing").stdout  # vip stays
    err = cli("tickets", "tag", tid, "nosuchtag", code=1).stderr
    assert "[not_found]" in err and "no tag 'nosuchtag'" in err and "zingctl tags create" in err
    assert "nosuchtag" not in [g["name"] for g in cli.json("tags", "list")]
    assert cli.json("tickets", "show", tid)["tags"] == ["billing", "vip"]
    assert cli.json("tickets", "tag", tid, "vip", "--remove")["tags"] == ["billing"]
    assert cli.json("tickets", "tag", tid, "lead", "--replace")["tags"] == ["lead"]
    assert cli.json("tickets", "tag", tid, "--clear")["tags"] == []
    cli("tickets", "tag", tid, "vip", "--replace", "--remove", code=2)

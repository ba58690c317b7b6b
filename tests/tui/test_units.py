"""The console's pure parts: the ticket index, filters, token storage, quick replies, paths, QR, formats."""

from __future__ import annotations

import json
import stat
import time

import pytest

from zingtui import actions, format
from zingtui.credentials import TokenStore
from zingtui.model import Filter, Inbox, TicketIndex
from zingtui.screens.connections import qr_text
from zingtui.screens.contact import parse_fields
from zingtui.screens.dialogs import complete_path
from zingtui.screens.main import MainScreen
from zingtui.widgets.conversation.composer import expand, rank_replies


def t(tid: int, at: float, status: str = "pending", user_id: int | None = None, updated: float | None = None,
      **extra) -> dict:
    return {"id": tid, "last_message_at": at, "status": status, "user_id": user_id,
            "updated_at": at if updated is None else updated, **extra}


def test_index_keeps_newest_activity_first_and_ignores_stale_views():
    index = TicketIndex()
    for ticket in (t(1, 10.0), t(2, 30.0), t(3, 20.0)):
        index.upsert(ticket)
    assert [r["id"] for r in index.rows] == [2, 3, 1]
    assert index.upsert(t(1, 40.0))  # new activity moves it to the top
    assert [r["id"] for r in index.rows] == [1, 2, 3]
    assert not index.upsert(t(1, 5.0, updated=1.0))  # an older view (a slow page) changes nothing
    assert index.rows[0]["last_message_at"] == 40.0
    assert index.discard(2) and not index.discard(2)
    assert [r["id"] for r in index.rows] == [1, 3]


def test_index_stays_sorted_through_ten_thousand_updates():
    index = TicketIndex()
    for i in range(10_000):
        index.upsert(t(i % 500, float(i)))
    keys = [(-r["last_message_at"], -r["id"]) for r in index.rows]
    assert keys == sorted(keys) and len(index) == 500


def test_inbox_moves_a_ticket_between_tabs():
    inbox = Inbox(me=7, supervisor=False)
    assert [tab.key for tab in inbox.tabs] == ["pending", "mine", "closed"]
    assert inbox.apply(t(1, 1.0)) == {"pending"}
    assert inbox.apply(t(1, 2.0, "open", user_id=7)) == {"pending", "mine"}
    assert inbox.apply(t(1, 3.0, "open", user_id=8)) == {"mine"}  # transferred away
    assert inbox.find(1) is None
    inbox.apply(t(2, 4.0, "closed", user_id=7))
    assert inbox.find(2)["status"] == "closed"
    assert [tab.key for tab in Inbox(me=1, supervisor=True).tabs] == ["pending", "mine", "closed", "all"]


def test_filter_params_and_matching():
    flt = Filter(queue_id=2, tag="vip")
    assert flt.params() == {"queue_id": 2, "tag": "vip"} and flt.active and not Filter().active
    assert flt.matches({"queue_id": 2, "tags": ["vip", "boleto"]})
    assert not flt.matches({"queue_id": 2, "tags": []}) and not flt.matches({"queue_id": 1, "tags": ["vip"]})
    inbox = Inbox(me=1, supervisor=False)
    inbox.apply(t(1, 1.0, queue_id=2, tags=["vip"]))
    inbox.apply(t(2, 2.0, queue_id=1, tags=["vip"]))
    assert [r["id"] for r in inbox.rows("pending", flt)] == [1]


def test_token_falls_back_to_a_private_file_without_a_keyring(tmp_path):
    path = tmp_path / "zing" / "credentials.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"zingctl": {"token": "keep-me"}}))
    store = TokenStore(path, use_keyring=True)  # this host has no keyring backend
    assert store.save("/run/zingd.sock", "zt_123") == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load("/run/zingd.sock") == "zt_123" and store.load("/other.sock") is None
    assert json.loads(path.read_text())["zingctl"] == {"token": "keep-me"}  # zingctl's entry survives
    store.forget("/run/zingd.sock")
    assert store.load("/run/zingd.sock") is None


def test_quick_replies_rank_by_fuzzy_match_and_expand_known_variables():
    replies = [{"shortcut": "obrigado", "body": "Obrigado, {{first_name}}!"},
               {"shortcut": "ola", "body": "Olá {{name}}, protocolo {{protocol}}"},
               {"shortcut": "prazo", "body": "Entrega em 5 dias"}]
    assert [r["shortcut"] for r in rank_replies(replies, "ob")] == ["obrigado"]
    assert [r["shortcut"] for r in rank_replies(replies, "")] == ["obrigado", "ola", "prazo"]
    assert rank_replies(replies, "entrega")[0]["shortcut"] == "prazo"
    values = format.variables({"contact_name": "", "contact_push_name": "Ana Souza", "contact_number": "55119"}, "Bia")
    assert expand(replies[1]["body"], values) == "Olá Ana Souza, protocolo {{protocol}}"
    assert expand(replies[0]["body"], values) == "Obrigado, Ana!"


def test_path_completion(tmp_path):
    (tmp_path / "invoice.pdf").write_text("x")
    (tmp_path / "images").mkdir()
    (tmp_path / ".hidden").write_text("x")
    assert complete_path(f"{tmp_path}/i") == [f"{tmp_path}/images/", f"{tmp_path}/invoice.pdf"]
    assert complete_path(f"{tmp_path}/") == [f"{tmp_path}/images/", f"{tmp_path}/invoice.pdf"]
    assert complete_path(f"{tmp_path}/nope/x") == []


def test_qr_code_is_drawn_two_module_rows_per_line():
    text = qr_text("2@abc")
    lines = text.plain.split("\n")
    assert len(lines) == (21 + 4 + 1) // 2 and {len(line) for line in lines} == {25}


def test_custom_fields_parse_one_per_line():
    assert parse_fields("plano: anual\ncidade: São Paulo: SP\nsem dois pontos\n: vazio") == {
        "plano": "anual", "cidade": "São Paulo: SP"}


def test_formats(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    now = 1767268800.0  # 2026-01-01 12:00
    assert format.day_label(now - 3600, now) == "Today"
    assert format.day_label(now - 86400, now) == "Yesterday"
    assert format.day_label(now - 3 * 86400, now) == "Mon 29 Dec 2025"
    assert format.short_when(now - 60, now) == "11:59" and format.short_when(now - 86400, now) == "31 Dec"
    assert [format.size(n) for n in (67, 48213, 5 << 20)] == ["67 B", "47.1 KB", "5.0 MB"]
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("act", actions.ACTS, ids=lambda a: a.action)
def test_every_action_in_the_table_exists_and_has_help(act):
    assert callable(getattr(MainScreen, f"action_{act.name}", None)), act.name
    assert act.title and act.help


def test_composer_keys_take_priority_and_no_context_binds_a_key_twice():
    for context in (actions.LIST, actions.CHAT, actions.COMPOSER):
        keys = [k for b in actions.bindings(context) for k in b.key.split(",")]
        assert len(keys) == len(set(keys)), context
    assert all(b.priority and b.key.startswith("ctrl+") for b in actions.bindings(actions.COMPOSER))

"""Full-text search: the FTS5 query builder (zingd/services/messages.py fts_query) and the
searches built on it (messages.search, contacts.list_contacts), against the real schema."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.services.support import props
from zingd.errors import Invalid
from zingd.services import contacts, messages
from zingd.services.messages import fts_query


# -- the builder ----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, query", [
    ("boleto", '"boleto"'),
    ("segunda via", '"segunda" "via"'),
    ("bol*", '"bol"*'),
    ("2ª-via!", '"2ª" "via"'),
    ('"quoted"', '"quoted"'),
    ("AND OR NOT NEAR", '"AND" "OR" "NOT" "NEAR"'),
    ("body:x tenant_id:2", '"body" "x" "tenant_id" "2"'),
    ("e-mail*", '"e"* "mail"*'),
])
def test_typed_text_becomes_quoted_terms(typed, query):
    assert fts_query(typed) == query


@pytest.mark.parametrize("typed", ["", "   ", "*", "!!! ???", '""', "- * ^"])
def test_no_words_is_invalid(typed):
    with pytest.raises(Invalid, match="at least one word") as e:
        fts_query(typed)
    assert e.value.kind == "invalid" and e.value.details == {"field": "query"}


# -- searching ------------------------------------------------------------------------------------

async def found(db, actor, query, **filters) -> list[str]:
    return [r["body"] for r in await messages.search(db, actor, query, **filters)]


async def test_search_finds_words_prefixes_and_ignores_case_and_accents(db, seed, customers):
    await customers.say("5511911110001", "Preciso da SEGUNDA via do boleto, por favor")
    await customers.say("5511911110002", "Qual o horário de atendimento?")
    admin_ = seed["adam"]
    assert await found(db, admin_, "boleto") == ["Preciso da SEGUNDA via do boleto, por favor"]
    assert await found(db, admin_, "segunda") == await found(db, admin_, "bol*")
    assert await found(db, admin_, "horario") == ["Qual o horário de atendimento?"]  # no accent typed
    assert await found(db, admin_, "boleto horário") == []  # every word must match
    assert await found(db, admin_, "bol") == []  # a word, not a prefix, without '*'


async def test_search_keeps_to_what_the_caller_may_see(db, seed, customers):
    await customers.say("5511911110003", "senha bloqueada")  # still in the menu: any agent's
    await customers.say("5511911110004", "senha esquecida")
    await customers.say("5511911110004", "2")  # Support: ana only
    await customers.say("5511911110005", "senha nova", tenant=seed.other_tenant, connection=seed.other_connection)
    assert sorted(await found(db, seed["ana"], "senha")) == ["senha bloqueada", "senha esquecida"]
    assert await found(db, seed["bia"], "senha") == ["senha bloqueada"]
    assert await found(db, seed["olga"], "senha") == ["senha nova"]
    assert await found(db, seed["sue"], "senha", status="pending", queue_id=seed.queues["Support"]) == [
        "senha esquecida"]


async def test_search_filters_by_time(db, seed, customers, clock):
    await customers.say("5511911110006", "pedido 1")
    clock.advance(3600)
    await customers.say("5511911110006", "pedido 2")
    assert await found(db, seed["sue"], "pedido", since=clock.now) == ["pedido 2"]
    assert await found(db, seed["sue"], "pedido", until=clock.now) == ["pedido 1"]
    assert await found(db, seed["sue"], "pedido") == ["pedido 2", "pedido 1"]  # newest first


async def test_contacts_search_by_name_push_name_and_number(db, seed, customers):
    await customers.say("5511911110007", "oi", push_name="Joana Prado")
    await db.write(contacts.create, seed["ana"], {"number": "5521988880002", "name": "Carlos Émerson"})
    names = lambda rows: [r["name"] or r["push_name"] for r in rows]  # noqa: E731
    assert names(await contacts.list_contacts(db, seed["ana"], "joa*", None, 10)) == ["Joana Prado"]
    assert names(await contacts.list_contacts(db, seed["ana"], "emerson", None, 10)) == ["Carlos Émerson"]
    assert names(await contacts.list_contacts(db, seed["ana"], "5521988880002", None, 10)) == ["Carlos Émerson"]
    assert await contacts.list_contacts(db, seed["olga"], "joana", None, 10) == []


async def test_a_decomposed_accent_in_the_query_still_finds_the_word(db, seed, customers):
    decomposed = unicodedata.normalize("NFD", "não recebi")
    await customers.say("5511911110008", decomposed)
    assert await found(db, seed["adam"], decomposed.split()[0]) == [decomposed]


# -- properties -----------------------------------------------------------------------------------

# Letters and digits the product's users write (Latin with accents, Greek, Cyrillic), composed (NFC)
# — within Unicode 6.1, which is what SQLite's unicode61 tokenizer knows.
WORD_CHARS = "".join(ch for ch in map(chr, range(0x30, 0x500))
                     if unicodedata.category(ch)[0] in "LN" and unicodedata.normalize("NFC", ch) == ch)
words = st.text(st.sampled_from(WORD_CHARS), min_size=1, max_size=12)
separators = st.text(" \n\t.,;:!?-()/\"'*+", min_size=1, max_size=3)


@props(50)
@given(st.text(max_size=60) | st.lists(st.sampled_from(['"', "*", "^", ":", "(", ")", "AND", "OR", "NOT", "NEAR",
                                                         "-", "+", "{", "}", "body", "tenant_id", " ", "x"]),
                                        max_size=12).map("".join))
@example('x" OR tenant_id : "2')
@example("NEAR(x y, 2)")
@example("x* * ^y")
async def test_no_typed_text_makes_sqlite_fail(db, seed, text):
    try:
        query = fts_query(text)
    except Invalid:
        assert not any(ch.isalnum() for ch in text)
        return
    assert query  # never empty once there is a word
    rows = await messages.search(db, seed["adam"], text)  # would raise sqlite3.OperationalError
    assert isinstance(rows, list)
    assert isinstance(await contacts.list_contacts(db, seed["adam"], text, None, 5), list)


@props(40)
@given(st.lists(words, min_size=1, max_size=6), st.data())
async def test_a_word_of_a_message_finds_it_and_only_in_its_tenant(db, seed, customers, body_words, data):
    seps = [data.draw(separators) for _ in body_words]
    body = "".join(w + s for w, s in zip(body_words, seps)).strip() or body_words[0]
    row = await customers.say("5511922220001", body)
    theirs = await customers.say("5511922220001", body, tenant=seed.other_tenant, connection=seed.other_connection)
    word = data.draw(st.sampled_from(body_words))
    queries = [word, word[: data.draw(st.integers(1, len(word)))] + "*", " ".join(body_words)]
    if word.isascii():
        queries.append(word.swapcase())
    for query in queries:
        hits = [r["id"] for r in await messages.search(db, seed["adam"], query)]
        assert hits and hits[0] == row["id"], (query, body)  # the newest match comes first
        assert theirs["id"] not in hits

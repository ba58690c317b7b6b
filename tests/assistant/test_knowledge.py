"""The knowledge base (issue 14) through a real zingd and the scripted OpenAI-compatible server: FAQ
entries and documents found by words (FTS5) while the tenant has no embeddings model, by embeddings
once every chunk has a vector, embedded again when an entry or the model changes, never another
tenant's, changed only by supervisors and admins, and refusing what isn't text or is too big."""

from __future__ import annotations

import array
import itertools
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.assistant.openai_fake import FakeOpenAI, bag_of_words
from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.support import db_rows
from zingd.assistant import knowledge as K
from zingd.errors import Forbidden, Invalid, NotFound, ZingError
from zingd.rpc.client import SyncClient

PASSWORD = "password-123"
# The fake server's embeddings, with synonyms: "money back" means "refund" to it, as to a real model,
# so a search found by embeddings shows itself by finding what shares no word with the query.
SYNONYMS = {"money": "refund", "reimbursed": "refund", "parcel": "shipping", "delivery": "shipping"}
BROKEN = "kaboom"  # a text holding it makes the fake server's /embeddings fail (HTTP 500)

REFUND = ("How do I get a refund?", "Refunds are paid within 7 days to the card you used.")
SHIPPING = ("How long does shipping take?", "Orders ship in 2 business days; tracking comes by e-mail.")
GUIDE = """# Store guide

Welcome to the store.

## Returns

Items can be returned within 30 days, in their box.

## Warranty

```
# this is a comment in a code block, not a heading
```

Every device has a 12 month warranty against defects.
"""


def meaning(texts: list[str]) -> list[list[float]]:
    if any(BROKEN in t for t in texts):
        raise RuntimeError("scripted embeddings failure")
    return bag_of_words([" ".join(SYNONYMS.get(w, w) for w in re.findall(r"\w+", t.lower())) for t in texts])


@pytest.fixture(scope="module")
def ai():
    with FakeOpenAI() as server:
        server.embeddings_fn = meaning
        yield server


@pytest.fixture(scope="module")
def z(tmp_path_factory):
    d = Zingd(tmp_path_factory.mktemp("knowledge")).start()
    d.token = bootstrap(d)
    yield d
    d.stop()


@dataclass
class Company:
    id: int
    admin: SyncClient
    supervisor: SyncClient
    agent: SyncClient


_names = itertools.count(1)


@contextmanager
def company(z: Zingd, ai: FakeOpenAI | None = None, model: str = "fake-embed") -> Iterator[Company]:
    """A fresh tenant with an admin, a supervisor and an agent logged in; with ``ai``, its
    embeddings model is ``model`` on the fake server (else it has none)."""
    slug = f"co{next(_names)}"
    clients = []
    with z.client(z.token) as root:
        tenant = root.call("tenant.create", {"name": slug.title()})["id"]
        for role in ("admin", "supervisor", "agent"):
            root.call("user.create", {"email": f"{role}@{slug}.test", "name": role.title(), "role": role,
                                      "password": PASSWORD, "tenant_id": tenant})
            c = z.client()
            c.call("auth.login", {"email": f"{role}@{slug}.test", "password": PASSWORD})
            clients.append(c)
    co = Company(tenant, *clients)
    if ai is not None:
        co.admin.call("assistant.update", {"base_url": ai.url, "embeddings": {"model": model}})
    try:
        yield co
    finally:
        for c in clients:
            c.close()


def faq(c: SyncClient, qa: tuple[str, str]) -> dict:
    return c.call("knowledge.add", {"kind": "faq", "title": qa[0], "body": qa[1]})


def embedded(c: SyncClient) -> list[dict]:
    """The entries, once every chunk of every one has a vector of the current model."""
    entries = c.call("knowledge.list")
    return entries if entries and all(e["embedded"] == e["chunks"] for e in entries) else []


def embedding_inputs(ai: FakeOpenAI) -> list[str]:
    return [text for r in list(ai.requests) if r["path"].endswith("/embeddings") for text in r["json"]["input"]]


# -- found by words ---------------------------------------------------------------------------------
def test_without_an_embeddings_model_entries_are_found_by_words(z, ai):
    with company(z) as co:
        refund = faq(co.supervisor, REFUND)
        shipping = faq(co.supervisor, SHIPPING)
        guide = co.admin.call("knowledge.add", {"kind": "document", "title": "Store guide", "body": GUIDE,
                                                "source": "guide.md"})
        assert refund["chunks"] == 1 and refund["embedded"] == 0 and refund["created_by"] is not None
        assert [(e["id"], e["kind"]) for e in co.agent.call("knowledge.list")] == \
               [(refund["id"], "faq"), (shipping["id"], "faq"), (guide["id"], "document")]
        assert [e["id"] for e in co.agent.call("knowledge.list", {"kind": "document"})] == [guide["id"]]

        shown = co.agent.call("knowledge.get", {"id": guide["id"]})
        assert shown["body"] == GUIDE.strip() and shown["source"] == "guide.md"
        assert [p["context"] for p in shown["parts"]] == ["Store guide", "Store guide › Returns",
                                                          "Store guide › Warranty"]
        assert "# this is a comment in a code block" in shown["parts"][2]["body"]

        found = co.agent.call("knowledge.search", {"query": "Can I return items I bought?"})
        assert found["by"] == "words" and "no embeddings model" in found["reason"]
        assert found["hits"][0]["id"] == guide["id"] and found["hits"][0]["context"].endswith("Returns")
        assert "30 days" in found["hits"][0]["excerpt"]

        found = co.agent.call("knowledge.search", {"query": "refund?", "limit": 1})
        assert [(h["id"], h["kind"], h["title"]) for h in found["hits"]] == [(refund["id"], "faq", REFUND[0])]
        assert not co.agent.call("knowledge.search", {"query": "money back"})["hits"]  # no shared word
        assert co.agent.call("knowledge.search", {"query": "?! ..."})["hits"] == []

        co.supervisor.call("knowledge.delete", {"id": refund["id"]})
        assert not co.agent.call("knowledge.search", {"query": "refund"})["hits"]
        audit = [a["action"] for a in co.admin.call("audit.list", {"action": "knowledge.*"})]
        assert sorted(audit) == ["knowledge.add", "knowledge.add", "knowledge.add", "knowledge.delete"]


# -- found by embeddings --------------------------------------------------------------------------
def test_with_an_embeddings_model_entries_are_found_by_meaning(z, ai):
    with company(z, ai) as co:
        refund = faq(co.supervisor, REFUND)
        faq(co.supervisor, SHIPPING)
        wait_for(lambda: embedded(co.agent))
        assert f"{REFUND[0]}\n\n{REFUND[1]}" in embedding_inputs(ai)

        found = co.agent.call("knowledge.search", {"query": "Can I have my money back?"})
        assert found["by"] == "embeddings" and found["reason"] == ""
        assert found["hits"][0]["id"] == refund["id"] and 0 < found["hits"][0]["score"] <= 1

        [row] = db_rows(z, "SELECT model, vector FROM knowledge_chunks WHERE entry_id = ?", (refund["id"],))
        vector = array.array("f", row["vector"])
        assert row["model"] == "fake-embed" and len(vector) == 64
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)  # stored unit length


def wide(texts: list[str]) -> list[list[float]]:
    """1,536 dimensions, as a real embeddings model answers: 16 chunks make a ~0.5 MB answer."""
    noise = [(k * 17) % 1000 / 1e6 for k in range(1536)]   # no zeros: every number is written out in full
    return [[x + n for x, n in zip(v, noise)] for v in bag_of_words(texts, 1536)]


def test_vectors_of_a_real_models_size_are_stored_and_searched(z):
    with FakeOpenAI() as server, company(z, server) as co:
        server.embeddings_fn = wide
        guide = "\n\n".join(f"## Topic {i}\n\nAll about topic number {i}, its refunds and its shipping."
                          for i in range(20))
        entry = co.supervisor.call("knowledge.add", {"kind": "document", "title": "Topics", "body": guide})
        assert entry["chunks"] == 20
        wait_for(lambda: embedded(co.agent))
        [row] = db_rows(z, "SELECT length(vector) AS size FROM knowledge_chunks WHERE entry_id = ? AND seq = 0",
                        (entry["id"],))
        assert row["size"] == 1536 * 4
        found = co.agent.call("knowledge.search", {"query": "topic number 7"})
        assert found["by"] == "embeddings" and found["hits"][0]["id"] == entry["id"]


def test_a_changed_entry_is_embedded_again(z, ai):
    with company(z, ai) as co:
        entry = faq(co.supervisor, REFUND)
        wait_for(lambda: embedded(co.agent))
        new = "We ship every parcel with tracking."
        changed = co.supervisor.call("knowledge.update", {"id": entry["id"], "title": "Do you ship abroad?",
                                                          "body": new})
        assert changed["title"] == "Do you ship abroad?"
        wait_for(lambda: embedded(co.agent))
        assert f"Do you ship abroad?\n\n{new}" in embedding_inputs(ai)
        found = co.agent.call("knowledge.search", {"query": "delivery"})   # a synonym of the new text only
        assert found["by"] == "embeddings" and [h["id"] for h in found["hits"]] == [entry["id"]]
        assert found["hits"][0]["excerpt"] == new

        before = len(embedding_inputs(ai))
        co.supervisor.call("knowledge.update", {"id": entry["id"], "source": "faq.txt"})  # not its text
        assert co.agent.call("knowledge.get", {"id": entry["id"]})["source"] == "faq.txt"
        assert embedded(co.agent)  # the vectors stayed
        assert len(embedding_inputs(ai)) == before


def test_a_changed_model_embeds_everything_again_and_words_serve_meanwhile(z, ai):
    with company(z, ai) as co:
        entry = faq(co.supervisor, REFUND)
        wait_for(lambda: embedded(co.agent))
        co.admin.call("assistant.update", {"embeddings": {"model": "fake-embed-2"}})
        found = co.agent.call("knowledge.search", {"query": "refund"})   # the old vectors are not used
        if found["by"] == "words":  # unless the new ones were computed already
            assert "being computed" in found["reason"] and found["hits"][0]["id"] == entry["id"]
        wait_for(lambda: embedded(co.agent))
        assert db_rows(z, "SELECT model FROM knowledge_chunks WHERE entry_id = ?", (entry["id"],)) == \
               [{"model": "fake-embed-2"}]
        assert co.agent.call("knowledge.search", {"query": "money"})["by"] == "embeddings"


def test_a_failing_embeddings_server_leaves_words_and_the_next_change_embeds(z, ai):
    with company(z, ai) as co:
        entry = faq(co.supervisor, ("What is kaboom?", f"{BROKEN} is our refund promise."))
        found = wait_for(lambda: (f := co.agent.call("knowledge.search", {"query": "refund promise"}))
                         and "stopped" in f["reason"] and f)
        assert found["by"] == "words" and found["hits"][0]["id"] == entry["id"]
        assert "stopped at 0 of 1 chunks" in found["reason"] and "HTTP 500" in found["reason"], found["reason"]
        usage = co.admin.call("assistant.usage")["rows"]
        assert any(r["feature"] == "embeddings" and r["failures"] for r in usage), usage
        co.supervisor.call("knowledge.update", {"id": entry["id"], "title": "What is our promise?",
                                                "body": "A refund within 7 days."})
        wait_for(lambda: embedded(co.agent))
        assert co.agent.call("knowledge.search", {"query": "money"})["hits"][0]["id"] == entry["id"]


# -- tenants and roles ------------------------------------------------------------------------------
def test_another_tenants_entries_are_never_found_nor_reached(z, ai):
    with company(z, ai) as acme, company(z, ai) as bravo, company(z) as words:
        theirs = faq(bravo.supervisor, REFUND)
        faq(bravo.supervisor, ("Zebra?", "The zebra stripes refund policy."))
        ours = faq(acme.supervisor, SHIPPING)
        faq(words.supervisor, SHIPPING)
        wait_for(lambda: embedded(acme.agent) and embedded(bravo.agent))
        for co in (acme, words):
            for query in ("refund", "money back", "zebra stripes"):
                found = co.agent.call("knowledge.search", {"query": query})
                assert all(h["title"] == SHIPPING[0] for h in found["hits"]), (query, found)
        assert [e["id"] for e in acme.agent.call("knowledge.list")] == [ours["id"]]
        for method, params in (("knowledge.get", {"id": theirs["id"]}), ("knowledge.delete", {"id": theirs["id"]}),
                               ("knowledge.update", {"id": theirs["id"], "body": "mine now"})):
            with pytest.raises(NotFound):
                acme.admin.call(method, params)
        with z.client(z.token) as root:  # a superadmin acts in its own tenant here too
            with pytest.raises(NotFound):
                root.call("knowledge.get", {"id": theirs["id"]})
        assert bravo.agent.call("knowledge.get", {"id": theirs["id"]})["body"] == REFUND[1]


def test_agents_search_and_read_but_only_supervisors_and_admins_change(z, ai):
    with company(z) as co:
        entry = faq(co.supervisor, REFUND)
        for method, params in (("knowledge.add", {"kind": "faq", "title": "Q?", "body": "A."}),
                               ("knowledge.update", {"id": entry["id"], "body": "changed"}),
                               ("knowledge.delete", {"id": entry["id"]})):
            with pytest.raises(Forbidden):
                co.agent.call(method, params)
        assert co.agent.call("knowledge.search", {"query": "refund"})["hits"][0]["id"] == entry["id"]
        assert co.agent.call("knowledge.get", {"id": entry["id"]})["body"] == REFUND[1]
        assert co.admin.call("knowledge.update", {"id": entry["id"], "body": "Paid in 5 days."})["size"] == 15
        assert co.supervisor.call("knowledge.delete", {"id": entry["id"]})["id"] == entry["id"]


# -- bad input --------------------------------------------------------------------------------------
def test_empty_huge_or_binary_input_is_refused_and_nothing_is_saved(z, ai):
    with company(z) as co:
        c = co.supervisor
        for params, field, words in (
            ({"kind": "faq", "title": " ", "body": "An answer."}, "title", "the question is empty"),
            ({"kind": "faq", "title": "Q?", "body": "\n\t \n"}, "body", "the answer is empty"),
            ({"kind": "faq", "title": "Two\nlines?", "body": "A."}, "title", "must be one line"),
            ({"kind": "faq", "title": "Q?", "body": "a" * (K.MAX_ANSWER + 1)}, "body", "at most 10,000"),
            ({"kind": "document", "title": "Big", "body": "word " * 40_001}, "body", "at most 200,000"),
            ({"kind": "document", "title": "T" * 501, "body": "text"}, "title", "at most 500"),
            ({"kind": "document", "title": "Garbage", "body": "PK\x03\x04\x00\x00\x14\x00 \x89PNG\r\n\x1a"},
             "body", "not plain text"),
            ({"kind": "document", "title": "Escape", "body": "\x1b[31mred"}, "body", "U+001B"),
        ):
            with pytest.raises(Invalid) as e:
                c.call("knowledge.add", params)
            assert e.value.details.get("field") == field and words in e.value.message, (params, e.value)
        for params in ({"kind": "pdf", "title": "Q", "body": "A"}, {"kind": "faq", "title": "Q", "body": "A", "x": 1},
                       {"kind": "faq", "title": "Q"}):
            with pytest.raises(ZingError) as e:
                c.call("knowledge.add", params)
            assert e.value.kind == "invalid_params"
        assert c.call("knowledge.list") == []

        entry = faq(c, REFUND)
        with pytest.raises(Invalid):
            c.call("knowledge.update", {"id": entry["id"], "body": "\x00\x00"})
        with pytest.raises(NotFound):
            c.call("knowledge.update", {"id": entry["id"] + 1000, "body": "x"})
        assert c.call("knowledge.get", {"id": entry["id"]})["body"] == REFUND[1]
        for params in ({"query": ""}, {"query": "   "}, {"query": "x" * (K.MAX_QUERY + 1)}):
            with pytest.raises(Invalid):
                co.agent.call("knowledge.search", params)
        for limit in (0, 21):
            with pytest.raises(ZingError) as e:
                co.agent.call("knowledge.search", {"query": "refund", "limit": limit})
            assert e.value.kind == "invalid_params"


def test_an_update_changes_what_it_names_and_null_clears_only_the_source(z, ai):
    with company(z) as co:
        entry = co.supervisor.call("knowledge.add", {"kind": "faq", "title": REFUND[0], "body": REFUND[1],
                                                     "source": "faq.txt"})
        co.supervisor.call("knowledge.update", {"id": entry["id"], "body": "Paid in 5 days."})
        shown = co.agent.call("knowledge.get", {"id": entry["id"]})
        assert (shown["title"], shown["body"], shown["source"]) == (REFUND[0], "Paid in 5 days.", "faq.txt")
        assert co.supervisor.call("knowledge.update", {"id": entry["id"], "source": None})["source"] == ""
        for field in ("title", "body"):
            with pytest.raises(ZingError) as e:
                co.supervisor.call("knowledge.update", {"id": entry["id"], field: None})
            assert e.value.kind == "invalid_params"
        assert co.agent.call("knowledge.get", {"id": entry["id"]})["body"] == "Paid in 5 days."


def test_the_knowledge_base_has_a_ceiling(z, ai):
    with company(z) as co:
        page = ("A sentence about the product. " * 33 + "\n\n") * 200   # ~200 chunks of ~1,000 characters
        added = 0
        with pytest.raises(Invalid) as e:
            for n in range(K.MAX_CHUNKS // 200 + 1):
                co.supervisor.call("knowledge.add", {"kind": "document", "title": f"Manual {n}", "body": page})
                added += 1
        assert f"at most {K.MAX_CHUNKS:,} chunks" in e.value.message and added == K.MAX_CHUNKS // 200
        assert sum(e["chunks"] for e in co.agent.call("knowledge.list")) <= K.MAX_CHUNKS
        assert len(co.agent.call("knowledge.list")) == added


# -- chunks and prompts -------------------------------------------------------------------------------
def test_documents_are_cut_at_headings_then_paragraphs_and_every_piece_is_bounded():
    text = "Intro.\n\n# A\n\n## Empty\n### Deep\n" + "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(6))
    text += "\n\n# B\n\n" + "x" * 2500 + "\n\n" + "Sentence one. " * 120
    pieces = K.chunks("document", "Doc", text)
    assert pieces[0] == ("Doc", "Intro.")
    assert {c for c, _ in pieces} == {"Doc", "Doc › A › Empty › Deep", "Doc › B"}
    assert all(0 < len(body) <= K.CHUNK for _, body in pieces)
    rebuilt = " ".join(" ".join(body.split()) for _, body in pieces)
    assert rebuilt.count("Paragraph") == 6 and rebuilt.count("x") == 2500 and rebuilt.count("Sentence one.") == 120
    assert K.chunks("faq", "Q?", "Short answer.") == [("Q?", "Short answer.")]


def test_grounding_numbers_each_hit_with_its_title_and_entry():
    hits = [{"id": 7, "title": "Guide", "kind": "document", "context": "Guide › Returns", "excerpt": "30 days.",
             "score": 0.9},
            {"id": 3, "title": "Refund?", "kind": "faq", "context": "Refund?", "excerpt": "7 days.", "score": 0.5}]
    assert K.grounding(hits) == "[1] Guide › Returns (document #7)\n30 days.\n\n[2] Refund? (FAQ #3)\n7 days."
    assert K.grounding([]) == ""

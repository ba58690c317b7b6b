"""The writer's group commit: many units, one transaction, each unit in its own savepoint.

A unit's failure, a dry run, a ``BaseException`` or a failed COMMIT must touch only the callers
they concern, and the writer must carry on; if its loop ever stops, writes are refused at once.
Batches are forced deterministically: a gate unit holds the writer until every unit under test
is queued behind it, so they all land in the same group transaction.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from zingd.actor import Actor
from zingd.bus import Bus
from zingd.errors import Conflict, Invalid, Unavailable
from zingd.services import connections, contacts, queues
from zingd.store.db import Database
from tests.helpers import until

ADMIN = Actor(user_id=1, tenant_id=1, role="admin", name="Admin")


def seed(tx) -> None:
    tx.insert("tenants", {"name": "T", "created_at": tx.now})
    tx.insert("users", {"tenant_id": 1, "email": "a@t", "name": "Admin", "role": "admin", "password_hash": "x",
                        "created_at": tx.now, "updated_at": tx.now})
    contacts.create(tx, ADMIN, {"number": "5511900000001"})


@pytest.fixture
async def db(tmp_path):
    failures: list[BaseException] = []
    d = Database(tmp_path / "zing.db", Bus(), on_writer_failure=failures.append)
    d.failures = failures
    await d.open()
    await d.write(seed)
    yield d
    await d.close()


class Gate:
    """A unit that holds the writer thread until released, so what is queued meanwhile is one batch."""

    def __init__(self, db: Database) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.task = asyncio.ensure_future(db.write(self._unit))

    def _unit(self, tx) -> None:
        self.entered.set()
        assert self.release.wait(30), "gate never released"

    async def batch(self, *writes) -> list:
        """Queue ``writes`` behind the gate, open it, and return their outcomes in order."""
        await asyncio.to_thread(self.entered.wait, 30)
        tasks = [asyncio.ensure_future(w) for w in writes]
        await asyncio.sleep(0)  # each task runs up to its queue put
        self.release.set()
        await self.task
        return await asyncio.gather(*tasks, return_exceptions=True)


def add_tag(tx, name: str, fail: bool = False) -> int:
    tag_id = tx.insert("tags", {"tenant_id": 1, "name": name})
    tx.emit(1, "tag.created", {"name": name})
    if fail:
        raise ValueError(f"unit {name} fails after writing")
    return tag_id


async def tag_names(db) -> set[str]:
    return {r["name"] for r in await db.all("SELECT name FROM tags")}


async def test_one_failing_unit_rolls_back_alone(db):
    heard = []
    db.bus.tap(lambda e: heard.append(e.data["name"]))
    results = await Gate(db).batch(*(db.write(add_tag, f"t{i}", i == 17) for i in range(40)))
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 1 and "t17" in str(failed[0])
    assert await tag_names(db) == {f"t{i}" for i in range(40)} - {"t17"}
    assert sorted(heard) == sorted(await tag_names(db))  # no event from the rolled-back unit
    assert await db.value("SELECT count(*) FROM events") == 39


async def test_units_that_mutate_their_arguments_beside_a_failing_neighbour(db):
    """Each of these rewrites the dict it was given (JSON-encodes a field). Replaying them after a
    neighbour's failure used to fail them; now nothing runs twice."""
    commits = db.commits
    fields = {"custom_fields": {"plan": "gold"}}
    hours = {"name": "Suporte", "business_hours": {"timezone": "UTC", "days": {"mon": [["08:00", "18:00"]]}}}
    conn_changes: dict = {}
    conn = await db.write(connections.create, ADMIN, 1, "Sales", "sim", False, "", "")
    results = await Gate(db).batch(
        db.write(contacts.update, ADMIN, 1, fields),
        db.write(queues.create, ADMIN, {"name": "Vendas"}),
        db.write(queues.create, ADMIN, {"name": "Vendas"}),  # conflict: the neighbour that fails
        db.write(queues.create, ADMIN, hours),
        db.write(connections.update, ADMIN, conn["id"], conn_changes, {"groups": "route"}),
        db.write(contacts.update, ADMIN, 424242, {"name": "nobody"}),  # not found
    )
    updated, vendas, dup, suporte, sales, missing = results
    assert db.commits - commits == 3  # the connection, the gate, then all six in one transaction
    assert updated["custom_fields"] == {"plan": "gold"}
    assert vendas["name"] == "Vendas" and isinstance(dup, Conflict)
    assert suporte["business_hours"]["days"]["mon"] == [["08:00", "18:00"]]
    assert sales["settings"]["groups"] == "route"
    assert missing.kind == "not_found"
    assert json.loads(await db.value("SELECT custom_fields FROM contacts WHERE id = 1")) == {"plan": "gold"}
    assert await db.value("SELECT count(*) FROM queues") == 2


async def test_a_lone_failing_unit_runs_once(db):
    runs = []

    def fails(tx):
        runs.append(1)
        raise RuntimeError("nope")

    results = await Gate(db).batch(db.write(fails), db.write(add_tag, "kept"))
    assert isinstance(results[0], RuntimeError) and results[1] > 0
    assert runs == [1]


async def test_dry_run_between_two_real_writes(db):
    heard = []
    db.bus.tap(lambda e: heard.append(e.data["name"]))
    before, ghost, after = await Gate(db).batch(
        db.write(add_tag, "before"), db.dry_run(add_tag, "ghost"), db.write(add_tag, "after"))
    assert before > 0 and ghost > 0 and after > 0
    assert await tag_names(db) == {"before", "after"}
    assert heard == ["before", "after"]


async def test_a_dry_run_of_a_failing_unit_raises_its_error(db):
    def invalid(tx):
        add_tag(tx, "half")
        raise Invalid("no")

    with pytest.raises(Invalid):
        await db.dry_run(invalid)
    assert await tag_names(db) == set()


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, asyncio.CancelledError, GeneratorExit])
async def test_a_base_exception_in_a_unit_fails_only_that_unit(db, exc):
    def dies(tx):
        add_tag(tx, "half-done")
        raise exc("boom")

    results = await Gate(db).batch(db.write(add_tag, "a"), db.write(dies), db.write(add_tag, "b"))
    assert isinstance(results[1], RuntimeError) and exc.__name__ in str(results[1])
    assert await tag_names(db) == {"a", "b"}
    assert await db.write(add_tag, "later") > 0  # the writer carries on
    assert db.writer_alive and db.failures == []


def breaks_commit(tx) -> None:
    """A deferred foreign key violation: every statement succeeds, then COMMIT refuses."""
    tx.execute("PRAGMA defer_foreign_keys = ON")
    tx.execute("INSERT INTO tags (tenant_id, name) VALUES (999, 'orphan')")


async def test_a_failed_commit_tells_every_caller_and_the_writer_carries_on(db):
    heard = []
    db.bus.tap(lambda e: heard.append(e.data["name"]))
    results = await Gate(db).batch(db.write(add_tag, "a"), db.write(breaks_commit), db.write(add_tag, "b"))
    assert all(isinstance(r, Unavailable) and "nothing was written" in str(r) for r in results)
    assert await tag_names(db) == set() and heard == []
    assert db.failed_commits == 1
    assert await db.write(add_tag, "after") > 0
    assert heard == ["after"] and db.writer_alive


def fills_the_disk(tx) -> None:
    """Disk full for this unit's statement: SQLite's page limit set to what the file has now."""
    tx.execute(f"PRAGMA max_page_count = {tx.value('PRAGMA page_count')}")
    try:
        tx.execute("INSERT INTO tags (tenant_id, name) VALUES (1, randomblob(1000000))")
    finally:
        tx.execute("PRAGMA max_page_count = 1073741823")


async def test_a_full_disk_is_unavailable_and_every_answer_matches_what_was_kept(db):
    results = await Gate(db).batch(db.write(add_tag, "a"), db.write(fills_the_disk), db.write(add_tag, "b"))
    assert isinstance(results[1], Unavailable) and "full" in str(results[1])
    kept = await tag_names(db)
    for name, result in (("a", results[0]), ("b", results[2])):  # SQLite may undo the whole transaction
        assert (name in kept) == (not isinstance(result, Exception)), (name, result)
        assert isinstance(result, (int, Unavailable))
    assert await db.write(add_tag, "after") > 0 and db.writer_alive


async def test_a_dead_writer_refuses_writes_at_once_and_says_so(db, monkeypatch):
    def broken(conn, batch):
        raise MemoryError("the writer's own loop failed")

    monkeypatch.setattr(db, "_run_batch", broken)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(db.write(add_tag, "lost"), 10)
    await until(lambda: db.failures)  # the daemon is told (it stops and exits non-zero)
    assert not db.writer_alive and isinstance(db.failures[0], MemoryError)
    with pytest.raises(Unavailable, match="restarted"):
        await asyncio.wait_for(db.write(add_tag, "refused"), 10)
    with pytest.raises(Unavailable):
        db.check_writer()


async def test_units_share_commits_and_results_come_back(db):
    before = db.commits
    ids = await Gate(db).batch(*(db.write(add_tag, f"x{i}") for i in range(200)))
    assert len(set(ids)) == 200
    assert db.commits - before == 2  # the gate's batch and the 200 together
    assert db.units >= 200


async def test_a_page_read_that_overruns_its_loop_budget_finishes_on_the_reader(db):
    """A slow plan is interrupted on the loop thread and finished on the reader: same rows."""
    count_to = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT max(i) AS m FROM n"
    assert await db.page(count_to, (10,)) == [{"m": 10}]
    assert db.page_fallbacks == 0
    assert await db.page(count_to, (2_000_000,)) == [{"m": 2_000_000}]
    assert db.page_fallbacks == 1
    await db._page_swap  # a fresh loop connection (3.11 would re-prepare the interrupted statement forever)
    assert await db.page(count_to, (10,)) == [{"m": 10}]
    assert db.page_fallbacks == 1

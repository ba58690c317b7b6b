"""The writer's group commit: many units, one transaction; a failing unit rolls back alone."""

import asyncio

import pytest

from zingd.bus import Bus
from zingd.store.db import Database


@pytest.fixture
async def db(tmp_path):
    d = Database(tmp_path / "zing.db", Bus())
    await d.open()
    await d.write(lambda tx: tx.insert("tenants", {"name": "T", "created_at": tx.now}))
    yield d
    await d.close()


def add_tag(tx, name: str, fail: bool = False) -> int:
    tag_id = tx.insert("tags", {"tenant_id": 1, "name": name})
    tx.emit(1, "tag.created", {"name": name})
    if fail:
        raise ValueError(f"unit {name} fails after writing")
    return tag_id


async def test_one_failing_unit_rolls_back_alone(db):
    heard = []
    db.bus.tap(lambda e: heard.append(e.data["name"]))
    units = [db.write(add_tag, f"t{i}", i == 17) for i in range(40)]
    results = await asyncio.gather(*units, return_exceptions=True)
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 1 and "t17" in str(failed[0])
    names = {r["name"] for r in await db.all("SELECT name FROM tags")}
    assert names == {f"t{i}" for i in range(40)} - {"t17"}
    assert sorted(heard) == sorted(names)  # no event from the rolled-back unit
    seqs = [r["seq"] for r in await db.all("SELECT seq FROM events ORDER BY seq")]
    assert len(seqs) == 39


async def test_units_share_commits_and_results_come_back(db):
    before = db.commits
    ids = await asyncio.gather(*(db.write(add_tag, f"x{i}") for i in range(200)))
    assert len(set(ids)) == 200
    assert db.commits - before < 200  # grouped
    assert db.units >= 200


async def test_a_lone_failing_unit_runs_once(db):
    runs = []

    def fails(tx):
        runs.append(1)
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError):
        await db.write(fails)
    assert runs == [1]


async def test_dry_run_keeps_nothing(db):
    out = await db.dry_run(add_tag, "ghost")
    assert out > 0
    assert await db.value("SELECT count(*) FROM tags WHERE name = 'ghost'") == 0

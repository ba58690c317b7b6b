"""The in-process tier: a real Database (writer thread, group commit, reader) on tmp_path,
seeded by ONE unit of work, and the helpdesk rules called as the daemon calls them
(``await db.write(unit, ...)`` for units, ``await fn(db, ...)`` for reads). No daemon process,
no socket, no mocks: outcomes are asserted on rows, published events and raised errors.

The company every test starts from (``seed_company``):

  tenant 1 "Acme" (UTC, settings {})
    users  root (superadmin), adam (admin), sue (supervisor),
           ana (agent, online; Sales + Support), bia (agent, online; Sales),
           caio (agent, offline; Sales), dora (agent, online; no queue)
    queues Sales (greeting "Sales here, {{first_name}}!"), Support; both assign_mode off, always open
    connection "Main" (sim, greeting "Welcome!", no farewell, settings {}), no linked queues:
           the chatbot menu is "1 - Sales, 2 - Support"
  tenant 2 "Globex": olga (agent, online; Elsewhere), queue Elsewhere, connection "Theirs"
"""

from __future__ import annotations

import pytest

from tests.services.support import START, Customers, Heard, ManualClock, Seed
from zingd.actor import Actor
from zingd.bus import Bus
from zingd.store.db import Database, Tx

USERS = (  # name, tenant (1 or 2), role, status
    ("root", 1, "superadmin", "offline"),
    ("adam", 1, "admin", "offline"),
    ("sue", 1, "supervisor", "offline"),
    ("ana", 1, "agent", "online"),
    ("bia", 1, "agent", "online"),
    ("caio", 1, "agent", "offline"),
    ("dora", 1, "agent", "online"),
    ("olga", 2, "agent", "online"),
)
MEMBERS = {"Sales": ("ana", "bia", "caio"), "Support": ("ana",), "Elsewhere": ("olga",)}


def seed_company(tx: Tx) -> Seed:
    """The one seed unit of work."""
    tenants = {n: tx.insert("tenants", {"name": name, "created_at": tx.now})
               for n, name in ((1, "Acme"), (2, "Globex"))}
    users, actors = {}, {}
    for name, tenant, role, status in USERS:
        uid = tx.insert("users", {
            "tenant_id": tenants[tenant], "email": f"{name}@t{tenant}.test", "name": name.title(), "role": role,
            "password_hash": "-", "status": status, "created_at": tx.now, "updated_at": tx.now})
        users[name] = uid
    queues = {}
    for name, tenant, greeting in (("Sales", 1, "Sales here, {{first_name}}!"), ("Support", 1, ""),
                                   ("Elsewhere", 2, "")):
        queues[name] = tx.insert("queues", {"tenant_id": tenants[tenant], "name": name, "greeting": greeting,
                                            "created_at": tx.now})
        for member in MEMBERS[name]:
            tx.insert("queue_members", {"queue_id": queues[name], "user_id": users[member]})
    connections = {}
    for name, tenant, greeting in (("Main", 1, "Welcome!"), ("Theirs", 2, "")):
        connections[tenant] = tx.insert("connections", {
            "tenant_id": tenants[tenant], "name": name, "kind": "sim", "is_default": 1, "greeting": greeting,
            "created_at": tx.now, "updated_at": tx.now})
    for name, tenant, role, _ in USERS:
        own = frozenset(queues[q] for q, members in MEMBERS.items() if name in members)
        actors[name] = Actor(users[name], tenants[tenant], role, name.title(), None, own)
    return Seed(tenants[1], tenants[2], connections[1], connections[2], queues, users, actors)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def opened(tmp_path, clock):
    # synchronous=OFF: this tier tests rules, not durability (tests/integration/test_crash.py does that)
    db = Database(tmp_path / "zing.db", Bus(), synchronous="OFF", clock=clock)
    await db.open()
    seed = await db.write(seed_company)
    yield db, seed
    await db.close()


@pytest.fixture
def db(opened) -> Database:
    return opened[0]


@pytest.fixture
def seed(opened) -> Seed:
    return opened[1]


@pytest.fixture
def heard(db) -> Heard:
    """Events published from now on (the seed published none)."""
    h = Heard()
    db.bus.tap(h)
    return h


@pytest.fixture
def customers(db, seed) -> Customers:
    return Customers(db, seed)

"""The demo company: seeded once into an empty database by ``zingd --demo``.

The admin is linked to the OS user running zingd, so ``zingctl`` works at once
without a password; agents log in with the passwords printed below. The admin is a
superadmin of the demo daemon: every command (tenants, backups) can be tried on it.
"""

from __future__ import annotations

import asyncio
import logging
import os

from zingd.services.auth import create_user_row, hash_password
from zingd.store.db import Database, Tx

log = logging.getLogger(__name__)

ADMIN = ("admin@demo.zing", "Demo Admin", "demo-admin")
AGENTS = [("ana@demo.zing", "Ana Agent"), ("bruno@demo.zing", "Bruno Agent")]
AGENT_PASSWORD = "demo-agent"
GREETING = "Olá! Bem-vindo à Demo Co. Escolha um setor / Hi! Welcome to Demo Co. Pick a department:"
FAREWELL = "Atendimento encerrado, {{first_name}}. Protocolo {{protocol}}. Obrigado!"
QUEUES = [("Vendas", "#2f9e44", "Sales"), ("Suporte", "#1c7ed6", "Support")]


def _seed(tx: Tx, admin_hash: str, agent_hash: str, uid: int) -> bool:
    if tx.value("SELECT 1 FROM tenants WHERE name = 'Demo Co'"):
        return False
    tenant = tx.insert("tenants", {"name": "Demo Co", "created_at": tx.now, "timezone": "America/Sao_Paulo"})
    linked = None if tx.value("SELECT 1 FROM users WHERE os_uid = ?", (uid,)) else uid
    create_user_row(tx, tenant, ADMIN[0], ADMIN[1], "superadmin", admin_hash, os_uid=linked)
    agents = [create_user_row(tx, tenant, email, name, "agent", agent_hash)["id"] for email, name in AGENTS]
    for name, color, _ in QUEUES:
        qid = tx.insert("queues", {"tenant_id": tenant, "name": name, "color": color, "created_at": tx.now})
        for agent in agents:
            tx.insert("queue_members", {"queue_id": qid, "user_id": agent})
    tx.insert("connections", {"tenant_id": tenant, "name": "Demo WhatsApp", "kind": "sim", "is_default": 1,
                              "greeting": GREETING, "farewell": FAREWELL, "created_at": tx.now, "updated_at": tx.now})
    return True


async def seed(db: Database) -> None:
    admin_hash, agent_hash = await asyncio.gather(
        asyncio.to_thread(hash_password, ADMIN[2]), asyncio.to_thread(hash_password, AGENT_PASSWORD))
    if await db.write(_seed, admin_hash, agent_hash, os.getuid()):
        log.info("seeded Demo Co: admin %s / %s, agents %s / %s", ADMIN[0], ADMIN[2],
                 ", ".join(a[0] for a in AGENTS), AGENT_PASSWORD)

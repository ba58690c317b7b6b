"""Connections as other units of work see them."""

from __future__ import annotations

from zingd.errors import NotFound
from zingd.store.db import Tx

DEFAULT = "SELECT id FROM connections WHERE tenant_id = ? ORDER BY is_default DESC, id LIMIT 1"


def pick(tx: Tx, tenant_id: int, connection_id: int | None) -> int:
    """The connection named (if it is the tenant's), else the tenant's default one."""
    if connection_id is None:
        connection_id = tx.value(DEFAULT, (tenant_id,))
    if connection_id is None or not tx.value("SELECT 1 FROM connections WHERE id = ? AND tenant_id = ?",
                                             (connection_id, tenant_id)):
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    return connection_id

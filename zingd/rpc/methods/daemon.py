"""daemon.*: status and backups."""

from __future__ import annotations

import os

import msgspec

from zingd.backup import backup as run_backup
from zingd.errors import Conflict, Invalid, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


class BackupParams(msgspec.Struct, forbid_unknown_fields=True):
    path: str


@REGISTRY.method("daemon.status", result=R.DaemonStatus)
async def status(call: Call, p) -> dict:
    """What an operator needs at a glance: uptime, connections, outbox, subscribers, database."""
    # The OS user running zingd can read its database anyway: it sees what a superadmin sees.
    operator = call.actor.is_superadmin or call.session.peer_uid == os.getuid()
    return await call.app.status.report(call.actor, operator)


@REGISTRY.method("daemon.backup", BackupParams, result=R.Backup, errors=(Conflict, Invalid, Unavailable))
async def backup(call: Call, p: BackupParams) -> dict:
    """Write a consistent copy of the live database to a new file (restore with zingd --restore)."""
    result = await run_backup(call.app.db, p.path)
    await call.app.db.write(lambda tx: tx.audit(call.actor, "daemon.backup", "", None, path=result["path"]))
    return result

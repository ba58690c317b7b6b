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
    name: str | None = None


@REGISTRY.method("daemon.status", result=R.DaemonStatus)
async def status(call: Call, p) -> dict:
    """What an operator needs at a glance: uptime, connections, outbox, subscribers, database.

    Daemon-wide figures for a superadmin, or the OS user running zingd logged in as itself (it can
    read the database anyway); anyone else, whatever socket they came through, sees their tenant's."""
    operator = call.actor.is_superadmin or (call.actor.token_id is None and call.session.peer_uid == os.getuid())
    return await call.app.status.report(call.actor, operator)


@REGISTRY.method("daemon.backup", BackupParams, result=R.Backup, errors=(Conflict, Invalid, Unavailable))
async def backup(call: Call, p: BackupParams) -> dict:
    """Write a consistent copy of the live database into the daemon's backups directory (<data dir>/backups,
    0700; the file 0600), under a name it picks or a plain file name given as name; answers its path. Restore
    with zingd --restore PATH."""
    result = await run_backup(call.app.db, call.app.settings.data_path, p.name)
    await call.app.db.write(lambda tx: tx.audit(call.actor, "daemon.backup", "", None, path=result["path"]))
    return result

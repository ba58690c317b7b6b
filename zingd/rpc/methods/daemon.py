"""rpc.* and daemon.*: version, discovery, status."""

from __future__ import annotations

import os

import msgspec

from zingd import API_VERSION, __version__
from zingd.backup import backup as run_backup
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


class Backup(msgspec.Struct, forbid_unknown_fields=True):
    path: str


@REGISTRY.method("rpc.hello")
async def hello(call: Call, p) -> dict:
    """API and server versions; works before login."""
    return {"api": API_VERSION, "server": __version__, "name": "zingd",
            "authenticated": call.session.actor is not None}


@REGISTRY.method("rpc.discover")
async def discover(call: Call, p) -> dict:
    """Every method with its params schema (OpenRPC-shaped)."""
    return REGISTRY.discover(__version__)


@REGISTRY.method("daemon.status")
async def status(call: Call, p) -> dict:
    """What an operator needs at a glance: uptime, connections, outbox, subscribers, database."""
    # The OS user running zingd can read its database anyway: it sees what a superadmin sees.
    operator = call.actor.is_superadmin or call.session.peer_uid == os.getuid()
    return await call.app.status(call.actor, operator)


@REGISTRY.method("daemon.backup", Backup)
async def backup(call: Call, p: Backup) -> dict:
    """Write a consistent copy of the live database to a new file (restore with zingd --restore)."""
    result = await run_backup(call.app, p.path)
    await call.app.db.write(lambda tx: tx.audit(call.actor, "daemon.backup", "", None, path=result["path"]))
    return result

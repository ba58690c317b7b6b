"""rpc.* and daemon.*: version, discovery, status."""

from __future__ import annotations

from zingd import API_VERSION, __version__
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


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
    return await call.app.status(call.actor)

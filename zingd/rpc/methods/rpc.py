"""rpc.*: version and discovery, before login."""

from __future__ import annotations

from zingd import API_VERSION, __version__
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


@REGISTRY.method("rpc.hello", result=R.Hello)
async def hello(call: Call, p) -> dict:
    """API and server versions; works before login."""
    return {"api": API_VERSION, "server": __version__, "name": "zingd",
            "authenticated": call.session.actor is not None}


@REGISTRY.method("rpc.discover", result=R.OpenRpcDocument)
async def discover(call: Call, p):
    """This API as an OpenRPC 1.3 document: every method's params, result, errors and role."""
    return REGISTRY.discover(__version__)

"""rpc.*: version and discovery, before login."""

from __future__ import annotations

import msgspec

from zingd import API_VERSION, __version__
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


class HelloParams(msgspec.Struct, forbid_unknown_fields=True):
    os_user: bool = True


@REGISTRY.method("rpc.hello", HelloParams, result=R.Hello)
async def hello(call: Call, p: HelloParams) -> dict:
    """API and server versions; works before login.

    os_user false makes this connection forget the OS user it comes from, until it closes: it stops
    acting as that user's linked account (a password or token login stays) and logs in only with a
    password or token. A console served to browsers (zingtui --serve) says so on every connection."""
    if not p.os_user and call.session.peer_uid is not None:  # HTTP and the bot have no OS user to forget
        call.session.forgo_os_user()
    return {"api": API_VERSION, "server": __version__, "name": "zingd",
            "authenticated": call.session.actor is not None}


@REGISTRY.method("rpc.discover", result=R.OpenRpcDocument)
async def discover(call: Call, p):
    """This API as an OpenRPC 1.3 document: every method's params, result, errors and role."""
    return REGISTRY.discover(__version__)

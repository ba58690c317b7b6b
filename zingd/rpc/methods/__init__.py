"""Importing this package registers every RPC method in zingd.rpc.registry.REGISTRY."""

from zingd.rpc.methods import (  # noqa: F401
    auth, connections, contacts, daemon, events, messages, sim, tenants, tickets, users,
)

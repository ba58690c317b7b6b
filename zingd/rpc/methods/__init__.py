"""Importing this package registers every RPC method in zingd.rpc.registry.REGISTRY."""

from zingd.rpc.methods import (  # noqa: F401
    admin, auth, campaigns, connections, contacts, conversation, daemon, events, messages, queues, sim, tenants,
    tickets, users, webhooks,
)

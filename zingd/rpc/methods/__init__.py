"""Importing this package registers every RPC method in zingd.rpc.registry.REGISTRY.

One module per namespace, named after it: ``schedule.update`` is in ``schedules.py`` (and its rules
in ``zingd/services/schedules.py``); ``rpc.*`` in ``rpc.py``, ``daemon.*`` in ``daemon.py``.
"""

from zingd.rpc.methods import (  # noqa: F401
    assistant, audit, auth, bot, campaigns, connections, contacts, copilot, daemon, events, knowledge, media,
    messages, notes, queues, quickreplies, reactions, reports, rpc, schedules, sim, tags, templates, tenants, tickets,
    tokens, users, webhooks,
)

"""Importing this package registers every RPC method in zingd.rpc.registry.REGISTRY.

One module per namespace, named after it: ``schedule.update`` is in ``schedules.py`` (and its rules
in ``zingd/services/schedules.py``); ``rpc.*`` in ``rpc.py``, ``daemon.*`` in ``daemon.py``.
"""

from zingd.rpc.methods import (  # noqa: F401
    assistant, audit, auth, campaigns, connections, contacts, daemon, events, media, messages, notes, queues,
    quickreplies, reports, rpc, schedules, sim, tags, tenants, tickets, tokens, users, webhooks,
)
from zingd.rpc.methods import copilot  # noqa: F401,E402 - issue 14: the copilot
from zingd.rpc.methods import knowledge  # noqa: F401,E402 - issue 14: the knowledge base
from zingd.rpc.methods import bot  # noqa: F401,E402 - issue 14: the bot

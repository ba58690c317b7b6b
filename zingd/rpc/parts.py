"""The daemon's parts an RPC handler may use, as ``call.app.<part>``.

Built once in ``Daemon.__init__`` and handed to the RPC and HTTP servers, so a handler
names exactly the collaborators it passes on (``call.app.db`` to a read,
``call.app.channels`` to a restart...) and nothing here can start, stop or rewire the
daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zingd.assistant.hub import Assistant
    from zingd.bus import Bus
    from zingd.channels.manager import Channels
    from zingd.clock import Clock
    from zingd.config import Settings
    from zingd.metrics import Metrics
    from zingd.services.auth import Auth
    from zingd.services.governor import Governor
    from zingd.services.status import Status
    from zingd.store.db import Database
    from zingd.workers.campaigns import CampaignRunner
    from zingd.workers.schedules import Dispatcher
    from zingd.workers.webhooks import Webhooks


@dataclass(frozen=True, slots=True)
class Parts:
    db: Database
    bus: Bus
    clock: Clock
    settings: Settings
    auth: Auth
    channels: Channels
    governor: Governor
    campaigns: CampaignRunner
    dispatcher: Dispatcher
    webhooks: Webhooks
    status: Status
    metrics: Metrics
    assistant: Assistant

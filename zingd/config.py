"""Settings: TOML file, then ``ZING_*`` environment, then command-line flags.

Every setting has a default here and is documented in config.example.toml.
Environment overrides: ``ZING_<KEY>`` for top-level keys (``ZING_SOCKET``,
``ZING_DATA_DIR``, ``ZING_LOG_LEVEL``, ...) and ``ZING_<SECTION>__<KEY>`` inside a
section (e.g. ``ZING_OUTBOX__MAX_ATTEMPTS=5``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from zingd.paths import default_data_dir, default_socket_path


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True):
    synchronous: str = "FULL"
    busy_timeout_ms: int = 5000
    group_commit_max: int = 256


class RpcSettings(msgspec.Struct, forbid_unknown_fields=True):
    frame_limit: int = 1 << 20
    subscriber_buffer: int = 4 << 20
    subscriber_hard_limit: int = 32 << 20
    max_inflight_per_client: int = 64
    session_ttl_hours: int = 24 * 14
    # Cost bounds on what one connection can ask for before anyone knows who it is (zingd/rpc/server.py).
    max_batch: int = 100                 # entries in one batch
    batch_reply_limit: int = 1 << 20     # bytes of one batch's reply; later entries are refused, not run
    reply_buffer: int = 256 << 10        # unread output past which a connection's next reply waits
    max_depth: int = 64                  # nesting of arrays and objects in a frame (or an HTTP body)
    backlog: int = 4096                  # connections waiting to be accepted (capped by net.core.somaxconn)
    # Login throttling (zingd/services/auth.py, in memory): per account and per peer uid, this many
    # failed logins per window, then every try (the right password too) waits for the window to refill.
    login_window_s: float = 60.0
    login_account_failures: int = 5
    login_peer_failures: int = 20
    # A user whose last connection closed stays as they were this long (a console reconnecting), then
    # goes offline, out of auto-assignment (zingd/services/presence.py).
    presence_grace_s: float = 45.0


class OutboxSettings(msgspec.Struct, forbid_unknown_fields=True):
    max_attempts: int = 3
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
    rate_per_connection: float = 20.0
    burst: int = 20
    send_timeout_s: float = 30.0


class TicketSettings(msgspec.Struct, forbid_unknown_fields=True):
    reopen_window_minutes: int = 0
    event_retention_days: int = 14
    auto_close_interval_s: float = 60.0
    backlog_age_s: float = 600.0  # older than this on arrival: backlog, no menu/greeting/out-of-hours reply


class SimSettings(msgspec.Struct, forbid_unknown_fields=True):
    random_customers: bool = False
    inbound_interval_s: float = 8.0
    delivery_delay_s: float = 0.5
    read_delay_s: float = 2.0
    send_failure_rate: float = 0.0


class PacingSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Defaults of the per-connection governor for automated sending (campaigns, schedules)."""

    min_interval_s: float = 20.0
    jitter_s: float = 25.0
    pause_every: int = 40
    pause_s: float = 600.0
    daily_cap: int = 400
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    warmup: list[int] = msgspec.field(default_factory=lambda: [30, 60, 120, 200, 300])
    failure_threshold: float = 0.3
    failure_window: int = 20


class ScheduleSettings(msgspec.Struct, forbid_unknown_fields=True):
    grace_minutes: float = 60.0


class WebhookSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Retries of one event (zingd/workers/webhooks.py): it holds up the ones after it at most this long."""

    max_attempts: int = 5
    backoff_base_s: float = 1.0   # wait after the first failure; x4 after each next one
    backoff_cap_s: float = 60.0
    retry_window_s: float = 300.0  # from its first failure; then the event is a dead letter
    timeout_s: float = 10.0       # per POST


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8737


class AssistantSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The daemon's side of the assistant (a tenant's models and limits are its own settings)."""

    max_concurrent: int = 8     # requests waiting on one model server at once (llama.cpp serves one)
    max_connections: int = 64   # HTTP connections to all model servers


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    data_dir: str = ""
    socket: str = ""
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line (zingd/logs.py)
    demo: bool = False
    clock_speed: float = 1.0
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    rpc: RpcSettings = msgspec.field(default_factory=RpcSettings)
    outbox: OutboxSettings = msgspec.field(default_factory=OutboxSettings)
    tickets: TicketSettings = msgspec.field(default_factory=TicketSettings)
    sim: SimSettings = msgspec.field(default_factory=SimSettings)
    pacing: PacingSettings = msgspec.field(default_factory=PacingSettings)
    schedules: ScheduleSettings = msgspec.field(default_factory=ScheduleSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    assistant: AssistantSettings = msgspec.field(default_factory=AssistantSettings)
    # The console's [keymap] shares this file; zingd accepts it and never reads it (zingtui/keymap.py does).
    keymap: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def socket_path(self) -> Path:
        return Path(self.socket)

    @property
    def db_path(self) -> Path:
        return self.data_path / "zing.db"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """``ZING_<KEY>`` for top-level settings, ``ZING_<SECTION>__<KEY>`` inside a section."""
    top = {f for f in Settings.__struct_fields__ if not isinstance(getattr(Settings(), f), msgspec.Struct)}
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("ZING_"):
            continue
        key = name[5:].lower()
        if "__" in key:
            section, _, sub = key.partition("__")
            out.setdefault(section, {})[sub] = value
        elif key in top:
            out[key] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif value is not None:
            merged[key] = value
    return merged


def load(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings; a bad file or value raises ValueError naming the key."""
    raw: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from e
    raw = _merge(raw, _env_overrides(dict(os.environ if environ is None else environ)))
    raw = _merge(raw, overrides or {})
    try:
        # strict=False lets env strings like "5" or "true" convert to their types
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise ValueError(f"bad setting: {e}") from e
    if not settings.data_dir:
        settings.data_dir = str(default_data_dir())
    if not settings.socket:
        settings.socket = str(default_socket_path())
    return settings

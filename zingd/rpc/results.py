"""What RPC methods answer, by entity: the result types the registry publishes in rpc.discover.

They describe the rows the services really return (see each service's reads): SQLite
columns as stored (flags are integers 0/1, times are epoch seconds), JSON columns decoded.
Nothing here is used to build answers; tests/contract validates every answer of a walk
over a real daemon against these schemas, so a service that changes its rows must change
them here too. Objects are open (a new column is not a breaking change); every field a
client may rely on is listed and required.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Role = Literal["agent", "supervisor", "admin", "superadmin"]
TicketStatus = Literal["pending", "open", "closed"]
# unconfirmed: sent, but WhatsApp never answered; it may or may not have arrived (never resent on its own).
Ack = Literal["received", "queued", "sent", "server", "delivered", "read", "played", "failed", "unconfirmed"]
Time = float
Flag = int  # an SQLite boolean column: 0 or 1


class Struct(msgspec.Struct, kw_only=True):
    pass


# -- small acknowledgements ----------------------------------------------------------------------
class Revoked(Struct):
    revoked: bool


class Removed(Struct):
    removed: bool


class Subscribed(Struct):
    subscription: int
    seq: int


class Hello(Struct):
    api: int
    server: str
    name: str
    authenticated: bool


class Read(Struct):
    ticket_id: int
    marked: int


class Typing(Struct):
    sent: bool


class Backup(Struct):
    path: str
    bytes: int
    seconds: float
    schema_version: int


class Upload(Struct):
    """A file handed over with media.upload: mime is known once it is done."""

    upload_id: int
    name: str
    size: int
    done: bool
    mime: str | None
    expires_at: Time


class OpenRpcInfo(Struct):
    title: str
    version: str


class OpenRpcDocument(Struct):
    """This document (rpc.discover)."""

    openrpc: str
    info: OpenRpcInfo
    methods: list[dict[str, Any]]
    components: dict[str, Any]


# -- tenants -------------------------------------------------------------------------------------
class Tenant(Struct):
    id: int
    name: str
    status: Literal["active", "suspended"]
    max_users: int
    max_connections: int
    max_queues: int
    timezone: str
    settings: dict[str, Any]
    created_at: Time


class TenantSummary(Tenant):
    users: int
    connections: int


class TenantDetail(Tenant):
    """tenant.get: with the daemon's default of each setting (what it is while not in ``settings``)."""

    defaults: dict[str, Any]


class TenantSettings(Struct):
    """Company-wide behaviour; a key not set is its default."""

    rating: bool | msgspec.UnsetType = msgspec.UNSET
    rating_prompt: str | msgspec.UnsetType = msgspec.UNSET
    rating_thanks: str | msgspec.UnsetType = msgspec.UNSET
    region: str | msgspec.UnsetType = msgspec.UNSET
    opt_out_keywords: list[str] | msgspec.UnsetType = msgspec.UNSET
    opt_out_reply: str | msgspec.UnsetType = msgspec.UNSET


# -- users ---------------------------------------------------------------------------------------
class User(Struct):
    id: int
    tenant_id: int
    email: str
    name: str
    role: Role
    status: Literal["online", "away", "offline"]
    enabled: Flag
    max_tickets: int
    signature: Flag
    os_uid: int | None
    created_at: Time
    updated_at: Time


class QueueRef(Struct):
    id: int
    name: str


class UserDetail(User):
    queues: list[QueueRef]


class Me(User):
    via: Literal["token", "os_user"]
    timezone: str  # the company's


class Colleague(Struct):
    id: int
    name: str
    role: Role
    status: str


class Login(Struct):
    token: str
    user: User
    expires_in: float


# -- tokens and audit ----------------------------------------------------------------------------
class Token(Struct):
    id: int
    user_id: int
    kind: Literal["session", "api"]
    name: str
    role: Role | None
    created_at: Time
    expires_at: Time | None
    revoked_at: Time | None
    last_used_at: Time | None


class NewToken(Token):
    token: str


class AuditEntry(Struct):
    id: int
    tenant_id: int | None
    user_id: int | None
    user_name: str | None
    action: str
    target_type: str
    target_id: int | None
    data: dict[str, Any]
    created_at: Time


# -- connections ---------------------------------------------------------------------------------
class Connection(Struct):
    id: int
    tenant_id: int
    name: str
    kind: Literal["sim", "whatsapp", "cloud"]
    status: str
    status_reason: str
    is_default: Flag
    phone: str
    greeting: str
    farewell: str
    session_path: str
    settings: dict[str, Any]
    created_at: Time
    updated_at: Time


class SyncProgress(Struct):
    """WhatsApp's catch-up after a connect: history sync chunks and the offline backlog."""

    state: Literal["idle", "history", "offline", "done"]
    total: int            # offline events WhatsApp announced (0 until it does)
    done: int             # of them delivered, once WhatsApp says it is done
    history_chunks: int   # history-sync chunks received
    history_percent: int  # WhatsApp's own progress of the history sync, 0-100


class Throttled(Struct):
    until: Time   # the network said the number sends too fast: nothing goes before then
    reason: str


class ChannelHealth(Struct):
    state: str
    reason: str
    sync: SyncProgress | msgspec.UnsetType = msgspec.UNSET  # whatsapp connections only
    # cloud connections only: what Meta says of the number (GET /<phone_number_id>), and a throttle
    display_phone: str | None | msgspec.UnsetType = msgspec.UNSET
    verified_name: str | None | msgspec.UnsetType = msgspec.UNSET
    quality_rating: str | None | msgspec.UnsetType = msgspec.UNSET
    messaging_limit: str | None | msgspec.UnsetType = msgspec.UNSET
    throttled: Throttled | None | msgspec.UnsetType = msgspec.UNSET


class CloudAccount(Struct):
    """A cloud number's account as answers show it: Meta's ids and word on it; the secrets as hints."""

    phone_number_id: str
    business_account_id: str
    api_version: str
    base_url: str
    display_phone: str
    verified_name: str
    quality_rating: str     # Meta's GREEN / YELLOW / RED ("" until it says)
    messaging_limit: str    # e.g. TIER_1K
    last_notice: dict[str, Any]  # Meta's latest word on the number (a quality webhook), as it came
    access_token_hint: str
    app_secret_hint: str
    verify_token_hint: str
    webhook_path: str       # where zing's HTTP server takes Meta's webhooks (docs/cloud.md)
    updated_at: Time


class LiveConnection(Connection):
    running: bool
    health: ChannelHealth | None
    advice: str  # what an admin can do about a final state (locked, banned…); "" otherwise
    cloud: CloudAccount | None = None  # kind cloud only


class Pairing(Struct):
    id: int
    status: str
    qr: str | None
    pair_code: str | None


class ConnectionQueues(Struct):
    id: int
    queue_ids: list[int]


# -- queues --------------------------------------------------------------------------------------
class Queue(Struct):
    id: int
    tenant_id: int
    name: str
    color: str
    greeting: str
    out_of_hours_message: str
    business_hours: dict[str, Any]
    assign_mode: Literal["off", "round_robin", "balanced"]
    auto_close_hours: float | None
    auto_close_message: str
    rr_last_user_id: int | None
    created_at: Time
    members: list[int]
    sla_first_response_s: float | None  # the queue's targets (seconds; none: no target)
    sla_resolution_s: float | None
    sla_clock: Literal["business", "calendar"]  # counted in the queue's business hours, or wall time


class QueueSummary(Queue):
    pending: int
    open_now: bool


# -- contacts ------------------------------------------------------------------------------------
class Contact(Struct):
    id: int
    tenant_id: int
    number: str
    name: str
    push_name: str
    email: str
    avatar_url: str
    is_group: Flag
    custom_fields: dict[str, Any]
    opted_out: Flag
    owner_user_id: int | None
    created_at: Time
    updated_at: Time


class UserRef(Struct):
    id: int
    name: str


class ContactTicket(Struct):
    id: int
    status: TicketStatus
    connection_id: int
    user_id: int | None
    created_at: Time
    closed_at: Time | None
    last_message: str


class ContactMergeRecord(Struct):
    """A contact folded into this one: by a user, or (user_id null) by zing when WhatsApp mapped a
    LID placeholder to this phone (reason says what WhatsApp said); active tickets joined as [kept, closed]."""

    merged_id: int
    merged_number: str
    user_id: int | None
    user_name: str | None
    reason: str
    tickets_joined: list[list[int]]
    created_at: Time


class ContactDetail(Contact):
    ids: list[str]
    tags: list[str]
    owner: UserRef | None
    merges: list[ContactMergeRecord]
    tickets: list[ContactTicket]


class MergePreview(Struct):
    """contact.merge with dry_run: what would move from contact id into into_id; nothing is changed."""

    dry_run: bool
    id: int
    into_id: int
    tickets: list[int]
    messages: int
    tags: list[str]  # the source's tags the target lacks
    fields: dict[str, Any]  # custom fields the target gains
    fields_kept: dict[str, Any]  # the target's own values where both have the field (the source's are dropped)
    ids: list[str]  # WhatsApp ids that will map to the target
    schedules: int


class ContactTags(Struct):
    id: int
    tags: list[str]


class ContactExport(Struct):
    id: int
    number: str
    name: str
    push_name: str
    email: str
    opted_out: Flag
    custom_fields: dict[str, Any]
    created_at: Time
    tags: list[str]


class RowError(Struct):
    """An invalid row of an import: where (row, column) and a short reason (a quoted cell is cut short)."""

    row: int
    column: str | None
    error: str


class ImportReport(Struct):
    rows: int
    valid: int
    invalid: list[RowError]
    merged_in_file: int
    to_create: int
    to_update: int
    dry_run: bool
    imported: bool


# -- tickets -------------------------------------------------------------------------------------
class Ticket(Struct):
    """A ticket as lists show it: the row with its contact, queue, agent and number's names."""

    id: int
    tenant_id: int
    connection_id: int
    contact_id: int
    queue_id: int | None
    user_id: int | None
    status: TicketStatus
    unread: int
    last_message: str
    last_message_at: Time
    last_inbound_at: Time | None
    last_inbound: str  # the preview of the customer's last message (last_message may be zing's own)
    is_group: Flag
    chatbot_state: dict[str, Any]
    campaign_id: int | None
    rating: int | None
    created_at: Time
    updated_at: Time
    accepted_at: Time | None
    first_response_at: Time | None
    closed_at: Time | None
    first_response_due_at: Time | None  # the queue's service-level targets, when it has them
    resolution_due_at: Time | None
    breached_first_response: Flag       # 1 once the target was missed (ticket.sla_breached said so)
    breached_resolution: Flag
    contact_name: str
    contact_push_name: str
    contact_number: str
    queue_name: str | None
    user_name: str | None
    connection_name: str
    tags: list[str]
    bot_state: Literal["active", "stopped", "handed_over"] | None  # the bot's part in it; none: it never had one
    bot_reason: str | None
    connection_kind: Literal["sim", "whatsapp", "cloud"]
    # a cloud number's 24-hour window: free-form messages until then, templates only after (0: never
    # opened); None on other numbers, which have no window
    window_closes_at: Time | None


class StatusCount(Struct):
    count: int
    unread: int


class TicketPage(Struct):
    """Newest activity first; ``next`` (when more follow) is the ``before`` of the next page."""

    tickets: list[Ticket]
    next: tuple[Time, int] | msgspec.UnsetType = msgspec.UNSET
    counts: dict[str, StatusCount] | msgspec.UnsetType = msgspec.UNSET


class TicketEvent(Struct):
    action: str
    user_id: int | None
    user_name: str | None
    data: dict[str, Any]
    created_at: Time


# -- messages ------------------------------------------------------------------------------------
class Message(Struct):
    id: int
    tenant_id: int
    ticket_id: int
    connection_id: int
    contact_id: int
    wa_id: str
    direction: Literal["in", "out"]
    from_device: Flag
    type: str
    body: str
    media_path: str | None
    media_mime: str | None
    media_size: int | None
    media_error: str | None
    quoted_id: int | None
    participant: str | None
    user_id: int | None
    ack: Ack
    error: str | None
    edited: Flag
    deleted: Flag
    reaction_to: int | None
    automated: Flag
    sent_at: Time | None
    created_at: Time
    updated_at: Time
    wa_ts: Time | None         # WhatsApp's own time of an inbound message (created_at: when zing stored it)
    offline: Flag              # arrived as backlog (received while offline): no automatic reply was sent
    media_seconds: int | None  # an audio's or video's length
    media_waveform: str | None  # a voice note's 64 levels (0-100), base64
    bot: Flag                  # written by the tenant's bot (user_id: the bot user)
    transcript: str | None     # a voice note's text, from the tenant's transcription model
    client_ref: str | None | msgspec.UnsetType = msgspec.UNSET  # message.send's answer: the sender's key
    template: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET  # sent as a template: {name, language, params}


class MessagePage(Struct):
    """Oldest first; ``more`` when older ones precede (page back with before_id)."""

    messages: list[Message]
    more: bool


class SearchHit(Struct):
    id: int
    ticket_id: int
    direction: Literal["in", "out"]
    type: str
    body: str
    created_at: Time
    ticket_status: TicketStatus
    contact_name: str
    contact_push_name: str
    contact_number: str


# -- tags, notes, quick replies ------------------------------------------------------------------
class Tag(Struct):
    id: int
    tenant_id: int
    name: str
    color: str


class TagUsage(Tag):
    tickets: int
    contacts: int


class Note(Struct):
    id: int
    ticket_id: int
    user_id: int
    user_name: str
    body: str
    created_at: Time


class QuickReply(Struct):
    id: int
    tenant_id: int
    user_id: int | None
    shortcut: str
    body: str
    created_at: Time
    scope: Literal["personal", "tenant"]


# -- templates (a cloud number's, synced from Meta) ------------------------------------------------
class TemplateParam(Struct):
    """A variable an agent fills: where it is, its name (``1`` or ``first_name``), Meta's example."""

    component: Literal["header", "body", "button"]
    name: str
    example: str
    index: int | None  # a URL button's position; None elsewhere


class Template(Struct):
    """A business account's template as one cloud number synced it."""

    id: int
    tenant_id: int
    connection_id: int
    remote_id: str          # Meta's id
    name: str
    language: str           # e.g. pt_BR
    category: str           # MARKETING, UTILITY, AUTHENTICATION
    status: str             # APPROVED, PENDING, REJECTED, PAUSED, DISABLED… or DELETED (gone from the account)
    reason: str             # why it was rejected or paused, as Meta says
    components: list[dict[str, Any]]  # Graph's components, as synced
    params: list[TemplateParam]       # what message.send_template's params fill, in order
    body: str               # the body text, with its {{variables}}
    synced_at: Time
    updated_at: Time


class TemplateSync(Struct):
    connection_id: int
    fetched: int   # templates Meta listed
    added: int
    updated: int
    deleted: int   # gone from the account: kept, as DELETED
    total: int     # the number's templates now (DELETED ones not counted)
    approved: int


# -- campaigns -----------------------------------------------------------------------------------
class RecipientCounts(Struct):
    pending: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    skipped: int
    opted_out: int
    total: int


class CampaignTemplate(Struct):
    name: str
    language: str
    params: list[str]


class Campaign(Struct):
    id: int
    tenant_id: int
    name: str
    status: Literal["draft", "scheduled", "running", "paused", "done", "cancelled"]
    connection_ids: list[int]
    variants: list[str]
    media_path: str | None
    start_at: Time | None
    settings: dict[str, Any]
    source: str
    stop_reason: str
    created_by: int | None
    created_at: Time
    updated_at: Time
    finished_at: Time | None
    counts: RecipientCounts
    template: CampaignTemplate | None  # what cloud numbers send (params may use the campaign's variables)


class Projection(Struct):
    first_send_at: Time | None
    last_send_at: Time | None


class Pacing(Struct):
    """A number's limits for automated sending, and where it stands today."""

    min_interval_s: float
    jitter_s: float
    pause_every: int
    pause_s: float
    daily_cap: int
    quiet_start: str
    quiet_end: str
    warmup: list[int]
    today_sent: int
    today_cap: int
    next_slot_at: Time
    throttled_until: Time | None  # the network said it sends too fast: held until then, then slowed
    throttle_reason: str


class CampaignDetail(Campaign):
    pacing: dict[str, Pacing]
    projection: Projection | None


class Sample(Struct):
    contact_id: int
    number: str
    message: str
    template: str | msgspec.UnsetType = msgspec.UNSET  # on a cloud number: the template as rendered for them


class CampaignPreview(Struct):
    """A dry run: who would get what, and when; nothing is stored."""

    recipients: int
    opted_out: int
    to_send: int
    connection_ids: list[int]
    sample: list[Sample]
    schedule: Projection


class Recipient(Struct):
    id: int
    contact_id: int
    number: str
    name: str
    state: Literal["pending", "queued", "sent", "delivered", "read", "failed", "skipped", "opted_out"]
    variant: int | None
    connection_id: int | None
    message_id: int | None
    error: str | None
    queued_at: Time | None
    sent_at: Time | None
    delivered_at: Time | None
    read_at: Time | None
    updated_at: Time


# -- schedules -----------------------------------------------------------------------------------
class Schedule(Struct):
    id: int
    tenant_id: int
    contact_id: int
    connection_id: int | None
    ticket_id: int | None
    user_id: int | None
    body: str
    run_at: Time
    cron: str | None
    status: str
    runs: int
    error: str | None
    last_message_id: int | None
    created_at: Time
    updated_at: Time


class ScheduleListed(Schedule):
    number: str
    contact_name: str


# -- webhooks ------------------------------------------------------------------------------------
class Webhook(Struct):
    id: int
    tenant_id: int
    url: str
    event_types: list[str]
    enabled: Flag
    created_at: Time
    last_seq: int
    failures: int  # failed attempts since the last delivery that went through
    last_error: str | None  # kept after a recovery, with its time
    last_error_at: Time | None
    retry_seq: int | None  # the event being retried (it holds up the ones after it), and how:
    retry_attempts: int | None
    next_attempt_at: Time | None
    dead_letters: int  # events given up on (webhook.dead_letters, webhook.replay)


class Replay(Struct):
    webhook_id: int
    queued: list[int]  # event seqs queued to be sent again
    gone: list[int]  # dead letters whose event was pruned from the log: they can't be sent


class NewWebhook(Webhook):
    secret: str


class Delivery(Struct):
    id: int
    webhook_id: int
    event_seq: int
    event_type: str
    status: Literal["dead", "replay"]  # a dead letter, or one queued to be sent again
    attempts: int
    next_attempt_at: Time
    last_error: str | None
    http_status: int | None
    created_at: Time  # its first failure


# -- the daemon and the simulated network -------------------------------------------------------
class StatusConnection(Struct):
    id: int
    name: str
    kind: str
    status: str
    status_reason: str
    running: bool


class Outbox(Struct):
    queued: int
    oldest_age_s: float
    sent: int | msgspec.UnsetType = msgspec.UNSET
    failed: int | msgspec.UnsetType = msgspec.UNSET
    unconfirmed: int | msgspec.UnsetType = msgspec.UNSET


class Writer(Struct):
    alive: bool
    error: str | None


class You(Struct):
    user_id: int
    role: Role
    tenant_id: int


class DaemonStatus(Struct):
    """What an operator needs at a glance; daemon-wide figures only when ``scope`` is daemon."""

    version: str
    uptime_s: float
    clock: Time
    socket: str
    connections: list[StatusConnection]
    outbox: Outbox
    event_seq: int
    writer: Writer
    scope: Literal["daemon", "tenant"]
    you: You
    pid: int | msgspec.UnsetType = msgspec.UNSET
    data_dir: str | msgspec.UnsetType = msgspec.UNSET
    database_bytes: int | msgspec.UnsetType = msgspec.UNSET
    subscribers: int | msgspec.UnsetType = msgspec.UNSET
    sessions: int | msgspec.UnsetType = msgspec.UNSET
    inbound: dict[str, int] | msgspec.UnsetType = msgspec.UNSET
    writes: dict[str, int] | msgspec.UnsetType = msgspec.UNSET


class SimSaid(Struct):
    wa_id: str
    delivered: bool
    connection_id: int


class SimCustomer(Struct):
    number: str
    name: str


class SimFaults(Struct):
    connection_id: int
    state: str
    send_failure_rate: float
    duplicate_inbound: bool
    lose_answers: int
    held_receipts: int
    released_receipts: int
    failed_downloads: int


class SimJournal(Struct):
    connection_id: int
    path: str
    state: str
    reason: str
    customer_sent: int
    acked: int
    customer_received: int
    duplicate_sends: int

-- v13: the assistant (issue 14): a tenant's language-model settings, what it spent, and the bot's
-- state per ticket.
-- assistant_settings: one row per tenant that configured it. api_key is a secret: never returned by
--   an RPC method or logged (assistant.get says only whether one is set, and its last four characters).
--   settings: zingd/assistant/config.py Config as JSON. bot_user_id: the tenant's bot user (users.is_bot),
--   the actor the bot and the assistant's notes act as.
CREATE TABLE assistant_settings (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id),
    base_url TEXT NOT NULL DEFAULT '',
    api_key TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    bot_user_id INTEGER REFERENCES users(id),
    updated_at REAL NOT NULL
);

-- assistant_usage: requests, failures, tokens and cost per tenant, per day (in the company's zone)
--   and per feature (bot, suggest, rewrite, summarize, tags, test, embeddings, transcription); the
--   daily limits are checked against it before each request.
CREATE TABLE assistant_usage (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    day TEXT NOT NULL,
    feature TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, feature)
);

-- bot_tickets: the bot's part in one ticket. 'active' while it answers; 'stopped' once a human acted
--   (or a guard tripped) and 'handed_over' after its handoff: neither ever becomes 'active' again by
--   itself. last_answered_id: the newest customer message it answered (a restart picks up after it).
--   replies: its last replies (JSON list), to notice a loop with another bot or itself.
CREATE TABLE bot_tickets (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'stopped', 'handed_over')),
    reason TEXT NOT NULL DEFAULT '',
    turns INTEGER NOT NULL DEFAULT 0,
    last_answered_id INTEGER,
    replies TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL
);

-- messages.bot: written by the tenant's bot (its user_id is the bot user). transcript: a voice
-- note's text, once the tenant's transcription model gave it (NULL: none).
ALTER TABLE messages ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN transcript TEXT;
-- users.is_bot: the bot user. It can't log in (no password matches '!') and is never auto-assigned.
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ix_bot_tickets_tenant ON bot_tickets(tenant_id, updated_at DESC);

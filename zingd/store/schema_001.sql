-- zing schema v1: the whole data model of DESIGN.md. Later versions add by migration.
-- Times are unix epoch seconds (REAL). Every company-owned row carries tenant_id.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    max_users INTEGER NOT NULL DEFAULT 50,
    max_connections INTEGER NOT NULL DEFAULT 5,
    max_queues INTEGER NOT NULL DEFAULT 20,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('superadmin', 'admin', 'supervisor', 'agent')),
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'offline')),
    enabled INTEGER NOT NULL DEFAULT 1,
    max_tickets INTEGER NOT NULL DEFAULT 10,
    signature INTEGER NOT NULL DEFAULT 0,
    os_uid INTEGER UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX ix_users_tenant ON users(tenant_id);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    name TEXT NOT NULL DEFAULT '',
    role TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    last_used_at REAL
);
CREATE INDEX ix_tokens_user ON tokens(user_id);

CREATE TABLE connections (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sim', 'whatsapp')),
    status TEXT NOT NULL DEFAULT 'disconnected',
    status_reason TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    phone TEXT NOT NULL DEFAULT '',
    greeting TEXT NOT NULL DEFAULT '',
    farewell TEXT NOT NULL DEFAULT '',
    session_path TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '#5c7cfa',
    greeting TEXT NOT NULL DEFAULT '',
    out_of_hours_message TEXT NOT NULL DEFAULT '',
    business_hours TEXT NOT NULL DEFAULT '{}',
    assign_mode TEXT NOT NULL DEFAULT 'off' CHECK (assign_mode IN ('off', 'round_robin', 'balanced')),
    auto_close_hours REAL,
    auto_close_message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE queue_members (
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, user_id)
);

CREATE TABLE connection_queues (
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    PRIMARY KEY (connection_id, queue_id)
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    push_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    avatar_url TEXT NOT NULL DEFAULT '',
    is_group INTEGER NOT NULL DEFAULT 0,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    opted_out INTEGER NOT NULL DEFAULT 0,
    owner_user_id INTEGER REFERENCES users(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (tenant_id, number)
);

-- One person, many WhatsApp addresses (phone JID, hidden LID): all map to one contact.
CREATE TABLE contact_ids (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    jid TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, jid)
);
CREATE INDEX ix_contact_ids_contact ON contact_ids(contact_id);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '#868e96',
    UNIQUE (tenant_id, name)
);

CREATE TABLE contact_tags (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, tag_id)
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    queue_id INTEGER REFERENCES queues(id),
    user_id INTEGER REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'open', 'closed')),
    unread INTEGER NOT NULL DEFAULT 0,
    last_message TEXT NOT NULL DEFAULT '',
    last_message_at REAL NOT NULL,
    last_inbound_at REAL,
    is_group INTEGER NOT NULL DEFAULT 0,
    chatbot_state TEXT NOT NULL DEFAULT '{}',
    campaign_id INTEGER,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    accepted_at REAL,
    first_response_at REAL,
    closed_at REAL
);
-- The invariant: one pending-or-open ticket per (connection, contact), enforced by SQLite.
CREATE UNIQUE INDEX ux_tickets_active ON tickets(connection_id, contact_id)
    WHERE status IN ('pending', 'open');
CREATE INDEX ix_tickets_queue_list ON tickets(tenant_id, status, last_message_at DESC, id DESC);
CREATE INDEX ix_tickets_user_list ON tickets(tenant_id, user_id, status, last_message_at DESC, id DESC);
CREATE INDEX ix_tickets_contact ON tickets(contact_id, created_at DESC);

CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, tag_id)
);

-- The ticket's timeline: status changes, assignments, transfers, notes.
CREATE TABLE ticket_log (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER,
    action TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE INDEX ix_ticket_log_ticket ON ticket_log(ticket_id, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    wa_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    from_device INTEGER NOT NULL DEFAULT 0,
    type TEXT NOT NULL DEFAULT 'text',
    body TEXT NOT NULL DEFAULT '',
    media_path TEXT,
    media_mime TEXT,
    media_size INTEGER,
    media_error TEXT,
    quoted_id INTEGER REFERENCES messages(id),
    participant TEXT,
    user_id INTEGER REFERENCES users(id),
    ack TEXT NOT NULL DEFAULT 'received'
        CHECK (ack IN ('received', 'queued', 'sent', 'server', 'delivered', 'read', 'played', 'failed')),
    error TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    reaction_to INTEGER REFERENCES messages(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (connection_id, wa_id)
);
CREATE INDEX ix_messages_ticket ON messages(ticket_id, id);

-- FTS over message bodies; the tenant is indexed too so a tenant's matches are
-- intersected inside FTS5 and walked newest-first (rowid DESC) with a bound.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, tenant_id, content='messages', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages WHEN new.body != '' BEGIN
    INSERT INTO messages_fts(rowid, body, tenant_id) VALUES (new.id, new.body, new.tenant_id);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, tenant_id)
        SELECT 'delete', old.id, old.body, old.tenant_id WHERE old.body != '';
    INSERT INTO messages_fts(rowid, body, tenant_id)
        SELECT new.id, new.body, new.tenant_id WHERE new.body != '';
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages WHEN old.body != '' BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, tenant_id) VALUES ('delete', old.id, old.body, old.tenant_id);
END;

CREATE VIRTUAL TABLE contacts_fts USING fts5(
    name, push_name, number, content='contacts', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, name, push_name, number) VALUES (new.id, new.name, new.push_name, new.number);
END;
CREATE TRIGGER contacts_fts_au AFTER UPDATE OF name, push_name, number ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name, push_name, number)
        VALUES ('delete', old.id, old.name, old.push_name, old.number);
    INSERT INTO contacts_fts(rowid, name, push_name, number) VALUES (new.id, new.name, new.push_name, new.number);
END;
CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name, push_name, number)
        VALUES ('delete', old.id, old.name, old.push_name, old.number);
END;

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX ix_notes_ticket ON notes(ticket_id, id);

CREATE TABLE quick_replies (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    shortcut TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX ux_quick_replies ON quick_replies(tenant_id, ifnull(user_id, 0), shortcut);

-- The durable send queue: a row exists from the moment message.send commits
-- until the channel accepted the message or it failed for good.
CREATE TABLE outbox (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    tenant_id INTEGER NOT NULL,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX ix_outbox_due ON outbox(next_attempt_at);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft',
    connection_ids TEXT NOT NULL DEFAULT '[]',
    variants TEXT NOT NULL DEFAULT '[]',
    media_path TEXT,
    start_at REAL,
    settings TEXT NOT NULL DEFAULT '{}',
    created_by INTEGER REFERENCES users(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE campaign_recipients (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    state TEXT NOT NULL DEFAULT 'pending',
    message_id INTEGER REFERENCES messages(id),
    error TEXT,
    updated_at REAL NOT NULL,
    UNIQUE (campaign_id, contact_id)
);

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    connection_id INTEGER REFERENCES connections(id),
    ticket_id INTEGER REFERENCES tickets(id),
    user_id INTEGER REFERENCES users(id),
    body TEXT NOT NULL,
    run_at REAL NOT NULL,
    cron TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    last_message_id INTEGER REFERENCES messages(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX ix_schedules_due ON schedules(status, run_at);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    event_types TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_seq INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    UNIQUE (webhook_id, event_seq)
);

-- Append-only: who did what to which ids, when. Triggers forbid edits.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER,
    user_id INTEGER,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE INDEX ix_audit_tenant ON audit_log(tenant_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Every published event, so a client reconnecting with since_seq misses nothing.
-- AUTOINCREMENT: a sequence number is never reused, even after pruning.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    ticket_id INTEGER,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX ix_events_tenant ON events(tenant_id, seq);

-- The WhatsApp Business Cloud API (zingd/channels/cloud): a cloud connection's account, its
-- message templates, and what was sent as a template.

-- One row per cloud connection. The access token and app secret are kept as the assistant's API
-- key is (in this 0600 database); no answer, log, audit entry or event carries them. A Meta number
-- is one connection on this zingd (numbers of one Meta app share its secret, so a webhook must name
-- exactly one connection); a business account belongs to one tenant (zingd/store/cloud_accounts.py).
CREATE TABLE cloud_accounts (
    connection_id INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    phone_number_id TEXT NOT NULL,
    business_account_id TEXT NOT NULL,
    access_token TEXT NOT NULL,
    app_secret TEXT NOT NULL,
    verify_token TEXT NOT NULL,
    api_version TEXT NOT NULL DEFAULT 'v23.0',
    base_url TEXT NOT NULL DEFAULT 'https://graph.facebook.com',
    -- what Meta says of the number (GET /<phone_number_id>, quality webhooks)
    display_phone TEXT NOT NULL DEFAULT '',
    verified_name TEXT NOT NULL DEFAULT '',
    quality_rating TEXT NOT NULL DEFAULT '',
    messaging_limit TEXT NOT NULL DEFAULT '',
    last_notice TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL,
    UNIQUE (phone_number_id)
);

-- The business account's templates, synced (template.sync) and kept current by template-status
-- webhooks. ``params``: the variables an agent fills, in order ([{"component", "name", "example"}]).
CREATE TABLE templates (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    remote_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    components TEXT NOT NULL DEFAULT '[]',
    params TEXT NOT NULL DEFAULT '[]',
    body TEXT NOT NULL DEFAULT '',
    synced_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (connection_id, name, language)
);
CREATE INDEX ix_templates_tenant ON templates(tenant_id, connection_id);

-- A message sent as a template: {"name", "language", "params": [...]} (its body is the rendered text).
ALTER TABLE messages ADD COLUMN template TEXT;
-- A campaign's template for cloud numbers: {"name", "language", "params": [...]}, params may use
-- the campaign's {variables}.
ALTER TABLE campaigns ADD COLUMN template TEXT;

-- A send begun on a network that can't recognise the same message sent twice (the Cloud API picks
-- its own ids): stamped, committed, before the request leaves. A row still stamped when zingd starts
-- was cut off by a crash mid-send: it becomes unconfirmed (a status with zing's id settles it), never
-- sent again on its own.
ALTER TABLE outbox ADD COLUMN started_at REAL;

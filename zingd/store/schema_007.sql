-- v7: files callers hand over (media.upload, POST /api/v1/media) instead of naming a path the
-- daemon would open with its own rights. Staged at <data dir>/uploads/<tenant id>/<id> (0600)
-- until a send, an import or a campaign consumes them (the row goes in that call's transaction).
-- An upload is its uploader's alone: tenant and user. One not finished, or not used, by
-- expires_at is gone (lookups ignore it; the next upload sweeps its row and file).
CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a used id never names a newer upload
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    mime TEXT NOT NULL DEFAULT 'application/octet-stream',
    size INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'receiving' CHECK (state IN ('receiving', 'ready')),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX ix_uploads_user ON uploads(user_id, state);
CREATE INDEX ix_uploads_expiry ON uploads(expires_at);

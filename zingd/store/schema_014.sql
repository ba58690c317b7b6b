-- The knowledge base: a tenant's FAQ entries and documents, which the bot and the copilot ground
-- their answers in. An entry is cut into chunks (a FAQ's answer, a document's sections by
-- Markdown heading, ~1,000 characters each); chunks are what is searched, by words (FTS5) or by
-- embeddings, and what a prompt quotes. Ids are AUTOINCREMENT: an embedding computed for a chunk
-- that an edit replaced meanwhile must never land on a new chunk that took its id.
CREATE TABLE knowledge_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL CHECK (kind IN ('faq', 'document')),
    title TEXT NOT NULL,               -- a FAQ's question, a document's title
    body TEXT NOT NULL,                -- a FAQ's answer, a document's text (plain or Markdown)
    source TEXT NOT NULL DEFAULT '',   -- where it came from (the file name zingctl read), for people only
    created_by INTEGER REFERENCES users(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX ix_knowledge_entries_tenant ON knowledge_entries(tenant_id, kind, id);

-- vector: the chunk's embedding as little-endian float32, scaled to unit length (cosine = dot
-- product), computed after the entry committed; model: the embeddings model that made it. A chunk
-- whose model is not the tenant's current one (NULL: never embedded) is embedded again.
CREATE TABLE knowledge_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    entry_id INTEGER NOT NULL REFERENCES knowledge_entries(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    context TEXT NOT NULL,             -- the entry's title and the section's headings: "Guide › Returns"
    body TEXT NOT NULL,
    model TEXT,
    vector BLOB,
    UNIQUE (entry_id, seq)
);
CREATE INDEX ix_knowledge_chunks_tenant ON knowledge_chunks(tenant_id, model);

-- As messages_fts: the tenant is indexed too, so a search is one FTS5 query scoped inside the index.
CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    context, body, tenant_id, content='knowledge_chunks', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts(rowid, context, body, tenant_id) VALUES (new.id, new.context, new.body, new.tenant_id);
END;
CREATE TRIGGER knowledge_fts_au AFTER UPDATE OF context, body ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts(knowledge_fts, rowid, context, body, tenant_id)
        VALUES ('delete', old.id, old.context, old.body, old.tenant_id);
    INSERT INTO knowledge_fts(rowid, context, body, tenant_id) VALUES (new.id, new.context, new.body, new.tenant_id);
END;
CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts(knowledge_fts, rowid, context, body, tenant_id)
        VALUES ('delete', old.id, old.context, old.body, old.tenant_id);
END;

-- v10: what was folded into a contact, by whom (NULL: zing itself) and why, so contact.get can
-- explain a merge for as long as the contact lives (the audit log answers "who did what", not
-- "what became of this contact", and is not indexed by target). A later merge of the contact
-- carries its records along.
CREATE TABLE contact_merges (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    merged_id INTEGER NOT NULL,
    merged_number TEXT NOT NULL,
    user_id INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    tickets_joined TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL
);
CREATE INDEX ix_contact_merges_contact ON contact_merges(contact_id, id);

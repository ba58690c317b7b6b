-- v3: campaigns and scheduled messages go through the pacing governor.
-- An automated message (campaign, schedule) is marked so daily caps can be
-- counted from the database after a restart; sent_at records when it left.
ALTER TABLE messages ADD COLUMN automated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN sent_at REAL;
CREATE INDEX ix_messages_automated ON messages(connection_id, sent_at) WHERE automated = 1;

ALTER TABLE campaigns ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN finished_at REAL;

ALTER TABLE campaign_recipients ADD COLUMN variant INTEGER;
ALTER TABLE campaign_recipients ADD COLUMN connection_id INTEGER REFERENCES connections(id);
ALTER TABLE campaign_recipients ADD COLUMN queued_at REAL;
ALTER TABLE campaign_recipients ADD COLUMN sent_at REAL;
ALTER TABLE campaign_recipients ADD COLUMN delivered_at REAL;
ALTER TABLE campaign_recipients ADD COLUMN read_at REAL;
CREATE INDEX ix_campaign_recipients_pending ON campaign_recipients(campaign_id, state, id);
CREATE INDEX ix_campaign_recipients_message ON campaign_recipients(message_id);
CREATE INDEX ix_campaign_recipients_contact ON campaign_recipients(contact_id, id);

ALTER TABLE schedules ADD COLUMN error TEXT;
ALTER TABLE schedules ADD COLUMN runs INTEGER NOT NULL DEFAULT 0;

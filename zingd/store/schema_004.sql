-- v4: webhooks deliver from the persisted event log with a cursor per webhook,
-- so the hot path never writes a delivery row; only failures are recorded.
ALTER TABLE webhooks ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_error TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN http_status INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN created_at REAL NOT NULL DEFAULT 0;

-- v12: a webhook shows its trouble (issue 13). The event being retried is a webhook_deliveries row
-- ('retrying', its attempts and next try); one given up on is a dead letter ('dead') until a replay
-- is asked for ('replay') and succeeds. The webhook keeps when its last error happened.
ALTER TABLE webhooks ADD COLUMN last_error_at REAL;
UPDATE webhook_deliveries SET status = 'dead' WHERE status = 'failed';
CREATE INDEX ix_webhook_deliveries_status ON webhook_deliveries(webhook_id, status);

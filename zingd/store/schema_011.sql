-- v11: the console never loses what an agent typed (issue 13).
-- client_ref: a key the sender chose for an outbound message (message.send), so a send repeated after
--   a lost connection returns the first message instead of queueing a second one; unique per tenant
--   and user, NULL for every message sent without one.
-- last_inbound: the preview of the customer's last message in the ticket. last_message is whatever
--   was said last, often zing's own greeting or menu; the pending list shows what the customer wrote.
--   The inbound unit keeps it in the same UPDATE as last_message (services/inbound.py ingest).
ALTER TABLE messages ADD COLUMN client_ref TEXT;
CREATE UNIQUE INDEX ux_messages_client_ref ON messages(tenant_id, user_id, client_ref)
    WHERE client_ref IS NOT NULL;

ALTER TABLE tickets ADD COLUMN last_inbound TEXT NOT NULL DEFAULT '';
UPDATE tickets SET last_inbound = ifnull((
    SELECT substr(CASE WHEN m.body != '' THEN m.body ELSE '[' || m.type || ']' END, 1, 200)
    FROM messages m WHERE m.ticket_id = tickets.id AND m.direction = 'in' ORDER BY m.id DESC LIMIT 1), '');

-- v15: the supervisors' desk (issue 15): reports and the live panel read indexes, never a scan.
-- Reports take the tickets created in a period (the tenant's, in created_at order) and count each
-- one's timeline and messages on indexes; the live panel counts what waits per queue and each
-- agent's last reply. With these a 30-day report of a tenant with 100k tickets (1M in all) reads
-- ~8k ticket rows and a few index entries for each instead of whole tables (see bench.scale).
-- Building them on a big database takes some seconds once, at the upgrade (~15 s at 5M messages).

-- the tickets of a period, per tenant
CREATE INDEX ix_tickets_created ON tickets(tenant_id, created_at);
-- a ticket's messages in and out, counted on the index: its direction in the entry (the order by
-- ticket and id, which message.list walks, stays the same)
DROP INDEX ix_messages_ticket;
CREATE INDEX ix_messages_ticket ON messages(ticket_id, id, direction);
-- the traffic of a period (messages in and out, whichever ticket)
CREATE INDEX ix_messages_tenant_time ON messages(tenant_id, created_at, direction);
-- an agent's last reply (report.live): messages written by a user, newest last
CREATE INDEX ix_messages_user_time ON messages(user_id, created_at) WHERE user_id IS NOT NULL;
-- transfers and reopens of each ticket of a period, counted on the index alone
CREATE INDEX ix_ticket_log_action ON ticket_log(ticket_id, action);
-- what waits, per queue, and since when (report.live): only pending tickets are in it (status in
-- the entry too, or SQLite reads each row to check what the index already says)
CREATE INDEX ix_tickets_waiting ON tickets(tenant_id, queue_id, created_at, status) WHERE status = 'pending';
-- the failed sends of a period (report.summary): an entry only once a message failed for good
CREATE INDEX ix_messages_failed ON messages(tenant_id, created_at) WHERE ack = 'failed';
-- each number's outbox depth (report.live)
CREATE INDEX ix_outbox_connection ON outbox(connection_id);

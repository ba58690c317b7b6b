-- v5: a supervisor's "all tickets" view (no status filter) walks this instead of sorting
-- every ticket of the tenant (270 ms at 100k tickets, 0.15 ms with it).
CREATE INDEX ix_tickets_all_list ON tickets(tenant_id, last_message_at DESC, id DESC);

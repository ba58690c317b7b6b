-- Service-level targets per queue (zingd/services/sla.py): how long a ticket of the queue may wait
-- for its first response and for its resolution (seconds; NULL: no target), counted in the queue's
-- business hours ('business') or in wall time ('calendar').
ALTER TABLE queues ADD COLUMN sla_first_response_s REAL;
ALTER TABLE queues ADD COLUMN sla_resolution_s REAL;
ALTER TABLE queues ADD COLUMN sla_clock TEXT NOT NULL DEFAULT 'business'
    CHECK (sla_clock IN ('business', 'calendar'));

-- A ticket's due times (set when it enters a queue, is transferred or reopened) and whether each
-- target was missed: set to 1 once, by the SLA worker at the due time or when the answer or the
-- close comes late, in the unit that emits ticket.sla_breached. Reports count the flags.
ALTER TABLE tickets ADD COLUMN first_response_due_at REAL;
ALTER TABLE tickets ADD COLUMN resolution_due_at REAL;
ALTER TABLE tickets ADD COLUMN breached_first_response INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN breached_resolution INTEGER NOT NULL DEFAULT 0;

-- What the SLA worker still waits for, earliest first: only tickets whose target is still running
-- (the worker's queries repeat these conditions word for word, so SQLite picks these indexes).
CREATE INDEX ix_tickets_first_response_due ON tickets(first_response_due_at)
    WHERE first_response_due_at IS NOT NULL AND first_response_at IS NULL
      AND breached_first_response = 0 AND status != 'closed';
CREATE INDEX ix_tickets_resolution_due ON tickets(resolution_due_at)
    WHERE resolution_due_at IS NOT NULL AND breached_resolution = 0 AND status != 'closed';

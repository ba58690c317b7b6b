-- v8: what WhatsApp says about an inbound message beyond its content.
-- wa_ts: WhatsApp's own time of the message (when the customer sent it); created_at stays the time
--   zing stored it. offline: it reached zing as backlog, older than [tickets] backlog_age_s (zing was
--   offline or reconnecting), so it got no automatic reply. media_seconds / media_waveform: a voice
--   note's (or audio's, video's) length and, for voice notes, its 64 levels (0-100) as base64.
-- ADD COLUMN with a constant default only: no table rewrite, instant on a big database.
ALTER TABLE messages ADD COLUMN wa_ts REAL;
ALTER TABLE messages ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN media_seconds INTEGER;
ALTER TABLE messages ADD COLUMN media_waveform TEXT;

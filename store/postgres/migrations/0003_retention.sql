-- 0003: what the purge needs. Final messages are indexed by when they
-- became final, so that the purge of those past the retention period reads
-- only them. A sign-out voids the tokens of a phone issued up to
-- signed_out_at, and is kept until the last of them has expired.
CREATE INDEX outbox_final ON outbox (updated_at, key) WHERE status IN ('sent', 'delivered', 'failed');

CREATE TABLE signouts (
    phone         text PRIMARY KEY,
    signed_out_at timestamptz NOT NULL,
    keep_until    timestamptz NOT NULL
);
CREATE INDEX signouts_keep ON signouts (keep_until);

-- 0005: several instances on one database. A message of the outbox is
-- claimed by one instance (claimed_by, a name unique to the process)
-- until claimed_until; another instance takes it only once that has
-- passed, so that a live instance's claims are never sent twice and a dead
-- one's pass to the others. NULL claimed_until is no claim.
ALTER TABLE outbox ADD COLUMN claimed_by text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;

-- The token buckets of the limits that protect citizens, shared by every
-- instance: tokens held at at, full again (and so forgettable) at full_at.
CREATE TABLE rate_buckets (
    key     text COLLATE "C" PRIMARY KEY,
    tokens  double precision NOT NULL,
    at      timestamptz NOT NULL,
    full_at timestamptz NOT NULL
);
CREATE INDEX rate_buckets_full ON rate_buckets (full_at);

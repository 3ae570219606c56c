-- The failed messages of a kind, by key, for an operator's listing.
CREATE INDEX outbox_failed ON outbox (kind, key) WHERE status = 'failed';

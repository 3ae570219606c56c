-- 0004: the base URL of an agency's operations, which the call steps of
-- its services POST to (signed with the agency's webhook secret). Empty
-- when the agency answers no calls.
ALTER TABLE agencies ADD COLUMN api_url text NOT NULL DEFAULT '';

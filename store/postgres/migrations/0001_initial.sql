-- 0001: the first schema. Identifiers that the store lists in order are
-- COLLATE "C", so that they sort by their bytes, as store/bolt sorts them,
-- whatever the database's locale. Nested values (answers, history, push
-- data) are json, not jsonb: json keeps the text as written, so a string
-- holding U+0000 (escaped by Go's encoding/json) is stored, where jsonb
-- refuses it. Times are timestamptz, microseconds; the zero time.Time is
-- stored as 0001-01-01 UTC.

-- Sessions last minutes and are written on every hop. The table is
-- UNLOGGED, as store/bolt writes its sessions file without fsync: writes
-- skip the WAL, and PostgreSQL empties the table after a crash of the
-- server (not after a clean restart); standbys do not have it. A dropped
-- dialogue starts again; nothing durable is lost.
CREATE UNLOGGED TABLE sessions (
    id         bytea PRIMARY KEY, -- a gateway's session ID may hold any byte
    phone      text NOT NULL,
    channel    text NOT NULL,
    state      bytea NOT NULL,
    edge       bytea NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE cases (
    ref             text COLLATE "C" PRIMARY KEY,
    service         text NOT NULL,
    agency          text COLLATE "C" NOT NULL DEFAULT '',
    phone           text COLLATE "C" NOT NULL DEFAULT '',
    national_id     text COLLATE "C" NOT NULL DEFAULT '',
    assisted        json,               -- channels.Assistance; NULL when none
    channel         text NOT NULL,
    lang            text NOT NULL,
    answers         json NOT NULL,      -- []channels.Answer
    status          text NOT NULL,
    history         json NOT NULL,      -- []channels.StatusChange, append-only
    idempotency_key bytea UNIQUE,       -- the session's ID; NULL when none
    created_at      timestamptz NOT NULL
);
CREATE INDEX cases_phone ON cases (phone, created_at, ref) WHERE phone <> '';
CREATE INDEX cases_national_id ON cases (national_id, created_at, ref) WHERE national_id <> '';
CREATE INDEX cases_agency ON cases (agency, created_at, ref) WHERE agency <> '';

-- heads holds, for each log that must stay gap-free and in commit order,
-- its last sequence number (and for the audit log, the last hash). A
-- writer appends by updating its row, whose lock it holds until it
-- commits: appends are serialized, so a follower reading after seq n never
-- misses an entry committed later with a smaller seq.
CREATE TABLE heads (
    log  text PRIMARY KEY,
    seq  bigint NOT NULL DEFAULT 0,
    hash text NOT NULL DEFAULT ''
);
INSERT INTO heads (log) VALUES ('case_events'), ('audit');

CREATE TABLE case_events (
    seq     bigint PRIMARY KEY,
    ref     text COLLATE "C" NOT NULL,
    created boolean NOT NULL,
    change  json NOT NULL               -- channels.StatusChange, as in the case's history
);

CREATE TABLE cursors (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);

CREATE TABLE prefs (
    phone     text PRIMARY KEY,
    lang      text NOT NULL DEFAULT '',
    opted_out boolean NOT NULL DEFAULT false
);

CREATE TABLE outbox (
    key          text COLLATE "C" PRIMARY KEY,
    kind         text NOT NULL,
    recipient    text NOT NULL,         -- Outbound.To
    body         text NOT NULL,         -- Outbound.Text
    title        text NOT NULL,
    data         json,                  -- map[string]string; NULL when none
    purpose      text NOT NULL,
    fallback     json,                  -- *channels.Outbound; NULL when none
    at_most_once boolean NOT NULL,
    status       text NOT NULL,
    attempts     integer NOT NULL,
    next_attempt timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    sender       text NOT NULL,
    provider_id  text NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- The due index holds queued messages only, the sending one messages
-- handed to a gateway: both stay as small as the work left. Each kind is
-- read on its own, so both lead with it.
CREATE INDEX outbox_due ON outbox (kind, next_attempt, key) WHERE status = 'queued';
CREATE INDEX outbox_sending ON outbox (kind, key) WHERE status = 'sending';

CREATE TABLE secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

-- A token is one device: it belongs to the phone that registered it last.
CREATE TABLE devices (
    token      text COLLATE "C" PRIMARY KEY,
    phone      text NOT NULL,
    platform   text NOT NULL,
    lang       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX devices_phone ON devices (phone);

CREATE TABLE agencies (
    id             text COLLATE "C" PRIMARY KEY,
    name           text NOT NULL,
    webhook_url    text NOT NULL,
    webhook_secret bytea,
    created_at     timestamptz NOT NULL
);

CREATE TABLE agency_keys (
    id         text COLLATE "C" PRIMARY KEY,
    agency     text NOT NULL,
    hash       bytea,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL
);
CREATE INDEX agency_keys_agency ON agency_keys (agency, id);

CREATE TABLE operators (
    id              text COLLATE "C" PRIMARY KEY,
    name            text NOT NULL,
    kiosk           text NOT NULL,
    region          text NOT NULL,
    lang            text NOT NULL,
    password_hash   text NOT NULL,
    password_set_at timestamptz NOT NULL,
    disabled        boolean NOT NULL,
    failed_sign_ins integer NOT NULL,
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL
);

-- The audit log. Each entry's hash chains it to the one before (see
-- channels.AuditEntry.ChainHash); heads('audit') names the last, so that
-- removing the tail shows. The trigger refuses changes and removals from
-- anyone short of a role that may disable it; VerifyAudit catches those.
CREATE TABLE audit (
    seq     bigint PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL,
    kiosk   text NOT NULL,
    action  text NOT NULL,
    citizen text NOT NULL,
    ref     text NOT NULL,
    detail  text NOT NULL,
    hash    text NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_citizen ON audit (citizen, seq) WHERE citizen <> '';

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

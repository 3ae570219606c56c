-- 0006: the ledger of fees paid by mobile money. A bill is what a citizen
-- owes before their case is filed; a payment is one attempt to pay it (or
-- money that arrived for it unasked), with its refunds. Each is kept as a
-- JSON document beside the columns that find it; the columns are the
-- store's to keep equal to the document.
CREATE TABLE bills (
    id              text COLLATE "C" PRIMARY KEY,
    idempotency_key text COLLATE "C" UNIQUE, -- NULL: none
    paid            text COLLATE "C" NOT NULL DEFAULT '',
    paid_at         timestamptz,
    case_ref        text COLLATE "C" NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    doc             jsonb NOT NULL
);
-- Bills paid and not yet filed, for the hook that files them.
CREATE INDEX bills_unfiled ON bills (paid_at, id) WHERE paid <> '' AND case_ref = '';

CREATE TABLE payments (
    id         text COLLATE "C" PRIMARY KEY,
    bill       text COLLATE "C" NOT NULL REFERENCES bills (id),
    provider   text COLLATE "C" NOT NULL,
    phone      text COLLATE "C" NOT NULL,
    state      text NOT NULL,
    ref        text COLLATE "C" NOT NULL DEFAULT '',
    receipt    text COLLATE "C" NOT NULL DEFAULT '',
    open       boolean NOT NULL, -- an attempt not finished or a refund not yet accepted: the poller's
    created_at timestamptz NOT NULL,
    doc        jsonb NOT NULL
);
CREATE INDEX payments_bill ON payments (bill, created_at, id);
CREATE INDEX payments_phone ON payments (phone, created_at, id);
CREATE INDEX payments_created ON payments (created_at, id);
CREATE INDEX payments_open ON payments (created_at, id) WHERE open;
-- The same request, and the same money, are recorded once per provider.
CREATE UNIQUE INDEX payments_ref ON payments (provider, ref) WHERE ref <> '';
CREATE UNIQUE INDEX payments_receipt ON payments (provider, receipt) WHERE receipt <> '';

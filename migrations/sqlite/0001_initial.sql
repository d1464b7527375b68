-- The registry's log: claims, revocations and trust changes, each with a number of one
-- global, gap-free sequence (registry_sequence.last_seq is the last number handed out).

CREATE TABLE registry_sequence (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
INSERT INTO registry_sequence (id, last_seq) VALUES (1, 0);

-- Subjects are stored packed in their claim's row, not one row each: claims are written and read
-- whole, and one row per claim keeps bulk claims (10,000 subjects) fast on both engines. The
-- matching index, not SQL, answers questions about subjects. See docs/decisions/0002.
CREATE TABLE claims (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,      -- lowercase hex SHA-256 of the compact JWS
    content_hash  TEXT    NOT NULL UNIQUE,      -- hex SHA-256 of what was signed (header.payload): one claim per signed content
    party         TEXT    NOT NULL,             -- RFC 7638 thumbprint of the signer's key
    alg           TEXT    NOT NULL,
    iat           INTEGER NOT NULL,
    tdm           TEXT    CHECK (tdm IN ('y', 'n')),      -- usage after the hierarchy is applied;
    train_ai      TEXT    CHECK (train_ai IN ('y', 'n')), -- NULL = not set by the claim
    train_genai   TEXT    CHECK (train_genai IN ('y', 'n')),
    ai_use        TEXT    CHECK (ai_use IN ('y', 'n')),
    search        TEXT    CHECK (search IN ('y', 'n')),
    title         TEXT,
    license       TEXT,
    contact       TEXT,
    trust         TEXT    NOT NULL DEFAULT 'signed' CHECK (trust IN ('signed', 'domain', 'reviewed')),
    subject_count INTEGER NOT NULL,
    subjects      TEXT    NOT NULL,             -- canonical subjects, one per line: kind TAB value [TAB "subdomains"]
    jws           TEXT    NOT NULL,             -- verbatim, so anyone can re-verify it
    received_at   INTEGER NOT NULL,             -- unix seconds
    revoked_seq   INTEGER
);
CREATE INDEX claims_party ON claims (party, seq);

CREATE TABLE revocations (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    claim_id    TEXT    NOT NULL UNIQUE REFERENCES claims (id),
    party       TEXT    NOT NULL,
    iat         INTEGER NOT NULL,
    jws         TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);

-- Trust changes (operator review, domain verification) are in the log too, so every replica's
-- matching index sees them in order.
CREATE TABLE trust_changes (
    seq        INTEGER PRIMARY KEY,
    claim_id   TEXT    NOT NULL REFERENCES claims (id),
    trust      TEXT    NOT NULL CHECK (trust IN ('signed', 'domain', 'reviewed')),
    reason     TEXT    NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX trust_changes_claim ON trust_changes (claim_id);

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,             -- public part, shown in lists and logs
    key_hash   TEXT    NOT NULL UNIQUE,         -- hex SHA-256 of the whole key; the key itself is never stored
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('client', 'admin')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

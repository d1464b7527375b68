-- The registry's log: claims, revocations and trust changes, each with a number of one
-- global, gap-free sequence (registry_sequence.last_seq is the last number handed out; writers
-- lock its row, so numbers are assigned in commit order across every instance).

CREATE TABLE registry_sequence (
    id       smallint PRIMARY KEY CHECK (id = 1),
    last_seq bigint   NOT NULL
);
INSERT INTO registry_sequence (id, last_seq) VALUES (1, 0);

CREATE TABLE claims (
    seq           bigint  PRIMARY KEY,
    id            text    NOT NULL UNIQUE,      -- lowercase hex SHA-256 of the compact JWS
    party         text    NOT NULL,             -- RFC 7638 thumbprint of the signer's key
    alg           text    NOT NULL,
    iat           bigint  NOT NULL,
    tdm           text    CHECK (tdm IN ('y', 'n')),      -- usage after the hierarchy is applied;
    train_ai      text    CHECK (train_ai IN ('y', 'n')), -- NULL = not set by the claim
    train_genai   text    CHECK (train_genai IN ('y', 'n')),
    ai_use        text    CHECK (ai_use IN ('y', 'n')),
    search        text    CHECK (search IN ('y', 'n')),
    title         text,
    license       text,
    contact       text,
    trust         text    NOT NULL DEFAULT 'signed' CHECK (trust IN ('signed', 'domain', 'reviewed')),
    subject_count integer NOT NULL,
    jws           text    NOT NULL,             -- verbatim, so anyone can re-verify it
    received_at   bigint  NOT NULL,             -- unix seconds
    revoked_seq   bigint
);
CREATE INDEX claims_party ON claims (party, seq);

-- Subjects in canonical form, in the claim's order. No foreign key: rows are bulk-copied in the
-- claim's own transaction, and the per-row check would halve the copy rate.
CREATE TABLE claim_subjects (
    claim_seq          bigint   NOT NULL,
    ordinal            integer  NOT NULL,
    kind               text     NOT NULL,
    value              text     NOT NULL,
    include_subdomains smallint NOT NULL DEFAULT 0,
    host               text,                    -- host of url, url-prefix and host subjects
    PRIMARY KEY (claim_seq, ordinal)
);
CREATE INDEX claim_subjects_host ON claim_subjects (host) WHERE host IS NOT NULL;

CREATE TABLE revocations (
    seq         bigint PRIMARY KEY,
    id          text   NOT NULL UNIQUE,
    claim_id    text   NOT NULL UNIQUE REFERENCES claims (id),
    party       text   NOT NULL,
    iat         bigint NOT NULL,
    jws         text   NOT NULL,
    received_at bigint NOT NULL
);

-- Trust changes (operator review, domain verification) are in the log too, so every replica's
-- matching index sees them in order.
CREATE TABLE trust_changes (
    seq        bigint PRIMARY KEY,
    claim_id   text   NOT NULL REFERENCES claims (id),
    trust      text   NOT NULL CHECK (trust IN ('signed', 'domain', 'reviewed')),
    reason     text   NOT NULL,
    changed_at bigint NOT NULL
);
CREATE INDEX trust_changes_claim ON trust_changes (claim_id);

CREATE TABLE api_keys (
    id         text   PRIMARY KEY,              -- public part, shown in lists and logs
    key_hash   text   NOT NULL UNIQUE,          -- hex SHA-256 of the whole key; the key itself is never stored
    name       text   NOT NULL,
    role       text   NOT NULL CHECK (role IN ('client', 'admin')),
    created_at bigint NOT NULL,
    revoked_at bigint
);

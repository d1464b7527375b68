-- The registry's log: claims, revocations and trust changes, each with a number of one
-- global, gap-free sequence (registry_sequence.last_seq is the last number handed out; writers
-- lock its row, so numbers are assigned in commit order across every instance).

CREATE TABLE registry_sequence (
    id       smallint PRIMARY KEY CHECK (id = 1),
    last_seq bigint   NOT NULL
);
INSERT INTO registry_sequence (id, last_seq) VALUES (1, 0);

-- Subjects are stored packed in their claim's row, not one row each: claims are written and read
-- whole, and one row per claim keeps bulk claims (10,000 subjects) fast on both engines. The
-- matching index, not SQL, answers questions about subjects. See docs/decisions/0002.
CREATE TABLE claims (
    seq           bigint  PRIMARY KEY,
    id            text    NOT NULL UNIQUE,      -- lowercase hex SHA-256 of the compact JWS
    content_hash  text    NOT NULL UNIQUE,      -- hex SHA-256 of what was signed (header.payload): one claim per signed content
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
    subjects      text    NOT NULL,             -- canonical subjects, one per line: kind TAB value [TAB "subdomains"]
    jws           text    NOT NULL,             -- verbatim, so anyone can re-verify it
    received_at   bigint  NOT NULL,             -- unix seconds
    revoked_seq   bigint
);
CREATE INDEX claims_party ON claims (party, seq);
-- Large values are stored out of line without compression: pglz costs more CPU on a bulk claim
-- than it saves on mostly-base64 text.
ALTER TABLE claims ALTER COLUMN jws SET STORAGE EXTERNAL, ALTER COLUMN subjects SET STORAGE EXTERNAL;

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

-- Fingerprints the registry derives from the images behind claimed URLs (DESIGN.md 5.7).

-- Each derived set is an entry of the log (its own seq), so every instance's matching index
-- applies it in order, like claims, revocations and trust changes. A later set for the same claim
-- and URL replaces the earlier one. A set stays when its URL later fails: the picture it stands
-- for may still be copied elsewhere.
CREATE TABLE derived_fingerprints (
    seq        INTEGER PRIMARY KEY,
    claim_id   TEXT    NOT NULL REFERENCES claims (id),
    url        TEXT    NOT NULL,      -- the claimed URL (canonical) whose image gave them
    subjects   TEXT    NOT NULL,      -- packed like claims.subjects: sha256, pdq (dihedral), embedding
    fetched_at INTEGER NOT NULL       -- unix seconds
);
CREATE INDEX derived_fingerprints_claim ON derived_fingerprints (claim_id, seq);

-- The worker's queue: one job per url subject of an unrevoked claim. A worker takes jobs by
-- writing its lease; a job whose lease has passed (its worker died) is taken over. Results stay
-- on the row for GET /v1/claims/{id}/fingerprints; due_at schedules retries and re-fetches.
CREATE TABLE fingerprint_jobs (
    claim_id    TEXT    NOT NULL REFERENCES claims (id),
    url         TEXT    NOT NULL,
    claim_seq   INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0, -- failed tries since the last success
    due_at      INTEGER NOT NULL,           -- unix ms: the job may run from then on
    lease_owner TEXT,
    lease_until INTEGER,                    -- unix ms
    error       TEXT,                       -- the last failure, as the fingerprints endpoint shows it
    fetched_at  INTEGER,                    -- unix seconds of the last success
    sha256      TEXT,
    pdq         TEXT,
    quality     INTEGER,
    model       TEXT,                       -- the embedding model of the last derived set (NULL: none)
    PRIMARY KEY (claim_id, url)
);
CREATE INDEX fingerprint_jobs_due ON fingerprint_jobs (due_at, claim_seq);

-- How far the log has been turned into jobs (claims enqueued, revoked claims' jobs dropped).
CREATE TABLE fingerprint_queue (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    enqueued_seq INTEGER NOT NULL
);
INSERT INTO fingerprint_queue (id, enqueued_seq) VALUES (1, 0);

-- Fingerprints the registry derives from the images behind claimed URLs (DESIGN.md 5.7).

-- Each derived set is an entry of the log (its own seq), so every instance's matching index
-- applies it in order, like claims, revocations and trust changes. A later set for the same claim
-- and URL replaces the earlier one. A set stays when its URL later fails: the picture it stands
-- for may still be copied elsewhere.
CREATE TABLE derived_fingerprints (
    seq        bigint  PRIMARY KEY,
    claim_id   text    NOT NULL REFERENCES claims (id),
    url        text    NOT NULL,      -- the claimed URL (canonical) whose image gave them
    subjects   text    NOT NULL,      -- packed like claims.subjects: sha256, pdq (dihedral), embedding
    fetched_at bigint  NOT NULL       -- unix seconds
);
CREATE INDEX derived_fingerprints_claim ON derived_fingerprints (claim_id, seq);

-- The worker's queue: one job per url subject of an unrevoked claim. A worker takes jobs by
-- writing its lease; a job whose lease has passed (its worker died) is taken over. Results stay
-- on the row for GET /v1/claims/{id}/fingerprints; due_at schedules retries and re-fetches.
CREATE TABLE fingerprint_jobs (
    claim_id    text    NOT NULL REFERENCES claims (id),
    url         text    NOT NULL,
    claim_seq   bigint  NOT NULL,
    status      text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts    integer NOT NULL DEFAULT 0, -- failed tries since the last success
    due_at      bigint  NOT NULL,           -- unix ms: the job may run from then on
    lease_owner text,
    lease_until bigint,                     -- unix ms
    error       text,                       -- the last failure, as the fingerprints endpoint shows it
    fetched_at  bigint,                     -- unix seconds of the last success
    sha256      text,
    pdq         text,
    quality     integer,
    model       text,                       -- the embedding model of the last derived set (NULL: none)
    PRIMARY KEY (claim_id, url)
);
CREATE INDEX fingerprint_jobs_due ON fingerprint_jobs (due_at, claim_seq);

-- How far the log has been turned into jobs (claims enqueued, revoked claims' jobs dropped).
CREATE TABLE fingerprint_queue (
    id           smallint PRIMARY KEY CHECK (id = 1),
    enqueued_seq bigint  NOT NULL
);
INSERT INTO fingerprint_queue (id, enqueued_seq) VALUES (1, 0);

-- Aligned verification of near-duplicate candidates (DESIGN.md 5.7). The embeddings of two claimed
-- images that are alike but below the near-duplicate threshold (a crop, a frame with a caption, a
-- screenshot, a small rotation, or merely another picture of the same kind) propose a check: the
-- worker fetches both images, lays one over the other by the local features they share and compares
-- them where they overlap. A check that finds a copy records the pair as match_kind 'aligned'.
-- One row per pair of claimed URLs, the claims in text order, whichever proposed it. Taken like
-- fingerprint jobs: a lease, retries with backoff, the last failure kept and tried again after the
-- re-fetch interval.
CREATE TABLE near_duplicate_checks (
    claim_a     TEXT    NOT NULL REFERENCES claims (id), -- the two claims of different parties, in text order
    url_a       TEXT    NOT NULL,                        -- the claimed URL of claim_a's whose picture is compared
    claim_b     TEXT    NOT NULL REFERENCES claims (id),
    url_b       TEXT    NOT NULL,                        -- the claimed URL of claim_b's
    similarity  REAL    NOT NULL,                        -- the embeddings' cosine similarity
    conflict    INTEGER NOT NULL CHECK (conflict IN (0, 1)),
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    is_copy     INTEGER CHECK (is_copy IN (0, 1)),       -- done: whether the images were found to be copies
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,                        -- unix ms
    lease_owner TEXT,
    lease_until INTEGER,                                 -- unix ms
    error       TEXT,
    found_seq   INTEGER NOT NULL,                        -- the derived set that last proposed it
    PRIMARY KEY (claim_a, url_a, claim_b, url_b)
);
CREATE INDEX near_duplicate_checks_due ON near_duplicate_checks (due_at, found_seq) WHERE status <> 'done';

-- SQLite cannot change a CHECK constraint in place: the pairs move to a table that allows 'aligned'.
CREATE TABLE near_duplicate_pairs_new (
    id         INTEGER PRIMARY KEY,
    claim_a    TEXT    NOT NULL REFERENCES claims (id), -- the two claim ids, in text order
    claim_b    TEXT    NOT NULL REFERENCES claims (id),
    match_kind TEXT    NOT NULL CHECK (match_kind IN ('pdq', 'embedding', 'aligned')),
    distance   INTEGER,                       -- pdq: Hamming distance; aligned: of the overlapping parts
    similarity REAL,                          -- embedding: cosine similarity
    conflict   INTEGER NOT NULL CHECK (conflict IN (0, 1)),
    found_seq  INTEGER NOT NULL,              -- the log entry whose fingerprints found the pair
    found_at   INTEGER NOT NULL,              -- unix seconds
    UNIQUE (claim_a, claim_b, match_kind)
);
INSERT INTO near_duplicate_pairs_new (id, claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at)
SELECT id, claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at FROM near_duplicate_pairs;
DROP TABLE near_duplicate_pairs;
ALTER TABLE near_duplicate_pairs_new RENAME TO near_duplicate_pairs;
CREATE INDEX near_duplicate_pairs_conflicts ON near_duplicate_pairs (conflict, id);
-- GET /v1/claims/{id}/near-duplicates reads a claim's aligned pairs from either side.
CREATE INDEX near_duplicate_pairs_claim_b ON near_duplicate_pairs (claim_b);

-- Aligned verification of near-duplicate candidates (DESIGN.md 5.7). The embeddings of two claimed
-- images that are alike but below the near-duplicate threshold (a crop, a frame with a caption, a
-- screenshot, a small rotation, or merely another picture of the same kind) propose a check: the
-- worker fetches both images, lays one over the other by the local features they share and compares
-- them where they overlap. A check that finds a copy records the pair as match_kind 'aligned'.
-- One row per pair of claimed URLs, the claims in text order, whichever proposed it. Taken like
-- fingerprint jobs: a lease, retries with backoff, the last failure kept and tried again after the
-- re-fetch interval.
SET LOCAL lock_timeout = '10s';

CREATE TABLE near_duplicate_checks (
    claim_a     text    NOT NULL REFERENCES claims (id), -- the two claims of different parties, in text order
    url_a       text    NOT NULL,                        -- the claimed URL of claim_a's whose picture is compared
    claim_b     text    NOT NULL REFERENCES claims (id),
    url_b       text    NOT NULL,                        -- the claimed URL of claim_b's
    similarity  double precision NOT NULL,               -- the embeddings' cosine similarity
    conflict    integer NOT NULL CHECK (conflict IN (0, 1)),
    status      text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    is_copy     integer CHECK (is_copy IN (0, 1)),       -- done: whether the images were found to be copies
    attempts    integer NOT NULL DEFAULT 0,
    due_at      bigint  NOT NULL,                        -- unix ms
    lease_owner text,
    lease_until bigint,                                  -- unix ms
    error       text,
    found_seq   bigint  NOT NULL,                        -- the derived set that last proposed it
    PRIMARY KEY (claim_a, url_a, claim_b, url_b)
);
CREATE INDEX near_duplicate_checks_due ON near_duplicate_checks (due_at, found_seq) WHERE status <> 'done';

ALTER TABLE near_duplicate_pairs DROP CONSTRAINT near_duplicate_pairs_match_kind_check;
ALTER TABLE near_duplicate_pairs ADD CONSTRAINT near_duplicate_pairs_match_kind_check
    CHECK (match_kind IN ('pdq', 'embedding', 'aligned'));

-- GET /v1/claims/{id}/near-duplicates reads a claim's aligned pairs from either side.
CREATE INDEX near_duplicate_pairs_claim_b ON near_duplicate_pairs (claim_b);

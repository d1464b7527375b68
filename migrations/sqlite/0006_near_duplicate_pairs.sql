-- Near-duplicate pairs (DESIGN.md 5.7): two claims of different parties whose image fingerprints
-- (their own pdq and embedding subjects, or the sets derived from their URLs) match, recorded
-- once per pair and kind of match as the log is scanned; conflict: they disagree on a category
-- (one's "y" against the other's "n"). GET /v1/admin/conflicts lists the open conflicts.
CREATE TABLE near_duplicate_pairs (
    id         INTEGER PRIMARY KEY,
    claim_a    TEXT    NOT NULL REFERENCES claims (id), -- the two claim ids, in text order
    claim_b    TEXT    NOT NULL REFERENCES claims (id),
    match_kind TEXT    NOT NULL CHECK (match_kind IN ('pdq', 'embedding')),
    distance   INTEGER,                       -- pdq: Hamming distance
    similarity REAL,                          -- embedding: cosine similarity
    conflict   INTEGER NOT NULL CHECK (conflict IN (0, 1)),
    found_seq  INTEGER NOT NULL,              -- the log entry whose fingerprints found the pair
    found_at   INTEGER NOT NULL,              -- unix seconds
    UNIQUE (claim_a, claim_b, match_kind)
);
CREATE INDEX near_duplicate_pairs_conflicts ON near_duplicate_pairs (conflict, id);

-- How far the log has been scanned for pairs.
CREATE TABLE near_duplicate_scan (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    scanned_seq INTEGER NOT NULL
);
INSERT INTO near_duplicate_scan (id, scanned_seq) VALUES (1, 0);

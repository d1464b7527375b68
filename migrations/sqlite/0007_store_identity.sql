-- The store's identity: a random id made once, when the schema is created. Index snapshots record
-- it, so an instance never starts from a snapshot of another store (docs/snapshot-format.md).
CREATE TABLE store_identity (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT    NOT NULL -- a UUID, lower-case, with hyphens
);
INSERT INTO store_identity (id, store_id)
SELECT 1, lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-'
       || substr('89ab', 1 + (random() & 3), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))
FROM (SELECT hex(randomblob(16)) AS h);

-- The store's identity: a random id made once, when the schema is created. Index snapshots record
-- it, so an instance never starts from a snapshot of another store (docs/snapshot-format.md).
CREATE TABLE store_identity (
    id       integer PRIMARY KEY CHECK (id = 1),
    store_id uuid    NOT NULL
);
INSERT INTO store_identity (id, store_id) VALUES (1, gen_random_uuid());

-- Parties owed a reconciliation of their claims' trust: a verification of theirs lapsed or was
-- removed, and the claims it alone vouched for are lowered after that commit. A row is written
-- in the lapse's (or removal's) transaction and deleted once the lowering is done, so a lowering
-- that failed or was cut short by a crash is finished by the next re-check pass or start.
CREATE TABLE domain_trust_owed (
    party TEXT NOT NULL PRIMARY KEY, -- RFC 7638 thumbprint of the party's key
    token TEXT NOT NULL              -- new with each lapse or removal: a lowering clears only the one it followed
);

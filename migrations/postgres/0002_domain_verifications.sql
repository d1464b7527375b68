-- Hosts on which a party has proven control by publishing its key (DESIGN.md 5.6). Claims
-- raised to trust 'domain' are recorded in trust_changes, like every other trust change.
CREATE TABLE domain_verifications (
    party           text    NOT NULL,           -- RFC 7638 thumbprint of the party's key
    host            text    NOT NULL,           -- canonical host (lowercase, punycode)
    status          text    NOT NULL CHECK (status IN ('verified', 'lapsed')),
    verified_at     bigint  NOT NULL,           -- unix seconds of the last successful verification or re-check
    last_checked_at bigint  NOT NULL,           -- unix seconds of the last fetch; grows by at least 1 per write (re-checks compare it)
    failures        bigint  NOT NULL DEFAULT 0, -- consecutive failed re-checks; lapses at 3
    last_failure    text,                       -- code of the last failed re-check
    PRIMARY KEY (party, host)
);
CREATE INDEX domain_verifications_due ON domain_verifications (status, last_checked_at);

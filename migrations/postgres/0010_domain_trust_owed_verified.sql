-- Re-checks that keep a host verified no longer reconcile its party's claims (a verification that
-- adds a host now owes that reconciliation in its own transaction, as a lapse does). A raise that
-- a failed or cut-short verification left undone before this change was healed by the next
-- successful re-check; owe each party with a verified host one reconciliation instead, done at the
-- next start or re-check pass.
INSERT INTO domain_trust_owed (party, token)
SELECT DISTINCT party, 'migration-0010' FROM domain_verifications WHERE status = 'verified'
ON CONFLICT (party) DO NOTHING;

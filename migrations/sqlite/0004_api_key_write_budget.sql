-- A key's own write budget, set by an admin (platforms that register whole catalogues). NULL:
-- the configured default for keys (Registry:WriteBudgets:ApiKey).
ALTER TABLE api_keys ADD COLUMN write_claims_per_hour INTEGER;
ALTER TABLE api_keys ADD COLUMN write_subjects_per_hour INTEGER;

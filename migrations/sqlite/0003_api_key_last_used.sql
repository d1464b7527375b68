-- When each API key was last used, so operators can find keys nobody uses any more. Each
-- instance writes it at most once a minute per key: it is accurate to about a minute.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER; -- unix seconds; NULL: never used

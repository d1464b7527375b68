-- Claim bodies (the verbatim JWS and the canonical subjects) compressed with LZ4 where the server
-- has it (PostgreSQL 14 or later built with lz4, as Debian's, the PGDG packages and the official
-- images are): URL text compresses about fourfold, so a 10,000-subject claim writes a quarter of the
-- TOAST rows and WAL it did, faster than storing it uncompressed (pglz, the default method, cost
-- more CPU than it saved; see 0001). Values already stored keep their form. A server without lz4
-- keeps the bodies out of line uncompressed, as before.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE claims
        ALTER COLUMN jws SET COMPRESSION lz4, ALTER COLUMN jws SET STORAGE EXTENDED,
        ALTER COLUMN subjects SET COMPRESSION lz4, ALTER COLUMN subjects SET STORAGE EXTENDED';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    RAISE NOTICE 'LZ4 compression is not available on this server: claim bodies stay uncompressed';
END
$$;

-- One table holds every record kind, so DeleteByGrant removes a grant's
-- records of all kinds in one statement. Keys are bytea because the Store
-- contract allows any bytes (NUL, invalid UTF-8) that text refuses. Times are
-- Unix nanoseconds: the contract compares expiry to the nanosecond, and
-- timestamptz keeps microseconds.
CREATE TABLE oidc_provider_records (
    kind        bytea  NOT NULL,
    id          bytea  NOT NULL,
    -- The record's UID as written. uid_key is its index entry: NULL when the
    -- record has no UID or another record of the kind has taken it since
    -- (the last writer of a UID owns it, as in the other backends).
    uid         bytea  NOT NULL DEFAULT '',
    uid_key     bytea,
    grant_id    bytea,
    -- A non-unique secondary key (a registered client's grants), listed
    -- in pages by ListByOwner.
    owner       bytea,
    payload     bytea  NOT NULL,
    expires_at  bigint,
    consumed_at bigint,
    PRIMARY KEY (kind, id)
) WITH (
    -- Room on each page so that Consume (which changes no indexed column)
    -- is a HOT update.
    fillfactor = 90,
    -- The table is hot: most rows live minutes. Vacuum and analyse after a
    -- few percent of change instead of the default 20%, and without the
    -- default cost pauses, so dead rows from the reaper do not bloat it.
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);

CREATE UNIQUE INDEX oidc_provider_records_uid ON oidc_provider_records (kind, uid_key) WHERE uid_key IS NOT NULL;
CREATE INDEX oidc_provider_records_owner ON oidc_provider_records (kind, owner, id) WHERE owner IS NOT NULL;
CREATE INDEX oidc_provider_records_grant ON oidc_provider_records (grant_id) WHERE grant_id IS NOT NULL;
-- For the reaper, which deletes expired rows in small batches.
CREATE INDEX oidc_provider_records_expiry ON oidc_provider_records (expires_at) WHERE expires_at IS NOT NULL;

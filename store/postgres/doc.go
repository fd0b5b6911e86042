// Package postgres implements [provider.Store] on PostgreSQL through a pgx
// v5 connection pool, so that several provider instances (several Caddy
// processes on several machines) can serve one issuer from one database.
//
// Layout: one table, oidc_provider_records, holds every kind (so
// DeleteByGrant is one DELETE); keys are bytea (the contract allows any
// bytes); times are Unix nanoseconds (expiry is exact to the nanosecond).
// The schema is embedded and migrated by Open under an advisory lock.
//
// Atomicity across processes comes from the database: Consume is one
// conditional UPDATE ... RETURNING; Create is one INSERT ... ON CONFLICT
// that replaces only an expired row; Update holds the row lock (SELECT ...
// FOR UPDATE) from its read to its write; DeleteByGrant is one DELETE. Every
// read filters expired rows against the caller's clock (keep the instances'
// clocks in sync); a reaper deletes expired rows in small batches, on one
// instance at a time, only to reclaim space.
//
// Durability: everything is committed with the server's synchronous_commit
// (on by default) except a non-durable Put or Create, whose transaction sets
// it off: such a write may be lost in a database crash, never corrupted.
//
// Faults: every operation has a deadline (Options.OpTimeout); connection
// failures, timeouts, a shutting-down, read-only or full database give
// errors wrapping [provider.ErrUnavailable], and the pool reconnects by itself
// when the database is back. No error text contains the DSN's password.
package postgres

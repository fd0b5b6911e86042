// Package store holds the provider's storage backends, the implementations of
// [github.com/oidcaddy/oidcaddy/provider.Store]. Package store itself has no
// code; each backend is its own package so a build links only the one it uses.
//
// Backends:
//
//   - [github.com/oidcaddy/oidcaddy/store/badgerstore]: an embedded Badger v4
//     database in one directory. It needs no external service and survives
//     restarts. Badger locks its directory, so one process (inside Caddy, one
//     shared handle per directory) owns a store.
//   - [github.com/oidcaddy/oidcaddy/store/postgres]: a PostgreSQL database
//     reached through a connection pool. Any number of processes can share
//     one database, which is how several Caddy instances serve one issuer.
//   - [github.com/oidcaddy/oidcaddy/store/memstore]: in memory, for fast unit
//     tests of provider/ and telemetry/ and as the reference implementation of
//     the contract. Not for production: nothing survives a restart.
//
// Every backend must pass the conformance suite in
// [github.com/oidcaddy/oidcaddy/store/storetest]: call
// [github.com/oidcaddy/oidcaddy/store/storetest.Run] from the backend's tests,
// and [github.com/oidcaddy/oidcaddy/store/storetest.RunPersistence] when the
// backend keeps data across restarts, and
// [github.com/oidcaddy/oidcaddy/store/storetest.RunShared] when it can open
// one database from several handles. The suite, not any one backend, defines
// what the provider may rely on: expiry to the nanosecond, a single winner for
// Consume, no lost Update under concurrency, and a DeleteByGrant that reports
// exactly what it removed.
package store

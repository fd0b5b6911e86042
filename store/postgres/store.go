package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Defaults for Options.
const (
	DefaultOpTimeout    = 5 * time.Second
	DefaultReapInterval = time.Minute
	DefaultReapBatch    = 1000
	// DefaultReapGrace keeps rows this long past their expiry before the
	// reaper deletes them. Reads never return them anyway; the grace covers
	// clock differences between instances, so one instance's reaper never
	// deletes a row another instance still considers live.
	DefaultReapGrace = time.Minute
)

// Options configure a Store.
type Options struct {
	// DSN is a PostgreSQL connection string: a postgres:// URL or
	// key=value pairs, as libpq takes them. Required.
	DSN string
	// MaxConns is the pool's size; 0 means pgx's default (the larger of 4
	// and the number of CPUs).
	MaxConns int32
	// SimpleProtocol sends every query with the simple query protocol and
	// prepares nothing on the server, as PgBouncer in transaction pooling
	// mode requires. Costs some CPU per query; off by default.
	SimpleProtocol bool
	// OpTimeout bounds every operation, including waiting for a pooled
	// connection and connecting; a database that does not answer in time
	// makes the operation fail with provider.ErrUnavailable instead of
	// hanging the request. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// ReapInterval is how often expired rows are deleted; negative
	// disables the reaper. Default DefaultReapInterval.
	ReapInterval time.Duration
	// ReapBatch is how many rows one reaper transaction deletes at most.
	// Default DefaultReapBatch.
	ReapBatch int
	// ReapGrace: see DefaultReapGrace. Negative means none.
	ReapGrace time.Duration
	// OnReapError, if set, hears of a reaper round that failed (logging).
	OnReapError func(error)
	// OnHealthChange, if set, hears when operations start failing with
	// provider.ErrUnavailable (healthy false, with the cause) and when one
	// succeeds again (healthy true): once per change, not per operation.
	OnHealthChange func(healthy bool, cause error)
	// Issuer, if set, binds the database to this issuer: the first Open
	// records it, and Open with another issuer fails, because one table
	// holding two issuers' records would let each accept the other's
	// tokens.
	Issuer string
}

// Store is a provider.Store on PostgreSQL. It is safe for concurrent use,
// and any number of Stores (in any number of processes) may share one
// database: every operation is atomic in the database itself.
type Store struct {
	pool      *pgxpool.Pool
	password  string // hidden from every error's text
	opTimeout time.Duration

	onHealth  func(healthy bool, cause error)
	unhealthy atomic.Bool

	stopReaper context.CancelFunc
	reaperDone chan struct{}
	closeOnce  sync.Once
}

// Open connects to the database, checks that it answers, brings the schema
// up to date and starts the reaper. The error text never contains the DSN's
// password.
func Open(ctx context.Context, opts Options) (*Store, error) {
	password := dsnPassword(opts.DSN)
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis in a string it
		// cannot parse; say nothing of the string at all.
		return nil, errors.New("postgres store: the dsn cannot be parsed; expected postgres://user:password@host:port/database?sslmode=... or key=value pairs (the value is not repeated here because it may hold a password)")
	}
	if password == "" {
		password = cfg.ConnConfig.Password
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = DefaultOpTimeout
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.SimpleProtocol {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 || cfg.ConnConfig.ConnectTimeout > opts.OpTimeout {
		cfg.ConnConfig.ConnectTimeout = opts.OpTimeout
	}
	// Name the connections for pg_stat_activity.
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "oidcaddy"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", redactSecret(err, password))
	}
	s := &Store{pool: pool, password: password, opTimeout: opts.OpTimeout, onHealth: opts.OnHealthChange}

	octx, cancel := context.WithTimeout(ctx, opts.OpTimeout)
	defer cancel()
	if err := pool.Ping(octx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: cannot reach the database: %w", redactSecret(err, password))
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := migrate(mctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: migrating the schema: %w", redactSecret(err, password))
	}
	if opts.Issuer != "" {
		bctx, cancel := context.WithTimeout(ctx, opts.OpTimeout)
		defer cancel()
		if err := bindIssuer(bctx, pool, opts.Issuer); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres store: %w", redactSecret(err, password))
		}
	}
	s.startReaper(opts)
	return s, nil
}

// ErrOtherIssuer: the database already holds another issuer's records.
var ErrOtherIssuer = errors.New("the database holds another issuer's records")

func bindIssuer(ctx context.Context, pool *pgxpool.Pool, issuer string) error {
	var bound string
	err := pool.QueryRow(ctx, `WITH ins AS (
		INSERT INTO oidc_provider_meta (key, value) VALUES ('issuer', $1)
		ON CONFLICT (key) DO NOTHING RETURNING value)
	SELECT value FROM ins UNION ALL SELECT value FROM oidc_provider_meta WHERE key = 'issuer'`, issuer).Scan(&bound)
	if err != nil {
		return err
	}
	if bound != issuer {
		return fmt.Errorf("%w: it serves issuer %s, not %s; give each issuer its own database or schema (search_path), or, when the issuer has really moved, update oidc_provider_meta", ErrOtherIssuer, bound, issuer)
	}
	return nil
}

var keywordPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))`)

// dsnPassword finds the password in a DSN we may not be able to parse, so
// it can be hidden from error texts.
func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		return m[1] + m[2]
	}
	return ""
}

// Close stops the reaper and closes the pool. It may be called more than
// once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopReaper != nil {
			s.stopReaper()
			<-s.reaperDone
		}
		s.pool.Close()
	})
	return nil
}

// Pool is the connection pool, for tests and benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// do runs one operation under the per-operation deadline, again when
// the failure is safe to retry (a dead pooled connection after a database
// restart, a serialization conflict), and classifies its error.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// One deadline for all attempts, so an operation never takes longer
	// than opTimeout, however it fails.
	octx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = fn(octx)
		if err == nil || !retryable(err) || octx.Err() != nil {
			break
		}
	}
	err = s.classify(ctx, op, err)
	s.noteHealth(ctx, err)
	return err
}

// noteHealth tracks whether the database answers: an ErrUnavailable makes
// the store unhealthy, any answer of the database (a record, ErrNotFound,
// fn's error) healthy again. The caller's own cancellation says nothing.
func (s *Store) noteHealth(ctx context.Context, err error) {
	if s.onHealth == nil {
		return
	}
	unavailable := errors.Is(err, provider.ErrUnavailable)
	if !unavailable && ctx.Err() != nil {
		return
	}
	if s.unhealthy.CompareAndSwap(!unavailable, unavailable) {
		s.onHealth(!unavailable, err)
	}
}

// Unix nanoseconds. Zero times are NULL.

func nanos(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	// UnixNano is defined for 1678-2262.
	if t.Year() < 1678 || t.Year() > 2261 {
		return nil, fmt.Errorf("postgres store: time %v out of range", t)
	}
	return t.UnixNano(), nil
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n)
}

func nowNanos() int64 { return time.Now().UnixNano() }

// nullable stores the empty string as NULL (no index entry).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return []byte(s)
}

const columns = "kind, id, uid, grant_id, owner, payload, expires_at, consumed_at"

// live is the condition for a record that exists; $now is the caller's
// clock, as in the other backends.
func live(nowParam string) string {
	return "(expires_at IS NULL OR expires_at > " + nowParam + ")"
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(row scanner) (provider.Record, error) {
	var kind, id, uid, grantID, owner, payload []byte
	var exp, consumed *int64
	if err := row.Scan(&kind, &id, &uid, &grantID, &owner, &payload, &exp, &consumed); err != nil {
		return provider.Record{}, err
	}
	return provider.Record{
		Kind:       provider.Kind(kind),
		ID:         string(id),
		UID:        string(uid),
		GrantID:    string(grantID),
		Owner:      string(owner),
		Payload:    payload,
		ExpiresAt:  fromNanos(exp),
		ConsumedAt: fromNanos(consumed),
	}, nil
}

// args are a record's column values in the order of columns.
func args(rec *provider.Record) ([]any, error) {
	exp, err := nanos(rec.ExpiresAt)
	if err != nil {
		return nil, err
	}
	consumed, err := nanos(rec.ConsumedAt)
	if err != nil {
		return nil, err
	}
	payload := rec.Payload
	if payload == nil {
		payload = []byte{}
	}
	return []any{[]byte(rec.Kind), []byte(rec.ID), []byte(rec.UID), nullable(rec.GrantID), nullable(rec.Owner), payload, exp, consumed}, nil
}

// upsert writes a record whole; uid_key ($9) is the UID (the caller has
// taken it from any other record first) or NULL.
const upsert = `INSERT INTO oidc_provider_records (` + columns + `, uid_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (kind, id) DO UPDATE SET
	uid = EXCLUDED.uid, uid_key = EXCLUDED.uid_key, grant_id = EXCLUDED.grant_id, owner = EXCLUDED.owner,
	payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at, consumed_at = EXCLUDED.consumed_at`

// stealUID removes UID $3 of kind $1 from every other record than $2: the
// last writer of a UID owns it.
const stealUID = `UPDATE oidc_provider_records SET uid_key = NULL WHERE kind = $1 AND uid_key = $3 AND id <> $2`

const syncOff = "SET LOCAL synchronous_commit = off"

// Put implements provider.Store: one round trip (a pipelined transaction).
// A non-durable Put commits without waiting for the WAL flush
// (synchronous_commit off for its transaction): a crash may lose it, never
// corrupt it.
func (s *Store) Put(ctx context.Context, rec provider.Record, durable bool) error {
	a, err := args(&rec)
	if err != nil {
		return err
	}
	a = append(a, nullable(rec.UID))
	return s.do(ctx, "put", func(ctx context.Context) error {
		if durable && rec.UID == "" {
			// One statement is its own transaction.
			_, err := s.pool.Exec(ctx, upsert, a...)
			return err
		}
		return s.inTx(ctx, durable, func(b *pgx.Batch) {
			if rec.UID != "" {
				b.Queue(stealUID, a[0], a[1], a[2])
			}
			b.Queue(upsert, a...)
		}, nil)
	})
}

// createIfFree inserts unless a live record holds the key; an expired one
// is replaced. Concurrent inserts of one key serialise on the primary key,
// and the loser re-checks the winner's row: exactly one gets a row back.
const createIfFree = `INSERT INTO oidc_provider_records (` + columns + `, uid_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)
ON CONFLICT (kind, id) DO UPDATE SET
	uid = EXCLUDED.uid, uid_key = NULL, grant_id = EXCLUDED.grant_id, owner = EXCLUDED.owner,
	payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at, consumed_at = EXCLUDED.consumed_at
	WHERE oidc_provider_records.expires_at IS NOT NULL AND oidc_provider_records.expires_at <= $9
RETURNING true`

const claimUID = `UPDATE oidc_provider_records SET uid_key = $3 WHERE kind = $1 AND id = $2`

// Create implements provider.Store. Without a UID it is one round trip;
// with one, the UID is taken from other records only once the insert has
// won, so it needs a second.
func (s *Store) Create(ctx context.Context, rec provider.Record, durable bool) error {
	a, err := args(&rec)
	if err != nil {
		return err
	}
	return s.do(ctx, "create", func(ctx context.Context) error {
		a := append(a[:8:8], nowNanos())
		var claim func(*pgx.Batch)
		if rec.UID != "" {
			claim = func(b *pgx.Batch) {
				b.Queue(stealUID, a[0], a[1], a[2])
				b.Queue(claimUID, a[0], a[1], a[2])
			}
		}
		if durable && claim == nil {
			var won bool
			err := s.pool.QueryRow(ctx, createIfFree, a...).Scan(&won)
			if errors.Is(err, pgx.ErrNoRows) {
				return provider.ErrAlreadyExists
			}
			return err
		}
		return s.inTx(ctx, durable, func(b *pgx.Batch) {
			b.Queue(createIfFree, a...).QueryRow(func(row pgx.Row) error {
				var won bool
				if err := row.Scan(&won); errors.Is(err, pgx.ErrNoRows) {
					return provider.ErrAlreadyExists
				} else if err != nil {
					return err
				}
				return nil
			})
		}, claim)
	})
}

// inTx runs a transaction on one connection in one round trip (BEGIN, the
// statements first queues, COMMIT) when then is nil, else in two: the second
// batch, queued by then once the first one's callbacks have all succeeded,
// ends with COMMIT. A non-durable transaction commits without waiting for
// the WAL flush. On any error the transaction is rolled back.
func (s *Store) inTx(ctx context.Context, durable bool, first, then func(*pgx.Batch)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer rollbackIfOpen(conn)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if !durable {
		b.Queue(syncOff)
	}
	first(b)
	if then == nil {
		// If a callback fails, the COMMIT already sent commits statements
		// that wrote nothing, or, after a failed statement, rolls back.
		b.Queue("COMMIT")
		return conn.SendBatch(ctx, b).Close()
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	rest := &pgx.Batch{}
	then(rest)
	rest.Queue("COMMIT")
	return conn.SendBatch(ctx, rest).Close()
}

// rollbackIfOpen ends a transaction an error left open, so the connection
// goes back to the pool clean. If even that fails, the pool discards the
// connection (it does so for any connection not idle).
func rollbackIfOpen(conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' || conn.Conn().IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// Get implements provider.Store.
func (s *Store) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	var rec provider.Record
	err := s.do(ctx, "get", func(ctx context.Context) error {
		var err error
		rec, err = scanRecord(s.pool.QueryRow(ctx,
			`SELECT `+columns+` FROM oidc_provider_records WHERE kind = $1 AND id = $2 AND `+live("$3"),
			[]byte(kind), []byte(id), nowNanos()))
		return notFound(err)
	})
	return rec, err
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return provider.ErrNotFound
	}
	return err
}

// GetByUID implements provider.Store.
func (s *Store) GetByUID(ctx context.Context, kind provider.Kind, uid string) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	if uid == "" {
		return provider.Record{}, provider.ErrNotFound
	}
	var rec provider.Record
	err := s.do(ctx, "get by uid", func(ctx context.Context) error {
		var err error
		rec, err = scanRecord(s.pool.QueryRow(ctx,
			`SELECT `+columns+` FROM oidc_provider_records WHERE kind = $1 AND uid_key = $2 AND `+live("$3"),
			[]byte(kind), []byte(uid), nowNanos()))
		return notFound(err)
	})
	return rec, err
}

// Update implements provider.Store: the row is locked (SELECT … FOR
// UPDATE) from the read to the write, so concurrent Updates, from any
// process, queue up and each sees the previous one's result.
func (s *Store) Update(ctx context.Context, kind provider.Kind, id string, fn func(*provider.Record) error) (provider.Record, error) {
	var out provider.Record
	err := s.do(ctx, "update", func(ctx context.Context) error {
		var rec provider.Record
		var a []any
		return s.inTx(ctx, true, func(b *pgx.Batch) {
			b.Queue(`SELECT `+columns+` FROM oidc_provider_records WHERE kind = $1 AND id = $2 AND `+live("$3")+` FOR UPDATE`,
				[]byte(kind), []byte(id), nowNanos()).QueryRow(func(row pgx.Row) error {
				var err error
				if rec, err = scanRecord(row); err != nil {
					return notFound(err)
				}
				// fn runs between the two round trips, with the row locked.
				if err := fn(&rec); err != nil {
					return fnError{err}
				}
				if rec.Kind != kind || rec.ID != id {
					return fnError{errors.New("postgres store: update: fn changed the record's kind or id")}
				}
				if a, err = args(&rec); err != nil {
					return fnError{err}
				}
				a = append(a, nullable(rec.UID))
				return nil
			})
		}, func(b *pgx.Batch) {
			if rec.UID != "" {
				b.Queue(stealUID, a[0], a[1], a[2])
			}
			b.Queue(upsert, a...)
			out = rec
		})
	})
	if err != nil {
		return provider.Record{}, err
	}
	return out, nil
}

// consume marks a live, unconsumed record consumed in one statement: the
// row lock makes concurrent callers (in any process) queue, and each
// re-checks consumed_at after the one before it committed.
var consume = `UPDATE oidc_provider_records SET consumed_at = $3
WHERE kind = $1 AND id = $2 AND consumed_at IS NULL AND ` + live("$4") + `
RETURNING ` + columns

var errRetryConsume = errors.New("postgres store: consume: record changed under us")

// Consume implements provider.Store.
func (s *Store) Consume(ctx context.Context, kind provider.Kind, id string, at time.Time) (provider.Record, error) {
	if at.IsZero() {
		// A zero ConsumedAt means "not consumed": the record would stay
		// consumable forever.
		return provider.Record{}, errors.New("postgres store: consume: zero time")
	}
	atN, err := nanos(at)
	if err != nil {
		return provider.Record{}, err
	}
	var rec provider.Record
	err = s.do(ctx, "consume", func(ctx context.Context) error {
		for range 3 {
			now := nowNanos()
			var err error
			rec, err = scanRecord(s.pool.QueryRow(ctx, consume, []byte(kind), []byte(id), atN, now))
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			// Lost, or nothing to consume. A new statement sees what the
			// winner committed.
			rec, err = scanRecord(s.pool.QueryRow(ctx,
				`SELECT `+columns+` FROM oidc_provider_records WHERE kind = $1 AND id = $2 AND `+live("$3"),
				[]byte(kind), []byte(id), now))
			if err != nil {
				return notFound(err)
			}
			if !rec.ConsumedAt.IsZero() {
				return provider.ErrAlreadyConsumed
			}
			// Replaced by an unconsumed record between the two
			// statements: try again.
		}
		return errRetryConsume
	})
	if err != nil && !errors.Is(err, provider.ErrAlreadyConsumed) {
		return provider.Record{}, err
	}
	return rec, err
}

// Delete implements provider.Store.
func (s *Store) Delete(ctx context.Context, kind provider.Kind, id string) error {
	return s.do(ctx, "delete", func(ctx context.Context) error {
		var wasLive bool
		err := s.pool.QueryRow(ctx,
			`DELETE FROM oidc_provider_records WHERE kind = $1 AND id = $2 RETURNING `+live("$3"),
			[]byte(kind), []byte(id), nowNanos()).Scan(&wasLive)
		if err == nil && !wasLive {
			return provider.ErrNotFound
		}
		return notFound(err)
	})
}

// DeleteByGrant implements provider.Store: one statement, atomic. Expired
// members are removed too but not reported.
func (s *Store) DeleteByGrant(ctx context.Context, grantID string) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if grantID == "" {
		return nil, nil
	}
	var removed []provider.Record
	err := s.do(ctx, "delete by grant", func(ctx context.Context) error {
		removed = removed[:0]
		now := time.Now()
		rows, err := s.pool.Query(ctx,
			`DELETE FROM oidc_provider_records WHERE grant_id = $1 RETURNING `+columns, []byte(grantID))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scanRecord(rows)
			if err != nil {
				return err
			}
			if rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt) {
				removed = append(removed, rec)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// ListByOwner implements provider.Store: an index range scan on (kind,
// owner, id), so a page costs the same however many records the owner has.
// bytea compares bytewise, which is Go's string order.
func (s *Store) ListByOwner(ctx context.Context, kind provider.Kind, owner, after string, limit int) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if owner == "" || limit <= 0 {
		return nil, nil
	}
	var page []provider.Record
	err := s.do(ctx, "list by owner", func(ctx context.Context) error {
		page = page[:0]
		rows, err := s.pool.Query(ctx,
			`SELECT `+columns+` FROM oidc_provider_records
			WHERE kind = $1 AND owner = $2 AND id > $3 AND `+live("$4")+`
			ORDER BY id LIMIT $5`,
			[]byte(kind), []byte(owner), []byte(after), nowNanos(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scanRecord(rows)
			if err != nil {
				return err
			}
			page = append(page, rec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// SharedAcrossProcesses implements provider.SharedStore: other instances
// use the same database, so the provider keeps its login throttle counters
// in the store too.
func (s *Store) SharedAcrossProcesses() bool { return true }

// Compile-time checks.
var _ provider.SharedStore = (*Store)(nil)

var _ provider.Store = (*Store)(nil)

// String names the database for logs: host, port and database, never the
// user or password.
func (s *Store) String() string {
	c := s.pool.Config().ConnConfig
	return fmt.Sprintf("postgres://%s:%d/%s", c.Host, c.Port, c.Database)
}

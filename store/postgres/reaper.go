package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// startReaper deletes expired rows in the background. Reads never return
// expired rows, so this only reclaims space: results never depend on when
// it runs.
func (s *Store) startReaper(opts Options) {
	if opts.ReapInterval < 0 {
		return
	}
	interval := opts.ReapInterval
	if interval == 0 {
		interval = DefaultReapInterval
	}
	batch := opts.ReapBatch
	if batch <= 0 {
		batch = DefaultReapBatch
	}
	grace := opts.ReapGrace
	if grace == 0 {
		grace = DefaultReapGrace
	} else if grace < 0 {
		grace = 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopReaper = cancel
	s.reaperDone = make(chan struct{})
	go func() {
		defer close(s.reaperDone)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := s.Reap(ctx, batch, grace); err != nil && ctx.Err() == nil && opts.OnReapError != nil {
				opts.OnReapError(err)
			}
		}
	}()
}

// Reap deletes rows that expired more than grace ago, in transactions of at
// most batch rows (short transactions: no long lock, no huge WAL burst), and
// returns how many it deleted. Only one instance reaps at a time: each batch
// takes a transaction-scoped advisory lock with pg_try_advisory_xact_lock,
// and an instance that finds it taken leaves the round to the other.
func (s *Store) Reap(ctx context.Context, batch int, grace time.Duration) (int, error) {
	total := 0
	for {
		cutoff := time.Now().Add(-grace).UnixNano()
		var n int
		var gotLock bool
		err := s.do(ctx, "reap", func(ctx context.Context) error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", lockReap).Scan(&gotLock); err != nil || !gotLock {
					return err
				}
				tag, err := tx.Exec(ctx, `DELETE FROM oidc_provider_records WHERE (kind, id) IN (
					SELECT kind, id FROM oidc_provider_records
					WHERE expires_at IS NOT NULL AND expires_at <= $1
					LIMIT $2 FOR UPDATE SKIP LOCKED)`, cutoff, batch)
				n = int(tag.RowsAffected())
				return err
			})
		})
		total += n
		if err != nil || !gotLock || n < batch {
			return total, err
		}
	}
}

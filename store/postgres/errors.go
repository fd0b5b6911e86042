package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oidcaddy/oidcaddy/provider"
)

// fnError carries an error returned by Update's fn through the transaction
// helpers unchanged.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// unavailableCodes are SQLSTATEs (or their two-character classes) that say
// the database cannot take the operation now but may later: the provider
// answers 503 temporarily_unavailable rather than server_error.
var unavailableCodes = map[string]bool{
	"08":    true, // connection exception
	"53":    true, // insufficient resources: disk full, out of memory, too many connections
	"58":    true, // system error: I/O error
	"57P01": true, // admin_shutdown
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now (starting up, recovering)
	"57P05": true, // idle_session_timeout
	"57014": true, // query_canceled (statement_timeout)
	"25006": true, // read_only_sql_transaction (a standby, or default_transaction_read_only)
	"40001": true, // serialization_failure, after retries
	"40P01": true, // deadlock_detected, after retries
	"55P03": true, // lock_not_available (lock_timeout)
	"55000": true, // object_not_in_prerequisite_state (e.g. database not accepting connections)
}

func isUnavailableCode(code string) bool {
	return unavailableCodes[code] || (len(code) == 5 && unavailableCodes[code[:2]])
}

// retryable says whether an operation may simply be run again: the failure
// happened before anything reached the server (a pooled connection that
// died while idle), or the server resolved a conflict by aborting us.
func retryable(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "40001", "40P01":
			return true
		case "23505":
			// Two writers stealing the same UID at once: the loser
			// retries and steals it in turn.
			return pg.ConstraintName == "oidc_provider_records_uid"
		}
	}
	return false
}

// classify turns an error from pgx into the Store's vocabulary: the
// contract's sentinels and fn's errors unchanged, the caller's own
// cancellation as such, outages wrapped in provider.ErrUnavailable, anything
// else (a bug: bad SQL, a constraint we did not expect) as a plain error.
// No text of the DSN, and so no password, is ever part of the result.
func (s *Store) classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	for _, sentinel := range []error{provider.ErrNotFound, provider.ErrAlreadyConsumed, provider.ErrAlreadyExists} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("postgres store: %s: %w", op, cerr)
	}
	err = s.redact(err)
	var pg *pgconn.PgError
	if errors.As(err, &pg) && !isUnavailableCode(pg.Code) {
		return fmt.Errorf("postgres store: %s: %w", op, err)
	}
	// Everything else that is not the server's answer is the connection:
	// refused, reset, timed out (our per-operation deadline), pool closed.
	return fmt.Errorf("postgres store: %s: %w: %w", op, provider.ErrUnavailable, err)
}

// redacted hides a secret in an error's text while keeping the error chain
// for errors.Is/As.
type redacted struct {
	err    error
	secret string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.secret, "xxxxx") }
func (r redacted) Unwrap() error { return r.err }

func redactSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return redacted{err, secret}
}

func (s *Store) redact(err error) error { return redactSecret(err, s.password) }

package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Which server answers are outages (503 temporarily_unavailable) and which
// are bugs (server_error); the caller's cancellation stays a cancellation.
func TestClassify(t *testing.T) {
	s := &Store{password: "hunter22"}
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		err         error
		unavailable bool
	}{
		{pg("53100"), true},  // disk_full
		{pg("53300"), true},  // too_many_connections
		{pg("57P01"), true},  // admin_shutdown
		{pg("25006"), true},  // read_only_sql_transaction
		{pg("08006"), true},  // connection_failure
		{pg("58030"), true},  // io_error
		{pg("42601"), false}, // syntax_error: a bug
		{pg("23502"), false}, // not_null_violation: a bug
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true}, // our per-operation deadline
		{fmt.Errorf("dial: connection refused to hunter22"), true},
	} {
		err := s.classify(context.Background(), "op", tc.err)
		if got := errors.Is(err, provider.ErrUnavailable); got != tc.unavailable {
			t.Errorf("classify(%v) = %v; unavailable %v, want %v", tc.err, err, got, tc.unavailable)
		}
		if err.Error() == "" || contains(err.Error(), "hunter22") {
			t.Errorf("classify(%v) text %q shows the password", tc.err, err)
		}
	}
	for _, sentinel := range []error{provider.ErrNotFound, provider.ErrAlreadyConsumed, provider.ErrAlreadyExists} {
		if err := s.classify(context.Background(), "op", sentinel); err != sentinel {
			t.Errorf("classify(%v) = %v, want it unchanged", sentinel, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.classify(ctx, "op", io.EOF); !errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("a canceled caller's error = %v, want context.Canceled", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

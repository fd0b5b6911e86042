package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

// No error from Open, whatever is wrong, repeats the DSN's password: errors
// end up in Caddy's log and on an operator's terminal.
func TestOpenErrorsHideThePassword(t *testing.T) {
	c := pgtest.Shared(t)
	db := c.NewDatabase(t)
	const secret = "s3cret-Pa55word"
	port := c.Port()
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range map[string]string{
		"wrong password":      strings.Replace(db, c.Password(), secret, 1),
		"unknown database":    fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/nope?sslmode=disable", pgtest.Role, secret, port),
		"nothing listening":   fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/db?sslmode=disable", pgtest.Role, secret, closed),
		"bad port":            fmt.Sprintf("postgres://%s:%s@127.0.0.1:notaport/db", pgtest.Role, secret),
		"bad option":          fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/db?sslmode=sometimes", pgtest.Role, secret, port),
		"keyword form":        fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=nope sslmode=disable", port, pgtest.Role, secret),
		"keyword form quoted": fmt.Sprintf("host=127.0.0.1 port=%d user=%s password='%s' dbname=nope sslmode=disable", closed, pgtest.Role, secret),
		"broken":              fmt.Sprintf("postgres://%s:%s@[127.0.0.1/db", pgtest.Role, secret),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, OpTimeout: 3 * time.Second})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error text contains the password: %v", err)
			}
			t.Log(err)
		})
	}
}

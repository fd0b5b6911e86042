package pgtest

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// A database from the shared cluster takes connections as Role with its
// password, over TCP.
func TestDatabaseAcceptsTheRole(t *testing.T) {
	dsn := Database(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var who string
	if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil {
		t.Fatal(err)
	}
	if who != Role {
		t.Fatalf("connected as %q, want %q", who, Role)
	}
}

// A wrong password is refused: the cluster really checks passwords, so
// tests of password handling mean something.
func TestWrongPasswordRefused(t *testing.T) {
	c := Shared(t)
	dsn := c.NewDatabase(t)
	bad := []byte(dsn)
	copy(bad[len("postgres://"+Role+":"):], "x")
	if conn, err := pgx.Connect(context.Background(), string(bad)); err == nil {
		conn.Close(context.Background())
		t.Fatal("a wrong password was accepted")
	}
}

// Stop and Start keep the data and the port; Close removes everything.
func TestOwnClusterRestartsAndIsRemoved(t *testing.T) {
	c := NewCluster(t)
	dsn := c.NewDatabase(t)
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := exec("SELECT x FROM kept"); err != nil {
		t.Fatalf("data lost across restart: %v", err)
	}
	pid := c.cmd.Process.Pid
	dir := c.dir
	c.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory left behind: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("server process %d still running after Close", pid)
	}
}

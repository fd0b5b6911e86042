package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// createDatabase creates a new, empty database through adminDSN's role (one
// per configuration, so each starts from nothing, like Badger's fresh
// directory) and returns its DSN and a function that drops it.
func createDatabase(ctx context.Context, adminDSN string) (dsn string, drop func(), err error) {
	u, err := url.Parse(adminDSN)
	if err != nil {
		return "", nil, errors.New("$LOAD_POSTGRES_ADMIN_DSN is not a postgres:// URL")
	}
	name := "load_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(randomSecret()[:12]))
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		return "", nil, fmt.Errorf("creating the load database: %w", err)
	}
	u.Path = "/" + name
	return u.String(), func() { _ = admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }, nil
}

// databaseCPUTime is the CPU time the PostgreSQL server has used so far: its
// postmaster ($LOAD_POSTGRES_PID, set by run.sh) with its children that have
// ended (cutime, cstime) and those still running (the connections' backends,
// the writer, the WAL writer, ...). 0 when there is no such server.
func databaseCPUTime() time.Duration {
	pid, err := strconv.Atoi(os.Getenv("LOAD_POSTGRES_PID"))
	if err != nil || pid <= 0 {
		return 0
	}
	total := time.Duration(0)
	if f := procStat(pid); f != nil {
		total += ticks(f, 11, 12, 13, 14) // utime stime cutime cstime
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil || child == pid {
			continue
		}
		f := procStat(child)
		// f[1] is field 4, the parent's pid.
		if f != nil && f[1] == strconv.Itoa(pid) {
			total += ticks(f, 11, 12)
		}
	}
	return total
}

// procStat is /proc/<pid>/stat's fields after the command name: f[0] is
// field 3 (state).
func procStat(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return nil
	}
	return f
}

// ticks sums fields of procStat as clock ticks (USER_HZ, 100 on Linux).
func ticks(f []string, idx ...int) time.Duration {
	var n int64
	for _, i := range idx {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return time.Duration(n) * 10 * time.Millisecond
}

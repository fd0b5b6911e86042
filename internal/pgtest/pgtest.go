// Package pgtest runs a throwaway PostgreSQL cluster for tests: Debian's
// server binaries, `initdb` into a private temporary directory (as the
// `postgres` OS user when the tests run as root, because PostgreSQL refuses to
// run as root), a server on a free loopback port with its unix socket in that
// directory, and one fresh database per caller. Everything is stopped and
// removed afterwards.
//
// One cluster serves a whole test package: the package's TestMain calls Main,
// which stops the cluster after the tests; Database starts it on first use.
// A test that needs a cluster of its own (to stop and restart it) calls
// NewCluster.
//
// When PostgreSQL is not installed the tests skip with the reason, except
// under CI=true, where they fail: CI installs Debian's postgresql package
// (.ci/run) and must never pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role and Password are the ordinary (non-superuser) login role that
// Database's DSNs connect as, over TCP with password authentication, so tests
// see the same authentication path as production.
const Role = "oidc_test"

// Bins are the PostgreSQL server programs a cluster needs.
type Bins struct {
	InitDB   string
	Postgres string
}

// FindBins locates initdb and postgres: $PG_BIN if set, else the newest
// Debian installation under /usr/lib/postgresql/*/bin (Debian keeps the server
// programs off PATH), else PATH.
func FindBins() (Bins, error) {
	var dirs []string
	if d := os.Getenv("PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		b := Bins{InitDB: filepath.Join(d, "initdb"), Postgres: filepath.Join(d, "postgres")}
		if executable(b.InitDB) && executable(b.Postgres) {
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return Bins{InitDB: initdb, Postgres: postgres}, nil
	}
	return Bins{}, errors.New("PostgreSQL server programs (initdb, postgres) not found in $PG_BIN, /usr/lib/postgresql/*/bin or PATH; install Debian's postgresql package")
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, reason error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL tests cannot run and CI must not skip them: %v", reason)
	}
	t.Skipf("skipping: PostgreSQL is not available: %v", reason)
}

// Cluster is one running (or stopped) PostgreSQL server.
type Cluster struct {
	dir      string // owns everything: data, socket, log
	bins     Bins
	port     int
	password string // of Role
	cred     *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the server process has been waited for.
	exited chan struct{}
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// SocketDir is where the server's unix socket lives.
func (c *Cluster) SocketDir() string { return c.dir }

// Port is the server's loopback TCP port; it stays the same across Stop and
// Start.
func (c *Cluster) Port() int { return c.port }

// Password is Role's password.
func (c *Cluster) Password() string { return c.password }

// start creates and starts a cluster. The caller must Close it.
func start() (*Cluster, error) {
	bins, err := FindBins()
	if err != nil {
		return nil, errSkip{err}
	}
	removeStale()
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bins: bins, password: randomHex(12)}
	if err := c.create(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			break
		}
		if err = c.Start(); err == nil {
			break
		}
		// Another process may have taken the port between our probe and
		// the server's bind; try another.
		if attempt == 2 {
			break
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.admin(context.Background(), func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", Role, c.password))
		return err
	}); err != nil {
		c.Close()
		return nil, fmt.Errorf("creating role %s: %w", Role, err)
	}
	return c, nil
}

// removeStale removes the directories of clusters whose test binary was
// killed (the server died with it, by Pdeathsig, but the files stay): no
// running server (postmaster.pid gone or naming a dead process) and not
// touched for ten minutes, so a cluster being created right now is left
// alone.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pidLine, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(pidLine)); err == nil {
				// EPERM: alive, someone else's.
				if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
					continue
				}
			}
		}
		os.RemoveAll(d)
	}
}

// errSkip marks a missing installation (as opposed to a broken one).
type errSkip struct{ error }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// create runs initdb: local (socket) connections trusted, for the test's
// own administration; TCP connections need a password.
func (c *Cluster) create() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and PostgreSQL refuses to: no postgres user to run it as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return err
		}
	}
	pwfile := filepath.Join(c.dir, "superuser-password")
	if err := os.WriteFile(pwfile, []byte(randomHex(12)+"\n"), 0o600); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(pwfile, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.Command(c.bins.InitDB,
		"-D", c.DataDir(), "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-instructions")
	c.prepare(cmd)
	out, err := cmd.CombinedOutput()
	os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// prepare runs cmd as the postgres user when we are root, in the cluster's
// directory, and kills it if the test binary dies first.
func (c *Cluster) prepare(cmd *exec.Cmd) {
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+c.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		Setpgid:    true,
		// If the test binary is killed (a timeout panic, ^C), the kernel
		// stops the server rather than leaving it running.
		Pdeathsig: syscall.SIGKILL,
	}
}

// Start starts the server (again) and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgtest: cluster already running")
	}
	logFile, err := os.OpenFile(filepath.Join(c.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(c.bins.Postgres,
		"-D", c.DataDir(),
		"-p", strconv.Itoa(c.port),
		"-k", c.SocketDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
	)
	c.prepare(cmd)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c.cmd, c.exited = cmd, exited

	// Wait for it to accept connections, or to die.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			c.cmd = nil
			return fmt.Errorf("postgres exited during startup (could not start); log:\n%s", c.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.adminDSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			c.stopLocked()
			return fmt.Errorf("postgres did not accept connections within a minute: %v; log:\n%s", err, c.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop shuts the server down (fast shutdown: open connections are closed),
// keeping its data for a later Start.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *Cluster) stopLocked() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
	c.cmd = nil
}

// Close stops the server and removes every file of the cluster.
func (c *Cluster) Close() {
	c.Stop()
	os.RemoveAll(c.dir)
}

// adminDSN connects as the superuser over the unix socket.
func (c *Cluster) adminDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.SocketDir(), c.port, db)
}

func (c *Cluster) admin(ctx context.Context, fn func(*pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.adminDSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(conn)
}

// Exec runs an administrative statement as the superuser.
func (c *Cluster) Exec(t testing.TB, sql string) {
	t.Helper()
	if err := c.admin(context.Background(), func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), sql)
		return err
	}); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

var dbSeq struct {
	sync.Mutex
	n int
}

// NewDatabase creates an empty database owned by Role and returns a
// postgres:// DSN for it over TCP with Role's password. The database is
// dropped when the test ends.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%s", nextDatabaseNumber(), randomHex(3))
	c.Exec(t, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, Role))
	t.Cleanup(func() {
		if !c.running() {
			return
		}
		// WITH (FORCE) ends connections a test left open.
		_ = c.admin(context.Background(), func(conn *pgx.Conn) error {
			_, err := conn.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			return err
		})
	})
	return c.DSN(name)
}

// DSN is a postgres:// URL for database name as Role, over TCP.
func (c *Cluster) DSN(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Role, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// NewCluster starts a cluster for this test alone (for tests that stop and
// restart the server); it is removed when the test ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := start()
	var skip errSkip
	if errors.As(err, &skip) {
		unavailable(t, skip.error)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// The package's shared cluster.
var shared struct {
	sync.Mutex
	mainCalled bool
	started    bool
	cluster    *Cluster
	err        error
}

// Main runs a test package's tests and then removes its shared cluster, if
// one was started. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	markMainCalled()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	return code
}

// Shared returns the package's cluster, starting it on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.mainCalled {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main, which removes the shared cluster after the tests")
	}
	if !shared.started {
		shared.started = true
		shared.cluster, shared.err = start()
	}
	var skip errSkip
	if errors.As(shared.err, &skip) {
		unavailable(t, skip.error)
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.cluster
}

// Database creates a fresh database on the package's shared cluster and
// returns its DSN; see Cluster.NewDatabase.
func Database(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

func nextDatabaseNumber() int {
	dbSeq.Lock()
	defer dbSeq.Unlock()
	dbSeq.n++
	return dbSeq.n
}

func (c *Cluster) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

func markMainCalled() {
	shared.Lock()
	defer shared.Unlock()
	shared.mainCalled = true
}

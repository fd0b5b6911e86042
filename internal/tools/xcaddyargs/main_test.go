package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The repository's own xcaddy.json must yield the command line known to
// build (see docs/xcaddy.md) and pin the Caddy version that go.mod tests.
func TestRepositoryConfig(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	c, err := Load(filepath.Join(root, "xcaddy.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"build", "v2.11.9", "--output", "bin/caddy-xcaddy",
		"--with", "github.com/oidcaddy/oidcaddy/caddymodule",
		"--replace", "github.com/oidcaddy/oidcaddy=./",
	}
	if got := c.Args(); !slices.Equal(got, want) {
		t.Errorf("args = %q\nwant   %q", got, want)
	}
	if env := c.Env(); len(env) != 0 {
		t.Errorf("env = %q, want none (xcaddy's default build flags)", env)
	}

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/caddyserver/caddy/v2 (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("caddy not found in go.mod")
	}
	if string(m[1]) != c.CaddyVersion {
		t.Errorf("xcaddy.json builds Caddy %s but go.mod (what the tests run against) has %s", c.CaddyVersion, m[1])
	}
}

func TestArgsAndEnv(t *testing.T) {
	c := &Config{
		CaddyVersion: "v2.11.9",
		Plugins: []Plugin{
			{ModulePath: "example.com/a", Version: "v1.2.3"},
			{ModulePath: "example.com/b", Replace: "../b"},
			{ModulePath: "example.com/c", Version: "v0.1.0", Replace: "example.com/fork@v0.1.1"},
		},
		Replacements: []Replacement{{Old: "example.com/d", New: "./d"}},
		EmbedDir:     []EmbedDir{{Dir: "site"}, {Dir: "public", Name: "www"}},
		BuildFlags:   "-tags nobadger,nomysql,nopgx -trimpath",
		RaceDetector: true,
		OS:           "linux",
		Arch:         "arm64",
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{
		"build", "v2.11.9", "--output", "caddy",
		"--with", "example.com/a@v1.2.3",
		"--with", "example.com/b=../b",
		"--with", "example.com/c@v0.1.0=example.com/fork@v0.1.1",
		"--replace", "example.com/d=./d",
		"--embed", "site", "--embed", "www:public",
	}
	if got := c.Args(); !slices.Equal(got, wantArgs) {
		t.Errorf("args = %q\nwant   %q", got, wantArgs)
	}
	wantEnv := []string{
		"XCADDY_GO_BUILD_FLAGS=-tags nobadger,nomysql,nopgx -trimpath",
		"XCADDY_RACE_DETECTOR=1", "GOOS=linux", "GOARCH=arm64",
	}
	if got := c.Env(); !slices.Equal(got, wantEnv) {
		t.Errorf("env = %q\nwant  %q", got, wantEnv)
	}
}

func TestLoadRejects(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field":     `{"caddy_version":"v2.11.9","plugin":[]}`,
		"missing version":   `{"plugins":[{"module_path":"example.com/a"}]}`,
		"inline version":    `{"caddy_version":"v2.11.9","plugins":[{"module_path":"example.com/a@v1"}]}`,
		"timeout":           `{"caddy_version":"v2.11.9","timeout_build":60000000000}`,
		"empty replacement": `{"caddy_version":"v2.11.9","replacements":[{"old":"example.com/a"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "xcaddy.json")
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	got := shellQuote([]string{"xcaddy", "--with", "a b", "it's", ""})
	if want := `xcaddy --with 'a b' 'it'\''s' ''`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if strings.Contains(shellQuote([]string{"GOOS=linux"}), "'") {
		t.Error("plain assignments need no quotes")
	}
}

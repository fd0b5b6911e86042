// Command xcaddyargs turns xcaddy.json into an `xcaddy build` invocation and
// runs it (or, with -n, prints it).
//
// xcaddy itself reads no configuration file; it takes flags and XCADDY_*
// environment variables. Keeping the build in a file lets `make xcaddy`, CI
// and users build the same binary. The file's fields carry the JSON names of
// xcaddy's own Builder type (caddy_version, plugins, replacements,
// build_flags, ...), so it reads like xcaddy's configuration; see
// docs/xcaddy.md.
//
// Usage:
//
//	go run ./internal/tools/xcaddyargs [-config xcaddy.json] [-xcaddy path] [-n]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Config is the schema of xcaddy.json. Field names follow the JSON tags of
// xcaddy v0.4.5's Builder, Compile, Platform, Dependency and Replace types;
// Output and the per-plugin Replace are ours, because the Builder takes the
// output path as an argument and --with accepts a replacement inline.
type Config struct {
	// Caddy version to build, e.g. "v2.11.9". Required: an unpinned build
	// would silently change with every Caddy release.
	CaddyVersion string `json:"caddy_version"`

	// Plugins to build in (--with).
	Plugins []Plugin `json:"plugins,omitempty"`

	// Go module replacements that add no import (--replace).
	Replacements []Replacement `json:"replacements,omitempty"`

	// Output binary, relative to the directory of xcaddy.json. Default "caddy".
	Output string `json:"output,omitempty"`

	// Extra flags for `go build`; sets XCADDY_GO_BUILD_FLAGS. Setting it
	// replaces xcaddy's defaults (-ldflags "-w -s" -trimpath -tags
	// nobadger,nomysql,nopgx), so repeat the tags when you set it.
	BuildFlags string `json:"build_flags,omitempty"`

	// Extra flags for `go mod`; sets XCADDY_GO_MOD_FLAGS.
	ModFlags string `json:"mod_flags,omitempty"`

	RaceDetector bool `json:"race_detector,omitempty"` // XCADDY_RACE_DETECTOR=1
	Debug        bool `json:"debug,omitempty"`         // XCADDY_DEBUG=1
	SkipCleanup  bool `json:"skip_cleanup,omitempty"`  // XCADDY_SKIP_CLEANUP=1
	SkipBuild    bool `json:"skip_build,omitempty"`    // XCADDY_SKIP_BUILD=1

	// Target platform (GOOS, GOARCH, GOARM) and cgo (CGO_ENABLED).
	OS   string `json:"os,omitempty"`
	Arch string `json:"arch,omitempty"`
	ARM  string `json:"arm,omitempty"`
	Cgo  bool   `json:"cgo,omitempty"`

	// Directories embedded into the binary (--embed [name:]dir).
	EmbedDir []EmbedDir `json:"embed_dir,omitempty"`

	// Builder fields the xcaddy command line cannot express. Declared so
	// that setting them is an explicit error instead of "unknown field".
	TimeoutGet   json.RawMessage `json:"timeout_get,omitempty"`
	TimeoutBuild json.RawMessage `json:"timeout_build,omitempty"`
}

// Plugin is one --with argument.
type Plugin struct {
	// Go package path of the Caddy module(s) to import. Required.
	ModulePath string `json:"module_path"`
	// Module version as for `go get`; empty means latest (or the
	// replacement's code).
	Version string `json:"version,omitempty"`
	// Local directory or module@version to use instead.
	Replace string `json:"replace,omitempty"`
}

// Replacement is one --replace argument.
type Replacement struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// EmbedDir is one --embed argument.
type EmbedDir struct {
	Dir  string `json:"dir"`
	Name string `json:"name,omitempty"`
}

// Load reads and checks a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) check() error {
	var errs []error
	if c.CaddyVersion == "" {
		errs = append(errs, errors.New("caddy_version is required"))
	}
	if len(c.TimeoutGet) > 0 || len(c.TimeoutBuild) > 0 {
		errs = append(errs, errors.New("timeout_get and timeout_build cannot be passed to the xcaddy command line; remove them"))
	}
	for i, p := range c.Plugins {
		if p.ModulePath == "" {
			errs = append(errs, fmt.Errorf("plugins[%d]: module_path is required", i))
		}
		if strings.ContainsAny(p.ModulePath+p.Version, "=@ ") {
			errs = append(errs, fmt.Errorf("plugins[%d]: put the version in \"version\" and the replacement in \"replace\"", i))
		}
	}
	for i, r := range c.Replacements {
		if r.Old == "" || r.New == "" {
			errs = append(errs, fmt.Errorf("replacements[%d]: old and new are required", i))
		}
	}
	for i, e := range c.EmbedDir {
		if e.Dir == "" || strings.Contains(e.Name, ":") {
			errs = append(errs, fmt.Errorf("embed_dir[%d]: dir is required and name must not contain ':'", i))
		}
	}
	return errors.Join(errs...)
}

// Args is the xcaddy command line, without the program name.
func (c *Config) Args() []string {
	args := []string{"build", c.CaddyVersion}
	out := c.Output
	if out == "" {
		out = "caddy"
	}
	args = append(args, "--output", out)
	for _, p := range c.Plugins {
		w := p.ModulePath
		if p.Version != "" {
			w += "@" + p.Version
		}
		if p.Replace != "" {
			w += "=" + p.Replace
		}
		args = append(args, "--with", w)
	}
	for _, r := range c.Replacements {
		args = append(args, "--replace", r.Old+"="+r.New)
	}
	for _, e := range c.EmbedDir {
		if e.Name != "" {
			args = append(args, "--embed", e.Name+":"+e.Dir)
		} else {
			args = append(args, "--embed", e.Dir)
		}
	}
	return args
}

// Env is the environment xcaddy reads its remaining settings from.
func (c *Config) Env() []string {
	var env []string
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	flag := func(k string, on bool) {
		if on {
			env = append(env, k+"=1")
		}
	}
	set("XCADDY_GO_BUILD_FLAGS", c.BuildFlags)
	set("XCADDY_GO_MOD_FLAGS", c.ModFlags)
	flag("XCADDY_RACE_DETECTOR", c.RaceDetector)
	flag("XCADDY_DEBUG", c.Debug)
	flag("XCADDY_SKIP_CLEANUP", c.SkipCleanup)
	flag("XCADDY_SKIP_BUILD", c.SkipBuild)
	set("GOOS", c.OS)
	set("GOARCH", c.Arch)
	set("GOARM", c.ARM)
	flag("CGO_ENABLED", c.Cgo)
	return env
}

// shellQuote renders words so the printed command can be pasted into sh.
func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
			q[i] = w
		} else {
			q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func main() {
	configPath := flag.String("config", "xcaddy.json", "build description")
	xcaddyBin := flag.String("xcaddy", "xcaddy", "xcaddy executable")
	dryRun := flag.Bool("n", false, "print the command instead of running it")
	flag.Parse()

	c, err := Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcaddyargs:", err)
		os.Exit(2)
	}
	// Relative paths in the file (replacements such as "./", the output) are
	// relative to the file, as a reader of the file expects.
	dir, err := filepath.Abs(filepath.Dir(*configPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcaddyargs:", err)
		os.Exit(2)
	}
	args, env := c.Args(), c.Env()
	if *dryRun {
		fmt.Printf("cd %s && %s\n", shellQuote([]string{dir}), shellQuote(append(append(env, *xcaddyBin), args...)))
		return
	}
	cmd := exec.Command(*xcaddyBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	fmt.Fprintln(os.Stderr, "+", shellQuote(append(append(env, *xcaddyBin), args...)))
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddyargs:", err)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		os.Exit(1)
	}
}

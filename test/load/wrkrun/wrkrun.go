// Package wrkrun runs wrk with test/load/wrk.lua and reads the one
// machine-readable line the script prints, for the load harnesses
// (test/load, test/load/gate).
package wrkrun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Request is one request repeated by wrk. Its fields reach wrk.lua through
// the environment, so no token or secret appears on a command line.
type Request struct {
	URL           string
	Method        string // GET when empty
	Body          string // a form body
	Authorization string
	Cookie        string
}

// Result is what wrk.lua reported for one run.
type Result struct {
	Completed int64
	Elapsed   time.Duration
	// Failed counts responses above 399 and connection errors.
	Failed             int64
	P50, P90, P99, Max time.Duration
	GeneratorCPU       time.Duration // wrk's own CPU time
	Line               string        // the LOAD_RESULT line, for error messages
}

// Run drives req with wrk for d on conns connections and threads threads.
func Run(ctx context.Context, script string, threads, conns int, d time.Duration, req Request) (Result, error) {
	if req.Method == "" {
		req.Method = "GET" // wrk.lua takes an empty LOAD_METHOD as given
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk",
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds())),
		"--timeout", "5s", "-s", script, req.URL)
	cmd.Env = append(os.Environ(),
		"LOAD_METHOD="+req.Method,
		"LOAD_BODY="+req.Body,
		"LOAD_AUTHORIZATION="+req.Authorization,
		"LOAD_COOKIE="+req.Cookie,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	res, err := parse(string(out))
	if err != nil {
		return Result{}, fmt.Errorf("%w (is %s test/load/wrk.lua?):\n%s", err, script, out)
	}
	if cmd.ProcessState != nil {
		res.GeneratorCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return res, nil
}

// parse reads the LOAD_RESULT line of wrk's output.
func parse(out string) (Result, error) {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "LOAD_RESULT ")
		if !ok {
			continue
		}
		fields := map[string]int64{}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("wrk.lua result %q: %v", line, err)
			}
			fields[k] = n
		}
		us := func(k string) time.Duration { return time.Duration(fields[k]) * time.Microsecond }
		return Result{
			Completed: fields["requests"],
			Elapsed:   us("duration_us"),
			Failed:    fields["status_errors"] + fields["connect"] + fields["read"] + fields["write"] + fields["timeout"],
			P50:       us("p50_us"), P90: us("p90_us"), P99: us("p99_us"), Max: us("max_us"),
			Line: rest,
		}, nil
	}
	return Result{}, fmt.Errorf("wrk printed no LOAD_RESULT line")
}

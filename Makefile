# Build, run and test oidcaddy. `make help` lists the targets.

GO ?= go
# Without these tags Caddy's PKI app links Badger v1/v2 and SQL drivers that
# Caddy itself excludes from its release builds (xcaddy sets the same tags).
TAGS := nobadger,nomysql,nopgx
XCADDY_VERSION := v0.4.5
# Development secrets for Caddyfile.example's demo-app and demo-api clients,
# its registration and the demo user's second factor (TOTP, base32, 160 bits);
# never use them anywhere but on your machine.
DEMO_CLIENT_SECRET ?= dev-secret-change-me
DEMO_API_SECRET ?= dev-api-secret-change-me
DEMO_INITIAL_ACCESS_TOKEN ?= dev-initial-access-token-change-me
DEMO_TOTP_SECRET ?= DEMODEMODEMODEMODEMODEMODEMODEMO
# Some module proxies answer 403 rather than 404 for a module path that does
# not exist; `go get` inside xcaddy then stops while it checks whether the
# plugin package is a module of its own. Work around it with e.g.
#   make xcaddy XCADDY_GOPROXY='https://proxy.golang.org|off'
XCADDY_GOPROXY ?=
FUZZTIME ?= 20s
BENCHTIME ?= 1s

# Packages fast enough to test under the race detector. The end-to-end tests
# (test/...) run a real Caddy binary, which the detector would not see into.
RACE_PKGS := ./provider/... ./store/... ./telemetry/... ./internal/... ./caddymodule/...
# Packages that run without -race.
PLAIN_PKGS := ./cmd/... ./test/...

.PHONY: help build run test vet archcheck test-race test-e2e xcaddy fuzz bench clean

help:
	@echo "build    bin/caddy with the oidc_provider module"
	@echo "run      build, then serve Caddyfile.example (state in ./data)"
	@echo "test     vet, architecture check, race tests, end-to-end tests"
	@echo "xcaddy   build bin/caddy-xcaddy the way users do, from xcaddy.json"
	@echo "fuzz     run every fuzz target for FUZZTIME (default $(FUZZTIME))"
	@echo "bench    run the benchmarks"
	@echo "clean    remove build output (./data is kept)"

build:
	$(GO) build -tags $(TAGS) -o bin/caddy ./cmd/caddy

run: build
	mkdir -p data
	DEMO_CLIENT_SECRET="$(DEMO_CLIENT_SECRET)" DEMO_API_SECRET="$(DEMO_API_SECRET)" \
		DEMO_INITIAL_ACCESS_TOKEN="$(DEMO_INITIAL_ACCESS_TOKEN)" DEMO_TOTP_SECRET="$(DEMO_TOTP_SECRET)" \
		bin/caddy run --config Caddyfile.example --adapter caddyfile

test: vet archcheck test-race test-e2e

vet:
	$(GO) vet ./...

archcheck:
	$(GO) test -count=1 ./internal/archtest/

test-race:
	$(GO) test -race -timeout 10m $(RACE_PKGS)

# The e2e package builds the Caddy binary itself (a cold build takes a few
# minutes on two cores), hence the generous timeout. -count=1 because the
# test cache cannot see that binary's sources: a cached pass would hide a
# change in provider/ or caddymodule/.
test-e2e:
	$(GO) test -count=1 -timeout 12m $(PLAIN_PKGS)

# Installs the pinned xcaddy into bin/ (not the user's GOPATH) and builds
# exactly what xcaddy.json describes.
xcaddy:
	GOBIN="$(CURDIR)/bin" $(GO) install github.com/caddyserver/xcaddy/cmd/xcaddy@$(XCADDY_VERSION)
	$(if $(XCADDY_GOPROXY),GOPROXY='$(XCADDY_GOPROXY)') $(GO) run ./internal/tools/xcaddyargs -config xcaddy.json -xcaddy "$(CURDIR)/bin/xcaddy"
	bin/caddy-xcaddy list-modules | grep -x http.handlers.oidc_provider

# go test -fuzz takes one package and one target at a time.
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$file); \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$file | sed 's/^func //'); do \
			echo "== $$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(RACE_PKGS)

clean:
	rm -rf bin

# Load test of bin/caddy on loopback (test/load/run.sh; figures in
# docs/performance.md). Not part of `make test`: it measures time. Under two
# minutes with a warm build cache; LOAD_DURATION, LOAD_PROFILE, LOAD_OUT etc.
# are passed through the environment.
.PHONY: load
load:
	GO="$(GO)" test/load/run.sh

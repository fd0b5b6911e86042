package telemetry

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/oidcaddy/oidcaddy/provider"
)

func enabled(lp log.LoggerProvider) bool {
	return lp.Logger(InstrumentationName).Enabled(context.Background(), log.EnabledParameters{Severity: log.SeverityInfo})
}

func TestAcquireLoggerProviderDisabled(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		exporter string
	}{
		{"none", "", LogExporterNone},
		{"none overrides the environment", "console", LogExporterNone},
		{"default without OTEL_LOGS_EXPORTER", "", LogExporterFromEnv},
		{"default with OTEL_LOGS_EXPORTER=none", "none", LogExporterFromEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envLogsExporter, tt.env)
			lp, release, err := AcquireLoggerProvider(context.Background(), tt.exporter)
			if err != nil {
				t.Fatal(err)
			}
			if lp != nil {
				t.Fatalf("got provider %T, want nil", lp)
			}
			if release == nil || release(context.Background()) != nil {
				t.Fatal("release must be a callable no-op")
			}
		})
	}
}

func TestAcquireLoggerProviderSharesAndShutsDownOnLastRelease(t *testing.T) {
	t.Setenv(envLogsExporter, "")
	ctx := context.Background()

	lp1, release1, err := AcquireLoggerProvider(ctx, LogExporterConsole)
	if err != nil {
		t.Fatal(err)
	}
	lp2, release2, err := AcquireLoggerProvider(ctx, LogExporterConsole)
	if err != nil {
		t.Fatal(err)
	}
	if lp1 == nil || lp1 != lp2 {
		t.Fatalf("two acquires gave %p and %p, want one shared provider", lp1, lp2)
	}
	if !enabled(lp1) {
		t.Fatal("fresh provider is not enabled")
	}

	// The old config's cleanup runs after the new one is provisioned: the
	// first release must leave the provider working.
	if err := release1(ctx); err != nil {
		t.Fatal(err)
	}
	if err := release1(ctx); err != nil { // repeated release is a no-op
		t.Fatal(err)
	}
	if !enabled(lp2) {
		t.Fatal("provider shut down while still acquired")
	}
	if err := release2(ctx); err != nil {
		t.Fatal(err)
	}
	if enabled(lp2) {
		t.Fatal("provider still enabled after the last release")
	}

	lp3, release3, err := AcquireLoggerProvider(ctx, LogExporterConsole)
	if err != nil {
		t.Fatal(err)
	}
	defer release3(ctx)
	if lp3 == lp1 || !enabled(lp3) {
		t.Fatal("acquire after shutdown must give a fresh, working provider")
	}
}

func TestAcquireLoggerProviderFromEnvironment(t *testing.T) {
	t.Setenv(envLogsExporter, "console")
	ctx := context.Background()
	lpEnv, releaseEnv, err := AcquireLoggerProvider(ctx, LogExporterFromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseEnv(ctx)
	if lpEnv == nil || !enabled(lpEnv) {
		t.Fatal("OTEL_LOGS_EXPORTER=console did not enable log export")
	}
	lpForced, releaseForced, err := AcquireLoggerProvider(ctx, LogExporterConsole)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseForced(ctx)
	if lpForced != lpEnv {
		t.Fatal(`"" resolving to console and "console" should share one provider`)
	}
}

func TestAcquireLoggerProviderErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		exporter string
	}{
		{"unknown exporter", nil, "zipkin"},
		{"unknown exporter in the environment", map[string]string{envLogsExporter: "carrier-pigeon"}, LogExporterFromEnv},
		{"bad OTLP protocol", map[string]string{envOTLPLogsProtocol: "smoke-signals"}, LogExporterOTLP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envLogsExporter, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			lp, release, err := AcquireLoggerProvider(context.Background(), tt.exporter)
			if err == nil {
				_ = release(context.Background())
				t.Fatal("want an error")
			}
			if lp != nil {
				t.Fatal("want no provider on error")
			}
			n := loggerProviders.size()
			if n != 0 {
				t.Fatalf("%d providers left in the pool after a failed acquire", n)
			}
		})
	}
}

func TestAcquireLoggerProviderOTLP(t *testing.T) {
	// Construction only: the OTLP exporters connect lazily, so no collector
	// is needed; the endpoint points nowhere to be sure nothing is sent.
	t.Setenv(envLogsExporter, "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	for _, proto := range []string{"", "http/protobuf", "grpc"} {
		t.Run("protocol="+proto, func(t *testing.T) {
			t.Setenv(envOTLPProtocol, proto)
			lp, release, err := AcquireLoggerProvider(context.Background(), LogExporterOTLP)
			if err != nil {
				t.Fatal(err)
			}
			if lp == nil {
				t.Fatal("nil provider")
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // nothing to flush; do not wait on the dead endpoint
			_ = release(ctx)
		})
	}
}

// TestLogRecordsNeverRepeatAKey guards newLoggerProvider's switching off of
// the SDK's key de-duplication: every record the Sink makes, with every
// field set and for server_error with its cause, carries each key once.
func TestLogRecordsNeverRepeatAKey(t *testing.T) {
	recs := &logRecorder{}
	lp := newLoggerProvider(sdklog.NewSimpleProcessor(recs))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	s := newSink(Options{LoggerProvider: lp}, newMetrics())
	for _, name := range append(provider.Catalogue[:len(provider.Catalogue):len(provider.Catalogue)], "made.up.error") {
		e := provider.Event{Name: name, ClientID: "c", GrantID: "g", ErrorCode: "invalid_request",
			ErrorDescription: "d", Prompt: "login", Cause: errors.New("cause")}
		s.Emit(context.Background(), e)
	}
	got := recs.all()
	if len(got) != len(provider.Catalogue)+1 {
		t.Fatalf("%d records, want %d", len(got), len(provider.Catalogue)+1)
	}
	for _, r := range got {
		seen := map[attribute.Key]int{}
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			seen[kv.Key]++
			return true
		})
		for k, n := range seen {
			if n != 1 {
				t.Errorf("record %q carries %s %d times", r.EventName(), k, n)
			}
		}
		if len(seen) < 6 {
			t.Errorf("record %q: %d keys, want every field's (%v)", r.EventName(), len(seen), seen)
		}
	}
}

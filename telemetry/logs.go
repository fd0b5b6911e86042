package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Log exporter settings accepted by AcquireLoggerProvider.
const (
	LogExporterFromEnv = ""        // on only when OTEL_LOGS_EXPORTER is set
	LogExporterNone    = "none"    // off
	LogExporterOTLP    = "otlp"    // OTLP, configured by OTEL_EXPORTER_OTLP_*
	LogExporterConsole = "console" // JSON lines on standard output
)

const (
	envLogsExporter       = "OTEL_LOGS_EXPORTER"
	envOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envOTLPLogsProtocol   = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
	otlpProtoHTTPProtobuf = "http/protobuf"
	otlpProtoGRPC         = "grpc"
)

// loggerProviders are the LoggerProviders in use, by resolved exporter name.
var loggerProviders pipelines[*sdklog.LoggerProvider]

// AcquireLoggerProvider returns the process-wide LoggerProvider for the given
// exporter setting, creating it on first use, and a release function that
// must be called once when the caller no longer needs it; the last release
// flushes and shuts the provider down. Calling a release function again is a
// no-op.
//
// exporter is "" (log export on only when OTEL_LOGS_EXPORTER is set, then as
// autoexport interprets it), "none", "otlp" or "console". "otlp" honours
// OTEL_EXPORTER_OTLP_LOGS_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL and the
// other OTEL_EXPORTER_OTLP_* variables. When log export is off the provider
// is nil, which Options.LoggerProvider takes as "no log records".
//
// No OpenTelemetry global is read or set apart from the environment.
func AcquireLoggerProvider(ctx context.Context, exporter string) (log.LoggerProvider, func(context.Context) error, error) {
	key := exporter
	if exporter == LogExporterFromEnv {
		// Keying by the resolved name lets "" and an explicit setting that
		// mean the same exporter share one provider.
		key = os.Getenv(envLogsExporter)
		if key == "" {
			return nil, noRelease, nil
		}
	}
	if key == LogExporterNone {
		return nil, noRelease, nil
	}

	lp, release, err := loggerProviders.acquire(key, func() (*sdklog.LoggerProvider, bool, error) {
		exp, err := newLogExporter(ctx, exporter)
		if err != nil || autoexport.IsNoneLogExporter(exp) {
			return nil, false, err
		}
		return newLoggerProvider(newLogBatcher(exp, logQueueSize, droppedRecords)), true, nil
	})
	if lp == nil {
		// A nil *sdklog.LoggerProvider in the interface would not be nil.
		return nil, release, err
	}
	return lp, release, nil
}

// newLoggerProvider is the LoggerProvider of the Sink's records. The Sink
// never repeats a key in one record (appendAttrs adds each key at most once,
// and exception.message is not among them), so the SDK's de-duplication,
// which looks up pooled maps for every attribute after the first, is
// switched off; TestLogRecordsNeverRepeatAKey guards the premise.
func newLoggerProvider(p sdklog.Processor) *sdklog.LoggerProvider {
	return sdklog.NewLoggerProvider(sdklog.WithProcessor(p), sdklog.WithAllowKeyDuplication())
}

func newLogExporter(ctx context.Context, exporter string) (sdklog.Exporter, error) {
	switch exporter {
	case LogExporterFromEnv:
		exp, err := autoexport.NewLogExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: log exporter from %s=%q: %w", envLogsExporter, os.Getenv(envLogsExporter), err)
		}
		return exp, nil
	case LogExporterConsole:
		return stdoutlog.New()
	case LogExporterOTLP:
		// autoexport picks its exporter from OTEL_LOGS_EXPORTER only, so an
		// explicit setting that overrides the environment is built here, by
		// the same rules autoexport applies to the protocol variables.
		proto := os.Getenv(envOTLPLogsProtocol)
		if proto == "" {
			proto = os.Getenv(envOTLPProtocol)
		}
		switch proto {
		case "", otlpProtoHTTPProtobuf:
			return otlploghttp.New(ctx)
		case otlpProtoGRPC:
			return otlploggrpc.New(ctx)
		default:
			return nil, fmt.Errorf("telemetry: unsupported OTLP protocol %q for logs (want %q or %q)", proto, otlpProtoHTTPProtobuf, otlpProtoGRPC)
		}
	default:
		return nil, fmt.Errorf(`telemetry: unknown log exporter %q (want "", "none", "otlp" or "console")`, exporter)
	}
}

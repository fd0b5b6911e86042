package caddymodule

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

// Error lines are sampled per message (event and error code): each second,
// the first errorLogBurst lines of one kind are written, then every
// errorLogThereafter-th. A storm of one client's wrong secret cannot flood
// the log or hide a different error, and one bad request is always seen.
const (
	errorLogTick       = time.Second
	errorLogBurst      = 10
	errorLogThereafter = 100
)

// zapSink writes provider events to Caddy's log. Every error event gets one
// structured line at a level an operator sees by default: client errors
// (*.error) at INFO, sampled, since a busy or attacked server produces them
// by the thousand; server_error at ERROR with its internal cause, the only
// place an operator can see what failed (clients get a generic message).
// Other events are logged at DEBUG for troubleshooting. No line carries a
// token, code or secret: only the event's exported fields.
type zapSink struct {
	logger *zap.Logger
	// errors is logger behind a sampler; nil means logger unsampled.
	errors *zap.Logger
}

func newZapSink(logger *zap.Logger) zapSink {
	return zapSink{
		logger: logger,
		errors: logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, errorLogTick, errorLogBurst, errorLogThereafter)
		})),
	}
}

func (s zapSink) Emit(_ context.Context, e provider.Event) {
	logger, level, msg := s.logger, zapcore.DebugLevel, "provider event"
	switch {
	case e.Name == provider.EventServerError:
		level, msg = zapcore.ErrorLevel, "provider internal error"
		if s.errors != nil {
			logger = s.errors
		}
	case strings.HasSuffix(string(e.Name), ".error"):
		// The sampler keys on the message: one per event and code, both
		// bounded sets (the code is the provider's, never client input).
		level, msg = zapcore.InfoLevel, "oidc "+string(e.Name)+": "+e.ErrorCode
		if s.errors != nil {
			logger = s.errors
		}
	}
	// Check first: events fire on every request and must cost nothing
	// when their level is off.
	ce := logger.Check(level, msg)
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 7)
	fields = append(fields, zap.String("event", string(e.Name)))
	if e.ClientID != "" {
		fields = append(fields, zap.String("client_id", e.ClientID))
	}
	if e.GrantID != "" {
		fields = append(fields, zap.String("grant", telemetry.GrantIDHash(e.GrantID)))
	}
	if e.Prompt != "" {
		fields = append(fields, zap.String("prompt", e.Prompt))
	}
	if e.ErrorCode != "" {
		fields = append(fields, zap.String("error_code", e.ErrorCode))
	}
	if e.ErrorDescription != "" {
		fields = append(fields, zap.String("error_description", e.ErrorDescription))
	}
	if e.Cause != nil {
		fields = append(fields, zap.Error(e.Cause))
	}
	ce.Write(fields...)
}

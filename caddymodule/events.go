package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oidcaddy/oidcaddy/provider"
)

// zapSink writes provider events to Caddy's log: every event at debug level
// for troubleshooting, and server_error at error level with its internal
// cause, which is the only place an operator can see what failed (clients
// get a generic message).
type zapSink struct{ logger *zap.Logger }

func (s zapSink) Emit(_ context.Context, e provider.Event) {
	level, msg := zapcore.DebugLevel, "provider event"
	if e.Name == provider.EventServerError {
		level, msg = zapcore.ErrorLevel, "provider internal error"
	}
	// Check first: events fire on every request and must cost nothing
	// when debug logging is off.
	ce := s.logger.Check(level, msg)
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 7)
	fields = append(fields, zap.String("event", string(e.Name)))
	if e.ClientID != "" {
		fields = append(fields, zap.String("client_id", e.ClientID))
	}
	if e.GrantID != "" {
		fields = append(fields, zap.String("grant", grantDigest(e.GrantID)))
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

// grantDigest lets log lines about one grant be correlated without the log
// holding the grant id itself.
func grantDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

package provider

import "context"

// Event is one occurrence of a catalogued provider event. It carries only
// identifiers that are safe to export: never a token, code, password, client
// secret or key. Sinks may export every field.
type Event struct {
	Name EventName
	// ClientID is the OAuth client the event concerns, when known.
	ClientID string
	// GrantID is the grant the event concerns, when known. Grant ids are random
	// handles, not credentials; sinks should still export a hash of it.
	GrantID string
	// ErrorCode is the OAuth error code (RFC 6749 §5.2 and friends) for *.error
	// events and server_error.
	ErrorCode string
	// ErrorDescription is the human-readable description sent to the client. It
	// never contains secrets.
	ErrorDescription string
	// Prompt is the interaction prompt ("login", "consent") for interaction.started.
	Prompt string
	// Cause is the internal error behind a server_error (a store failure, a
	// recovered panic), for operators' logs only; it is never sent to clients
	// and never contains secrets.
	Cause error
}

// EventSink receives events synchronously, on the request's goroutine, with the
// request's context (so trace spans can be parented). Emit must be cheap and
// must not block: it is called on hot paths.
type EventSink interface {
	Emit(ctx context.Context, e Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Emit calls f.
func (f EventSinkFunc) Emit(ctx context.Context, e Event) { f(ctx, e) }

// MultiSink fans an event out to several sinks in order.
type MultiSink []EventSink

// Emit calls every sink.
func (m MultiSink) Emit(ctx context.Context, e Event) {
	for _, s := range m {
		s.Emit(ctx, e)
	}
}

type discardSink struct{}

func (discardSink) Emit(context.Context, Event) {}

// maxEventClientIDLen bounds the client id an event carries. Before a
// client has authenticated, the id is whatever the caller sent (up to the
// 2 KB parameter limit), and events become log records and span attributes.
const maxEventClientIDLen = 256

// boundedClientIDs is the one place every event passes through on its way to
// the configured sink: it cuts client ids to maxEventClientIDLen bytes and
// replaces every byte outside VSCHAR (%x20-7E, what RFC 6749 Appendix A.1
// allows in a client_id) with '?', so that a made-up id can neither flood the
// logs nor forge log lines with newlines or terminal escapes. Real client ids
// pass unchanged.
type boundedClientIDs struct{ sink EventSink }

func (b boundedClientIDs) Emit(ctx context.Context, e Event) {
	e.ClientID = boundClientID(e.ClientID)
	b.sink.Emit(ctx, e)
}

func boundClientID(id string) string {
	clean := len(id) <= maxEventClientIDLen
	for i := 0; clean && i < len(id); i++ {
		clean = id[i] >= 0x20 && id[i] <= 0x7e
	}
	if clean {
		return id
	}
	const mark = "...(truncated)"
	out := []byte(id)
	if len(out) > maxEventClientIDLen {
		out = append(out[:maxEventClientIDLen-len(mark)], mark...)
	}
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}

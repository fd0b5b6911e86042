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

package provider

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// A consumed refresh token carries its sealed successor as an optional
// trailer: records without it (all live tokens, and every record written
// before it existed) keep their exact encoding.
func TestRefreshTokenSuccessorTrailer(t *testing.T) {
	plain := refreshToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", SID: "sid", AuthTime: 1, IssuedAt: 2, AbsoluteExpiry: 3}
	b, _ := plain.MarshalBinary()
	withSuccessor := plain
	withSuccessor.Successor = []byte{0, 1, 2, 255}
	b2, _ := withSuccessor.MarshalBinary()
	if len(b2) <= len(b) || string(b2[:len(b)]) != string(b) {
		t.Fatalf("the successor is not a trailer: %x vs %x", b, b2)
	}
	for _, tc := range []struct {
		in   []byte
		want refreshToken
	}{{b, plain}, {b2, withSuccessor}} {
		var got refreshToken
		if err := got.UnmarshalBinary(tc.in); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("round trip: %v %+v", err, got)
		}
	}
	if err := new(refreshToken).UnmarshalBinary(b2[:len(b2)-1]); err == nil {
		t.Errorf("truncated trailer: no error")
	}
}

// A sealed successor opens for its own consumed token only, within at least
// one grace of sealing, and for nobody once its key period has passed.
func TestSuccessorSealer(t *testing.T) {
	ctx := context.Background()
	grace := 2 * time.Second
	s := newSuccessorSealer(grace)
	t0 := time.Unix(1_900_000_000, 0)
	sealed := s.seal(ctx, "successor-value", "consumed-id", t0)
	if got, err := s.open(ctx, sealed, "consumed-id", t0.Add(grace)); err != nil || got != "successor-value" {
		t.Fatalf("open within the grace: %q %v", got, err)
	}
	if _, err := s.open(ctx, sealed, "other-id", t0); err == nil {
		t.Errorf("opened for another consumed token")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.open(ctx, tampered, "consumed-id", t0); err == nil {
		t.Errorf("a tampered value opened")
	}
	if _, err := s.open(ctx, sealed, "consumed-id", t0.Add(3*grace)); err == nil {
		t.Errorf("opened long after the grace")
	}
	if len(s.keys) > 1 {
		t.Errorf("%d keys kept after their periods passed", len(s.keys))
	}
	if _, err := newSuccessorSealer(grace).open(ctx, sealed, "consumed-id", t0); err == nil {
		t.Errorf("another sealer (a restarted process) opened it")
	}
}

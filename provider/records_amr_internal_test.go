package provider

import (
	"encoding"
	"reflect"
	"testing"
)

// The login's amr rides on codes, access and refresh tokens and gate
// sessions, so acr survives the code exchange, refresh and the gate.
// Records are written with it at the end: a record from before it (the
// same bytes without the list) still decodes, with no amr (a password
// login, acrOf), and an empty list, which no writer makes, is corrupt.
func TestRecordsCarryAMRAndReadOlderRecords(t *testing.T) {
	t.Parallel()
	amr := amrWithOTP()
	type record interface {
		encoding.BinaryMarshaler
	}
	cases := []struct {
		name      string
		with      record
		without   record
		decodeNew func() (encoding.BinaryUnmarshaler, func() any)
	}{
		{"access token",
			accessToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", AuthTime: 7, AMR: amr},
			accessToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", AuthTime: 7},
			func() (encoding.BinaryUnmarshaler, func() any) {
				v := new(accessToken)
				return v, func() any { return *v }
			}},
		{"authorization code",
			authCode{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, AuthTime: 7, GrantID: "g", AMR: amr},
			authCode{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, AuthTime: 7, GrantID: "g"},
			func() (encoding.BinaryUnmarshaler, func() any) {
				v := new(authCode)
				return v, func() any { return *v }
			}},
		{"refresh token",
			refreshToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", AuthTime: 7, AMR: amr},
			refreshToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", AuthTime: 7},
			func() (encoding.BinaryUnmarshaler, func() any) {
				v := new(refreshToken)
				return v, func() any { return *v }
			}},
		{"consumed refresh token",
			refreshToken{ClientID: "c", AccountID: "s", GrantID: "g", AuthTime: 7, AMR: amr, Successor: []byte("sealed")},
			refreshToken{ClientID: "c", AccountID: "s", GrantID: "g", AuthTime: 7, Successor: []byte("sealed")},
			func() (encoding.BinaryUnmarshaler, func() any) {
				v := new(refreshToken)
				return v, func() any { return *v }
			}},
		{"gate session",
			gateSession{Origin: "https://app", SID: "sid", AccountID: "s", GrantID: "g", AuthTime: 7, AMR: amr},
			gateSession{Origin: "https://app", SID: "sid", AccountID: "s", GrantID: "g", AuthTime: 7},
			func() (encoding.BinaryUnmarshaler, func() any) {
				v := new(gateSession)
				return v, func() any { return *v }
			}},
	}
	for _, c := range cases {
		for _, rec := range []record{c.with, c.without} {
			b, _ := rec.MarshalBinary()
			dst, got := c.decodeNew()
			if err := dst.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(normalize(got()), normalize(rec)) {
				t.Errorf("%s: round trip %v: %+v, want %+v", c.name, err, got(), rec)
			}
			if dst, _ := c.decodeNew(); dst.UnmarshalBinary(append(b, 0)) == nil {
				t.Errorf("%s: a trailing empty list was accepted", c.name)
			}
		}
	}
}

// normalize makes the scopes of a decoded record (an empty list) compare
// equal to an unset one.
func normalize(v any) any {
	switch r := v.(type) {
	case refreshToken:
		if len(r.Scopes) == 0 {
			r.Scopes = nil
		}
		return r
	case gateSession:
		if len(r.Scopes) == 0 {
			r.Scopes = nil
		}
		return r
	}
	return v
}

package provider

import (
	"reflect"
	"testing"
)

func TestBinaryRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	at := accessToken{ClientID: "c", AccountID: "ü-sub", Scopes: []string{"openid", "email"}, GrantID: "g", IssuedAt: 1, ExpiresAt: -5}
	b, _ := at.MarshalBinary()
	var at2 accessToken
	if err := at2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(at, at2) {
		t.Fatalf("access token round trip: %v %+v", err, at2)
	}
	ac := authCode{ClientID: "c", RedirectURI: "https://x/cb", AccountID: "s", Scopes: []string{"openid"}, Nonce: "n", CodeChallenge: "ch", AuthTime: 42, SID: "sid", GrantID: "g"}
	b, _ = ac.MarshalBinary()
	var ac2 authCode
	if err := ac2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(ac, ac2) {
		t.Fatalf("code round trip: %v %+v", err, ac2)
	}
	// Every truncation and a trailing byte are errors, not panics.
	for i := range b {
		if err := new(authCode).UnmarshalBinary(b[:i]); err == nil {
			t.Errorf("truncated at %d: no error", i)
		}
	}
	if err := new(authCode).UnmarshalBinary(append(b, 0)); err == nil {
		t.Errorf("trailing byte: no error")
	}
}

func FuzzBinaryRecordDecode(f *testing.F) {
	b, _ := accessToken{ClientID: "c", Scopes: []string{"openid"}}.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	b, _ = refreshToken{ClientID: "c", AMR: amrWithOTP(), Successor: []byte("s")}.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var at accessToken
		if at.UnmarshalBinary(b) == nil {
			again, _ := at.MarshalBinary()
			var at2 accessToken
			if err := at2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(at, at2) {
				t.Fatalf("re-encoding changed the record")
			}
		}
		new(authCode).UnmarshalBinary(b)
		new(refreshToken).UnmarshalBinary(b)
		new(gateSession).UnmarshalBinary(b)
	})
}

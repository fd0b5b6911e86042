package provider

import (
	"reflect"
	"testing"
)

// Opaque access tokens now keep the login's auth_time for max_age rules.
// A record stored before (no auth_time at its end) still decodes, with the
// time unknown, so tokens issued before an upgrade stay valid.
func TestAccessTokenRecordKeepsAuthTimeAndReadsOlderRecords(t *testing.T) {
	t.Parallel()
	at := accessToken{ClientID: "c", AccountID: "s", Scopes: []string{"openid"}, GrantID: "g", Audience: "a", IssuedAt: 10, ExpiresAt: 20, AuthTime: 7}
	b, _ := at.MarshalBinary()
	var got accessToken
	if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, at) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	w := newBinWriter() // the layout before auth_time
	w.str(at.ClientID)
	w.str(at.AccountID)
	w.strs(at.Scopes)
	w.str(at.GrantID)
	w.str(at.Audience)
	w.int(at.IssuedAt)
	w.int(at.ExpiresAt)
	var old accessToken
	want := at
	want.AuthTime = 0
	if err := old.UnmarshalBinary(w.b); err != nil || !reflect.DeepEqual(old, want) {
		t.Fatalf("older record: %v %+v", err, old)
	}
	if err := new(accessToken).UnmarshalBinary(append(b, 0)); err == nil {
		t.Error("a trailing byte after auth_time was accepted")
	}
}

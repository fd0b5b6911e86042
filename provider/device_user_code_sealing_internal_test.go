package provider

import (
	"bytes"
	"testing"
)

// The user code kept in an interaction opens only with the browser-binding
// cookie of that interaction, and the stored bytes do not contain it.
func TestDeviceUserCodeIsSealedToTheBrowser(t *testing.T) {
	sealed := sealUserCode("BCDFGHJK", "binding-cookie-value", "uid-1")
	if bytes.Contains(sealed, []byte("BCDFGHJK")) {
		t.Fatal("the sealed user code contains the code")
	}
	if got := openUserCode(sealed, "binding-cookie-value", "uid-1"); got != "BCDFGHJK" {
		t.Fatalf("open = %q", got)
	}
	for _, c := range []struct{ binding, uid string }{{"another-cookie", "uid-1"}, {"binding-cookie-value", "uid-2"}} {
		if got := openUserCode(sealed, c.binding, c.uid); got != "" {
			t.Errorf("opened with binding %q uid %q: %q", c.binding, c.uid, got)
		}
	}
	if sealUserCode("", "b", "u") != nil || openUserCode(nil, "b", "u") != "" {
		t.Error("no code must seal to nothing and open to nothing")
	}
}

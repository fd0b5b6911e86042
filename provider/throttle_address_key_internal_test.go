package provider

import "testing"

// Throttle keys: IPv6 by /64, IPv4 (and IPv4-mapped IPv6) by full address.
func TestAddressKey(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:9"},
		{"fe80::1%eth0", "fe80::2"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
	}
	for _, c := range same {
		if a, b := addressKey(c[0]), addressKey(c[1]); a != b {
			t.Errorf("addressKey(%s) = %s, addressKey(%s) = %s: want one key", c[0], a, c[1], b)
		}
	}
	differ := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"not-an-ip", "also-not"},
	}
	for _, c := range differ {
		if a, b := addressKey(c[0]), addressKey(c[1]); a == b {
			t.Errorf("addressKey(%s) = addressKey(%s) = %s: want distinct keys", c[0], c[1], a)
		}
	}
	if deviceKey("192.0.2.1") == addressKey("192.0.2.1") {
		t.Error("device guesses and login failures must not share a key")
	}
	if got := loginKeys("", "192.0.2.1"); len(got) != 1 {
		t.Errorf("an empty login must not get an account key: %v", got)
	}
}

package caddymodule

import (
	"slices"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

func TestExpandGrantTypes(t *testing.T) {
	got := expandGrantTypes([]string{"device_code", "refresh_token", provider.GrantTypeDeviceCode})
	want := []string{provider.GrantTypeDeviceCode, "refresh_token", provider.GrantTypeDeviceCode}
	if !slices.Equal(got, want) {
		t.Fatalf("expandGrantTypes = %v, want %v", got, want)
	}
}

package caddymodule

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A client with a secret and no auth_method is marked as defaulted (it then
// accepts both secret methods); an explicit auth_method is not.
func TestAuthMethodDefaultIsRecorded(t *testing.T) {
	cfgs := []ClientConfig{
		{ClientID: "implicit", ClientSecret: "s3cret", RedirectURIs: []string{"https://a.example/cb"}},
		{ClientID: "basic", ClientSecret: "s3cret", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic},
		{ClientID: "post", ClientSecret: "s3cret", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretPost},
		{ClientID: "spa", Public: true, RedirectURIs: []string{"https://a.example/cb"}},
	}
	list, problems := resolveClients(caddy.NewReplacer(), cfgs)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	clients, err := provider.NewStaticClients(list...)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]struct {
		method    string
		defaulted bool
	}{
		"implicit": {provider.AuthMethodClientSecretBasic, true},
		"basic":    {provider.AuthMethodClientSecretBasic, false},
		"post":     {provider.AuthMethodClientSecretPost, false},
		"spa":      {provider.AuthMethodNone, false},
	} {
		c, err := clients.Client(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.TokenEndpointAuthMethod != want.method || c.AuthMethodDefaulted != want.defaulted {
			t.Errorf("%s: method %s defaulted %v, want %s %v", id, c.TokenEndpointAuthMethod, c.AuthMethodDefaulted, want.method, want.defaulted)
		}
	}
}

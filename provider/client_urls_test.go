package provider_test

import (
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// The URL rules for configured clients live in provider, so a client built
// without the Caddyfile (JSON config, embedding) is held to them too.
func TestConfiguredClientURLRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, jwksURI, backchannel, wantErr string
	}{
		{"https backchannel", "", "https://app.example/logout", ""},
		{"loopback http backchannel", "", "http://127.0.0.1:8080/logout", ""},
		{"localhost http backchannel", "", "http://localhost/logout", ""},
		{"plain http backchannel", "", "http://app.example/logout", "backchannel_logout_uri"},
		{"backchannel with fragment", "", "https://app.example/logout#x", "backchannel_logout_uri"},
		{"relative backchannel", "", "/logout", "backchannel_logout_uri"},
		{"https jwks_uri", "https://app.example/jwks", "", ""},
		{"http jwks_uri", "http://127.0.0.1/jwks", "", "jwks_uri"},
		{"jwks_uri with fragment", "https://app.example/jwks#k", "", "jwks_uri"},
	} {
		c := &provider.Client{ID: "app", TokenEndpointAuthMethod: provider.AuthMethodPrivateKeyJWT, JWKSURI: "https://app.example/jwks",
			GrantTypes: []string{provider.GrantTypeClientCredentials}, BackchannelLogoutURI: tc.backchannel}
		if tc.jwksURI != "" {
			c.JWKSURI = tc.jwksURI
		}
		_, err := provider.NewStaticClients(c)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `client "app"`)):
			t.Errorf("%s: %v, want an error about %s naming the client", tc.name, err, tc.wantErr)
		}
	}
}

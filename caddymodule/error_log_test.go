package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A storm of one client error is sampled down, while another error in the
// middle of it, and every server_error kind, still gets its line.
func TestErrorLinesAreSampledPerEventAndCode(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s := newZapSink(zap.New(core))
	ctx := context.Background()
	const storm = 2000
	for i := 0; i < storm; i++ {
		s.Emit(ctx, provider.Event{Name: provider.EventGrantError, ClientID: "app", ErrorCode: "invalid_client", ErrorDescription: "client authentication failed"})
		if i == storm/2 {
			s.Emit(ctx, provider.Event{Name: provider.EventIntrospectionError, ClientID: "rs", ErrorCode: "invalid_request"})
			s.Emit(ctx, provider.Event{Name: provider.EventGrantError, ClientID: "app", ErrorCode: "invalid_grant"})
		}
	}
	count := map[string]int{}
	for _, e := range logs.All() {
		count[e.Message]++
	}
	if n := count["oidc grant.error: invalid_client"]; n < errorLogBurst || n > storm/10 {
		t.Errorf("%d lines for %d identical invalid_client errors, want at least %d and far fewer than the errors", n, storm, errorLogBurst)
	}
	for _, msg := range []string{"oidc introspection.error: invalid_request", "oidc grant.error: invalid_grant"} {
		if count[msg] != 1 {
			t.Errorf("%q logged %d times during the storm, want once (all: %v)", msg, count[msg], count)
		}
	}
}

func TestLiteralSecretsAreWarnedAboutByPlaceNotValue(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := &Handler{
		Clients: []ClientConfig{
			{ClientID: "lit", ClientSecret: "literal-client-secret"},
			{ClientID: "env", ClientSecret: "{env.APP_SECRET}"},
			{ClientID: "file", ClientSecret: "{file./run/secrets/app}"},
			{ClientID: "pub"},
		},
		Registration: &RegistrationConfig{InitialAccessTokens: []string{"{env.IAT}", "literal-initial-token"}},
	}
	warnLiteralSecrets(zap.New(core), h)
	var places []string
	for _, e := range logs.All() {
		places = append(places, e.ContextMap()["secret"].(string))
		for _, v := range []string{"literal-client-secret", "literal-initial-token"} {
			if strings.Contains(e.Message, v) || strings.Contains(fmt.Sprint(e.ContextMap()), v) {
				t.Errorf("warning contains the secret: %+v", e)
			}
		}
	}
	if got, want := strings.Join(places, ","), "client lit secret,registration initial_access_token 2"; got != want {
		t.Errorf("warned about %q, want %q", got, want)
	}
}

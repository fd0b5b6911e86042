package caddymodule

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/oidcaddy/oidcaddy/provider"
)

func TestProtectCaddyfile(t *testing.T) {
	in := `oidc_protect {
		issuer https://auth.example.com
		allow /admin/*,/ops/* group admins,ops
		allow /api/* method get,POST scope read audience https://api.example
		allow * sub alice email bob@example.com
		bypass /healthz /static/*
		header_up X-Forwarded-User {oidc.sub} X-Forwarded-Groups {oidc.groups}
		assertion X-Oidc-Assertion
	}`
	var g Protect
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	want := Protect{
		Issuer: "https://auth.example.com",
		Bypass: []string{"/healthz", "/static/*"},
		Rules: []provider.GateRule{
			{Paths: []string{"/admin/*", "/ops/*"}, Groups: []string{"admins", "ops"}},
			{Paths: []string{"/api/*"}, Methods: []string{"GET", "POST"}, Scopes: []string{"read"}, Audience: "https://api.example"},
			{Paths: []string{"*"}, Subjects: []string{"alice"}, Emails: []string{"bob@example.com"}},
		},
		HeaderUp:  []HeaderFromClaims{{"X-Forwarded-User", "{oidc.sub}"}, {"X-Forwarded-Groups", "{oidc.groups}"}},
		Assertion: "X-Oidc-Assertion",
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v\nwant %+v", g, want)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestProtectCaddyfileErrors(t *testing.T) {
	for _, tt := range []caddyfileErrorCase{
		{"no issuer", "oidc_protect {\n allow * group a\n}", []string{"issuer is required"}},
		{"argument", "oidc_protect https://a.example {\n}", []string{"no arguments"}},
		{"unknown condition", "oidc_protect {\n issuer https://a.example\n allow * role admin\n}", []string{"Testfile:3", `unknown condition "role"`}},
		{"condition without value", "oidc_protect {\n issuer https://a.example\n allow * group\n}", []string{"Testfile:3", "group needs a value"}},
		{"bad path", "oidc_protect {\n issuer https://a.example\n allow admin/* group a\n}", []string{"rules[0].paths[0]", "must be * or start with /"}},
		{"odd header_up", "oidc_protect {\n issuer https://a.example\n header_up X-User\n}", []string{"Testfile:3", "header_up <name> <value>"}},
		{"unknown subdirective", "oidc_protect {\n issuer https://a.example\n deny *\n}", []string{"Testfile:3", `"deny"`}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCaddyfileError(t, tt.input, tt.want...) })
	}
}

func TestUserGroupsCaddyfile(t *testing.T) {
	var h Handler
	in := "oidc_provider {\n issuer https://a.example\n user alice {\n  password_hash x\n  groups admins staff\n }\n}"
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	if len(h.Users) != 1 || !reflect.DeepEqual(h.Users[0].Groups, []string{"admins", "staff"}) {
		t.Fatalf("users: %+v", h.Users)
	}
}

// The gate runs where Caddy's own auth handlers do: before respond (and so
// before reverse_proxy), whatever order the site block lists them in.
func TestProtectDirectiveOrder(t *testing.T) {
	src := `app.example.com {
	respond /hello "hi"
	oidc_protect {
		issuer https://auth.example.com
		allow * group staff
	}
}`
	adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
	out, _, err := adapter.Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	gate, respond := strings.Index(s, `"handler":"oidc_protect"`), strings.Index(s, `"handler":"static_response"`)
	if gate < 0 || respond < 0 || gate > respond {
		t.Fatalf("oidc_protect is not before respond: %s", s)
	}
}

// max_age is a duration in the Caddyfile and whole seconds in the rule
// (OIDC's unit), a fraction rounded up.
func TestProtectCaddyfileMaxAge(t *testing.T) {
	in := `oidc_protect {
		issuer https://auth.example.com
		allow /admin/* group admins max_age 15m
		allow /ops/* max_age 1500ms method POST
		allow *
	}`
	var g Protect
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	want := []provider.GateRule{
		{Paths: []string{"/admin/*"}, Groups: []string{"admins"}, MaxAge: new(int64(900))},
		{Paths: []string{"/ops/*"}, Methods: []string{"POST"}, MaxAge: new(int64(2))},
		{Paths: []string{"*"}},
	}
	if !reflect.DeepEqual(g.Rules, want) {
		t.Fatalf("rules %+v, want %+v", g.Rules, want)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The parser only parses max_age; that it is positive is the policy's rule
// (provider.GatePolicy.Validate), reported with its path.
func TestProtectCaddyfileMaxAgeErrors(t *testing.T) {
	for _, tt := range []caddyfileErrorCase{
		{"zero", "oidc_protect {\n issuer https://a.example\n allow * max_age 0s\n}", []string{"rules[0].max_age", "at least one second"}},
		{"negative", "oidc_protect {\n issuer https://a.example\n allow * group a\n allow /x max_age -5m\n}", []string{"rules[1].max_age", "at least one second"}},
		{"not a duration", "oidc_protect {\n issuer https://a.example\n allow * max_age soon\n}", []string{"Testfile:3", "max_age"}},
		{"twice", "oidc_protect {\n issuer https://a.example\n allow * max_age 1m max_age 2m\n}", []string{"Testfile:3", "one max_age per rule"}},
		{"without value", "oidc_protect {\n issuer https://a.example\n allow * max_age\n}", []string{"Testfile:3", "max_age needs a value"}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCaddyfileError(t, tt.input, tt.want...) })
	}
	// The same rule holds for JSON configurations.
	g := Protect{Issuer: "https://a.example", Rules: []provider.GateRule{{MaxAge: new(int64(0))}}}
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "rules[0].max_age") {
		t.Errorf("JSON max_age 0: %v", err)
	}
}

// acr names the lowest authentication level a rule accepts; only the
// levels the provider issues are accepted, in the Caddyfile and in JSON.
func TestProtectCaddyfileACR(t *testing.T) {
	in := `oidc_protect {
		issuer https://auth.example.com
		allow /admin/* group admins acr mfa max_age 15m
		allow *
	}`
	var g Protect
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	want := []provider.GateRule{
		{Paths: []string{"/admin/*"}, Groups: []string{"admins"}, ACR: "mfa", MaxAge: new(int64(900))},
		{Paths: []string{"*"}},
	}
	if !reflect.DeepEqual(g.Rules, want) {
		t.Fatalf("rules %+v, want %+v", g.Rules, want)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []caddyfileErrorCase{
		{"unknown level", "oidc_protect {\n issuer https://a.example\n allow * acr gold\n}", []string{"rules[0].acr", `"gold"`, "pwd, mfa"}},
		{"twice", "oidc_protect {\n issuer https://a.example\n allow * acr mfa acr pwd\n}", []string{"Testfile:3", "one acr per rule"}},
		{"a list", "oidc_protect {\n issuer https://a.example\n allow * acr pwd,mfa\n}", []string{"Testfile:3", "one acr per rule"}},
		{"without value", "oidc_protect {\n issuer https://a.example\n allow * acr\n}", []string{"Testfile:3", "acr needs a value"}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCaddyfileError(t, tt.input, tt.want...) })
	}
	g = Protect{Issuer: "https://a.example", Rules: []provider.GateRule{{ACR: "MFA"}}}
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "rules[0].acr") {
		t.Errorf("JSON acr MFA: %v", err)
	}
}

// wantCaddyfileError asserts that input does not parse, with an error that
// says every part of want.
func wantCaddyfileError(t *testing.T, input string, want ...string) {
	t.Helper()
	var g Protect
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	if err == nil {
		t.Fatalf("expected an error, got %+v", g)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

package provider_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A client that registers itself may not take the name a configured client
// shows on the consent page (issue 8 item 3): with the same name, the
// attacker's consent page would read like the operator's application. The
// names are compared after Unicode compatibility normalisation, case
// folding, whitespace and look-alike folding, so near copies are refused
// too; so is the service's own name. The fixture's configured clients are "Web App" (id web) and, among
// others, "post", which has no name and is shown by its id.
func TestRegistrationRefusesConfiguredClientNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.Branding = provider.Branding{Name: "Example Login"} })
	body := func(name string) string {
		return `{"client_name":` + jsonString(name) + `,"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":[],"token_endpoint_auth_method":"none"}`
	}
	for _, name := range []string{
		"Web App",
		"web app",
		"  WEB   APP ",
		"Ｗｅｂ Ａｐｐ",           // fullwidth letters (NFKC)
		"W\u0435b \u0410pp", // Cyrillic е and А
		"Web\u200b App",     // zero-width space
		"We\u0301b App",     // combining acute accent
		"Web\u00a0App",      // no-break space
		"\U0001d416eb App",  // mathematical bold W
		"WEB APP\u200d",     // zero-width joiner at the end
		"post",              // a configured client shown by its id
		"P0ST",              // zero for O
		"Web App\t",         // tab
		"Wеb Aрp",           // Cyrillic е and р
		"Web Αpp",           // Greek capital alpha
	} {
		r := h.register(body(name), "")
		if r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
			t.Errorf("registration as %q: %d %s, want 400 invalid_client_metadata", name, r.status, r.body)
		}
	}
	for _, name := range []string{"Web Apps", "Web", "Kitchen Display", "Poster", ""} {
		if r := h.register(body(name), ""); r.status != 201 {
			t.Errorf("registration as %q: %d %s, want 201", name, r.status, r.body)
		}
	}
}

// RFC 7592 §2.2: an update replaces the metadata, so the same rule applies;
// a refused update leaves the client as it was.
func TestRegistrationUpdateRefusesConfiguredClientNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	reg := `{"client_name":"Kitchen Display","grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":[],"token_endpoint_auth_method":"none"}`
	r := h.register(reg, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	id, rat, uri := info["client_id"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
	update := strings.Replace(reg, `"client_name":"Kitchen Display"`, `"client_id":"`+id+`","client_name":"WEB app"`, 1)
	if r := h.configure("PUT", uri, rat, update); r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
		t.Fatalf("update to a configured client's name: %d %s", r.status, r.body)
	}
	if got := jsonBody(t, h.configure("GET", uri, rat, ""))["client_name"]; got != "Kitchen Display" {
		t.Fatalf("after the refused update the name is %v", got)
	}
	ok := strings.Replace(reg, `"client_name":"Kitchen Display"`, `"client_id":"`+id+`","client_name":"Kitchen Display 2"`, 1)
	if r := h.configure("PUT", uri, rat, ok); r.status != 200 {
		t.Fatalf("update to another name: %d %s", r.status, r.body)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

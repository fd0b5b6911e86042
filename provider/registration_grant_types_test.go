package provider_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// RFC 7591 §2: the response_types default ["code"] applies only when the
// member is omitted. A device-only or client_credentials-only client that
// says `response_types: []` registers, reads its registration back with the
// empty list, updates it with what it read (RFC 7592 §2.2), and uses its
// grant.
func TestRegistrationExplicitEmptyResponseTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	cases := []struct {
		name, grant, body string
	}{
		{"device only", provider.GrantTypeDeviceCode,
			`{"client_name":"TV","grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":[],"token_endpoint_auth_method":"none"}`},
		{"device only, confidential", provider.GrantTypeDeviceCode,
			`{"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"response_types":[]}`},
		{"client_credentials only", provider.GrantTypeClientCredentials,
			`{"grant_types":["client_credentials"],"response_types":[]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.register(tc.body, "")
			if r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.body)
			}
			info := jsonBody(t, r)
			if rt, ok := info["response_types"].([]any); !ok || len(rt) != 0 {
				t.Fatalf("registered response_types = %#v, want []", info["response_types"])
			}
			id, secret := info["client_id"].(string), ""
			if s, ok := info["client_secret"].(string); ok {
				secret = s
			}
			uri, rat := info["registration_client_uri"].(string), info["registration_access_token"].(string)

			// Read, then send back what was read (minus what the server
			// assigns): the update must be accepted unchanged.
			read := h.configure(http.MethodGet, uri, rat, "")
			if read.status != 200 {
				t.Fatalf("read: %d %s", read.status, read.body)
			}
			meta := jsonBody(t, read)
			if rt, ok := meta["response_types"].([]any); !ok || len(rt) != 0 {
				t.Fatalf("read response_types = %#v, want []", meta["response_types"])
			}
			for _, k := range []string{"registration_client_uri", "client_id_issued_at", "client_secret_expires_at"} {
				delete(meta, k)
			}
			body, _ := json.Marshal(meta)
			if r := h.configure(http.MethodPut, uri, rat, string(body)); r.status != 200 {
				t.Fatalf("update with the metadata read: %d %s", r.status, r.body)
			}

			// The client uses its grant.
			switch tc.grant {
			case provider.GrantTypeClientCredentials:
				if r := h.token(url.Values{"grant_type": {"client_credentials"}}, id, secret); r.status != 200 {
					t.Fatalf("client_credentials: %d %s", r.status, r.body)
				}
			case provider.GrantTypeDeviceCode:
				form := url.Values{"client_id": {id}, "scope": {"openid"}}
				req, _ := http.NewRequest(http.MethodPost, h.issuer+"/device/auth", nil)
				if secret != "" {
					req.SetBasicAuth(id, secret)
					form.Del("client_id")
				}
				req = withForm(req, form)
				r := h.browser().do(req)
				if r.status != 200 || jsonBody(t, r)["device_code"] == nil {
					t.Fatalf("device authorization: %d %s", r.status, r.body)
				}
				dc := jsonBody(t, r)["device_code"].(string)
				if b := h.browser().enterUserCode(t, jsonBody(t, r)["user_code"].(string), "allow"); b.status != 200 {
					t.Fatalf("verification: %d %s", b.status, b.body)
				}
				h.clock.advance(6 * time.Second)
				poll := url.Values{"grant_type": {provider.GrantTypeDeviceCode}, "device_code": {dc}}
				if secret == "" {
					poll.Set("client_id", id)
				}
				if r := h.token(poll, map[bool]string{true: id}[secret != ""], secret); r.status != 200 || jsonBody(t, r)["id_token"] == nil {
					t.Fatalf("device token: %d %s", r.status, r.body)
				}
			}
			// Not usable at the authorization endpoint.
			if r := h.browser().get(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": ""})); r.status == http.StatusSeeOther {
				t.Fatalf("a client without response types got an authorization redirect: %s", r.header.Get("Location"))
			}
		})
	}

	// Omitted response_types with only the device grant and no redirect
	// URI: a machine client, as with client_credentials.
	if r := h.register(`{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"token_endpoint_auth_method":"none"}`, ""); r.status != 201 {
		t.Errorf("device-only client without response_types: %d %s", r.status, r.body)
	}
}

// The reverse: an explicit empty grant_types is not "authorization_code by
// default" either. A client with no grant type can do nothing, so the
// registration is refused, whatever response_types says; and an explicit
// empty response_types does not go with the authorization_code grant.
func TestRegistrationExplicitEmptyGrantTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	for _, body := range []string{
		`{"redirect_uris":["https://a.example/cb"],"grant_types":[]}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":[],"response_types":[]}`,
		`{"grant_types":[],"response_types":["code"],"redirect_uris":["https://a.example/cb"]}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code"],"response_types":[]}`,
	} {
		r := h.register(body, "")
		if r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
			t.Errorf("%s: %d %s, want 400 invalid_client_metadata", body, r.status, r.body)
		}
	}
	// Omitted grant_types still means authorization_code (RFC 7591 §2).
	r := h.register(`{"redirect_uris":["https://a.example/cb"]}`, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if gt, _ := jsonBody(t, r)["grant_types"].([]any); len(gt) != 1 || gt[0] != "authorization_code" {
		t.Errorf("default grant_types = %v", jsonBody(t, r)["grant_types"])
	}
}

// withForm gives req a form-encoded body.
func withForm(req *http.Request, form url.Values) *http.Request {
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

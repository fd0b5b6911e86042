package provider

import (
	"errors"
	"net/http"
)

func (p *Provider) submitConsent(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, form params) {
	if in.Prompt != promptConsent {
		p.interactionFailed(w, r, errInvalidRequest("this step does not take a consent"), client.ID)
		return
	}
	switch form.get("decision") {
	case "allow":
	case "deny":
		p.denyInteraction(w, r, in, client, "the user denied the request")
		return
	default:
		p.interactionFailed(w, r, errInvalidRequest("decision must be allow or deny"), client.ID)
		return
	}
	sess, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	// The consent must come from the account the page was shown to: a login
	// in another tab in between must not inherit this consent.
	if sess == nil || (in.LoginDone && sess.AccountID != in.AccountID) {
		p.interactionFailed(w, r, errInteractionGone, client.ID)
		return
	}
	existing, err := p.loadGrant(r.Context(), sess, client.ID)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if _, err := p.saveGrant(r, sess, existing, client, in.Request.Scopes); errors.Is(err, ErrNotFound) {
		// Logged out in another tab while this page was open
		// (errSessionEnded), or the client was deleted.
		p.interactionFailed(w, r, errInteractionGone, client.ID)
		return
	} else if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	in.ConsentDone = true
	p.resolve(w, r, &in.Request, client, sess, in)
}

// consentAccount names the signed-in account on the consent page: its name
// and e-mail address when it has them, else its preferred username or
// subject.
func (p *Provider) consentAccount(r *http.Request, in *interaction) string {
	sess, err := p.loadSession(r)
	if err != nil || sess == nil {
		return ""
	}
	acc, err := p.cfg.Accounts.Account(r.Context(), sess.AccountID)
	if err != nil {
		return ""
	}
	claim := func(name string) string { s, _ := acc.Claims[name].(string); return s }
	name, email := claim("name"), claim("email")
	switch {
	case name != "" && email != "":
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	case claim("preferred_username") != "":
		return claim("preferred_username")
	}
	return acc.Subject
}

// denyInteraction ends the interaction and returns access_denied to the
// client (OIDC Core §3.1.2.6).
func (p *Provider) denyInteraction(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, desc string) {
	p.endInteraction(w, r, in, client.ID)
	if in.Request.DeviceCodeID != "" {
		p.settleDevice(w, r, &in.Request, client, nil, nil, false)
		return
	}
	p.authorizationError(w, r, &authError{Error: newError(http.StatusBadRequest, ErrCodeAccessDenied, desc), redirect: true, req: &in.Request, userActed: true}, client)
}

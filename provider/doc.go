// Package provider is the OpenID Connect / OAuth 2.0 protocol engine of
// oidcaddy. It is plain Go and net/http: it knows nothing of Caddy, OpenTelemetry,
// Prometheus or Badger, and talks to the world through the small interfaces
// it owns (Store, ClientStore, AccountStore, Signer, EventSink, a clock).
//
// # Index: specification → file
//
// File names say what they implement: endpoint_* serve one endpoint,
// grant_* are the grant types of the token endpoint, page_* are the pages a
// person sees. Everything a grant answers with is built in one place,
// token_issuance.go.
//
// Endpoints (routes.go maps paths to them):
//
//	RFC 6749 §3.1, OIDC Core §3.1.2       authorization endpoint         endpoint_authorize.go, authrequest.go, redirecturi.go
//	RFC 9207, OAuth 2.0 Form Post         iss in responses, form_post    endpoint_authorize.go (respondToClient), pages.go
//	RFC 6749 §3.2, OIDC Core §3.1.3       token endpoint: grant dispatch endpoint_token.go
//	RFC 6749 §2.3, OIDC Core §9           client authentication          endpoint_token.go (tokenEndpointClient), clientauth.go
//	RFC 7523 §2.2, §3                     client assertions (*_jwt)      clientassertion.go, records_replay_detection.go
//	RFC 9126                              pushed authorization requests  endpoint_par.go
//	RFC 8628 §3.1–3.3                     device authorization endpoint  endpoint_device_authorization.go
//	RFC 8628 §3.3, §5.4                   device verification page       page_device.go
//	RFC 7662                              token introspection            endpoint_introspection.go, tokenlookup.go
//	RFC 7009                              token revocation               endpoint_revocation.go
//	OIDC Core §5.3, RFC 6750 §2.1, §3     userinfo                       endpoint_userinfo.go
//	OIDC Discovery 1.0 §3, §4             provider metadata              endpoint_discovery.go
//	RFC 7517                              the JWK set                    endpoint_jwks.go
//	RFC 7591, OIDC Registration 1.0       dynamic client registration    endpoint_registration.go, registration_limits.go
//	RFC 7592                              client configuration endpoint  endpoint_client_configuration.go
//	OIDC RP-Initiated Logout 1.0          end_session endpoint           endpoint_end_session.go
//	OIDC Back-Channel Logout 1.0 §2.4–2.6 logout tokens to clients       backchannel_logout.go
//	RFC 7636, RFC 6750 §2.1, §3           oidc_protect's gate: internal  gate.go, gate_policy.go
//	                                      client, sessions, bearer, rules
//	OIDC Core §3.1.2.1 max_age, RFC 9470  rules' max_age: re-login,      gate_policy.go, gate.go
//	                                      step-up challenge
//
// Grants (the token endpoint's grant_type):
//
//	RFC 6749 §4.1.3, OIDC Core §3.1.3     authorization_code             grant_authorization_code.go
//	RFC 7636 §4.6                         PKCE verification              grant_authorization_code.go (verifyS256), authrequest.go (challenge)
//	RFC 6749 §6, RFC 9700 §4.14.2         refresh_token, rotation, reuse grant_refresh_token.go, refresh_successor.go
//	RFC 6749 §4.4                         client_credentials             grant_client_credentials.go
//	RFC 8628 §3.4, §3.5                   device_code                    grant_device_code.go
//
// Token issuance (one place for every grant):
//
//	RFC 6749 §5.1                         the token response             token_issuance.go (issueTokens)
//	RFC 9068                              JWT access tokens              token_issuance.go (mintAccessToken)
//	RFC 8707                              resource indicators            token_issuance.go (resolveResource)
//	OIDC Core §2, §3.1.3.6, §12.2         the ID token                   idtoken.go (signIDToken)
//	OIDC Core §5.4, §11                   scope claims, offline_access   scope.go, token_issuance.go (wantsRefreshToken)
//
// Pages and the interaction (login and consent between an authorization
// request and its answer):
//
//	OIDC Core §3.1.2.3, §3.1.2.4          interaction flow               interaction.go
//	                                      login page                     page_login.go, throttle.go, password_hash.go
//	RFC 6238, RFC 4226                    second factor (TOTP) page      page_second_factor.go, totp.go, records_replay_detection.go
//	OIDC Core §2 acr/amr, §3.1.2.1        levels: acr_values, step-up    acr.go, endpoint_authorize.go (resolve)
//	acr_values, RFC 8176
//	OIDC Core §3.1.2.4                    consent page                   page_consent.go, consent_requester.go
//	                                      error pages, texts, branding   errorpage.go, pagetext.go, branding.go, pages.go
//
// State and storage: Store (storage.go) is the backend contract; on top of
// it every record kind has one typed store that owns its codec, its expiry
// check and its lifecycle events (*.saved, *.consumed, *.destroyed,
// grant.revoked); nothing else calls Store or emits those events:
//
//	plumbing shared by the stores         records.go, codec.go
//	authorization codes                   records_authorization_code.go (codeStore)
//	access tokens, revoked JWT markers    records_access_token.go (accessTokenStore, revokedJTIStore)
//	refresh tokens                        records_refresh_token.go (refreshTokenStore)
//	grants (consents), their revocation   records_grant.go (grantStore)
//	sessions                              records_session.go (sessionStore), state.go (cookies)
//	interactions                          records_interaction.go (interactionStore)
//	device codes                          records_device_code.go (deviceCodeStore)
//	pushed authorization requests         records_pushed_authorization_request.go (parStore)
//	registered clients, their count       records_client.go (clientRecordStore, clientCountStore)
//	initial, registration access tokens   records_registration_tokens.go
//	client assertion jti (RFC 7523 §3)    records_replay_detection.go (replayStore)
//	login throttle counters (shared store) throttle_shared.go (sharedThrottle)
//	gate sessions (oidc_protect cookies)  records_gate_session.go (gateSessionStore)
//	clients                               client.go, client_metadata.go, clients_dynamic.go
//
// Events: every catalogued event (event_names.go) has one emission point,
// TestEventEmissionPoints checks it. An endpoint's outcome events are emitted
// by one function of the endpoint (the authorization request's by
// authorizationAccepted, authorizationSucceeded and authorizationFailed in
// endpoint_authorize.go, whichever page it ends on); server_error by
// serverError (respond.go).
//
// Cross-cutting:
//
//	RFC 6749 §3.1, §3.2, §5.2             parameters, errors, responses  params.go, body.go, errors.go, respond.go
//	RFC 9700                              security BCP: see the § comments in each file (§4.8.2 PKCE downgrade in
//	                                      grant_authorization_code.go, §4.11.2 open redirects in endpoint_authorize.go,
//	                                      §4.14.2 refresh reuse in grant_refresh_token.go)
//	events                                event_names.go (catalogue), events.go (sinks)
//	outbound HTTP (client JWKS, logout)   outbound.go, outbound_allow.go
package provider

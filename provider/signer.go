package provider

// Signer signs the provider's JWTs (ID tokens, later JWT access tokens) with
// the active key and publishes the public key set. internal/jose implements it
// with jwx; keep JOSE details out of the protocol code.
type Signer interface {
	// SignJWT returns a compact JWS over the JSON of claims, with the active
	// key's kid and alg in the header and typ set when non-empty.
	SignJWT(claims map[string]any, typ string) (string, error)
	// SignJWTWithAlg is SignJWT with the key of the given alg (one of
	// Algorithms), for clients that registered an ID token signing alg
	// (OIDC Registration §2 id_token_signed_response_alg); "" means the
	// active key. It fails when no key has that alg.
	SignJWTWithAlg(alg string, claims map[string]any, typ string) (string, error)
	// Algorithm is the JWS alg of the active key (RS256, ES256, EdDSA, ...).
	Algorithm() string
	// PublicJWKS is the JSON of the public JWK Set (RFC 7517 §5) with kid,
	// alg and use set on every key; every published key, active or not.
	PublicJWKS() []byte
	// Algorithms lists the algs of all published keys, for discovery.
	Algorithms() []string
	// VerifyJWT checks a compact JWS against the published keys and its typ
	// header (when typ is non-empty) and returns the claims. It checks no
	// claim: expiry and issuer are the caller's policy.
	VerifyJWT(token, typ string) (map[string]any, error)
}

// AssertionVerifier verifies JWTs that clients sign themselves: the client
// assertions of RFC 7523 / OIDC Core §9 (private_key_jwt and
// client_secret_jwt). internal/jose implements it. Without one, JWT client
// authentication is not offered.
type AssertionVerifier interface {
	// CheckClientJWKS validates a client's public JWK Set document.
	CheckClientJWKS(doc []byte) error
	// VerifyWithClientJWKS verifies a compact JWS against the client's keys
	// (asymmetric algorithms only) and returns its claims.
	VerifyWithClientJWKS(token string, jwks []byte) (map[string]any, error)
	// VerifyWithSecret verifies an HS256/384/512 compact JWS keyed by the
	// client secret and returns its claims.
	VerifyWithSecret(token string, secret []byte) (map[string]any, error)
}

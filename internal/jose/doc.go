// Package jose is the only place in oidcaddy that touches JOSE: signing keys,
// JWT signing and the public JWK Set. Keeping every jwx call behind this small
// API means the protocol code (package provider) depends only on the
// provider.Signer contract, a library upgrade or replacement touches one
// package, and the security-sensitive choices (which algorithms, which key
// sizes, what is published) are made and reviewed in one file set.
//
// It uses github.com/lestrrat-go/jwx/v3. The v2 line is deprecated and no
// longer maintained by its author, so it must not be used anywhere in the
// module; v3 is the maintained line of the same library.
//
// Signing uses the raw crypto.Signer, never a jwk.Key: jwx converts a jwk.Key
// back to a raw key on every signature, ~90 µs extra per RS256 token and
// ~25 µs per EdDSA token (over 60% of the EdDSA cost). A jwk.Key exists only
// while NewKeySet builds the public JWK Set, once. SignJWT also writes the
// compact serialization itself and takes only the signature from jwx
// (jwsbb.Sign, which jws.Sign calls underneath): jws.Sign's generic message
// machinery added ~80 allocations and 6-11 µs per token, 15% of an ES256 and
// 35% of an EdDSA token. jwsbb is marked experimental upstream; if an upgrade
// breaks it, falling back to jws.Sign with the raw signer is a few lines, and
// BenchmarkSignJWT measures all three ways.
//
// Algorithms are limited to RS256 (the default, because OpenID Connect
// requires relying parties to support it), PS256, ES256, ES384 and EdDSA with
// Ed25519. The provider never signs with HMAC: a provider-wide secret shared
// with every relying party cannot sign ID tokens. HMAC appears only in the
// verification of client_secret_jwt assertions (client.go), keyed by that one
// client's secret; Assertions adapts client.go to provider.AssertionVerifier.
package jose

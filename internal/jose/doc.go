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
// back to a raw key on every signature, which costs ~15% on top of an RS256
// signature and ~70% on top of an Ed25519 one. A jwk.Key exists only while
// NewKeySet builds the public JWK Set, once. SignJWT also writes the compact
// serialization itself and takes only the signature from jwx (jwsbb.Sign,
// which jws.Sign calls underneath), because jws.Sign's generic message
// machinery added a further 25-30% to ES256 and EdDSA tokens. jwsbb is marked
// experimental upstream; if an upgrade breaks it, falling back to jws.Sign
// with the raw signer is a few lines and BenchmarkSignJWT measures all three.
//
// Algorithms are limited to RS256 (the default, because OpenID Connect
// requires relying parties to support it), PS256, ES256, ES384 and EdDSA with
// Ed25519. HMAC algorithms are deliberately absent: a provider-wide secret
// shared with every relying party cannot sign ID tokens.
package jose

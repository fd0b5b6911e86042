package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// seal encrypts a secret the provider must be able to read back (the HMAC
// key of a client_secret_jwt client) with AES-256-GCM under Config.SecretKey.
// The client id is bound as associated data, so a sealed secret copied onto
// another client's record does not open.
func (p *Provider) seal(plain []byte, clientID string) ([]byte, error) {
	aead, err := p.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, []byte(clientID)), nil
}

func (p *Provider) unseal(sealed []byte, clientID string) ([]byte, error) {
	aead, err := p.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errSealed
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(clientID))
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}

var errSealed = errors.New("a sealed client secret does not open (wrong or rotated secret key?)")

func (p *Provider) aead() (cipher.AEAD, error) {
	if len(p.cfg.SecretKey) != 32 {
		return nil, errors.New("no 32-byte secret key configured")
	}
	block, err := aes.NewCipher(p.cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

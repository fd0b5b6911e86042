package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// What the consent page says about who asks (issue 8 item 3):
//   - a client that registered itself (RFC 7591) is marked "registered by a
//     third party, not verified by <service>", with the host of its
//     client_uri as plain text: the address is only the registrant's claim,
//     so it is not made a link, and a non-ASCII host is shown in its
//     punycode form so that it cannot pose as a look-alike of a known one;
//   - in the device flow the page says that a device asks, shows the user
//     code to compare with the device's screen, and warns to allow only a
//     code the user started (RFC 8628 §5.4, remote phishing: an attacker
//     sends a victim the verification_uri_complete of the attacker's own
//     device).
func (p *Provider) consentRequester(r *http.Request, in *interaction, client *Client, data map[string]any) {
	if client.dynamic {
		data["SelfRegistered"] = true
		if host := clientURIHost(client.ClientURI); host != "" {
			data["ClientHost"] = host
		}
	}
	if in.Request.DeviceCodeID != "" {
		data["Device"] = true
		if c, err := r.Cookie(p.interactionCookieName()); err == nil {
			if code := openUserCode(in.SealedUserCode, c.Value, in.UID); len(code) == 8 {
				data["UserCode"] = displayUserCode(code)
			}
		}
	}
}

// clientURIHost is the host (and port) of a registered client's client_uri
// as it should be shown, or "" when there is none worth showing.
func clientURIHost(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return ""
	}
	if strings.Contains(u.Hostname(), ":") { // an IPv6 literal: no name to convert
		return strings.ToLower(u.Host)
	}
	host, err := idna.Lookup.ToASCII(strings.ToLower(u.Hostname()))
	if err != nil {
		return ""
	}
	if port := u.Port(); port != "" {
		host += ":" + port
	}
	return host
}

// The user code is kept in the interaction only sealed, under a key derived
// from the interaction's browser-binding cookie, whose value the store never
// holds: like the device record (which holds only a hash of the code), a
// copy of the database shows no code that could approve a waiting device,
// while the browser that entered the code can still be shown it.

func userCodeAEAD(binding string) cipher.AEAD {
	key := sha256.Sum256([]byte("oidcaddy device user code\x00" + binding))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return aead
}

// sealUserCode encrypts code for the interaction uid bound by binding.
func sealUserCode(code, binding, uid string) []byte {
	if code == "" {
		return nil
	}
	aead := userCodeAEAD(binding)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(code), []byte(uid))
}

// openUserCode is the inverse of sealUserCode; "" when it does not open.
func openUserCode(sealed []byte, binding, uid string) string {
	aead := userCodeAEAD(binding)
	if len(sealed) < aead.NonceSize() {
		return ""
	}
	code, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(uid))
	if err != nil {
		return ""
	}
	return string(code)
}

package provider_test

import (
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/provider"
)

// BenchmarkAuthenticateKnownLogin and BenchmarkAuthenticateUnknownLogin
// read as a ratio: for a population of one hash setting the two should be
// about 1 (an unknown login used to be checked at bcrypt cost 10 against a
// cost-4 user: ~64x).
func benchmarkAuthenticate(b *testing.B, login string) {
	for name, hash := range map[string]func() string{
		"bcrypt4": func() string { h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4); return string(h) },
		"argon2id-default": func() string {
			h, _ := provider.HashPassword([]byte("pw"), provider.PasswordHashOptions{})
			return h
		},
	} {
		b.Run(name, func(b *testing.B) {
			s, err := provider.NewStaticAccounts(provider.User{Login: "alice", PasswordHash: hash()}, provider.User{Login: "bob", PasswordHash: hash()})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.Authenticate(b.Context(), login, "wrong")
			}
		})
	}
}

func BenchmarkAuthenticateKnownLogin(b *testing.B)   { benchmarkAuthenticate(b, "alice") }
func BenchmarkAuthenticateUnknownLogin(b *testing.B) { benchmarkAuthenticate(b, "mallory") }

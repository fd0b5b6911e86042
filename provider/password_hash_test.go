package provider_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/provider"
)

func authenticates(t *testing.T, hash, password string) bool {
	t.Helper()
	s, err := provider.NewStaticAccounts(provider.User{Login: "bob", PasswordHash: hash})
	if err != nil {
		t.Fatalf("hash refused: %v", err)
	}
	acc, err := s.Authenticate(t.Context(), "bob", password)
	if err != nil && !errors.Is(err, provider.ErrInvalidCredentials) {
		t.Fatalf("Authenticate: %v", err)
	}
	return acc != nil
}

// phc writes an argon2id PHC string the way `caddy hash-password` and the
// reference implementation do.
func phc(password string, salt []byte, m, tm uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey([]byte(password), salt, tm, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Users may have argon2id (PHC string) or bcrypt hashes; both verify.
func TestUsersAcceptArgon2idAndBcrypt(t *testing.T) {
	// In parallel: its cost is password hashing or key work, which can
	// overlap the tests that only wait.
	t.Parallel()
	made, err := provider.HashPassword([]byte("correct horse"), provider.PasswordHashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(made, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default hash %q: want argon2id with m=19 MiB, t=2, p=1", made[:strings.LastIndex(made, "$")])
	}
	fromOtherTool := phc("correct horse", []byte("0123456789abcdef"), 64, 3, 2, 32)
	b, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	bcrypt2y := "$2y$" + string(b)[4:]
	for name, h := range map[string]string{"HashPassword": made, "other tool's argon2id": fromOtherTool, "bcrypt $2a$": string(b), "bcrypt $2y$": bcrypt2y} {
		if !authenticates(t, h, "correct horse") {
			t.Errorf("%s: the right password is refused", name)
		}
		if authenticates(t, h, "correct horse ") {
			t.Errorf("%s: a wrong password is accepted", name)
		}
	}
}

// Hashes whose parameters would make each sign-in cost the server too much
// (or that are not argon2id or bcrypt) are refused when the users are
// loaded, with a message that names the problem and not the hash.
func TestUsersRefuseOutOfBoundsHashes(t *testing.T) {
	t.Parallel()
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	argon := func(version, params string) string {
		return "$argon2id$" + version + "$" + params + "$" + salt + "$" + key
	}
	cost4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	cases := map[string]struct{ hash, want string }{
		"plain text":             {"hunter2", "not a bcrypt"},
		"bcrypt cost 17":         {"$2a$17$" + string(cost4)[7:], "cost 17 is above the limit of 16"},
		"bcrypt broken":          {"$2a$10$short", "not a valid bcrypt hash"},
		"argon2i":                {"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key, "only the argon2id variant"},
		"version 16":             {argon("v=16", "m=64,t=1,p=1"), "version 19"},
		"memory 1 GiB":           {argon("v=19", "m=1048576,t=1,p=1"), "above the limits"},
		"memory below 8 KiB x p": {argon("v=19", "m=16,t=1,p=4"), "below 8 KiB per lane"},
		"65 passes":              {argon("v=19", "m=64,t=65,p=1"), "above the limits"},
		"no passes":              {argon("v=19", "m=64,t=0,p=1"), "positive whole numbers"},
		"32 lanes":               {argon("v=19", "m=1024,t=1,p=32"), "above the limits"},
		"parameters reordered":   {argon("v=19", "t=1,m=64,p=1"), "in that order"},
		"extra parameter":        {argon("v=19", "m=64,t=1,p=1,keyid=x"), "m=<KiB>,t=<n>,p=<n>"},
		"short salt":             {"$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("1234567")) + "$" + key, "salt must be 8 to 64 bytes"},
		"padded salt":            {"$argon2id$v=19$m=64,t=1,p=1$" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")) + "$" + key, "salt must be"},
		"short hash":             {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 8)), "hash must be 16 to 64 bytes"},
		"missing hash":           {"$argon2id$v=19$m=64,t=1,p=1$" + salt, "not an argon2id PHC string"},
	}
	for name, c := range cases {
		_, err := provider.NewStaticAccounts(provider.User{Login: "bob", PasswordHash: c.hash})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"bob"`) {
			t.Errorf("%s: error %v, want one about bob containing %q", name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key) || len(c.hash) > 8 && strings.Contains(err.Error(), c.hash[len(c.hash)-8:]) {
			t.Errorf("%s: the error shows the hash: %v", name, err)
		}
	}
}

func TestHashPasswordOptions(t *testing.T) {
	// In parallel: its cost is password hashing or key work, which can
	// overlap the tests that only wait.
	t.Parallel()
	h, err := provider.HashPassword([]byte("pw"), provider.PasswordHashOptions{Algorithm: provider.AlgorithmBcrypt})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(h)); c != provider.DefaultBcryptCost {
		t.Errorf("bcrypt default cost %d, want %d", c, provider.DefaultBcryptCost)
	}
	h, err = provider.HashPassword([]byte("pw"), provider.PasswordHashOptions{Argon2idMemoryKiB: 128, Argon2idTime: 3, Argon2idThreads: 2})
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=3,p=2$") {
		t.Errorf("argon2id with chosen parameters: %q, %v", h, err)
	}
	for name, o := range map[string]provider.PasswordHashOptions{
		"bcrypt cost 3":    {Algorithm: provider.AlgorithmBcrypt, BcryptCost: 3},
		"bcrypt cost 17":   {Algorithm: provider.AlgorithmBcrypt, BcryptCost: 17},
		"argon2id 512 MiB": {Argon2idMemoryKiB: 512 * 1024},
		"argon2id t=11":    {Argon2idTime: 11},
		"scrypt":           {Algorithm: "scrypt"},
	} {
		if h, err := provider.HashPassword([]byte("pw"), o); err == nil {
			t.Errorf("%s: hashed (%q), want an error", name, h)
		}
	}
	if _, err := provider.HashPassword(nil, provider.PasswordHashOptions{}); err == nil {
		t.Error("an empty password was hashed")
	}
}

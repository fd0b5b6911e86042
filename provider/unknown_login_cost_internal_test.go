package provider

import (
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// argon2idForTest hashes with small parameters, to keep the tests fast.
func argon2idForTest(t *testing.T, password string, memoryKiB uint32, passes uint32) string {
	t.Helper()
	h, err := HashPassword([]byte(password), PasswordHashOptions{Argon2idMemoryKiB: memoryKiB, Argon2idTime: passes})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func bcryptForTest(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// An unknown login is checked against a hash with the same algorithm and
// parameters as the users' own, whatever they are (the old dummy had bcrypt
// cost max(10, highest user cost): a cost-4 user answered 30x faster than
// an unknown login).
func TestUnknownLoginIsCheckedWithTheUsersParameters(t *testing.T) {
	t.Parallel()
	populations := map[string][]string{
		"bcrypt cost=4":                   {bcryptForTest(t, "pw1", 4), bcryptForTest(t, "pw2", 4)},
		"bcrypt cost=5":                   {bcryptForTest(t, "pw1", 5)},
		"argon2id m=64,t=1,p=1 keylen=32": {argon2idForTest(t, "pw1", 64, 1), argon2idForTest(t, "pw2", 64, 1)},
	}
	for want, hashes := range populations {
		var users []User
		for i, h := range hashes {
			users = append(users, User{Login: "user" + strconv.Itoa(i), PasswordHash: h})
		}
		s, err := NewStaticAccounts(users...)
		if err != nil {
			t.Fatal(err)
		}
		for _, login := range []string{"nobody", "mallory", "USER0x", ""} {
			if got := s.dummyFor(login).params(); got != want {
				t.Errorf("population %s: unknown login %q checked with %s", want, login, got)
			}
		}
		if _, err := s.Authenticate(t.Context(), "nobody", "pw1"); err != ErrInvalidCredentials {
			t.Errorf("population %s: unknown login: %v", want, err)
		}
	}
}

// With mixed parameters an unknown login is checked with the parameters of
// one of the users, always the same for the same login (any case), and over
// many unknown logins every user's parameters are used.
func TestUnknownLoginParametersFollowTheUserPopulation(t *testing.T) {
	t.Parallel()
	users := []User{
		{Login: "cheap", PasswordHash: bcryptForTest(t, "pw", 4)},
		{Login: "dear", PasswordHash: bcryptForTest(t, "pw", 5)},
		{Login: "memory", PasswordHash: argon2idForTest(t, "pw", 64, 1)},
	}
	s, err := NewStaticAccounts(users...)
	if err != nil {
		t.Fatal(err)
	}
	allowed := s.PasswordHashParameters()
	if len(allowed) != 3 {
		t.Fatalf("PasswordHashParameters = %v, want three sets of one user", allowed)
	}
	seen := map[string]int{}
	for i := range 300 {
		login := "unknown" + strconv.Itoa(i)
		p := s.dummyFor(login).params()
		if allowed[p] == 0 {
			t.Fatalf("unknown login %q checked with %s, which no user has", login, p)
		}
		if again := s.dummyFor("UnKnown" + strconv.Itoa(i)).params(); again != p {
			t.Fatalf("unknown login %q: %s, then %s in another case: the choice must be fixed per login", login, p, again)
		}
		seen[p]++
	}
	if len(seen) != 3 {
		t.Errorf("300 unknown logins used only %v: every user's parameters should take their share", seen)
	}
	// The choice survives a restart with the same users.
	s2, err := NewStaticAccounts(users...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		login := "unknown" + strconv.Itoa(i)
		if a, b := s.dummyFor(login).params(), s2.dummyFor(login).params(); a != b {
			t.Fatalf("unknown login %q: %s before a restart, %s after", login, a, b)
		}
	}
}

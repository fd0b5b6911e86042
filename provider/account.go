package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Account is an end-user known to the provider.
type Account struct {
	// Subject is the stable, never reassigned identifier (OIDC Core §2 "sub").
	Subject string
	// Claims are the user's standard and custom claims (name, email, ...),
	// released according to the granted scopes (OIDC Core §5.4).
	Claims map[string]any
	// SecondFactor is the user's TOTP key (RFC 6238), if they have one: a
	// login that must be multi-factor (acr "mfa", acr.go) asks for a code
	// after the password.
	SecondFactor TOTPKey
}

// ErrInvalidCredentials is returned by Authenticate for an unknown login or a
// wrong password; callers cannot and must not tell which.
var ErrInvalidCredentials = errors.New("invalid credentials")

// AccountStore authenticates and looks up end-users.
type AccountStore interface {
	// Authenticate checks a login name and password. Implementations must take
	// the same time whether or not the login exists.
	Authenticate(ctx context.Context, login, password string) (*Account, error)
	// Account returns the account for a subject, or ErrNotFound.
	Account(ctx context.Context, subject string) (*Account, error)
}

// User is one statically configured end-user.
type User struct {
	// Login is what the user types on the login page.
	Login string
	// Subject defaults to Login.
	Subject string
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$) or an argon2id PHC
	// string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); see password_hash.go
	// for the accepted parameters.
	PasswordHash string
	Claims       map[string]any
	// Groups the user belongs to: the groups claim (a list), released with
	// the groups scope, and what oidc_protect's group rules test.
	Groups []string
	// TOTPSecret, base32 (ParseTOTPKey): the user's second factor. Empty:
	// the user signs in with a password only and cannot meet acr "mfa".
	TOTPSecret string
}

type staticAccount struct {
	account *Account
	hash    passwordHash
}

// StaticAccounts is an AccountStore of users fixed at configuration time.
type StaticAccounts struct {
	byLogin   map[string]*staticAccount
	bySubject map[string]*Account
	// dummies are checked when the login is unknown: one hash of a random
	// secret per distinct set of hash parameters among the users, in the
	// order of users sorted by login, so that an unknown login costs the
	// same work as a known one (see dummyFor).
	dummies []passwordHash
	// dummyKey keys the choice of a dummy per unknown login.
	dummyKey []byte
}

// NewStaticAccounts validates the users' hashes and indexes them.
func NewStaticAccounts(users ...User) (*StaticAccounts, error) {
	s := &StaticAccounts{byLogin: map[string]*staticAccount{}, bySubject: map[string]*Account{}}
	for _, u := range users {
		if u.Login == "" {
			return nil, fmt.Errorf("user: login name is required")
		}
		hash, err := parsePasswordHash(u.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("user %q: password_hash: %w", u.Login, err)
		}
		sub := u.Subject
		if sub == "" {
			sub = u.Login
		}
		key := strings.ToLower(u.Login)
		if _, dup := s.byLogin[key]; dup {
			return nil, fmt.Errorf("user %q defined twice", u.Login)
		}
		if _, dup := s.bySubject[sub]; dup {
			return nil, fmt.Errorf("user %q: subject %q already used", u.Login, sub)
		}
		claims := make(map[string]any, len(u.Claims))
		for k, v := range u.Claims {
			claims[k] = v
		}
		if len(u.Groups) > 0 {
			claims["groups"] = slices.Clone(u.Groups)
		}
		acc := &Account{Subject: sub, Claims: claims}
		if u.TOTPSecret != "" {
			if acc.SecondFactor, err = ParseTOTPKey(u.TOTPSecret); err != nil {
				return nil, fmt.Errorf("user %q: totp_secret: %w", u.Login, err)
			}
		}
		s.byLogin[key] = &staticAccount{account: acc, hash: hash}
		s.bySubject[sub] = acc
	}
	if err := s.makeDummies(); err != nil {
		return nil, err
	}
	return s, nil
}

// makeDummies prepares, for every user in login order, a dummy hash with the
// parameters of that user's hash (shared by users with equal parameters),
// and the key that picks one per unknown login.
//
// Why per login, and weighted by the users: an unknown login must not be
// told from a known one by its response time. With one set of parameters
// for every user (the case to aim for, and the one the load-time warning
// asks for) the dummy has exactly those parameters. With mixed parameters
// no single dummy fits: the highest cost (the old rule) makes every
// cheaper user stand out, the most common cost makes every minority user
// stand out. Instead an unknown login is checked against the parameters of
// one user picked by a keyed hash of the login, so the spread of times
// over unknown logins is the spread over the users, and a given login
// always takes the same time (a random pick per request would let an
// attacker spot unknown logins by their variance over retries). What is
// left is that someone who knows a user's cost can tell whether a login
// has that cost; hence the warning. The key is a digest of every stored
// hash (salts included), so it is secret, and stable across restarts while
// the users stay the same (a per-process random key would let an attacker
// see an unknown login's time change across a restart).
func (s *StaticAccounts) makeDummies() error {
	logins := slices.Sorted(maps.Keys(s.byLogin))
	byParams := map[string]passwordHash{}
	digest := sha256.New()
	for _, l := range logins {
		h := s.byLogin[l].hash
		digest.Write([]byte(h.params()))
		if a, ok := h.(argon2idHash); ok {
			digest.Write(a.salt)
			digest.Write(a.key)
		} else if b, ok := h.(bcryptHash); ok {
			digest.Write(b.hash)
		}
		d, ok := byParams[h.params()]
		if !ok {
			var err error
			if d, err = h.dummy(); err != nil {
				return err
			}
			byParams[h.params()] = d
		}
		s.dummies = append(s.dummies, d)
	}
	if len(s.dummies) == 0 {
		// No users: every login fails; it still costs a normal check.
		d, err := bcryptHash{cost: DefaultBcryptCost}.dummy()
		if err != nil {
			return err
		}
		s.dummies = []passwordHash{d}
	}
	s.dummyKey = digest.Sum(nil)
	return nil
}

// dummyFor is the hash an unknown login is checked against (makeDummies
// says why this one).
func (s *StaticAccounts) dummyFor(login string) passwordHash {
	mac := hmac.New(sha256.New, s.dummyKey)
	mac.Write([]byte(strings.ToLower(login)))
	n := binary.BigEndian.Uint64(mac.Sum(nil))
	return s.dummies[n%uint64(len(s.dummies))]
}

// PasswordHashParameters counts the users per set of hash parameters
// (algorithm and cost, e.g. "bcrypt cost=10"; never a hash). More than one
// entry means that sign-ins take different times for different users.
func (s *StaticAccounts) PasswordHashParameters() map[string]int {
	n := map[string]int{}
	for _, u := range s.byLogin {
		n[u.hash.params()]++
	}
	return n
}

// Authenticate implements AccountStore. Logins are case-insensitive.
func (s *StaticAccounts) Authenticate(_ context.Context, login, password string) (*Account, error) {
	u, ok := s.byLogin[strings.ToLower(login)]
	if !ok && len(s.dummies) == 0 {
		return nil, ErrInvalidCredentials // a zero StaticAccounts: no users
	}
	var hash passwordHash
	if ok {
		hash = u.hash
	} else {
		hash = s.dummyFor(login)
	}
	if !hash.matches([]byte(password)) || !ok {
		return nil, ErrInvalidCredentials
	}
	return u.account, nil
}

// Account implements AccountStore.
func (s *StaticAccounts) Account(_ context.Context, subject string) (*Account, error) {
	if a, ok := s.bySubject[subject]; ok {
		return a, nil
	}
	return nil, ErrNotFound
}

package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Account is an end-user known to the provider.
type Account struct {
	// Subject is the stable, never reassigned identifier (OIDC Core §2 "sub").
	Subject string
	// Claims are the user's standard and custom claims (name, email, ...),
	// released according to the granted scopes (OIDC Core §5.4).
	Claims map[string]any
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
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$).
	PasswordHash string
	Claims       map[string]any
}

type staticAccount struct {
	account *Account
	hash    []byte
}

// StaticAccounts is an AccountStore of users fixed at configuration time.
type StaticAccounts struct {
	byLogin   map[string]*staticAccount
	bySubject map[string]*Account
	// dummyHash is compared against when the login is unknown so that unknown
	// and known logins cost the same bcrypt work (no user enumeration by time).
	dummyHash []byte
}

// NewStaticAccounts validates the users' hashes and indexes them.
func NewStaticAccounts(users ...User) (*StaticAccounts, error) {
	s := &StaticAccounts{byLogin: map[string]*staticAccount{}, bySubject: map[string]*Account{}}
	maxCost := bcrypt.DefaultCost
	for _, u := range users {
		if u.Login == "" {
			return nil, fmt.Errorf("user: login name is required")
		}
		cost, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("user %q: password_hash is not a bcrypt hash", u.Login)
		}
		maxCost = max(maxCost, cost)
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
		acc := &Account{Subject: sub, Claims: claims}
		s.byLogin[key] = &staticAccount{account: acc, hash: []byte(u.PasswordHash)}
		s.bySubject[sub] = acc
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("oidcaddy timing equaliser"), maxCost)
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// Authenticate implements AccountStore. Logins are case-insensitive.
func (s *StaticAccounts) Authenticate(_ context.Context, login, password string) (*Account, error) {
	u, ok := s.byLogin[strings.ToLower(login)]
	hash := s.dummyHash
	if ok {
		hash = u.hash
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !ok || err != nil {
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

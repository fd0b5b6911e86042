package keyring

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// testSecret is a key-encryption secret for tests (44 random base64 chars).
const testSecret = "q3N0b1Vb8xQe4Jm2R7tYzK9pLw5HcA6dFgS1uE0iWvM="

// fakeClock lets a test walk through a rotation without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testSealer(t *testing.T, secret string) *Sealer {
	t.Helper()
	s, err := NewSealer([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testPolicy = Policy{RotateEvery: 30 * 24 * time.Hour, PublishBefore: 24 * time.Hour, Retain: 2 * time.Hour}

func newTestKeyring(t *testing.T, store provider.Store, clock *fakeClock, alg string, notify func(Notice)) *Keyring {
	t.Helper()
	k, err := New(context.Background(), Options{
		Store:  store,
		Sealer: testSealer(t, testSecret),
		Slots:  []Slot{{Alg: alg}},
		Policy: testPolicy,
		Now:    clock.Now,
		Notify: notify,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

func publishedKIDs(t *testing.T, k *Keyring) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(k.PublicJWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, key := range set.Keys {
		if key.D != "" {
			t.Fatal("the JWKS carries a private key")
		}
		kids = append(kids, key.KID)
	}
	slices.Sort(kids)
	return kids
}

func sign(t *testing.T, k *Keyring) string {
	t.Helper()
	tok, err := k.SignJWT(map[string]any{"sub": "s"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func storedRingOf(t *testing.T, store provider.Store, alg string) storedRing {
	t.Helper()
	rec, err := store.Get(context.Background(), provider.KindSigningKey, alg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeRing(rec.Payload, alg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTwoKeyringsOnOneStoreAgreeOnTheSigningKey(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	a := newTestKeyring(t, store, clock, jose.ES256, nil)
	b := newTestKeyring(t, store, clock, jose.ES256, nil)
	if a.SigningKID() == "" || a.SigningKID() != b.SigningKID() {
		t.Fatalf("signing kids differ: %q and %q", a.SigningKID(), b.SigningKID())
	}
	if !bytes.Equal(a.PublicJWKS(), b.PublicJWKS()) {
		t.Fatal("the two instances publish different key sets")
	}
	if _, err := b.VerifyJWT(sign(t, a), "JWT"); err != nil {
		t.Fatalf("a token of one instance does not verify on the other: %v", err)
	}
}

// rendezvousStore holds the first n reads until all n have arrived, so
// that n starting instances all find no key and all try to create one.
type rendezvousStore struct {
	provider.Store
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (r *rendezvousStore) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	rec, err := r.Store.Get(ctx, kind, id)
	if n := r.arrived.Add(1); n <= r.n {
		if n == r.n {
			close(r.all)
		}
		select {
		case <-r.all:
		case <-time.After(10 * time.Second):
		}
	}
	return rec, err
}

func TestConcurrentStartsCreateExactlyOneKey(t *testing.T) {
	const instances = 8
	store := &rendezvousStore{Store: memstore.New(), n: instances, all: make(chan struct{})}
	clock := newFakeClock()
	var created atomic.Int32
	notify := func(n Notice) {
		if n.Event == NoticeCreated {
			created.Add(1)
		}
	}
	kids := make([]string, instances)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k, err := New(context.Background(), Options{
				Store: store, Sealer: testSealer(t, testSecret), Slots: []Slot{{Alg: jose.EdDSA}},
				Policy: testPolicy, Now: clock.Now, Notify: notify,
			})
			if err != nil {
				t.Error(err)
				return
			}
			defer k.Close()
			kids[i] = k.SigningKID()
		}()
	}
	close(start)
	wg.Wait()
	for _, kid := range kids[1:] {
		if kid != kids[0] {
			t.Fatalf("instances sign with different keys: %q", kids)
		}
	}
	if n := created.Load(); n != 1 {
		t.Fatalf("%d instances report creating the key, want exactly 1", n)
	}
	if r := storedRingOf(t, store, jose.EdDSA); len(r.Keys) != 1 || r.Keys[0].KID != kids[0] {
		t.Fatalf("stored ring: %+v", r.Keys)
	}
}

// TestRotationTimeline walks one rotation: the successor is published
// PublishBefore ahead of signing, takes over at its stored time on every
// instance (without a reload), and its predecessor stays published and
// verifiable for Retain, then disappears from the JWKS and the store.
func TestRotationTimeline(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	t0 := clock.Now()
	var notices []Notice
	a := newTestKeyring(t, store, clock, jose.ES256, func(n Notice) { notices = append(notices, n) })
	b := newTestKeyring(t, store, clock, jose.ES256, nil)
	k1 := a.SigningKID()
	ctx := context.Background()
	reloadBoth := func() {
		t.Helper()
		for _, k := range []*Keyring{a, b} {
			if err := k.Reload(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Just before the successor is due: nothing new.
	clock.Set(t0.Add(testPolicy.RotateEvery - testPolicy.PublishBefore - time.Second))
	reloadBoth()
	if got := publishedKIDs(t, a); !slices.Equal(got, []string{k1}) {
		t.Fatalf("before the successor is due, JWKS = %q", got)
	}

	// Due: one successor, published on both instances but not signing.
	clock.Set(t0.Add(testPolicy.RotateEvery - testPolicy.PublishBefore))
	reloadBoth()
	ring := storedRingOf(t, store, jose.ES256)
	if len(ring.Keys) != 2 {
		t.Fatalf("stored ring has %d keys, want the key and one successor", len(ring.Keys))
	}
	k2 := ring.Keys[1].KID
	if want := t0.Add(testPolicy.RotateEvery); !ring.Keys[1].ActivateAt.Equal(want) {
		t.Fatalf("successor activates at %s, want %s", ring.Keys[1].ActivateAt, want)
	}
	want := []string{k1, k2}
	slices.Sort(want)
	for name, k := range map[string]*Keyring{"a": a, "b": b} {
		if got := publishedKIDs(t, k); !slices.Equal(got, want) {
			t.Fatalf("%s: JWKS = %q, want both keys", name, got)
		}
		if k.SigningKID() != k1 {
			t.Fatalf("%s: the successor signs before its time", name)
		}
	}

	// One second before the switch: still the first key.
	clock.Set(t0.Add(testPolicy.RotateEvery - time.Second))
	oldToken := sign(t, a)
	if a.SigningKID() != k1 || b.SigningKID() != k1 {
		t.Fatal("switched early")
	}

	// The switch, from the stored time alone: no reload in between.
	clock.Set(t0.Add(testPolicy.RotateEvery))
	if a.SigningKID() != k2 || b.SigningKID() != k2 {
		t.Fatalf("at the activation time instances sign with %q and %q, want %q", a.SigningKID(), b.SigningKID(), k2)
	}
	newToken := sign(t, b)
	if _, err := a.VerifyJWT(newToken, "JWT"); err != nil {
		t.Fatalf("a token of the new key does not verify: %v", err)
	}

	// The old key's tokens verify until Retain after the switch.
	clock.Set(t0.Add(testPolicy.RotateEvery + testPolicy.Retain - time.Second))
	reloadBoth()
	if _, err := b.VerifyJWT(oldToken, "JWT"); err != nil {
		t.Fatalf("a token of the previous key stops verifying before Retain: %v", err)
	}
	if got := publishedKIDs(t, a); !slices.Equal(got, want) {
		t.Fatalf("the previous key left the JWKS early: %q", got)
	}

	// Retain has passed: unpublished everywhere, refused, gone from the store.
	clock.Set(t0.Add(testPolicy.RotateEvery + testPolicy.Retain))
	for name, k := range map[string]*Keyring{"a": a, "b": b} {
		if got := publishedKIDs(t, k); !slices.Equal(got, []string{k2}) {
			t.Fatalf("%s: after Retain JWKS = %q, want only the new key", name, got)
		}
		if _, err := k.VerifyJWT(oldToken, "JWT"); err == nil {
			t.Fatalf("%s: a token of the retired key still verifies", name)
		}
	}
	reloadBoth()
	if ring := storedRingOf(t, store, jose.ES256); len(ring.Keys) != 1 || ring.Keys[0].KID != k2 {
		t.Fatalf("the retired key stays in the store: %+v", ring.Keys)
	}

	var events []string
	for _, n := range notices {
		events = append(events, n.Event+" "+n.KID)
	}
	wantEvents := []string{NoticeCreated + " " + k1, NoticeCreated + " " + k2, NoticeSigning + " " + k2, NoticeRetired + " " + k1}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("notices = %q, want %q", events, wantEvents)
	}
}

// After every instance was down past the rotation time, the successor is
// still published PublishBefore before it signs.
func TestRotationAfterDowntimePublishesFirst(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	t0 := clock.Now()
	first := newTestKeyring(t, store, clock, jose.EdDSA, nil)
	k1 := first.SigningKID()
	first.Close()

	restart := t0.Add(3 * testPolicy.RotateEvery)
	clock.Set(restart)
	k := newTestKeyring(t, store, clock, jose.EdDSA, nil)
	if k.SigningKID() != k1 {
		t.Fatal("a successor created at start signs at once")
	}
	if n := len(publishedKIDs(t, k)); n != 2 {
		t.Fatalf("JWKS has %d keys, want the old key and its successor", n)
	}
	clock.Set(restart.Add(testPolicy.PublishBefore - time.Second))
	if k.SigningKID() != k1 {
		t.Fatal("the successor signs before it was published PublishBefore")
	}
	clock.Set(restart.Add(testPolicy.PublishBefore))
	if k.SigningKID() == k1 {
		t.Fatal("the successor does not take over after PublishBefore")
	}
}

func TestNoRotationWhenOff(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	k, err := New(context.Background(), Options{
		Store: store, Sealer: testSealer(t, testSecret), Slots: []Slot{{Alg: jose.EdDSA}},
		Policy: Policy{Retain: time.Hour}, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k1 := k.SigningKID()
	clock.Set(clock.Now().Add(10 * 365 * 24 * time.Hour))
	if err := k.Reload(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if k.SigningKID() != k1 || len(storedRingOf(t, store, jose.EdDSA).Keys) != 1 {
		t.Fatal("a key was rotated with rotation off")
	}
}

// countingStore counts reads, to prove re-reads are rate-limited.
type countingStore struct {
	provider.Store
	gets atomic.Int32
}

func (c *countingStore) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, kind, id)
}

// A key made by another instance is picked up as soon as a token names it,
// without waiting for the periodic re-read; tokens with made-up kids cause
// at most one re-read per MinReloadGap.
func TestUnknownKIDReloadsRateLimited(t *testing.T) {
	mem, clock := memstore.New(), newFakeClock()
	store := &countingStore{Store: mem}
	t0 := clock.Now()
	a := newTestKeyring(t, store, clock, jose.EdDSA, nil)
	b := newTestKeyring(t, store, clock, jose.EdDSA, nil)

	// a alone learns of the successor; b misses every periodic re-read.
	clock.Set(t0.Add(testPolicy.RotateEvery - testPolicy.PublishBefore))
	if err := a.Reload(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(testPolicy.RotateEvery))
	tok := sign(t, a)
	if a.SigningKID() == b.SigningKID() {
		t.Fatal("test setup: b should not know the successor yet")
	}
	if _, err := b.VerifyJWT(tok, "JWT"); err != nil {
		t.Fatalf("b does not pick up the new key on an unknown kid: %v", err)
	}
	if a.SigningKID() != b.SigningKID() {
		t.Fatal("after the re-read b still signs with the old key")
	}

	forged := forgeToken(t, "no-such-kid")
	clock.Set(clock.Now().Add(time.Hour))
	before := store.gets.Load()
	for range 50 {
		if _, err := b.VerifyJWT(forged, "JWT"); err == nil {
			t.Fatal("a token of an unknown key verified")
		}
	}
	if n := store.gets.Load() - before; n != 1 {
		t.Fatalf("50 tokens with an unknown kid caused %d store reads, want 1", n)
	}
	clock.Set(clock.Now().Add(defaultMinReloadGap))
	b.VerifyJWT(forged, "JWT")
	if n := store.gets.Load() - before; n != 2 {
		t.Fatalf("after MinReloadGap: %d store reads, want 2", n)
	}
}

func forgeToken(t *testing.T, kid string) string {
	t.Helper()
	key, err := jose.GenerateKey(jose.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	key.KID = kid
	ks, err := jose.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ks.SignJWT(map[string]any{"sub": "x"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The store holds the private keys and the shared secret only sealed:
// neither the DER, nor the PEM, nor their usual encodings appear in it.
func TestStoredMaterialIsSealed(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	k := newTestKeyring(t, store, clock, jose.ES256, nil)
	key := k.unsealed[k.SigningKID()]
	der, err := x509.MarshalPKCS8PrivateKey(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := jose.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Get(context.Background(), provider.KindSigningKey, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	// The ring is JSON, so []byte fields are base64: search the decoded
	// sealed bytes too.
	ring := storedRingOf(t, store, jose.ES256)
	haystacks := [][]byte{rec.Payload, ring.Keys[0].Sealed}
	privateScalar := key.Signer.(interface{ Bytes() ([]byte, error) })
	scalar, err := privateScalar.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{
		"PEM":                   pem,
		"PEM header":            []byte("PRIVATE KEY"),
		"DER":                   der,
		"DER, base64":           []byte(base64.StdEncoding.EncodeToString(der)),
		"private scalar":        scalar,
		"private scalar base64": []byte(base64.StdEncoding.EncodeToString(scalar)),
		"private scalar b64url": []byte(base64.RawURLEncoding.EncodeToString(scalar)),
	}
	for _, h := range haystacks {
		for name, n := range needles {
			if bytes.Contains(h, n) {
				t.Errorf("the stored signing key contains the %s", name)
			}
		}
	}

	secret, _, err := SharedSecret(context.Background(), store, testSealer(t, testSecret), SecretKeyName, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	srec, err := store.Get(context.Background(), provider.KindProviderSecret, SecretKeyName)
	if err != nil {
		t.Fatal(err)
	}
	var s storedSecret
	if err := json.Unmarshal(srec.Payload, &s); err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]byte{srec.Payload, s.Sealed} {
		for _, n := range [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret))} {
			if bytes.Contains(h, n) {
				t.Error("the stored secret key is in the clear")
			}
		}
	}
}

// A key ring or secret read with another key-encryption secret fails with
// a message that says so, and neither secret appears in it.
func TestWrongSecretFailsClearly(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	newTestKeyring(t, store, clock, jose.EdDSA, nil)
	if _, _, err := SharedSecret(context.Background(), store, testSealer(t, testSecret), SecretKeyName, 32, nil); err != nil {
		t.Fatal(err)
	}
	const otherSecret = "Zx8vN2mQ4pR6tL1kJ9hG3fD5sA7wE0yUiOoPbCn="
	_, kerr := New(context.Background(), Options{
		Store: store, Sealer: testSealer(t, otherSecret), Slots: []Slot{{Alg: jose.EdDSA}},
		Policy: testPolicy, Now: clock.Now,
	})
	_, _, serr := SharedSecret(context.Background(), store, testSealer(t, otherSecret), SecretKeyName, 32, nil)
	for name, err := range map[string]error{"signing key": kerr, "secret key": serr} {
		if err == nil {
			t.Fatalf("%s opened with the wrong secret", name)
		}
		if !errors.Is(err, ErrWrongSecret) || !strings.Contains(err.Error(), "key-encryption secret") {
			t.Errorf("%s: unclear error: %v", name, err)
		}
		for _, s := range []string{testSecret, otherSecret} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error quotes a secret", name)
			}
		}
	}
	// Nothing was overwritten: the right secret still opens everything.
	newTestKeyring(t, store, clock, jose.EdDSA, nil)
}

func TestSecretRules(t *testing.T) {
	for name, secret := range map[string]string{
		"empty":           "",
		"short":           "0123456789abcdef0123456789abcde", // 31 bytes
		"not random":      strings.Repeat("ab", 32),
		"one repeated":    strings.Repeat("x", 64),
		"short, distinct": "Zx8vN2mQ4pR6tL1k",
	} {
		_, err := NewSealer([]byte(secret))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the secret", name)
		}
	}
	for _, ok := range []string{testSecret, "8f1c0e6a9b2d47f3a5c8e1b0d9f2a6c4"} { // base64 of 32 bytes; hex of 16
		if _, err := NewSealer([]byte(ok)); err != nil {
			t.Errorf("a random secret is refused: %v", err)
		}
	}
}

func TestSharedSecretCreatedOnce(t *testing.T) {
	const n = 8
	store := &rendezvousStore{Store: memstore.New(), n: n, all: make(chan struct{})}
	secrets := make([][]byte, n)
	var created atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, c, err := SharedSecret(context.Background(), store, testSealer(t, testSecret), SecretKeyName, 32, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			secrets[i] = s
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d callers created the secret, want 1", created.Load())
	}
	for _, s := range secrets[1:] {
		if !bytes.Equal(s, secrets[0]) || len(s) != 32 {
			t.Fatal("callers got different secrets")
		}
	}
}

// An operator's key (a PEM file) is used as given, first, and never
// rotated; a generated key of another alg rotates beside it.
func TestStaticKeyBesideGeneratedKey(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	static, err := jose.GenerateKey(jose.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(context.Background(), Options{
		Store: store, Sealer: testSealer(t, testSecret),
		Slots:  []Slot{{Alg: jose.EdDSA, Static: static}, {Alg: jose.ES256}},
		Policy: testPolicy, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Algorithm() != jose.EdDSA || k.SigningKID() != static.KID {
		t.Fatalf("the operator's key is not the active key: %s %s", k.Algorithm(), k.SigningKID())
	}
	if _, err := store.Get(context.Background(), provider.KindSigningKey, jose.EdDSA); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("the operator's key was written to the store: %v", err)
	}
	clock.Set(clock.Now().Add(3 * testPolicy.RotateEvery))
	if err := k.Reload(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(testPolicy.PublishBefore))
	if k.SigningKID() != static.KID {
		t.Fatal("the operator's key was rotated")
	}
	if got := len(storedRingOf(t, store, jose.ES256).Keys); got != 2 {
		t.Fatalf("the generated key's ring has %d keys, want a successor", got)
	}
	if _, err := k.SignJWTWithAlg(jose.ES256, map[string]any{"a": 1}, ""); err != nil {
		t.Fatal(err)
	}
}

// failingStore refuses every read after fail is set.
type failingStore struct {
	provider.Store
	fail atomic.Bool
}

func (f *failingStore) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	if f.fail.Load() {
		return provider.Record{}, provider.ErrUnavailable
	}
	return f.Store.Get(ctx, kind, id)
}

// A store that is down does not stop signing: the keys in memory stay in
// use and the failure is reported.
func TestStoreDownKeepsSigning(t *testing.T) {
	store, clock := &failingStore{Store: memstore.New()}, newFakeClock()
	var failures atomic.Int32
	k := newTestKeyring(t, store, clock, jose.EdDSA, func(n Notice) {
		if n.Event == NoticeReloadFailed {
			failures.Add(1)
		}
	})
	kid := k.SigningKID()
	store.fail.Store(true)
	if err := k.Reload(context.Background(), true); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("reload with the store down: %v", err)
	}
	if k.SigningKID() != kid {
		t.Fatal("the signing key changed")
	}
	if _, err := k.VerifyJWT(sign(t, k), "JWT"); err != nil {
		t.Fatal(err)
	}
	k.VerifyJWT(forgeToken(t, "unknown"), "JWT")
	if failures.Load() != 1 {
		t.Fatalf("failed re-read on an unknown kid reported %d times, want 1", failures.Load())
	}
}

// A key an instance signed with before (its key file) becomes the first key
// of the ring, so its tokens keep verifying; once the store has a ring, a
// key to adopt is ignored.
func TestAdoptExistingKeyOnFirstUse(t *testing.T) {
	store, clock := memstore.New(), newFakeClock()
	old, err := jose.GenerateKey(jose.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	opts := Options{
		Store: store, Sealer: testSealer(t, testSecret), Slots: []Slot{{Alg: jose.EdDSA}},
		Policy: testPolicy, Now: clock.Now, Adopt: map[string]*jose.Key{jose.EdDSA: old},
		Notify: func(n Notice) { events = append(events, n.Event) },
	}
	k, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	if k.SigningKID() != old.KID || !slices.Equal(events, []string{NoticeAdopted}) {
		t.Fatalf("the existing key was not adopted: signing %s, notices %q", k.SigningKID(), events)
	}
	other, err := jose.GenerateKey(jose.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	opts.Adopt = map[string]*jose.Key{jose.EdDSA: other}
	k2, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	if k2.SigningKID() != old.KID {
		t.Fatal("a second key to adopt replaced the stored one")
	}

	fileSecret := bytes.Repeat([]byte{7}, 32)
	got, created, err := SharedSecret(context.Background(), store, testSealer(t, testSecret), SecretKeyName, 32, fileSecret)
	if err != nil || !created || !bytes.Equal(got, fileSecret) {
		t.Fatalf("the existing secret key was not adopted: created %v, err %v", created, err)
	}
	got, _, err = SharedSecret(context.Background(), store, testSealer(t, testSecret), SecretKeyName, 32, bytes.Repeat([]byte{9}, 32))
	if err != nil || !bytes.Equal(got, fileSecret) {
		t.Fatalf("a second secret to adopt replaced the stored one: %v", err)
	}
}

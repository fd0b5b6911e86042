// Package keyring keeps the provider's signing keys in its Store, so that
// every instance on a shared database signs and verifies with the same keys,
// and rotates the keys it generates on a schedule all instances agree on.
//
// Each algorithm's generated keys form one signing_key record (a "ring"):
// created once (Store.Create, so of several instances starting at once
// exactly one key is made), then extended with a successor that is
// published PublishBefore ahead of signing, and trimmed of keys retired
// Retain after their successor took over. Private keys are sealed with
// AES-256-GCM under a key derived from the operator's key-encryption secret
// (see Sealer); the store never holds them in the clear.
//
// Instances re-read the store every ReloadEvery, and at once (rate-limited)
// when a token names a kid they do not know, so a key another instance
// created is picked up long before it signs.
package keyring

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

var _ provider.Signer = (*Keyring)(nil)

// Slot is one signing key of the configuration: generated and kept in the
// store (Static nil), or an operator's key (from a PEM file), which is used
// as it is and never rotated. The first slot's key is the active one.
type Slot struct {
	Alg    string
	Static *jose.Key
}

// Options configure a Keyring.
type Options struct {
	Store  provider.Store
	Sealer *Sealer
	Slots  []Slot
	Policy Policy
	// Now is the clock; nil means time.Now. Tests walk through a rotation
	// with a fake one.
	Now func() time.Time
	// ReloadEvery is the period of the background re-read of the store
	// (Start). Default 1m.
	ReloadEvery time.Duration
	// MinReloadGap rate-limits the re-reads caused by unknown kids in
	// tokens to verify, which anyone can send. Default 10s.
	MinReloadGap time.Duration
	// Notify, when set, hears about key changes and failed re-reads, for
	// the operator's log. It must not block.
	Notify func(Notice)
	// Adopt, by alg, is a key to store as the first key of its ring when the
	// store has none, instead of a new one: the key an instance signed with
	// before its keys moved to the store, so its tokens stay valid.
	Adopt map[string]*jose.Key
}

// Notice says what happened to a key. It carries no key material.
type Notice struct {
	Event string // one of the Notice* constants
	Alg   string
	KID   string
	// At is when the event takes effect: for NoticeCreated, when the new
	// key starts signing.
	At  time.Time
	Err error // for NoticeReloadFailed
}

// Notice events.
const (
	NoticeCreated      = "created"       // this instance generated and stored a key
	NoticeAdopted      = "adopted"       // this instance stored an Adopt key as the first of its ring
	NoticeSigning      = "signing"       // a key became its algorithm's signing key
	NoticeRetired      = "retired"       // a key left the published set
	NoticeReloadFailed = "reload_failed" // re-reading the store failed; the keys in memory stay in use
)

const (
	defaultReloadEvery  = time.Minute
	defaultMinReloadGap = 10 * time.Second
	// storeTimeout bounds one re-read, so a hung database cannot pile up
	// verifications waiting for it.
	storeTimeout = 10 * time.Second
)

// Keyring implements provider.Signer over keys kept in the store.
type Keyring struct {
	opts Options

	// refreshMu serialises re-reads of the store.
	refreshMu sync.Mutex
	// mu guards rings, unsealed and closed, and the rebuilding of view.
	mu       sync.Mutex
	rings    map[string][]storedKey // by alg, generated slots only
	unsealed map[string]*jose.Key   // by kid
	closed   bool

	view atomic.Pointer[view]
	// lastKIDReload is the clock's time (UnixNano) of the last re-read
	// caused by an unknown kid.
	lastKIDReload atomic.Int64

	stop, done chan struct{}
	startOnce  sync.Once
	closeOnce  sync.Once
}

// view is the key set in force during [from, until); until zero means
// until the next re-read changes it.
type view struct {
	keys        *jose.KeySet
	kids        map[string]bool   // published
	signing     map[string]string // alg → kid
	from, until time.Time
}

// New loads the keys of every generated slot from the store, creating them
// (and successors that are due) as needed, and returns a ready key ring.
// It fails when the store cannot be read or the stored keys do not open
// with the sealer's secret. Call Start for the background re-reads and
// rotation, and Close when done.
func New(ctx context.Context, opts Options) (*Keyring, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReloadEvery <= 0 {
		opts.ReloadEvery = defaultReloadEvery
	}
	if opts.MinReloadGap <= 0 {
		opts.MinReloadGap = defaultMinReloadGap
	}
	k := &Keyring{
		opts:     opts,
		rings:    map[string][]storedKey{},
		unsealed: map[string]*jose.Key{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := k.reload(ctx, true); err != nil {
		return nil, err
	}
	return k, nil
}

func (o *Options) check() error {
	if len(o.Slots) == 0 {
		return errors.New("keyring: no signing key configured")
	}
	generated := map[string]bool{}
	for i, s := range o.Slots {
		if s.Static != nil {
			if s.Alg != "" && s.Alg != s.Static.Alg {
				return fmt.Errorf("keyring: signing key %d is %s, configured as %s", i+1, s.Static.Alg, s.Alg)
			}
			continue
		}
		if s.Alg == "" {
			return fmt.Errorf("keyring: signing key %d has no algorithm", i+1)
		}
		// One ring per algorithm: two generated slots of one alg would be
		// the same keys.
		if generated[s.Alg] {
			return fmt.Errorf("keyring: two generated %s signing keys; give one of them a key file", s.Alg)
		}
		generated[s.Alg] = true
	}
	if len(generated) > 0 {
		if o.Store == nil || o.Sealer == nil {
			return errors.New("keyring: generated keys need a store and a sealer")
		}
		p := o.Policy
		if p.RotateEvery < 0 || p.PublishBefore < 0 || p.Retain < 0 {
			return errors.New("keyring: rotation durations must not be negative")
		}
		if p.RotateEvery > 0 && p.PublishBefore >= p.RotateEvery {
			return fmt.Errorf("keyring: keys are published %s before they sign, which must be less than the rotation interval %s", p.PublishBefore, p.RotateEvery)
		}
	}
	return nil
}

// Start runs the periodic re-read (and rotation) until Close.
func (k *Keyring) Start() {
	k.startOnce.Do(func() {
		go func() {
			defer close(k.done)
			t := time.NewTicker(k.opts.ReloadEvery)
			defer t.Stop()
			for {
				select {
				case <-k.stop:
					return
				case <-t.C:
					ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
					err := k.reload(ctx, true)
					cancel()
					if err != nil && !errors.Is(err, errClosed) {
						k.notify(Notice{Event: NoticeReloadFailed, Err: err})
					}
				}
			}
		}()
	})
}

// Close stops the background work; the key ring goes on signing and
// verifying with the keys it holds but no longer reads the store, which
// the caller may close next.
func (k *Keyring) Close() {
	k.closeOnce.Do(func() {
		close(k.stop)
		started := true
		k.startOnce.Do(func() { started = false })
		if started {
			<-k.done
		}
		k.refreshMu.Lock()
		defer k.refreshMu.Unlock()
		k.mu.Lock()
		defer k.mu.Unlock()
		k.closed = true
	})
}

var errClosed = errors.New("keyring: closed")

// Reload re-reads the store now: what the background loop does every
// ReloadEvery. With write, it also creates missing keys and due
// successors and drops retired keys from the store.
func (k *Keyring) Reload(ctx context.Context, write bool) error { return k.reload(ctx, write) }

func (k *Keyring) reload(ctx context.Context, write bool) error {
	k.refreshMu.Lock()
	defer k.refreshMu.Unlock()
	if k.isClosed() {
		return errClosed
	}
	now := k.opts.Now()
	loaded := map[string][]storedKey{}
	var errs []error
	for _, s := range k.opts.Slots {
		if s.Static != nil {
			continue
		}
		keys, err := k.loadRing(ctx, s.Alg, write, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		loaded[s.Alg] = keys
	}
	// Unseal outside mu: it parses keys (RSA takes a while), and signing
	// must not wait for it.
	opened := map[string]*jose.Key{}
	for alg, keys := range loaded {
		for _, sk := range keys {
			if k.known(sk.KID) {
				continue
			}
			key, err := k.unseal(alg, sk)
			if err != nil {
				errs = append(errs, err)
				delete(loaded, alg)
				break
			}
			opened[sk.KID] = key
		}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	for kid, key := range opened {
		k.unsealed[kid] = key
	}
	for alg, keys := range loaded {
		k.rings[alg] = keys
	}
	// Forget private keys no ring holds any more.
	inUse := map[string]bool{}
	for _, keys := range k.rings {
		for _, sk := range keys {
			inUse[sk.KID] = true
		}
	}
	for kid := range k.unsealed {
		if !inUse[kid] {
			delete(k.unsealed, kid)
		}
	}
	for _, s := range k.opts.Slots {
		if s.Static == nil && len(k.rings[s.Alg]) == 0 {
			// Only possible on the first load: afterwards a failed
			// re-read keeps the previous ring.
			return errors.Join(errs...)
		}
	}
	if err := k.rebuildLocked(k.opts.Now()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (k *Keyring) known(kid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unsealed[kid] != nil
}

// errUnchanged aborts an Update that has nothing to write.
var errUnchanged = errors.New("keyring: ring unchanged")

// loadRing reads alg's ring, creating it when absent and, with write,
// adding a due successor and dropping retired keys.
func (k *Keyring) loadRing(ctx context.Context, alg string, write bool, now time.Time) ([]storedKey, error) {
	rec, err := k.opts.Store.Get(ctx, provider.KindSigningKey, alg)
	if errors.Is(err, provider.ErrNotFound) && write {
		rec, err = k.createRing(ctx, alg, now)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: reading the %s signing keys: %w", alg, err)
	}
	ring, err := decodeRing(rec.Payload, alg)
	if err != nil || !write {
		return ring.Keys, err
	}

	_, due := successorDue(ring.Keys, k.opts.Policy, now)
	if !due && len(unretired(ring.Keys, k.opts.Policy, now)) == len(ring.Keys) {
		return ring.Keys, nil
	}
	var successor *storedKey
	var successorKey *jose.Key
	if due {
		// Generated before the Update, whose function may run more than
		// once and must be quick; wasted if another instance wins.
		key, sk, err := k.newStoredKey(alg, nil, ring.Keys[len(ring.Keys)-1].Generation+1, now)
		if err != nil {
			return nil, err
		}
		successor, successorKey = &sk, key
	}
	var added *storedKey
	rec, err = k.opts.Store.Update(ctx, provider.KindSigningKey, alg, func(r *provider.Record) error {
		added = nil
		cur, err := decodeRing(r.Payload, alg)
		if err != nil {
			return err
		}
		keys := cur.Keys
		changed := false
		if at, due := successorDue(keys, k.opts.Policy, now); due && successor != nil && keys[len(keys)-1].Generation+1 == successor.Generation {
			sk := *successor
			sk.ActivateAt = at
			keys = append(keys[:len(keys):len(keys)], sk)
			added, changed = &sk, true
		}
		if kept := unretired(keys, k.opts.Policy, now); len(kept) != len(keys) {
			keys, changed = kept, true
		}
		if !changed {
			return errUnchanged
		}
		cur.Keys = keys
		payload, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		r.Payload = payload
		return nil
	})
	if errors.Is(err, errUnchanged) {
		// Another instance made the change first: use its ring.
		rec, err = k.opts.Store.Get(ctx, provider.KindSigningKey, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: updating the %s signing keys: %w", alg, err)
	}
	if added != nil {
		k.remember(successorKey)
		k.notify(Notice{Event: NoticeCreated, Alg: alg, KID: added.KID, At: added.ActivateAt})
	}
	ring, err = decodeRing(rec.Payload, alg)
	return ring.Keys, err
}

// createRing stores alg's first key, signing at once. Of several instances
// creating it at once, Create lets exactly one win; the others read the
// winner's ring.
func (k *Keyring) createRing(ctx context.Context, alg string, now time.Time) (provider.Record, error) {
	adopted := k.opts.Adopt[alg]
	key, sk, err := k.newStoredKey(alg, adopted, 1, now)
	if err != nil {
		return provider.Record{}, err
	}
	sk.ActivateAt = sk.CreatedAt
	payload, err := json.Marshal(storedRing{Version: 1, Alg: alg, Keys: []storedKey{sk}})
	if err != nil {
		return provider.Record{}, err
	}
	rec := provider.Record{Kind: provider.KindSigningKey, ID: alg, Payload: payload}
	switch err := k.opts.Store.Create(ctx, rec, true); {
	case err == nil:
		k.remember(key)
		event := NoticeCreated
		if adopted != nil {
			event = NoticeAdopted
		}
		k.notify(Notice{Event: event, Alg: alg, KID: sk.KID, At: sk.ActivateAt})
		return rec, nil
	case errors.Is(err, provider.ErrAlreadyExists):
		return k.opts.Store.Get(ctx, provider.KindSigningKey, alg)
	default:
		return provider.Record{}, err
	}
}

func (k *Keyring) remember(key *jose.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.unsealed[key.KID] = key
}

// newStoredKey seals key, or a new key when it is nil; ActivateAt is the
// caller's.
func (k *Keyring) newStoredKey(alg string, key *jose.Key, generation int, now time.Time) (*jose.Key, storedKey, error) {
	if key == nil {
		var err error
		if key, err = jose.GenerateKey(alg); err != nil {
			return nil, storedKey{}, err
		}
	} else if key.Alg != alg {
		return nil, storedKey{}, fmt.Errorf("keyring: the %s key to adopt is %s", alg, key.Alg)
	}
	pem, err := jose.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, storedKey{}, err
	}
	defer clear(pem)
	sk := storedKey{Generation: generation, KID: key.KID, CreatedAt: now.UTC()}
	sk.Sealed = k.opts.Sealer.Seal(pem, keyAAD(alg, sk))
	return key, sk, nil
}

// keyAAD binds a sealed key to its place: a sealed value moved to another
// algorithm, generation or kid does not open.
func keyAAD(alg string, sk storedKey) []byte {
	return []byte(string(provider.KindSigningKey) + "/" + alg + "/" + strconv.Itoa(sk.Generation) + "/" + sk.KID)
}

func (k *Keyring) unseal(alg string, sk storedKey) (*jose.Key, error) {
	pem, err := k.opts.Sealer.Open(sk.Sealed, keyAAD(alg, sk))
	if err != nil {
		return nil, fmt.Errorf("keyring: %s signing key %d (kid %s): %w", alg, sk.Generation, sk.KID, err)
	}
	defer clear(pem)
	key, err := jose.ParsePrivateKeyPEM(pem, alg)
	if err != nil {
		return nil, fmt.Errorf("keyring: %s signing key %d: %w", alg, sk.Generation, err)
	}
	if key.KID != sk.KID {
		return nil, fmt.Errorf("keyring: %s signing key %d does not match its kid %s", alg, sk.Generation, sk.KID)
	}
	return key, nil
}

func decodeRing(payload []byte, alg string) (storedRing, error) {
	var r storedRing
	if err := json.Unmarshal(payload, &r); err != nil || r.Version != 1 || r.Alg != alg || len(r.Keys) == 0 {
		return storedRing{}, fmt.Errorf("keyring: the stored %s signing keys are not in a format this version reads", alg)
	}
	return r, nil
}

// rebuildLocked makes the view of now from the rings in memory.
func (k *Keyring) rebuildLocked(now time.Time) error {
	var actives, others []*jose.Key
	v := &view{kids: map[string]bool{}, signing: map[string]string{}, from: now}
	for _, s := range k.opts.Slots {
		if s.Static != nil {
			actives = append(actives, s.Static)
			v.kids[s.Static.KID] = true
			continue
		}
		keys := k.rings[s.Alg]
		ai := activeIndex(keys, now)
		for i, sk := range keys {
			if i != ai && !published(keys, i, k.opts.Policy, now) {
				continue
			}
			key := k.unsealed[sk.KID]
			if key == nil {
				return fmt.Errorf("keyring: %s signing key %s is not loaded", s.Alg, sk.KID)
			}
			v.kids[sk.KID] = true
			if i == ai {
				actives = append(actives, key)
				v.signing[s.Alg] = sk.KID
			} else {
				others = append(others, key)
			}
		}
		if next := nextChange(keys, k.opts.Policy, now); !next.IsZero() && (v.until.IsZero() || next.Before(v.until)) {
			v.until = next
		}
	}
	// The signing key of each alg comes before its published-only keys:
	// KeySet signs an alg with the first key of that alg.
	ks, err := jose.NewKeySet(actives[0], append(actives[1:], others...)...)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	v.keys = ks
	if old := k.view.Load(); old != nil {
		for alg, kid := range v.signing {
			if old.signing[alg] != kid {
				k.notify(Notice{Event: NoticeSigning, Alg: alg, KID: kid, At: now})
			}
		}
		for kid := range old.kids {
			if !v.kids[kid] {
				k.notify(Notice{Event: NoticeRetired, KID: kid, At: now})
			}
		}
	}
	k.view.Store(v)
	return nil
}

// current is the view in force now, rebuilt (without I/O) when a stored
// activation or retirement time has passed.
func (k *Keyring) current() *view {
	now := k.opts.Now()
	v := k.view.Load()
	if v.covers(now) {
		return v
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if v = k.view.Load(); v.covers(now) {
		return v
	}
	if err := k.rebuildLocked(now); err != nil {
		// Cannot happen with keys that built a view before; keep the
		// last one rather than stop signing.
		return v
	}
	return k.view.Load()
}

func (v *view) covers(now time.Time) bool {
	return !now.Before(v.from) && (v.until.IsZero() || now.Before(v.until))
}

func (k *Keyring) notify(n Notice) {
	if k.opts.Notify != nil {
		k.opts.Notify(n)
	}
}

// SignJWT signs with the active key (provider.Signer).
func (k *Keyring) SignJWT(claims map[string]any, typ string) (string, error) {
	return k.current().keys.SignJWT(claims, typ)
}

// SignJWTWithAlg signs with the signing key of alg (provider.Signer).
func (k *Keyring) SignJWTWithAlg(alg string, claims map[string]any, typ string) (string, error) {
	return k.current().keys.SignJWTWithAlg(alg, claims, typ)
}

// Algorithm is the active key's alg (provider.Signer).
func (k *Keyring) Algorithm() string { return k.current().keys.Algorithm() }

// Algorithms lists the published algs (provider.Signer).
func (k *Keyring) Algorithms() []string { return k.current().keys.Algorithms() }

// PublicJWKS is the published key set, including successors not yet
// signing and predecessors not yet retired (provider.Signer).
func (k *Keyring) PublicJWKS() []byte { return k.current().keys.PublicJWKS() }

// SigningKID is the kid the first slot signs with now.
func (k *Keyring) SigningKID() string {
	v := k.current()
	if s := k.opts.Slots[0]; s.Static != nil {
		return s.Static.KID
	}
	return v.signing[k.opts.Slots[0].Alg]
}

// VerifyJWT verifies against the published keys (provider.Signer). A token
// whose kid is unknown here may come from a key another instance has just
// created: the store is re-read (at most once per MinReloadGap) and the
// token tried again.
func (k *Keyring) VerifyJWT(token, typ string) (map[string]any, error) {
	v := k.current()
	claims, err := v.keys.VerifyJWT(token, typ)
	if err == nil {
		return claims, nil
	}
	kid := headerKID(token)
	if kid == "" || v.kids[kid] || !k.kidReloadAllowed() {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if rerr := k.reload(ctx, false); rerr != nil && !errors.Is(rerr, errClosed) {
		k.notify(Notice{Event: NoticeReloadFailed, Err: rerr})
	}
	if v2 := k.current(); v2 != v && v2.kids[kid] {
		return v2.keys.VerifyJWT(token, typ)
	}
	return nil, err
}

func (k *Keyring) kidReloadAllowed() bool {
	now := k.opts.Now().UnixNano()
	last := k.lastKIDReload.Load()
	if last != 0 && now-last < int64(k.opts.MinReloadGap) && now >= last {
		return false
	}
	return k.lastKIDReload.CompareAndSwap(last, now)
}

// maxHeaderLen bounds the work spent on an untrusted token's header.
const maxHeaderLen = 2048

// headerKID is the kid of a compact JWS's protected header, "" when there
// is none or the header does not parse.
func headerKID(token string) string {
	head, _, ok := strings.Cut(token, ".")
	if !ok || len(head) > maxHeaderLen {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.KID
}

func (k *Keyring) isClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}

package provider

import (
	"context"
	"errors"
	"time"
)

// Kind names a family of stored records. Each kind is a separate key space.
type Kind string

// Record kinds kept in the provider's store by its host, not by the
// provider: the key ring in internal/keyring, which shares keys between the
// instances on one store.
const (
	// KindSigningKey holds one algorithm's generated signing keys, their
	// private parts sealed.
	KindSigningKey Kind = "signing_key"
	// KindProviderSecret holds secrets generated once for all instances,
	// sealed, such as Config.SecretKey.
	KindProviderSecret Kind = "provider_secret"
)

// Record kinds used by the provider.
const (
	KindSession                    Kind = "session"
	KindInteraction                Kind = "interaction"
	KindAuthorizationCode          Kind = "authorization_code"
	KindAccessToken                Kind = "access_token"
	KindRefreshToken               Kind = "refresh_token"
	KindGrant                      Kind = "grant"
	KindClient                     Kind = "client"
	KindDeviceCode                 Kind = "device_code"
	KindReplayDetection            Kind = "replay_detection"
	KindPushedAuthorizationRequest Kind = "pushed_authorization_request"
	KindInitialAccessToken         Kind = "initial_access_token"
	KindRegistrationAccessToken    Kind = "registration_access_token"
	KindRevokedJTI                 Kind = "revoked_jti"
	// KindLoginThrottle holds a login throttle key's counters when the
	// store is shared by several instances (SharedStore).
	KindLoginThrottle Kind = "login_throttle"
	// KindGateSession holds oidc_protect's gate sessions (gate.go).
	KindGateSession Kind = "gate_session"
)

// Record is one stored object. The provider serialises its own payloads; a
// backend treats Payload as opaque bytes.
type Record struct {
	Kind Kind
	// ID is the primary key within Kind. For bearer secrets (tokens, codes) it
	// is a hash of the secret, never the secret itself.
	ID string
	// UID is an optional secondary key, unique within Kind (GetByUID).
	UID string
	// GrantID, when set, ties the record to a grant so DeleteByGrant removes it.
	GrantID string
	// Owner is an optional non-unique secondary key within Kind: the
	// registered client a grant belongs to. ListByOwner pages through the
	// records of one owner, so finding a client's grants costs an index scan
	// instead of a list kept (and rewritten) on the client's own record.
	Owner string
	// Payload is the provider's serialised object.
	Payload []byte
	// ExpiresAt is when the record stops existing; zero means never. Backends
	// must treat a record as absent from this instant on, even if physical
	// removal happens later.
	ExpiresAt time.Time
	// ConsumedAt is set by Consume; zero means not consumed.
	ConsumedAt time.Time
}

// Errors returned by Store implementations.
var (
	// ErrNotFound: no live record with that key.
	ErrNotFound = errors.New("record not found")
	// ErrAlreadyConsumed: Consume found the record already consumed.
	ErrAlreadyConsumed = errors.New("record already consumed")
	// ErrAlreadyExists: Create found a live record with the same key.
	ErrAlreadyExists = errors.New("record already exists")
	// ErrUnavailable: the backend cannot take the operation now (disk full
	// or failing, database closing) and expects to again later. Backends
	// wrap it with the cause; the provider answers 503
	// temporarily_unavailable instead of server_error.
	ErrUnavailable = errors.New("storage temporarily unavailable")
)

// Store is the provider's storage. Implementations live in store/ and must
// pass store/storetest, the conformance suite.
//
// Durability: Put takes a durable flag. A durable write is on stable storage
// when Put returns; a non-durable one may ride on the next sync (it can be lost
// in a crash, never corrupted). Consume, Delete and DeleteByGrant are always
// durable: a consumed code or a revocation must never come back.
type Store interface {
	// Put inserts or replaces the record with rec.Kind and rec.ID, including its
	// UID and GrantID index entries.
	Put(ctx context.Context, rec Record, durable bool) error
	// Create inserts rec only if no live record with its Kind and ID exists,
	// atomically: of concurrent Creates of one key exactly one succeeds and
	// the others get ErrAlreadyExists. It is how single-use identifiers (a
	// client assertion's jti) are remembered.
	Create(ctx context.Context, rec Record, durable bool) error
	// Get returns the live record, or ErrNotFound.
	Get(ctx context.Context, kind Kind, id string) (Record, error)
	// GetByUID returns the live record whose UID is uid, or ErrNotFound.
	GetByUID(ctx context.Context, kind Kind, uid string) (Record, error)
	// Update is an atomic read-modify-write: fn receives the current live
	// record and changes it in place; an error from fn aborts without writing
	// and is returned. ErrNotFound when there is no live record. Kind and ID
	// must not change. fn may run more than once (on conflicts) and must not
	// call the store. Updates are durable: the provider uses them to consume
	// refresh tokens and extend grants.
	Update(ctx context.Context, kind Kind, id string, fn func(*Record) error) (Record, error)
	// Consume atomically marks the record consumed at the given (non-zero)
	// time and returns it. Of any number of concurrent callers exactly one succeeds; the others
	// get the record together with ErrAlreadyConsumed. ErrNotFound when absent.
	Consume(ctx context.Context, kind Kind, id string, at time.Time) (Record, error)
	// Delete removes the record and its index entries. ErrNotFound when absent.
	Delete(ctx context.Context, kind Kind, id string) error
	// DeleteByGrant removes every live record, of any kind, whose GrantID is
	// grantID, and returns what it removed (so callers can emit events).
	DeleteByGrant(ctx context.Context, grantID string) ([]Record, error)
	// ListByOwner returns up to limit live records of kind whose Owner is
	// owner, in ascending order of ID, starting after the ID after ("" for
	// the first page). A page shorter than limit is the last. Records
	// written or removed while a caller pages may or may not be seen; each
	// live record present throughout is returned exactly once.
	ListByOwner(ctx context.Context, kind Kind, owner, after string, limit int) ([]Record, error)
}

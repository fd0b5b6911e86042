package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Key layout. The first byte selects the key space so a scan of one space can
// never run into another. Every variable-length component except the last is
// length-prefixed (uvarint), which keeps keys unambiguous for arbitrary bytes
// in kinds, IDs, UIDs and grant IDs without any escaping: ("a", "b\x00c") and
// ("a\x00b", "c") encode differently because the length of the first part
// differs.
const (
	// spaceMeta holds store-wide facts such as the format version.
	spaceMeta byte = 0x00
	// spaceRecord: kind, id -> encoded record.
	spaceRecord byte = 0x01
	// spaceUID: kind, uid -> id. Unique within kind, so last writer owns it.
	spaceUID byte = 0x02
	// spaceGrant: grantID, kind, id -> empty. Grant first so one prefix scan
	// finds every record of a grant, whatever its kind.
	spaceGrant byte = 0x03
	// spaceOwner: kind, owner, id -> empty. One prefix scan lists an owner's
	// records of one kind in ID order (ListByOwner).
	spaceOwner byte = 0x04
)

// formatKey records the on-disk layout version so a future layout change can
// refuse to misread, or migrate, an old directory.
var formatKey = []byte{spaceMeta, 'f', 'o', 'r', 'm', 'a', 't'}

const formatVersion byte = 1

// probeKey is what the health probe commits to test that Badger takes
// writes again; it expires by itself.
var probeKey = []byte{spaceMeta, 'p', 'r', 'o', 'b', 'e'}

func appendPart(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func recordKey(kind provider.Kind, id string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen32+len(kind)+len(id))
	k = append(k, spaceRecord)
	k = appendPart(k, string(kind))
	return append(k, id...)
}

func uidKey(kind provider.Kind, uid string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen32+len(kind)+len(uid))
	k = append(k, spaceUID)
	k = appendPart(k, string(kind))
	return append(k, uid...)
}

func grantPrefix(grantID string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen32+len(grantID))
	k = append(k, spaceGrant)
	return appendPart(k, grantID)
}

func grantKey(grantID string, kind provider.Kind, id string) []byte {
	k := make([]byte, 0, 1+2*binary.MaxVarintLen32+len(grantID)+len(kind)+len(id))
	k = append(k, spaceGrant)
	k = appendPart(k, grantID)
	k = appendPart(k, string(kind))
	return append(k, id...)
}

func ownerPrefix(kind provider.Kind, owner string) []byte {
	k := make([]byte, 0, 1+2*binary.MaxVarintLen32+len(kind)+len(owner))
	k = append(k, spaceOwner)
	k = appendPart(k, string(kind))
	return appendPart(k, owner)
}

func ownerKey(kind provider.Kind, owner, id string) []byte {
	return append(ownerPrefix(kind, owner), id...)
}

// parseGrantKey returns the kind and id of a grant index key that starts with
// prefix (as returned by grantPrefix); ok is false for a malformed key.
func parseGrantKey(key, prefix []byte) (kind provider.Kind, id string, ok bool) {
	if len(key) < len(prefix) {
		return "", "", false
	}
	rest := key[len(prefix):]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return "", "", false
	}
	rest = rest[w:]
	return provider.Kind(rest[:n]), string(rest[n:]), true
}

// errCorruptRecord marks a stored value that does not decode. Messages built
// on it never quote the value: it holds the provider's payload.
var errCorruptRecord = errors.New("corrupt record")

// Record value encoding, version 1. Kind and ID live in the key and are not
// repeated. Hand-written because it runs on every token request: it is a
// single allocation to encode, and a handful of length checks to decode.
//
//	version   byte (1)
//	flags     byte (flagExpires, flagConsumed)
//	uid       uvarint length + bytes
//	grantID   uvarint length + bytes
//	owner     uvarint length + bytes                      (only with flagOwner)
//	expires   varint unix seconds + uvarint nanoseconds   (only with flagExpires)
//	consumed  varint unix seconds + uvarint nanoseconds   (only with flagConsumed)
//	payload   uvarint length + bytes, which must end the value
//
// Seconds plus nanoseconds cover every time.Time, unlike UnixNano, and the
// flags keep the zero time distinct from the Unix epoch. flagOwner came after
// the first release: values written before it have no owner and still decode.
const (
	recordVersion byte = 1

	flagExpires  byte = 1 << 0
	flagConsumed byte = 1 << 1
	flagOwner    byte = 1 << 2
	knownFlags        = flagExpires | flagConsumed | flagOwner

	maxTimeLen = binary.MaxVarintLen64 + binary.MaxVarintLen32
)

func encodeRecord(r *provider.Record) []byte {
	size := 2 + 4*binary.MaxVarintLen64 + len(r.UID) + len(r.GrantID) + len(r.Owner) + len(r.Payload)
	var flags byte
	if r.Owner != "" {
		flags |= flagOwner
	}
	if !r.ExpiresAt.IsZero() {
		flags |= flagExpires
		size += maxTimeLen
	}
	if !r.ConsumedAt.IsZero() {
		flags |= flagConsumed
		size += maxTimeLen
	}
	b := make([]byte, 0, size)
	b = append(b, recordVersion, flags)
	b = appendPart(b, r.UID)
	b = appendPart(b, r.GrantID)
	if flags&flagOwner != 0 {
		b = appendPart(b, r.Owner)
	}
	if flags&flagExpires != 0 {
		b = appendTime(b, r.ExpiresAt)
	}
	if flags&flagConsumed != 0 {
		b = appendTime(b, r.ConsumedAt)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Payload)))
	return append(b, r.Payload...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decodeRecord fills everything but Kind and ID from an encoded value. The
// result owns its memory: b may be Badger's buffer, valid only inside the
// transaction.
func decodeRecord(b []byte, r *provider.Record) error {
	d := decoder{b: b}
	if v := d.byte(); v != recordVersion {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("%w: unknown version %d", errCorruptRecord, v)
	}
	flags := d.byte()
	if flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flags %#x", errCorruptRecord, flags)
	}
	r.UID = string(d.part())
	r.GrantID = string(d.part())
	r.Owner = ""
	if flags&flagOwner != 0 {
		r.Owner = string(d.part())
	}
	r.ExpiresAt, r.ConsumedAt = time.Time{}, time.Time{}
	if flags&flagExpires != 0 {
		r.ExpiresAt = d.time()
	}
	if flags&flagConsumed != 0 {
		r.ConsumedAt = d.time()
	}
	p := d.part()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorruptRecord, len(d.b))
	}
	r.Payload = nil
	if len(p) > 0 {
		r.Payload = append(make([]byte, 0, len(p)), p...)
	}
	return nil
}

// decoder reads from b and remembers the first error, so decodeRecord checks
// once at the end instead of after every field. After an error every read
// returns zero values and consumes nothing.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorruptRecord, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("header")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) part() []byte {
	n := d.uvarint("length")
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) time() time.Time {
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("time")
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.uvarint("time")
	if nsec >= uint64(time.Second) {
		d.fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// badgerExpiry converts a record's expiry to Badger's TTL, whole Unix seconds
// after which Badger hides and later drops the entry. It rounds up: rounding
// down (as Entry.WithTTL does) would make a record vanish up to a second
// before its ExpiresAt. The store itself hides the record in the gap.
func badgerExpiry(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	if s <= 0 {
		// Zero means "never" to Badger; callers never write records this old.
		return 1
	}
	return uint64(s)
}

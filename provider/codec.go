package provider

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
)

// Records on hot paths (access tokens, codes) use a small binary encoding:
// JSON decoding was a quarter of userinfo's CPU. Everything else stays JSON.
// The first byte is a format version so the encoding can evolve.

const binaryFormatV1 = 1

var errCorruptRecord = errors.New("corrupt record payload")

type binWriter struct{ b []byte }

func newBinWriter() *binWriter { return &binWriter{b: append(make([]byte, 0, 192), binaryFormatV1)} }

func (w *binWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *binWriter) strs(ss []string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *binWriter) int(v int64) { w.b = binary.AppendVarint(w.b, v) }

// binReader decodes defensively: a stored payload is trusted only as far as
// its bounds checks go, and corruption is an error, never a panic.
type binReader struct {
	b   []byte
	err error
}

func newBinReader(b []byte) *binReader {
	if len(b) == 0 || b[0] != binaryFormatV1 {
		return &binReader{err: errCorruptRecord}
	}
	return &binReader{b: b[1:]}
}

func (r *binReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorruptRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errCorruptRecord
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *binReader) strs() []string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // each string takes at least one byte
		r.err = errCorruptRecord
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.str())
	}
	return out
}

func (r *binReader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorruptRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptRecord
	}
	return r.err
}

func (t accessToken) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	w.str(t.ClientID)
	w.str(t.AccountID)
	w.strs(t.Scopes)
	w.str(t.GrantID)
	w.str(t.Audience)
	w.int(t.IssuedAt)
	w.int(t.ExpiresAt)
	return w.b, nil
}

func (t *accessToken) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*t = accessToken{ClientID: r.str(), AccountID: r.str(), Scopes: r.strs(), GrantID: r.str(), Audience: r.str(), IssuedAt: r.int(), ExpiresAt: r.int()}
	return r.done()
}

func (t refreshToken) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	for _, s := range []string{t.ClientID, t.AccountID, t.GrantID, t.SID, t.Resource} {
		w.str(s)
	}
	w.strs(t.Scopes)
	w.int(t.AuthTime)
	w.int(t.IssuedAt)
	w.int(t.AbsoluteExpiry)
	// Optional trailer: only consumed tokens carry a sealed successor, and
	// records written before it existed end here.
	if len(t.Successor) > 0 {
		w.str(string(t.Successor))
	}
	return w.b, nil
}

func (t *refreshToken) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*t = refreshToken{ClientID: r.str(), AccountID: r.str(), GrantID: r.str(), SID: r.str(), Resource: r.str()}
	t.Scopes, t.AuthTime, t.IssuedAt, t.AbsoluteExpiry = r.strs(), r.int(), r.int(), r.int()
	if r.err == nil && len(r.b) > 0 {
		t.Successor = []byte(r.str())
	}
	return r.done()
}

func (c authCode) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	for _, s := range []string{c.ClientID, c.RedirectURI, c.AccountID, c.Nonce, c.CodeChallenge, c.SID, c.GrantID} {
		w.str(s)
	}
	w.strs(c.Scopes)
	w.int(c.AuthTime)
	return w.b, nil
}

func (c *authCode) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*c = authCode{ClientID: r.str(), RedirectURI: r.str(), AccountID: r.str(), Nonce: r.str(), CodeChallenge: r.str(), SID: r.str(), GrantID: r.str()}
	c.Scopes, c.AuthTime = r.strs(), r.int()
	return r.done()
}

// encodePayload picks the record's encoding: binary where the type has one.
func encodePayload(v any) ([]byte, error) {
	if m, ok := v.(encoding.BinaryMarshaler); ok {
		return m.MarshalBinary()
	}
	return json.Marshal(v)
}

func decodeInto(b []byte, v any) error {
	if u, ok := v.(encoding.BinaryUnmarshaler); ok {
		return u.UnmarshalBinary(b)
	}
	return json.Unmarshal(b, v)
}

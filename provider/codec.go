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

// trailingStrs writes a list that records from before it existed lack: it
// goes last, and only when non-empty (readTrailingStrs).
func (w *binWriter) trailingStrs(ss []string) {
	if len(ss) > 0 {
		w.strs(ss)
	}
}

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

// trailingStrs reads what binWriter.trailingStrs wrote: nil at the end of
// an older record, and an empty list (never written) is corruption.
func (r *binReader) trailingStrs() []string {
	if r.err != nil || len(r.b) == 0 {
		return nil
	}
	ss := r.strs()
	if r.err == nil && len(ss) == 0 {
		r.err = errCorruptRecord
	}
	return ss
}

func (r *binReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptRecord
	}
	return r.err
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

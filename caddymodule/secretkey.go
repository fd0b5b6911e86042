package caddymodule

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// secretKeyLen is the AES-256 key size the provider seals secrets with.
const secretKeyLen = 32

// loadSecretKey loads (or, on first start, generates) the key that seals
// the secrets of registered client_secret_jwt clients. Like the signing key,
// a missing file is generated so that a development setup works out of the
// box and keeps its registered clients across restarts.
func (h *Handler) loadSecretKey(repl *caddy.Replacer, storageDir string) ([]byte, error) {
	path := repl.ReplaceKnown(h.SecretKeyFile, "")
	if path == "" {
		path = filepath.Join(storageDir, "keys", "secret.key")
	}
	key, generated, err := loadOrGenerateSecretKey(path)
	if err != nil {
		return nil, fmt.Errorf("secret_key_file: %w", err)
	}
	if generated {
		h.logger.Info("generated a new secret key", zap.String("file", path))
	}
	return key, nil
}

func loadOrGenerateSecretKey(path string) ([]byte, bool, error) {
	if key, err := readSecretKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}

	key := make([]byte, secretKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating %s: %w", dir, err)
	}
	// CreateTemp opens with mode 0600, so the key is never readable by
	// others, not even briefly; it appears under its name only complete.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, false, fmt.Errorf("creating key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("writing key file: %w", err)
	}
	// Link, unlike Rename, never replaces a key another process created in
	// the meantime: secrets may already be sealed under that one.
	switch err := os.Link(tmpName, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		key, err := readSecretKey(path)
		return key, false, err
	default:
		// Some filesystems have no hard links.
		if err := os.Rename(tmpName, path); err != nil {
			return nil, false, fmt.Errorf("installing key file: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable; best effort
		d.Close()
	}
	return key, true, nil
}

// readSecretKey accepts the 32 bytes raw (as generated) or encoded in hex or
// base64, as `openssl rand -hex 32` or `openssl rand -base64 32` write them.
// Its errors never quote the file's content.
func readSecretKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) == secretKeyLen {
		return data, nil
	}
	text := bytes.TrimSpace(data)
	for _, decode := range []func([]byte) ([]byte, error){decodeHex, decodeBase64(base64.StdEncoding), decodeBase64(base64.RawStdEncoding), decodeBase64(base64.URLEncoding), decodeBase64(base64.RawURLEncoding)} {
		if key, err := decode(text); err == nil && len(key) == secretKeyLen {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%s must hold exactly %d bytes, raw or in hex or base64 (it holds %d bytes that are none of these); "+
		"remove it to have a new key generated, which makes registered client_secret_jwt clients unusable", path, secretKeyLen, len(data))
}

func decodeHex(s []byte) ([]byte, error) {
	out := make([]byte, hex.DecodedLen(len(s)))
	n, err := hex.Decode(out, s)
	return out[:n], err
}

func decodeBase64(enc *base64.Encoding) func([]byte) ([]byte, error) {
	return func(s []byte) ([]byte, error) {
		out := make([]byte, enc.DecodedLen(len(s)))
		n, err := enc.Decode(out, s)
		return out[:n], err
	}
}

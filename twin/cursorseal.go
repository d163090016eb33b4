package twin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/twinway/twinway/protocol"
)

// cursorSealer seals the stores' search cursors before they reach a client.
// A store's cursor holds the sort values of the last thing it looked at,
// which may be values (or a thing) the caller may not read; sealed with
// AES-GCM, a cursor tells its holder nothing and cannot be forged. The key
// lives as long as the handler: a cursor from before a restart is refused
// as invalid, and the client starts the search again.
type cursorSealer struct {
	aead cipher.AEAD
}

func newCursorSealer() (*cursorSealer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("twin: cursor key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &cursorSealer{aead: aead}, nil
}

// seal turns a store cursor into the client's ("" stays "").
func (c *cursorSealer) seal(storeCursor string) string {
	if storeCursor == "" {
		return ""
	}
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(storeCursor)+c.aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, []byte(storeCursor), nil))
}

// open turns a client's cursor back into the store's.
func (c *cursorSealer) open(clientCursor string) (string, error) {
	data, err := base64.RawURLEncoding.DecodeString(clientCursor)
	if err != nil || len(data) < c.aead.NonceSize() {
		return "", sealedCursorInvalid()
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return "", sealedCursorInvalid()
	}
	return string(plain), nil
}

func sealedCursorInvalid() *protocol.Error {
	return InvalidCursor("The cursor is not one this gateway issued, or it issued it before it restarted: start the search again.")
}

// Package cursor makes the opaque keyset cursors of lists paged by id,
// shared by the API and the web pages so one list has one cursor format.
//
// A cursor is base64url of kind-bound bytes [8-byte id | 4-byte checksum].
// The checksum is not a secret (a cursor only moves a keyset position the
// caller may list anyway); it rejects truncated, edited or cross-list
// cursors as a client error instead of a surprising page.
package cursor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

func sum(kind string, id uint64) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "loopdesk-cursor:%s:%d", kind, id)
	return h.Sum(nil)[:4]
}

// Encode returns the cursor that continues a list of kind after id.
func Encode(kind string, id int64) string {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, uint64(id))
	copy(b[8:], sum(kind, uint64(id)))
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode checks and opens a cursor made by Encode for kind.
func Decode(kind, s string) (int64, error) {
	if len(s) > 64 {
		return 0, fmt.Errorf("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 12 {
		return 0, fmt.Errorf("malformed")
	}
	id := binary.BigEndian.Uint64(b)
	if string(b[8:]) != string(sum(kind, id)) || id == 0 || id > 1<<62 {
		return 0, fmt.Errorf("does not belong to this list or was altered")
	}
	return int64(id), nil
}

package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
)

// Page size bounds for every list endpoint.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ParsePage reads ?limit= and ?cursor= for a list of kind (e.g. "users").
// Out-of-range values are a 400, never silently clamped, so a client learns
// about its mistake instead of getting a short page it misreads.
func ParsePage(c *gin.Context, kind string) (accounts.Page, bool) {
	p := accounts.Page{Limit: DefaultLimit}
	if raw, ok := c.GetQuery("limit"); ok {
		n, fe := parseLimit(raw)
		if fe != nil {
			WriteProblem(c, http.StatusBadRequest, limitDetail(raw), *fe)
			return p, false
		}
		p.Limit = n
	}
	if raw := c.Query("cursor"); raw != "" {
		id, err := DecodeCursor(kind, raw)
		if err != nil {
			WriteProblem(c, http.StatusBadRequest, badCursorDetail, FieldError{Field: "cursor", Message: err.Error()})
			return p, false
		}
		p.AfterID = id
	}
	return p, true
}

// badCursorDetail is what every list says about a cursor it cannot use,
// whether api or the domain (tickets owns its cursor format) found it bad.
const badCursorDetail = "cursor is not valid for this list; pass next_cursor from the previous page unchanged, or omit it to start over"

// parseLimit checks one ?limit= value.
func parseLimit(raw string) (int, *FieldError) {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, &FieldError{Field: "limit", Message: fmt.Sprintf("must be 1..%d", MaxLimit)}
	}
	return n, nil
}

func limitDetail(raw string) string {
	return fmt.Sprintf("limit must be a whole number from 1 to %d (default %d); got %q", MaxLimit, DefaultLimit, raw)
}

// Cursors are opaque to clients: base64url of kind-bound bytes
// [8-byte id | 4-byte checksum]. The checksum is not a secret (a cursor only
// moves a keyset position the caller may list anyway); it rejects truncated,
// edited or cross-list cursors as a 400 instead of a surprising page.
func cursorSum(kind string, id uint64) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "loopdesk-cursor:%s:%d", kind, id)
	return h.Sum(nil)[:4]
}

// EncodeCursor returns the cursor that continues a list of kind after id.
func EncodeCursor(kind string, id int64) string {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, uint64(id))
	copy(b[8:], cursorSum(kind, uint64(id)))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor checks and opens a cursor made by EncodeCursor for kind.
func DecodeCursor(kind, s string) (int64, error) {
	if len(s) > 64 {
		return 0, fmt.Errorf("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 12 {
		return 0, fmt.Errorf("malformed")
	}
	id := binary.BigEndian.Uint64(b)
	if string(b[8:]) != string(cursorSum(kind, id)) || id == 0 || id > 1<<62 {
		return 0, fmt.Errorf("does not belong to this list or was altered")
	}
	return int64(id), nil
}

// page fetches limit+1 items to learn whether another page exists without
// a count query, and builds the envelope. The domain caps a fetch at
// MaxLimit, so a full MaxLimit page is confirmed with a one-row probe.
func page[T any, R any](c *gin.Context, kind string, p accounts.Page,
	fetch func(accounts.Page) ([]T, error), id func(T) int64, conv func(T) R) {
	items, err := fetch(accounts.Page{AfterID: p.AfterID, Limit: min(p.Limit+1, MaxLimit)})
	if err != nil {
		Error(c, err)
		return
	}
	more := len(items) > p.Limit
	if more {
		items = items[:p.Limit]
	} else if len(items) == p.Limit && p.Limit == MaxLimit {
		probe, err := fetch(accounts.Page{AfterID: id(items[len(items)-1]), Limit: 1})
		if err != nil {
			Error(c, err)
			return
		}
		more = len(probe) > 0
	}
	out := List[R]{Items: make([]R, 0, len(items))}
	if more {
		out.NextCursor = EncodeCursor(kind, id(items[len(items)-1]))
	}
	for _, it := range items {
		out.Items = append(out.Items, conv(it))
	}
	JSON(c, http.StatusOK, out)
}

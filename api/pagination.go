package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/cursor"
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
		id, err := cursor.Decode(kind, raw)
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

// Cursors are opaque to clients (internal/cursor), bound to their list's kind.

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
		out.NextCursor = cursor.Encode(kind, id(items[len(items)-1]))
	}
	for _, it := range items {
		out.Items = append(out.Items, conv(it))
	}
	JSON(c, http.StatusOK, out)
}

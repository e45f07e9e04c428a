package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// JSON writes v with status. Every success body goes through here so the
// encoding (no HTML escaping, trailing newline) is the same everywhere.
func JSON(c *gin.Context, status int, v any) {
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(status)
	if status == http.StatusNoContent {
		return
	}
	if err := writeJSONBody(c, v); err != nil {
		loggerFrom(c).ErrorContext(c.Request.Context(), "encode response", "request_id", RequestID(c), "error", err)
	}
}

func writeJSONBody(c *gin.Context, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := c.Writer.Write(buf.Bytes())
	return err
}

// List is the envelope of every collection response.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"pass as ?cursor= for the next page; absent on the last page"`
}

package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// Concurrency control has ONE channel: the If-Match header carrying the
// ETag "<version>" from a previous response. Request bodies have no version
// field (sending one is an unknown-field 422). No If-Match means no
// precondition (version 0 to the domain); "*" means the same.

// ETag is the strong entity tag of a resource version.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// SetETag sets the ETag header for version.
func SetETag(c *gin.Context, version int) { c.Header("ETag", ETag(version)) }

// IfMatch returns the version the client expects (0 for no precondition).
// A malformed header is a 400 already written when ok is false.
func IfMatch(c *gin.Context) (version int, ok bool) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return 0, true
	}
	bad := func(why string) (int, bool) {
		WriteProblem(c, http.StatusBadRequest,
			fmt.Sprintf(`If-Match %s: %s; send the ETag of the version you read, e.g. If-Match: "3"`, h, why),
			FieldError{Field: "If-Match", Message: why})
		return 0, false
	}
	if strings.HasPrefix(h, "W/") {
		return bad("weak ETags cannot be used for updates")
	}
	if strings.Contains(h, ",") {
		return bad("only one ETag is supported")
	}
	if len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return bad("an ETag is a quoted string")
	}
	v, err := strconv.Atoi(h[1 : len(h)-1])
	if err != nil || v < 1 {
		return bad("no resource has this ETag")
	}
	return v, true
}

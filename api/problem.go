package api

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// FieldError names one invalid input field; the same type the domain uses,
// so domain validation errors pass through unchanged.
type FieldError = accounts.FieldError

// Problem is an RFC 9457 problem details body. Type is always about:blank,
// so Title is the HTTP status text and Detail says what to do about it.
type Problem struct {
	Type      string       `json:"type" doc:"always about:blank; title is the HTTP status text"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty" doc:"what went wrong, for a person to act on"`
	Instance  string       `json:"instance,omitempty" doc:"the request path"`
	RequestID string       `json:"request_id,omitempty" doc:"quote it when reporting a problem"`
	Errors    []FieldError `json:"errors,omitempty" doc:"one entry per invalid field"`
	Allowed   []string     `json:"allowed,omitzero" doc:"for a workflow event that is not allowed now: the events the caller may fire instead (possibly none)"`
}

// WriteProblem aborts the request with a problem+json body. It is the only
// way this package (and web/, for its JSON endpoints) writes an error.
func WriteProblem(c *gin.Context, status int, detail string, fields ...FieldError) {
	writeProblem(c, Problem{Status: status, Detail: detail, Errors: fields})
}

// writeProblem fills in the common members of p and writes it.
func writeProblem(c *gin.Context, p Problem) {
	status := p.Status
	p.Type = "about:blank"
	p.Title = http.StatusText(status)
	p.Instance = c.Request.URL.Path
	p.RequestID = RequestID(c)
	if c.Writer.Written() {
		// Headers are gone; the best we can do is stop the chain.
		c.Abort()
		return
	}
	c.Abort()
	c.Header("Content-Type", ProblemContentType)
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	_ = writeJSONBody(c, p)
}

// versionConflict carries the current version so a 412/409 can tell the
// client what to reload to.
type versionConflict struct{ current int }

func (e versionConflict) Error() string { return accounts.ErrVersionConflict.Error() }
func (e versionConflict) Unwrap() error { return accounts.ErrVersionConflict }

// Error maps a domain error to its problem response. Anything it does not
// know is a bug: logged in full, answered with a generic 500.
func Error(c *gin.Context, err error) {
	var (
		bq badQuery
		ve *accounts.ValidationError
		vc versionConflict
		tm *accounts.TooManyAttemptsError
		wv *workflow.ValidationError
		na *workflow.NotAllowedError
		ge *workflow.GuardError
		tf *tickets.ForbiddenError
	)
	switch {
	case errors.As(err, &bq):
		detail := "the query is invalid; see errors"
		for _, f := range bq.ve.Fields {
			if f.Field == "cursor" {
				detail = badCursorDetail
			}
		}
		WriteProblem(c, http.StatusBadRequest, detail, bq.ve.Fields...)
	case errors.As(err, &ve):
		WriteProblem(c, http.StatusUnprocessableEntity, "the request has invalid fields; see errors", ve.Fields...)
	case errors.As(err, &wv):
		fields := make([]FieldError, len(wv.Problems))
		for i, p := range wv.Problems {
			fields[i] = FieldError{Field: cmp.Or(p.Path, "definition"), Message: p.Message}
		}
		noun := "problems"
		if len(fields) == 1 {
			noun = "problem"
		}
		WriteProblem(c, http.StatusUnprocessableEntity,
			fmt.Sprintf("the workflow definition has %d %s, each listed in errors by its path in the document; nothing was published", len(fields), noun),
			fields...)
	case errors.As(err, &na):
		writeProblem(c, Problem{Status: http.StatusConflict, Detail: na.Error(), Allowed: nonNil(na.Allowed)})
	case errors.As(err, &ge):
		guardProblem(c, ge)
	case errors.As(err, &tf):
		WriteProblem(c, http.StatusForbidden, tf.Error())
	case errors.Is(err, tickets.ErrForbidden):
		WriteProblem(c, http.StatusForbidden, err.Error())
	case errors.Is(err, accounts.ErrNotFound):
		what := "; check the id"
		if c.Param("key") != "" {
			what = "; check the key and version"
		}
		WriteProblem(c, http.StatusNotFound, "no such "+resourceName(c)+what)
	case errors.Is(err, accounts.ErrEmailTaken):
		WriteProblem(c, http.StatusConflict, err.Error(), FieldError{Field: "email", Message: err.Error()})
	case errors.Is(err, accounts.ErrNameTaken):
		WriteProblem(c, http.StatusConflict, err.Error(), FieldError{Field: "name", Message: err.Error()})
	case knowledge.IsStateError(err):
		WriteProblem(c, http.StatusConflict, err.Error())
	case errors.Is(err, sla.ErrCalendarInUse):
		WriteProblem(c, http.StatusConflict, err.Error())
	case errors.Is(err, sla.ErrNoWorkingTime):
		WriteProblem(c, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, accounts.ErrVersionConflict):
		detail := err.Error()
		if errors.As(err, &vc) {
			c.Header("ETag", ETag(vc.current))
			detail = fmt.Sprintf("the resource is now at version %d (ETag %s); reload it and retry", vc.current, ETag(vc.current))
		}
		if c.GetHeader("If-Match") != "" {
			WriteProblem(c, http.StatusPreconditionFailed, "If-Match "+c.GetHeader("If-Match")+" is stale: "+detail)
			return
		}
		WriteProblem(c, http.StatusConflict, detail)
	case errors.As(err, &tm):
		c.Header("Retry-After", strconv.Itoa(tm.Seconds()))
		WriteProblem(c, http.StatusTooManyRequests, tm.Error())
	case errors.Is(err, accounts.ErrThrottleUnavailable):
		loggerFrom(c).ErrorContext(c.Request.Context(), "sign-in throttle unavailable", slog.String("request_id", RequestID(c)), slog.Any("error", err))
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable, accounts.ErrThrottleUnavailable.Error())
	case errors.Is(err, accounts.ErrInvalidCredentials):
		WriteProblem(c, http.StatusUnauthorized, err.Error())
	case errors.Is(err, accounts.ErrInactive):
		WriteProblem(c, http.StatusForbidden, err.Error())
	default:
		internalError(c, err)
	}
}

// guardProblem answers a workflow guard that vetoed an event: the caller
// may not (403), the request lacks fields (422, one error per field, named
// as they are sent: fields.<name>), or the ticket is not ready (409).
func guardProblem(c *gin.Context, ge *workflow.GuardError) {
	var fields []FieldError
	for _, f := range ge.Fields {
		msg := "is required to fire " + ge.Event
		if f == workflow.NoArticleReasonField {
			msg = "is required to fire " + ge.Event + " unless a knowledge article is linked to the ticket (send fields.article_id to link one now)"
		}
		fields = append(fields, FieldError{Field: transitionField(f), Message: msg})
	}
	switch ge.Kind {
	case workflow.GuardForbidden:
		WriteProblem(c, http.StatusForbidden, ge.Message)
	case workflow.GuardMissingFields:
		WriteProblem(c, http.StatusUnprocessableEntity, ge.Message, fields...)
	default: // precondition, and any kind added later: the ticket's state, not the request
		WriteProblem(c, http.StatusConflict, ge.Message, fields...)
	}
}

// badQuery marks a domain validation error about a list's query string
// (filters or the domain-owned cursor): a 400 like every other malformed
// query parameter, not a 422 about a body.
type badQuery struct{ ve *accounts.ValidationError }

func (b badQuery) Error() string { return b.ve.Error() }
func (b badQuery) Unwrap() error { return b.ve }

// internalError logs the real cause and tells the client only the request ID.
func internalError(c *gin.Context, err error) {
	loggerFrom(c).ErrorContext(c.Request.Context(), "internal error",
		slog.String("request_id", RequestID(c)), slog.String("route", c.FullPath()), slog.Any("error", err))
	WriteProblem(c, http.StatusInternalServerError,
		"an internal error occurred; it has been logged under request id "+RequestID(c))
}

// resourceName is the singular noun for the route, for 404 details.
func resourceName(c *gin.Context) string {
	if n, ok := c.Get(ctxResource); ok {
		return n.(string)
	}
	return "resource"
}

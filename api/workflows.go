package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/workflow"
)

// Handlers of /workflows: stored, versioned definitions (the tickets domain
// keeps them; the workflow package parses and validates them).

// workflowKeyPattern is workflow's key rule; a path key outside it cannot
// name a workflow, so it is a 400 before any lookup.
var workflowKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

func pathKey(c *gin.Context) (string, bool) {
	key := c.Param("key")
	if !workflowKeyPattern.MatchString(key) {
		WriteProblem(c, http.StatusBadRequest,
			fmt.Sprintf("key %q in the path is not a workflow key (a lower case letter, then 1-39 letters, digits or underscores)", clip(key)),
			FieldError{Field: "key", Message: "must match " + workflowKeyPattern.String()})
		return "", false
	}
	return key, true
}

func (h *handlers) listWorkflows(c *gin.Context) {
	sums, err := h.d.Tickets.ListWorkflows(c.Request.Context())
	if err != nil {
		Error(c, err)
		return
	}
	out := List[WorkflowSummaryResponse]{Items: make([]WorkflowSummaryResponse, 0, len(sums))}
	for _, s := range sums {
		out.Items = append(out.Items, WorkflowSummaryResponse{Key: s.Key, Name: s.Name, LatestVersion: s.LatestVersion, PublishedAt: s.PublishedAt})
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) getWorkflow(c *gin.Context) {
	key, ok := pathKey(c)
	if !ok {
		return
	}
	version := 0
	if vs := c.QueryArray("version"); len(vs) > 0 {
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < 1 {
			WriteProblem(c, http.StatusBadRequest, "version must be one positive whole number; omit it for the latest version",
				FieldError{Field: "version", Message: "must be a positive integer"})
			return
		}
		version = n
	}
	def, err := h.d.Tickets.GetWorkflow(c.Request.Context(), key, version)
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, def)
}

// publishWorkflow reads the body with workflow.Parse (the definition's own
// strict decoder) instead of Decode, behind the same content type, size and
// problem+json rules.
func (h *handlers) publishWorkflow(c *gin.Context) {
	body, ok := readBody(c)
	if !ok {
		return
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		WriteProblem(c, http.StatusBadRequest, "request body is empty; send a workflow definition as a JSON object")
		return
	case trimmed[0] != '{':
		if json.Valid(trimmed) {
			WriteProblem(c, http.StatusUnprocessableEntity, "request body must be a JSON object, not "+jsonKind(trimmed[0]))
		} else {
			WriteProblem(c, http.StatusBadRequest, "malformed JSON: send a workflow definition as a JSON object")
		}
		return
	}
	def, err := workflow.Parse(trimmed)
	if err != nil {
		WriteProblem(c, parseStatus(err), "the workflow definition could not be read: "+err.Error())
		return
	}
	u, _ := CurrentUser(c)
	pub, err := h.d.Tickets.PublishWorkflow(c.Request.Context(), u, def)
	if err != nil {
		Error(c, err)
		return
	}
	c.Header("Location", apiBase+"/workflows/"+url.PathEscape(pub.Key)+"?version="+strconv.Itoa(pub.Version))
	JSON(c, http.StatusCreated, pub)
}

// parseStatus: broken JSON is a 400, well-formed JSON of the wrong shape
// (unknown field, wrong type) a 422, as Decode answers them.
func parseStatus(err error) int {
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected data after") {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

func (h *handlers) migrateWorkflow(c *gin.Context) {
	key, ok := pathKey(c)
	if !ok {
		return
	}
	req := bodyOf[WorkflowMigrationRequest](c)
	u, _ := CurrentUser(c)
	n, err := h.d.Tickets.MigrateTickets(c.Request.Context(), u, key, req.FromVersion, req.ToVersion, req.StateMap)
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, WorkflowMigrationResponse{Migrated: n})
}

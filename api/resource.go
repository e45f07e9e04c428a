package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
)

// resource is how the API reads and writes one kind of versioned domain
// object; every versioned resource (users, departments, tickets, articles)
// goes through it so ETag, Location and 412/409 behave the same everywhere.
type resource[T any] struct {
	path    string // collection path under /api/v1, e.g. "users"
	get     func(ctx context.Context, id int64) (T, error)
	id      func(T) int64
	version func(T) int
	render  func(T) any
	// renderCtx, when set, replaces render for bodies that need more reads
	// (a ticket's SLA clocks); its error is answered like any other.
	renderCtx func(ctx context.Context, v T) (any, error)
}

// write sends v with its ETag, and a Location when it was just created.
func (r resource[T]) write(c *gin.Context, status int, v T) {
	var body any
	if r.renderCtx != nil {
		var err error
		if body, err = r.renderCtx(c.Request.Context(), v); err != nil {
			Error(c, err)
			return
		}
	} else {
		body = r.render(v)
	}
	if status == http.StatusCreated {
		c.Header("Location", "/api/v1/"+r.path+"/"+strconv.FormatInt(r.id(v), 10))
	}
	SetETag(c, r.version(v))
	JSON(c, status, body)
}

// created writes the result of a create call.
func (r resource[T]) created(c *gin.Context, v T, err error) {
	if err != nil {
		Error(c, err)
		return
	}
	r.write(c, http.StatusCreated, v)
}

// handleGet serves GET /{path}/{id}.
func (r resource[T]) handleGet(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	v, err := r.get(c.Request.Context(), id)
	if err != nil {
		Error(c, err)
		return
	}
	r.write(c, http.StatusOK, v)
}

// update runs apply with the path id and the If-Match version (0: none). A
// lost race reports the version that won, so the client knows what to reload.
func (r resource[T]) update(c *gin.Context, apply func(ctx context.Context, id int64, version int) (T, error)) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	version, ok := IfMatch(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	v, err := apply(ctx, id, version)
	if err != nil {
		Error(c, r.conflict(ctx, id, err))
		return
	}
	r.write(c, http.StatusOK, v)
}

// conflict turns a lost race on id into a versionConflict naming the
// version that won, for writes that do not fit update (escalations).
func (r resource[T]) conflict(ctx context.Context, id int64, err error) error {
	if errors.Is(err, accounts.ErrVersionConflict) {
		if cur, gerr := r.get(ctx, id); gerr == nil {
			return versionConflict{current: r.version(cur)}
		}
	}
	return err
}

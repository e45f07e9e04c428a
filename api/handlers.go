package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
)

type handlers struct {
	d           Deps
	openapiJSON []byte
	docsHTML    []byte
}

// bodyOf returns the request body the route table decoded for this handler.
// The type must match the route's Request; a mismatch is a programming
// error caught by any test of the route.
func bodyOf[T any](c *gin.Context) *T { return c.MustGet(ctxBody).(*T) }

// pathID reads a positive integer path parameter. Anything else is a 400
// that says so, never a lookup with a junk value.
func pathID(c *gin.Context, name string) (int64, bool) {
	raw := c.Param(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		WriteProblem(c, http.StatusBadRequest,
			fmt.Sprintf("%s %q in the path must be a positive integer", name, raw),
			FieldError{Field: name, Message: "must be a positive integer"})
		return 0, false
	}
	return id, true
}

func (h *handlers) createToken(c *gin.Context) {
	req := bodyOf[TokenRequest](c)
	ctx := c.Request.Context()
	if err := h.d.Throttle.Attempt(ctx, req.Email, c.ClientIP()); err != nil {
		Error(c, err)
		return
	}
	u, err := h.d.Accounts.Authenticate(ctx, req.Email, req.Password)
	if err != nil {
		Error(c, err)
		return
	}
	plain, tok, err := h.d.Accounts.IssueToken(ctx, u.ID, req.Name)
	if err != nil {
		Error(c, err)
		return
	}
	h.d.Throttle.Succeeded(ctx, req.Email)
	JSON(c, http.StatusCreated, TokenResponse{ID: tok.ID, Token: plain, Name: tok.Name, UserID: u.ID, CreatedAt: tok.CreatedAt})
}

func (h *handlers) me(c *gin.Context) {
	u, _ := CurrentUser(c)
	out := MeResponse{UserResponse: userResponse(u), Departments: []DepartmentRef{}, Permissions: []string{}}
	for _, id := range u.DepartmentIDs {
		d, err := h.d.Accounts.GetDepartment(c.Request.Context(), id)
		if errors.Is(err, accounts.ErrNotFound) {
			continue // deleted since the user was loaded
		}
		if err != nil {
			Error(c, err)
			return
		}
		out.Departments = append(out.Departments, DepartmentRef{ID: d.ID, Name: d.Name})
	}
	for _, p := range accounts.PermissionsOf(u.Roles) {
		out.Permissions = append(out.Permissions, string(p))
	}
	SetETag(c, u.Version)
	JSON(c, http.StatusOK, out)
}

func (h *handlers) listTokens(c *gin.Context) {
	u, _ := CurrentUser(c)
	toks, err := h.d.Accounts.ListTokens(c.Request.Context(), u.ID)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[TokenInfo]{Items: make([]TokenInfo, 0, len(toks))}
	for _, t := range toks {
		out.Items = append(out.Items, tokenInfo(t))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) revokeToken(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	if err := h.d.Accounts.RevokeToken(c.Request.Context(), u.ID, id); err != nil {
		Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) listUsers(c *gin.Context) {
	p, ok := ParsePage(c, "users")
	if !ok {
		return
	}
	page(c, "users", p,
		func(p accounts.Page) ([]accounts.User, error) { return h.d.Accounts.ListUsers(c.Request.Context(), p) },
		func(u accounts.User) int64 { return u.ID }, userResponse)
}

func (h *handlers) users() resource[accounts.User] {
	return resource[accounts.User]{path: "users", get: h.d.Accounts.GetUser,
		id: func(u accounts.User) int64 { return u.ID }, version: func(u accounts.User) int { return u.Version },
		render: func(u accounts.User) any { return userResponse(u) }}
}

func (h *handlers) createUser(c *gin.Context) {
	req := bodyOf[CreateUserRequest](c)
	u, err := h.d.Accounts.CreateUser(c.Request.Context(), accounts.NewUser{Email: req.Email, Name: req.Name,
		Locale: req.Locale, Password: req.Password, Roles: req.Roles, DepartmentIDs: req.DepartmentIDs})
	h.users().created(c, u, err)
}

func (h *handlers) getUser(c *gin.Context) { h.users().handleGet(c) }

func (h *handlers) updateUser(c *gin.Context) {
	h.users().update(c, func(ctx context.Context, id int64, version int) (accounts.User, error) {
		return h.d.Accounts.UpdateUser(ctx, id, version, bodyOf[UpdateUserRequest](c).patch())
	})
}

func (h *handlers) listDepartments(c *gin.Context) {
	p, ok := ParsePage(c, "departments")
	if !ok {
		return
	}
	page(c, "departments", p,
		func(p accounts.Page) ([]accounts.Department, error) {
			return h.d.Accounts.ListDepartments(c.Request.Context(), p)
		},
		func(d accounts.Department) int64 { return d.ID }, departmentResponse)
}

func (h *handlers) departments() resource[accounts.Department] {
	return resource[accounts.Department]{path: "departments", get: h.d.Accounts.GetDepartment,
		id: func(d accounts.Department) int64 { return d.ID }, version: func(d accounts.Department) int { return d.Version },
		render: func(d accounts.Department) any { return departmentResponse(d) }}
}

func (h *handlers) createDepartment(c *gin.Context) {
	d, err := h.d.Accounts.CreateDepartment(c.Request.Context(), bodyOf[CreateDepartmentRequest](c).input())
	h.departments().created(c, d, err)
}

func (h *handlers) getDepartment(c *gin.Context) { h.departments().handleGet(c) }

func (h *handlers) updateDepartment(c *gin.Context) {
	h.departments().update(c, func(ctx context.Context, id int64, version int) (accounts.Department, error) {
		return h.d.Accounts.UpdateDepartment(ctx, id, version, bodyOf[UpdateDepartmentRequest](c).patch())
	})
}

func (h *handlers) healthz(c *gin.Context) {
	JSON(c, http.StatusOK, HealthResponse{Status: "ok", Version: h.d.Version})
}

// Check is a named readiness probe, e.g. the job queue.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

func (h *handlers) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := []Check{{Name: "database", Check: func(ctx context.Context) error {
		if h.d.DB == nil {
			return errors.New("not configured")
		}
		return h.d.DB.Ping(ctx)
	}}, {Name: "redis", Check: func(ctx context.Context) error {
		if h.d.Redis == nil {
			return errors.New("not configured")
		}
		return h.d.Redis.Ping(ctx).Err()
	}}}
	checks = append(checks, h.d.Ready...)

	// In parallel, so one slow dependency does not hide the others' state.
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, ck := range checks {
		wg.Go(func() {
			done := make(chan error, 1)
			go func() { done <- ck.Check(ctx) }()
			select {
			case errs[i] = <-done:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("no answer within 2s")
			}
		})
	}
	wg.Wait()

	out := HealthResponse{Status: "ok", Version: h.d.Version, Checks: map[string]string{}}
	var failed []FieldError
	for i, ck := range checks {
		if errs[i] != nil {
			// The cause goes to the log, not to whoever can reach the probe:
			// driver errors name hosts and users.
			loggerFrom(c).WarnContext(ctx, "readiness check failed", "check", ck.Name, "error", errs[i])
			failed = append(failed, FieldError{Field: ck.Name, Message: "unavailable; see the server log"})
			continue
		}
		out.Checks[ck.Name] = "ok"
	}
	if len(failed) > 0 {
		names := ""
		for i, f := range failed {
			if i > 0 {
				names += ", "
			}
			names += f.Field
		}
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable, "not ready: "+names+" failed", failed...)
		return
	}
	JSON(c, http.StatusOK, out)
}

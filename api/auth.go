package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
)

// SetUser puts the authenticated user in the context; web/ calls it after
// checking its session cookie so CurrentUser and RequirePermission work there.
func SetUser(c *gin.Context, u accounts.User) { c.Set(ctxUser, u) }

// CurrentUser returns the authenticated user of the request.
func CurrentUser(c *gin.Context) (accounts.User, bool) {
	v, ok := c.Get(ctxUser)
	if !ok {
		return accounts.User{}, false
	}
	u, ok := v.(accounts.User)
	return u, ok
}

// unauthorized is a 401 that tells the client how to authenticate.
func unauthorized(c *gin.Context, detail string) {
	c.Header("WWW-Authenticate", `Bearer realm="loopdesk"`)
	WriteProblem(c, http.StatusUnauthorized, detail)
}

// BearerAuth authenticates "Authorization: Bearer <token>" and stores the
// user. Unknown, revoked and malformed tokens look the same to the client.
func BearerAuth(svc *accounts.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		if h == "" {
			unauthorized(c, "authentication required: send Authorization: Bearer <token> (create one with POST /api/v1/auth/tokens)")
			return
		}
		scheme, token, found := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 512 || strings.ContainsAny(token, " \t") {
			unauthorized(c, "the Authorization header must be: Bearer <token>")
			return
		}
		u, err := svc.AuthenticateToken(c.Request.Context(), token)
		switch {
		case err == nil:
		case errors.Is(err, accounts.ErrInactive):
			WriteProblem(c, http.StatusForbidden, err.Error())
			return
		case errors.Is(err, accounts.ErrNotFound), errors.Is(err, accounts.ErrInvalidCredentials):
			unauthorized(c, "the token is unknown or revoked; create a new one with POST /api/v1/auth/tokens")
			return
		default:
			internalError(c, err)
			return
		}
		if !u.Active {
			WriteProblem(c, http.StatusForbidden, accounts.ErrInactive.Error())
			return
		}
		SetUser(c, u)
		c.Next()
	}
}

// RequirePermission lets the request through only when the current user's
// roles grant p (accounts.Can is the one place that decides).
func RequirePermission(p accounts.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, ok := CurrentUser(c)
		if !ok {
			unauthorized(c, "authentication required")
			return
		}
		if !u.Can(p) {
			WriteProblem(c, http.StatusForbidden,
				"this requires the permission "+string(p)+", which your roles do not grant")
			return
		}
		c.Next()
	}
}

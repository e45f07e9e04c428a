package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for name, hdr := range map[string]string{
			"missing":   "",
			"malformed": "Token abc",
			"empty":     "Bearer ",
			"unknown":   "Bearer ld_doesnotexist",
		} {
			r := e.req("GET", "/api/v1/me", "", nil, "Authorization: "+hdr)
			r.problem(http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", name, r.Header().Get("WWW-Authenticate"))
			}
		}

		var me struct {
			ID          int64    `json:"id"`
			Email       string   `json:"email"`
			Roles       []string `json:"roles"`
			Permissions []string `json:"permissions"`
			Departments []any    `json:"departments"`
		}
		e.req("GET", "/api/v1/me", e.adminTok, nil).status(200).json(&me)
		if me.ID != e.admin.ID || me.Email != "admin@example.com" || len(me.Roles) != 1 || me.Roles[0] != "admin" {
			t.Fatalf("me = %+v", me)
		}
		if !contains(me.Permissions, "users:write") || me.Departments == nil {
			t.Fatalf("admin permissions %v, departments %v", me.Permissions, me.Departments)
		}
		if strings.Contains(e.req("GET", "/api/v1/me", e.adminTok, nil).Body.String(), "password") {
			t.Fatal("a password field leaked into /me")
		}

		p := e.req("POST", "/api/v1/users", e.reqTok, map[string]any{"email": "x@example.com", "name": "X", "roles": []string{"agent"}}).
			problem(http.StatusForbidden)
		if !strings.Contains(p.Detail, "users:write") {
			t.Fatalf("403 does not name the permission: %s", p.Detail)
		}

		// Deactivated: 403, not 401 (the token is fine, the account is not).
		_, tok := e.user("gone@example.com", "agent")
		uid := e.userID("gone@example.com")
		e.req("PATCH", "/api/v1/users/"+itoa(uid), e.adminTok, map[string]any{"active": false}).status(200)
		e.req("GET", "/api/v1/me", tok, nil).problem(http.StatusForbidden)
	})
}

func TestTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "ADMIN@example.com", "password": testPassword, "name": "cli"}).
			status(201).json(&tok)
		if tok.Token == "" || tok.ID == 0 {
			t.Fatalf("token response %+v", tok)
		}
		e.req("GET", "/api/v1/me", tok.Token, nil).status(200)

		var list struct {
			Items []struct {
				ID        int64   `json:"id"`
				Name      string  `json:"name"`
				RevokedAt *string `json:"revoked_at"`
			} `json:"items"`
		}
		e.req("GET", "/api/v1/me/tokens", tok.Token, nil).status(200).json(&list)
		if len(list.Items) != 2 || list.Items[1].Name != "cli" {
			t.Fatalf("tokens %+v", list)
		}
		// Someone else's token is not found, not revocable.
		e.req("DELETE", "/api/v1/me/tokens/"+itoa(tok.ID), e.reqTok, nil).problem(http.StatusNotFound)
		e.req("DELETE", "/api/v1/me/tokens/abc", tok.Token, nil).problem(http.StatusBadRequest)
		e.req("DELETE", "/api/v1/me/tokens/"+itoa(tok.ID), tok.Token, nil).status(http.StatusNoContent)
		e.req("GET", "/api/v1/me", tok.Token, nil).problem(http.StatusUnauthorized)

		e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "admin@example.com", "password": "wrong password"}).
			problem(http.StatusUnauthorized)
		p := e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "admin@example.com"}).problem(422)
		if p.field("password") == "" {
			t.Fatalf("missing password not reported: %+v", p)
		}
	})
}

// Rate limits run on both the in-process server and a real Redis.
func TestLoginRateLimit(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, redisURL string) {
		e := newEnv(t, testenv.SQLite(t), redisURL)
		wrong := map[string]any{"email": "admin@example.com", "password": "not the password"}
		for i := 0; i < 10; i++ {
			e.req("POST", "/api/v1/auth/tokens", "", wrong).problem(http.StatusUnauthorized)
		}
		// The account is locked even for the right password, until the window ends.
		r := e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "Admin@Example.com", "password": testPassword})
		r.problem(http.StatusTooManyRequests)
		if ra := r.Header().Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		// Other accounts from the same IP are still fine (per-IP limit is 50).
		e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "req@example.com", "password": testPassword}).status(201)

		// The per-IP limit: 50 attempts in the window across any accounts.
		for i := 0; i < 38; i++ {
			e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "nobody" + itoa(int64(i)) + "@example.com", "password": "x"}).
				problem(http.StatusUnauthorized)
		}
		e.req("POST", "/api/v1/auth/tokens", "", map[string]any{"email": "req@example.com", "password": testPassword}).
			problem(http.StatusTooManyRequests)
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (e *env) userID(email string) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.Table("users").Where("email = ?", email).Pluck("id", &id).Error; err != nil {
		e.t.Fatal(err)
	}
	return id
}

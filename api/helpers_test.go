package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

const testPassword = "correct horse battery"

// env is a full engine on real backends, with an admin and a requester.
type env struct {
	t         testing.TB
	eng       *gin.Engine
	svc       *accounts.Service
	tix       *tickets.Service
	sla       *sla.Service
	kb        *knowledge.Service
	db        *database.DB
	rdb       *redis.Client
	reg       *prometheus.Registry
	logs      *bytes.Buffer
	admin     accounts.User
	adminTok  string
	requester accounts.User
	reqTok    string
}

func newEnv(t testing.TB, db *database.DB, redisURL string) *env {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	svc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	logs := &bytes.Buffer{}
	e := &env{t: t, svc: svc, tix: tickets.New(db, svc), db: db, rdb: rdb, reg: prometheus.NewRegistry(), logs: logs}
	e.sla = sla.New(db, e.tix)
	e.kb = knowledge.New(db, e.tix, knowledge.WithSuggestRefresh(0))
	e.eng = api.NewEngine(api.Deps{
		Accounts: svc, Tickets: e.tix, SLA: e.sla, Knowledge: e.kb, DB: db, Redis: rdb, Throttle: accounts.NewLoginThrottle(ratelimit.New(rdb, "test:rl:")),
		Registry: e.reg, Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)), Version: "test",
	})
	e.admin, e.adminTok = e.user("admin@example.com", accounts.RoleAdmin)
	e.requester, e.reqTok = e.user("req@example.com", accounts.RoleRequester)
	return e
}

func (e *env) user(email string, roles ...accounts.Role) (accounts.User, string) {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.svc.CreateUser(ctx, accounts.NewUser{Email: email, Name: strings.Split(email, "@")[0], Password: testPassword, Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.svc.IssueToken(ctx, u.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return u, tok
}

// forEachBackend runs fn on every configured database with the in-process
// Redis (the Redis variants are exercised where Redis matters: rate limits).
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		fn(t, newEnv(t, db, testenv.EmbeddedRedis(t)))
	})
}

type resp struct {
	*httptest.ResponseRecorder
	t testing.TB
}

// req is one request. body: nil, a string/[]byte sent as is, or a value
// encoded as JSON. hdr are "Name: value" pairs.
func (e *env) req(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.eng.ServeHTTP(w, r)
	return resp{w, e.t}
}

func (r resp) status(want int) resp {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Code, want, r.Body.String())
	}
	return r
}

func (r resp) json(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body.String(), err)
	}
}

type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// problem asserts a problem+json response with status and returns it.
func (r resp) problem(status int) problem {
	r.t.Helper()
	r.status(status)
	if ct := r.Header().Get("Content-Type"); ct != api.ProblemContentType {
		r.t.Fatalf("Content-Type %q, want problem+json; body %s", ct, r.Body.String())
	}
	var p problem
	r.json(&p)
	if p.Status != status || p.Title == "" || p.Detail == "" || p.RequestID == "" {
		r.t.Fatalf("incomplete problem: %s", r.Body.String())
	}
	return p
}

func (p problem) field(name string) string {
	for _, f := range p.Errors {
		if f.Field == name {
			return f.Message
		}
	}
	return ""
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

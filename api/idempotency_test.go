package api_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/api"
)

func TestIdempotencyKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		body := map[string]any{"email": "idem@example.com", "name": "Idem", "roles": []string{"agent"}}
		first := e.req("POST", "/api/v1/users", e.adminTok, body, "Idempotency-Key: key-1").status(201)
		again := e.req("POST", "/api/v1/users", e.adminTok, body, "Idempotency-Key: key-1").status(201)
		if again.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("replay header: first %q, again %q", first.Header().Get("Idempotent-Replayed"), again.Header().Get("Idempotent-Replayed"))
		}
		var a, b userJSON
		first.json(&a)
		again.json(&b)
		if a.ID != b.ID || again.Header().Get("Location") != first.Header().Get("Location") || again.Header().Get("ETag") != `"1"` {
			t.Fatalf("replay differs: %+v vs %+v, headers %v", a, b, again.Header())
		}
		if n := e.count("users", "email = ?", "idem@example.com"); n != 1 {
			t.Fatalf("%d users created", n)
		}

		// Same key, different body or endpoint: refused, nothing created.
		other := map[string]any{"email": "other@example.com", "name": "Other", "roles": []string{"agent"}}
		p := e.req("POST", "/api/v1/users", e.adminTok, other, "Idempotency-Key: key-1").problem(422)
		if !strings.Contains(p.Detail, "different request body") {
			t.Fatalf("detail %q", p.Detail)
		}
		e.req("POST", "/api/v1/departments", e.adminTok, body, "Idempotency-Key: key-1").problem(422)
		if n := e.count("users", "email = ?", "other@example.com"); n != 0 {
			t.Fatal("mismatched key created a user")
		}
		// Keys are per user: another admin may use the same key.
		_, admin2 := e.user("admin2@example.com", "admin")
		e.req("POST", "/api/v1/users", admin2, other, "Idempotency-Key: key-1").status(201)

		// A failed request releases its claim, so the fixed retry works.
		bad := map[string]any{"email": "fix@example.com", "name": "Fix", "roles": []string{"agent"}, "password": "short"}
		e.req("POST", "/api/v1/users", e.adminTok, bad, "Idempotency-Key: key-2").problem(422)
		bad["password"] = "long enough now"
		e.req("POST", "/api/v1/users", e.adminTok, bad, "Idempotency-Key: key-2").status(201)

		e.req("POST", "/api/v1/users", e.adminTok, body, "Idempotency-Key: "+strings.Repeat("k", 201)).problem(400)
		if n := e.count("idempotency_keys", "status = 0"); n != 0 {
			t.Fatalf("%d claims left in progress", n)
		}
	})
}

func TestIdempotencyConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		body := map[string]any{"email": "race@example.com", "name": "Race", "roles": []string{"agent"}}
		const n = 12
		codes := make([]int, n)
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Go(func() {
				r := e.req("POST", "/api/v1/users", e.adminTok, body, "Idempotency-Key: same")
				codes[i] = r.Code
				if r.Code == 201 {
					var u userJSON
					r.json(&u)
					ids[i] = itoa(u.ID)
				}
			})
		}
		wg.Wait()
		if c := e.count("users", "email = ?", "race@example.com"); c != 1 {
			t.Fatalf("%d users created by concurrent same-key POSTs (codes %v)", c, codes)
		}
		created := ""
		for i, c := range codes {
			switch c {
			case 201:
				if created != "" && ids[i] != created {
					t.Fatalf("different ids %v", ids)
				}
				created = ids[i]
			case http.StatusConflict: // in progress
			default:
				t.Fatalf("unexpected status %d among %v", c, codes)
			}
		}
		t.Logf("statuses of %d concurrent same-key POSTs: %v", n, codes)
		if created == "" {
			t.Fatalf("no request succeeded: %v", codes)
		}
	})
}

func (e *env) count(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A second request while the first still runs is told so, and nothing runs
// twice; once the first finishes, repeats replay it.
func TestIdempotencyInProgress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		var runs atomic.Int32
		e.eng.POST("/test/slow", api.BearerAuth(e.svc), api.Idempotency(e.db), func(c *gin.Context) {
			runs.Add(1)
			<-release
			c.Header("Location", "/test/slow/1")
			api.JSON(c, http.StatusCreated, map[string]any{"id": 1, "version": 4})
		})
		done := make(chan resp)
		go func() { done <- e.req("POST", "/test/slow", e.adminTok, `{"a":1}`, "Idempotency-Key: slow") }()
		deadline := time.Now().Add(5 * time.Second)
		for e.count("idempotency_keys", "idem_key = ?", "slow") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("claim never appeared")
			}
			time.Sleep(5 * time.Millisecond)
		}
		r := e.req("POST", "/test/slow", e.adminTok, `{"a":1}`, "Idempotency-Key: slow")
		p := r.problem(http.StatusConflict)
		if !strings.Contains(p.Detail, "in progress") || r.Header().Get("Retry-After") == "" {
			t.Fatalf("in-progress answer %+v", p)
		}
		close(release)
		(<-done).status(201)
		r = e.req("POST", "/test/slow", e.adminTok, `{"a":1}`, "Idempotency-Key: slow").status(201)
		if runs.Load() != 1 || r.Header().Get("Idempotent-Replayed") != "true" ||
			r.Header().Get("Location") != "/test/slow/1" || r.Header().Get("ETag") != `"4"` {
			t.Fatalf("runs %d, headers %v", runs.Load(), r.Header())
		}
	})
}

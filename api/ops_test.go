package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestHealthAndReadiness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var h struct{ Status string }
		e.req("GET", "/healthz", "", nil).status(200).json(&h)
		if h.Status != "ok" {
			t.Fatalf("healthz %+v", h)
		}
		var ready struct {
			Status string
			Checks map[string]string
		}
		e.req("GET", "/readyz", "", nil).status(200).json(&ready)
		if ready.Checks["database"] != "ok" || ready.Checks["redis"] != "ok" {
			t.Fatalf("readyz %+v", ready)
		}
	})

	t.Run("failing", func(t *testing.T) {
		e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
		// A named extra check that fails and Redis gone: both are listed.
		eng := api.NewEngine(api.Deps{Accounts: e.svc, DB: e.db, Redis: e.rdb, Registry: e.reg,
			Ready: []api.Check{{Name: "jobs", Check: func(context.Context) error { return errors.New("worker heartbeat missing") }}}})
		e.eng = eng
		p := e.req("GET", "/readyz", "", nil).problem(http.StatusServiceUnavailable)
		if p.field("jobs") == "" || p.field("redis") != "" {
			t.Fatalf("503 %+v", p)
		}
		e.rdb.Close()
		p = e.req("GET", "/readyz", "", nil).problem(http.StatusServiceUnavailable)
		if p.field("redis") == "" || p.field("database") != "" || !strings.Contains(p.Detail, "redis") {
			t.Fatalf("503 %+v", p)
		}
		// A hung check is cut off at 2s, not waited for.
		eng = api.NewEngine(api.Deps{Accounts: e.svc, DB: e.db, Redis: e.rdb, Registry: e.reg,
			Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: e.logs}, nil)),
			Ready:  []api.Check{{Name: "slow", Check: func(ctx context.Context) error { select {} }}}})
		e.eng = eng
		p = e.req("GET", "/readyz", "", nil).problem(http.StatusServiceUnavailable)
		if p.field("slow") == "" {
			t.Fatalf("hung check: %+v", p)
		}
		// Causes stay in the log: driver errors name hosts and users.
		if !strings.Contains(e.logs.String(), "no answer within 2s") || strings.Contains(p.field("slow"), "2s") {
			t.Fatalf("the timeout belongs in the log, not the response: %+v", p)
		}
	})
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))

	// Request IDs: a sane incoming one is kept, anything else replaced.
	r := e.req("GET", "/healthz", "", nil, "X-Request-ID: abc-123.x_y")
	if r.Header().Get("X-Request-ID") != "abc-123.x_y" {
		t.Fatalf("request id %q", r.Header().Get("X-Request-ID"))
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 65), "a\"b", "é"} {
		got := e.req("GET", "/healthz", "", nil, "X-Request-ID: "+bad).Header().Get("X-Request-ID")
		if got == bad || len(got) < 16 {
			t.Fatalf("bad request id %q became %q", bad, got)
		}
	}
	p := e.req("GET", "/api/v1/me", "", nil, "X-Request-ID: trace-me").problem(401)
	if p.RequestID != "trace-me" || p.Instance != "/api/v1/me" {
		t.Fatalf("problem %+v", p)
	}

	// A panic in a route (web adds its own to this engine) is a logged 500.
	e.eng.GET("/boom", func(c *gin.Context) { panic("kaboom") })
	p = e.req("GET", "/boom", "", nil, "X-Request-ID: boom-1").problem(500)
	if strings.Contains(p.Detail, "kaboom") || !strings.Contains(p.Detail, "boom-1") {
		t.Fatalf("500 detail %q", p.Detail)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "kaboom") || !strings.Contains(logs, "goroutine") {
		t.Fatalf("panic not logged with stack:\n%s", logs)
	}
	// Access log lines carry the request id, route template and user.
	e.req("GET", "/api/v1/users/"+itoa(e.admin.ID), e.adminTok, nil, "X-Request-ID: log-me").status(200)
	var found bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"log-me"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if m["route"] != "/api/v1/users/:id" || m["status"] != float64(200) || m["user_id"] != float64(e.admin.ID) || m["method"] != "GET" {
				t.Fatalf("access log %v", m)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no access log line")
	}

	// Metrics use route templates; unmatched paths share one series.
	e.req("GET", "/no/such/path/1", "", nil)
	e.req("GET", "/no/such/path/2", "", nil)
	body := e.req("GET", "/metrics", "", nil).status(200).Body.String()
	for _, want := range []string{
		`loopdesk_http_requests_total{method="GET",route="/api/v1/users/:id",status="200"} 1`,
		`loopdesk_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`loopdesk_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/no/such/path") || strings.Contains(body, `route="/api/v1/users/`+itoa(e.admin.ID)) {
		t.Fatal("raw paths leaked into metric labels")
	}
}

// The OpenAPI document and the router come from one table; this keeps it so.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	r := e.req("GET", "/api/v1/openapi.json", "", nil).status(200)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			Responses       map[string]any            `json:"responses"`
			SecuritySchemes map[string]any            `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Components.SecuritySchemes["bearerAuth"] == nil || doc.Components.Schemas["Problem"] == nil {
		t.Fatalf("document head: %s", doc.OpenAPI)
	}
	inRouter := map[string]bool{}
	for _, ri := range e.eng.Routes() {
		if !strings.HasPrefix(ri.Path, "/api/v1") {
			continue
		}
		key := strings.ToLower(ri.Method) + " " + openAPIPath(ri.Path)
		inRouter[key] = true
		if doc.Paths[openAPIPath(ri.Path)][strings.ToLower(ri.Method)] == nil {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/v1") {
			continue
		}
		for m := range ops {
			if !inRouter[m+" "+path] {
				t.Errorf("document has %s %s, the router does not", m, path)
			}
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				var target any
				switch parts[0] {
				case "schemas":
					target = doc.Components.Schemas[parts[1]]
				case "responses":
					target = doc.Components.Responses[parts[1]]
				}
				if target == nil {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var raw any
	json.Unmarshal(r.Body.Bytes(), &raw)
	walk(raw)

	// Spot checks of the reflected schemas.
	post := doc.Paths["/api/v1/users"]["post"]
	if post["x-permission"] != "users:write" {
		t.Errorf("POST /users permission %v", post["x-permission"])
	}
	req := doc.Components.Schemas["CreateUserRequest"]
	if !sameSet(req["required"], "email", "name", "roles") || req["additionalProperties"] != false {
		t.Errorf("CreateUserRequest required %v", req["required"])
	}
	props := req["properties"].(map[string]any)
	roles := props["roles"].(map[string]any)["items"].(map[string]any)
	if len(roles["enum"].([]any)) != 5 {
		t.Errorf("roles enum %v", roles)
	}
	dept := doc.Components.Schemas["UpdateDepartmentRequest"]["properties"].(map[string]any)
	if lt := dept["lead_id"].(map[string]any)["type"]; !sameSet(lt, "integer", "null") {
		t.Errorf("PATCH lead_id type %v, want integer|null", lt)
	}
	if nt := dept["name"].(map[string]any)["type"]; nt != "string" {
		t.Errorf("PATCH name type %v", nt)
	}
	if _, ok := doc.Components.Schemas["UpdateDepartmentRequest"]["required"]; ok {
		t.Error("PATCH body has required fields")
	}
	user := doc.Components.Schemas["UserResponse"]["properties"].(map[string]any)
	if user["created_at"].(map[string]any)["format"] != "date-time" || user["id"].(map[string]any)["format"] != "int64" {
		t.Errorf("UserResponse %v", user)
	}
	if _, ok := user["password"]; ok {
		t.Error("password in UserResponse")
	}
	for _, code := range []string{"401", "403", "409", "413", "415", "422"} {
		if post["responses"].(map[string]any)[code] == nil {
			t.Errorf("POST /users does not document %s", code)
		}
	}

	html := e.req("GET", "/api/docs", "", nil).status(200).Body.String()
	for _, want := range []string{"/api/v1/users/{id}", "users:write", "CreateUserRequest", "department_ids", "PATCH"} {
		if !strings.Contains(html, want) {
			t.Errorf("docs page lacks %q", want)
		}
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, "<script") {
		t.Error("docs page loads outside assets")
	}
}

func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func sameSet(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, x := range l {
			found = found || x == w
		}
		if !found {
			return false
		}
	}
	return true
}

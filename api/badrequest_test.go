package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Requests as a new user would get them wrong: every one is a 4xx problem
// with a detail that says what to fix, never a 500.
func TestBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		valid := `{"email":"new@example.com","name":"New","roles":["agent"]}`
		cases := []struct {
			name, method, path, body string
			hdr                      []string
			status                   int
			detail, field            string // substrings expected in detail / a field error name
		}{
			{"malformed", "POST", "/api/v1/users", `{"email": "a@b.c",`, nil, 400, "malformed JSON", ""},
			{"syntax offset", "POST", "/api/v1/users", `{"email" "a"}`, nil, 400, "byte offset", ""},
			{"wrong type", "POST", "/api/v1/users", `{"email":"a@example.com","name":"A","roles":"admin"}`, nil, 422, "roles", "roles"},
			{"number for string", "POST", "/api/v1/users", `{"email":5,"name":"A","roles":["agent"]}`, nil, 422, "email", "email"},
			{"unknown field", "POST", "/api/v1/users", `{"email":"a@example.com","name":"A","roles":["agent"],"admin":true}`, nil, 422, "admin", "admin"},
			{"miscased field", "POST", "/api/v1/users", `{"Email":"a@example.com","name":"A","roles":["agent"]}`, nil, 422, "unknown", "Email"},
			{"missing fields", "POST", "/api/v1/users", `{"roles":["agent"]}`, nil, 422, "invalid fields", "name"},
			{"unknown role", "POST", "/api/v1/users", `{"email":"a@example.com","name":"A","roles":["agent","root"]}`, nil, 422, "invalid", "roles[1]"},
			{"bad email", "POST", "/api/v1/users", `{"email":"not an email","name":"A","roles":["agent"]}`, nil, 422, "invalid", "email"},
			{"huge number", "POST", "/api/v1/users", `{"email":"a@example.com","name":"A","roles":["agent"],"department_ids":[1e400]}`, nil, 422, "department_ids", "department_ids"},
			{"unknown department", "POST", "/api/v1/users", `{"email":"a@example.com","name":"A","roles":["agent"],"department_ids":[987654]}`, nil, 422, "invalid", "department_ids"},
			{"trailing data", "POST", "/api/v1/users", valid + `{"x":1}`, nil, 400, "after the JSON object", ""},
			{"array body", "POST", "/api/v1/users", `[1,2]`, nil, 422, "JSON object", ""},
			{"null body", "POST", "/api/v1/users", `null`, nil, 422, "JSON object", ""},
			{"empty body", "POST", "/api/v1/users", ``, nil, 400, "empty", ""},
			{"deep nesting", "POST", "/api/v1/users", strings.Repeat("[", 20000), nil, 400, "", ""},
			{"text/plain", "POST", "/api/v1/users", valid, []string{"Content-Type: text/plain"}, 415, "application/json", ""},
			{"no content type", "POST", "/api/v1/users", valid, []string{"Content-Type: "}, 415, "application/json", ""},
			{"form", "POST", "/api/v1/users", "email=a", []string{"Content-Type: application/x-www-form-urlencoded"}, 415, "", ""},
			{"10 MB", "POST", "/api/v1/users", `{"name":"` + strings.Repeat("a", 10<<20) + `"}`, nil, 413, "1 MiB", ""},
			{"limit too big", "GET", "/api/v1/users?limit=201", "", nil, 400, "1 to 200", "limit"},
			{"limit zero", "GET", "/api/v1/users?limit=0", "", nil, 400, "limit", "limit"},
			{"limit text", "GET", "/api/v1/users?limit=ten", "", nil, 400, "limit", "limit"},
			{"bad cursor", "GET", "/api/v1/users?cursor=!!!", "", nil, 400, "cursor", "cursor"},
			{"forged cursor", "GET", "/api/v1/users?cursor=AAAAAAAAAAEAAAAA", "", nil, 400, "cursor", "cursor"},
			{"non-numeric id", "GET", "/api/v1/users/abc", "", nil, 400, "positive integer", "id"},
			{"negative id", "GET", "/api/v1/departments/-1", "", nil, 400, "positive integer", "id"},
			{"overflow id", "PATCH", "/api/v1/users/99999999999999999999", `{"name":"x"}`, nil, 400, "positive integer", "id"},
			{"sql id", "GET", "/api/v1/users/1%20OR%201=1", "", nil, 400, "positive integer", "id"},
			{"no route", "GET", "/api/v1/nope", "", nil, 404, "/api/docs", ""},
			{"wrong method", "DELETE", "/api/v1/users", "", nil, 405, "DELETE", ""},
			{"patch wrong type", "PATCH", "/api/v1/departments/1", `{"tier":"high"}`, nil, 422, "tier", "tier"},
			{"bad if-match", "PATCH", "/api/v1/users/1", `{"name":"x"}`, []string{"If-Match: yesterday"}, 400, "If-Match", "If-Match"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.req(tc.method, tc.path, e.adminTok, tc.body, tc.hdr...)
				p := r.problem(tc.status)
				if !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
				}
				if tc.field != "" && p.field(tc.field) == "" {
					t.Errorf("no error for field %q: %+v", tc.field, p.Errors)
				}
			})
		}

		// Missing fields are all listed at once.
		p := e.req("POST", "/api/v1/users", e.adminTok, `{}`).problem(422)
		for _, f := range []string{"email", "name", "roles"} {
			if p.field(f) == "" {
				t.Errorf("missing %s not listed: %+v", f, p.Errors)
			}
		}
		// 405 says what is allowed.
		if allow := e.req("DELETE", "/api/v1/users", e.adminTok, nil).Header().Get("Allow"); !strings.Contains(allow, "GET") {
			t.Errorf("Allow %q", allow)
		}

		// SQL-looking and odd strings are data, stored and returned verbatim.
		for i, name := range []string{`Robert'); DROP TABLE users;--`, `" OR 1=1 --`, "名字 🎫 \u202e", `\x00<script>`} {
			var u userJSON
			e.req("POST", "/api/v1/users", e.adminTok, map[string]any{"email": "sql" + itoa(int64(i)) + "@example.com", "name": name, "roles": []string{"requester"}}).
				status(http.StatusCreated).json(&u)
			var back userJSON
			e.req("GET", "/api/v1/users/"+itoa(u.ID), e.adminTok, nil).status(200).json(&back)
			if back.Name != name {
				t.Fatalf("name %q came back as %q", name, back.Name)
			}
		}
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": `x' OR '1'='1`}).status(201)
		if n := e.count("users", "1=1"); n < 6 {
			t.Fatalf("users table lost rows: %d", n)
		}
		if strings.Contains(e.logs.String(), `"status":500`) {
			t.Fatalf("a 500 was logged:\n%s", e.logs.String())
		}
	})
}

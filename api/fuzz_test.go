package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/tickets"
)

// FuzzDecode drives arbitrary bytes through Decode with the real request
// types: it must never panic and only answer "accepted" or a 4xx.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"email":"a@example.com","name":"A","roles":["agent"]}`,
		`{"email":"a@example.com","name":"A","roles":"admin"}`,
		`{"email": "a@b.c",`, `{"email" "a"}`, `{}`, `[]`, `null`, `""`, ``, ` `, `{"a":1}{"b":2}`,
		strings.Repeat("[", 5000), strings.Repeat(`{"a":`, 2000),
		`{"department_ids":[1e400, -0, 9223372036854775808]}`, `{"tier":1.5}`, `{"lead_id":null,"tier":null}`,
		`{"name":"名字 🎫 \ud800"}`, "{\"name\":\"\xff\xfe\"}", `{"name":"Robert'); DROP TABLE users;--"}`,
		`{"email":"' OR 1=1 --","name":"\u0000","roles":["admin' --"]}`, `{"Email":"x"}`, `{"name":"a","name":null}`,
		`{"subject":"打印机 🎫","tags":["a","b"],"custom_fields":{"k":"v"},"priority":"P1","channel":"email"}`,
		`{"subject":"x","custom_fields":{"k":1}}`, `{"department_id":null,"assignee_id":0,"tags":null}`,
		`{"event":"resolve","fields":{"resolution":"ok","no_article_reason":""},"comment":"done"}`, `{"event":"","fields":[]}`,
		`{"kind":"functional","tier":2,"to_department_id":3,"reason":"x"}`, `{"kind":"sideways"}`,
		`{"from_version":1,"to_version":2,"state_map":{"a":"b"}}`, `{"body":"hi","internal":"yes"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.ReleaseMode)
	targets := []func() any{
		func() any { return new(CreateUserRequest) },
		func() any { return new(UpdateUserRequest) },
		func() any { return new(CreateDepartmentRequest) },
		func() any { return new(UpdateDepartmentRequest) },
		func() any { return new(CreateTicketRequest) },
		func() any { return new(UpdateTicketRequest) },
		func() any { return new(CreateCommentRequest) },
		func() any { return new(TransitionRequest) },
		func() any { return new(CreateEscalationRequest) },
		func() any { return new(WorkflowMigrationRequest) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range targets {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest("POST", "/fuzz", bytes.NewReader(body))
			c.Request.Header.Set("Content-Type", "application/json")
			ok := Decode(c, mk())
			status := c.Writer.Status()
			if ok && status != http.StatusOK {
				t.Fatalf("accepted but wrote %d", status)
			}
			if !ok && (status < 400 || status > 499) {
				t.Fatalf("rejected with %d for %q", status, body)
			}
			if !ok && !strings.Contains(w.Body.String(), `"detail"`) {
				t.Fatalf("rejection without detail: %s", w.Body.String())
			}
		}
	})
}

// FuzzTicketQuery drives arbitrary query strings through the GET /tickets
// parser: it never panics, rejects with a detail and named fields, and what
// it accepts is within bounds.
func FuzzTicketQuery(f *testing.F) {
	for _, s := range []string{
		"", "status=open,new&status=closed", "priority=P1,P9", "assignee_id=none", "assignee_id=NONE&assignee_id=3",
		"created_from=2026-01-01&created_to=2026-01-01", "created_from=2026-01-01T00:00:00%2B08:00", "created_to=0000-01-01",
		"q=%ff", "q=" + strings.Repeat("字", 600), "sla=breached", "limit=200&cursor=abc", "limit=-1", "limit=1e3",
		"sort=priority&tag=%00", "department_id=9223372036854775808", "status=,,,", "status_category=open,resolved",
		"a=1&a=2;b", "%zz", "q=' OR 1=1 --", "category=" + strings.Repeat("c", 250),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return // gin answers what it cannot parse the same way: no values
		}
		q, detail, fe := parseTicketQuery(vals)
		if fe != nil {
			if detail == "" {
				t.Fatalf("rejected %q without detail", raw)
			}
			for _, f := range fe {
				if f.Field == "" || f.Message == "" || len(f.Message) > 400 {
					t.Fatalf("bad field error %+v for %q", f, raw)
				}
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit || utf8.RuneCountInString(q.Filter.Q) > maxQueryRunes || len(q.Cursor) > 512 {
			t.Fatalf("accepted out of bounds %+v for %q", q, raw)
		}
		for _, s := range q.Filter.Priority {
			if !slices.Contains(tickets.Priorities, s) {
				t.Fatalf("accepted priority %q", s)
			}
		}
		for _, s := range q.Filter.Status {
			if !stateNamePattern.MatchString(s) {
				t.Fatalf("accepted status %q", s)
			}
		}
		if q.Filter.Unassigned && q.Filter.AssigneeID != nil {
			t.Fatalf("both unassigned and an assignee for %q", raw)
		}
		if f := q.Filter; f.CreatedFrom != nil && f.CreatedTo != nil && f.CreatedTo.Before(*f.CreatedFrom) {
			t.Fatalf("accepted an empty time range for %q", raw)
		}
	})
}

package api_test

import (
	"net/http"
	"strings"
	"testing"
)

type userJSON struct {
	ID            int64    `json:"id"`
	Email         string   `json:"email"`
	Name          string   `json:"name"`
	Locale        string   `json:"locale"`
	Roles         []string `json:"roles"`
	DepartmentIDs []int64  `json:"department_ids"`
	Version       int      `json:"version"`
}

type deptJSON struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	LeadID     *int64  `json:"lead_id"`
	Tier       int     `json:"tier"`
	MemberIDs  []int64 `json:"member_ids"`
	AutoAssign string  `json:"auto_assign"`
	Version    int     `json:"version"`
}

func TestUsersCRUDAndPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var created userJSON
		r := e.req("POST", "/api/v1/users", e.adminTok, map[string]any{
			"email": "ann@example.com", "name": "Ann 张", "roles": []string{"agent"}, "password": "s3cret-pass", "locale": "zh"}).status(201)
		r.json(&created)
		if r.Header().Get("Location") != "/api/v1/users/"+itoa(created.ID) || r.Header().Get("ETag") != `"1"` {
			t.Fatalf("headers %v", r.Header())
		}
		if created.Name != "Ann 张" || created.Locale != "zh" || created.Roles[0] != "agent" || created.DepartmentIDs == nil {
			t.Fatalf("created %+v", created)
		}
		if strings.Contains(r.Body.String(), "password") || strings.Contains(r.Body.String(), "$2a$") {
			t.Fatal("password material in a response")
		}
		e.req("POST", "/api/v1/users", e.adminTok, map[string]any{"email": "ANN@example.com", "name": "Dup", "roles": []string{"agent"}}).
			problem(http.StatusConflict)

		// 2 seeded + 1 + 5 = 8 users, pages of 3.
		for i := 0; i < 5; i++ {
			e.req("POST", "/api/v1/users", e.adminTok, map[string]any{"email": "u" + itoa(int64(i)) + "@example.com", "name": "U", "roles": []string{"requester"}}).status(201)
		}
		var ids []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			var page struct {
				Items      []userJSON `json:"items"`
				NextCursor string     `json:"next_cursor"`
			}
			e.req("GET", "/api/v1/users?limit=3&cursor="+cursor, e.adminTok, nil).status(200).json(&page)
			for _, u := range page.Items {
				ids = append(ids, u.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(ids) != 8 {
			t.Fatalf("listed %d users across pages, want 8: %v", len(ids), ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("ids not ascending/unique: %v", ids)
			}
		}
		// A page that exactly fills the rest has no next cursor.
		var all struct {
			Items      []userJSON `json:"items"`
			NextCursor *string    `json:"next_cursor"`
		}
		e.req("GET", "/api/v1/users?limit=8", e.adminTok, nil).status(200).json(&all)
		if len(all.Items) != 8 || all.NextCursor != nil {
			t.Fatalf("limit=8: %d items, next %v", len(all.Items), all.NextCursor)
		}
		// A departments cursor is not a users cursor.
		var dpage struct {
			NextCursor string `json:"next_cursor"`
		}
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "A"}).status(201)
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "B"}).status(201)
		e.req("GET", "/api/v1/departments?limit=1", e.adminTok, nil).status(200).json(&dpage)
		e.req("GET", "/api/v1/users?cursor="+dpage.NextCursor, e.adminTok, nil).problem(400)

		// GET + ETag, PATCH with If-Match, stale If-Match -> 412 naming the version.
		path := "/api/v1/users/" + itoa(created.ID)
		r = e.req("GET", path, e.adminTok, nil).status(200)
		etag := r.Header().Get("ETag")
		var got userJSON
		r = e.req("PATCH", path, e.adminTok, map[string]any{"name": "Ann B", "roles": []string{"agent", "knowledge_editor"}}, "If-Match: "+etag).status(200)
		r.json(&got)
		if got.Name != "Ann B" || got.Version != 2 || len(got.Roles) != 2 || r.Header().Get("ETag") != `"2"` {
			t.Fatalf("patched %+v etag %s", got, r.Header().Get("ETag"))
		}
		p := e.req("PATCH", path, e.adminTok, map[string]any{"name": "Lost update"}, "If-Match: "+etag).problem(http.StatusPreconditionFailed)
		if !strings.Contains(p.Detail, `"2"`) {
			t.Fatalf("412 does not name the current version: %s", p.Detail)
		}
		e.req("PATCH", path, e.adminTok, map[string]any{"name": "x"}, "If-Match: 2").problem(http.StatusBadRequest)
		e.req("PATCH", path, e.adminTok, map[string]any{"name": "x"}, `If-Match: W/"2"`).problem(http.StatusBadRequest)
		// Without If-Match there is no precondition.
		e.req("PATCH", path, e.adminTok, map[string]any{"locale": "en"}).status(200)
		// The body carries no version: one concurrency channel only.
		e.req("PATCH", path, e.adminTok, map[string]any{"version": 1}).problem(422)
		e.req("PATCH", "/api/v1/users/999999", e.adminTok, map[string]any{"name": "x"}).problem(404)
		e.req("GET", "/api/v1/users/999999", e.adminTok, nil).problem(404)
		// Agents may read users but not write them.
		_, agentTok := e.user("agent@example.com", "agent")
		e.req("GET", path, agentTok, nil).status(200)
		e.req("PATCH", path, agentTok, map[string]any{"name": "x"}).problem(403)
		e.req("GET", "/api/v1/users", e.reqTok, nil).problem(403)
	})
}

func TestDepartments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var d deptJSON
		r := e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{
			"name": "Billing", "lead_id": e.admin.ID, "tier": 2, "member_ids": []int64{e.requester.ID}, "auto_assign": "round_robin"}).status(201)
		r.json(&d)
		if d.LeadID == nil || *d.LeadID != e.admin.ID || d.Tier != 2 || d.AutoAssign != "round_robin" || len(d.MemberIDs) != 2 {
			t.Fatalf("created %+v", d)
		}
		if r.Header().Get("Location") != "/api/v1/departments/"+itoa(d.ID) || r.Header().Get("ETag") != `"1"` {
			t.Fatalf("headers %v", r.Header())
		}
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Billing"}).problem(409)
		p := e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "X", "tier": 0, "auto_assign": "random"}).problem(422)
		if p.field("tier") == "" || p.field("auto_assign") == "" {
			t.Fatalf("not every invalid field listed: %+v", p.Errors)
		}

		path := "/api/v1/departments/" + itoa(d.ID)
		// Absent keeps, null clears.
		var got deptJSON
		e.req("PATCH", path, e.adminTok, map[string]any{"tier": 3}, `If-Match: "1"`).status(200).json(&got)
		if got.LeadID == nil || got.Tier != 3 {
			t.Fatalf("absent lead_id changed it: %+v", got)
		}
		e.req("PATCH", path, e.adminTok, map[string]any{"lead_id": nil}, `If-Match: "2"`).status(200).json(&got)
		if got.LeadID != nil || got.Version != 3 {
			t.Fatalf("lead_id null did not clear: %+v", got)
		}
		p = e.req("PATCH", path, e.adminTok, map[string]any{"name": nil}).problem(422)
		if p.field("name") == "" {
			t.Fatalf("null name: %+v", p)
		}
		e.req("PATCH", path, e.adminTok, map[string]any{}).problem(422)
		e.req("PATCH", path, e.adminTok, map[string]any{"tier": 1}, `If-Match: "1"`).problem(412)
		e.req("GET", path, e.reqTok, nil).problem(403)
		var page struct {
			Items []deptJSON `json:"items"`
		}
		e.req("GET", "/api/v1/departments", e.adminTok, nil).status(200).json(&page)
		if len(page.Items) != 1 || page.Items[0].Tier != 3 {
			t.Fatalf("list %+v", page)
		}

		// /me shows the requester's department by name.
		var me struct {
			Departments []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"departments"`
		}
		e.req("GET", "/api/v1/me", e.reqTok, nil).status(200).json(&me)
		if len(me.Departments) != 1 || me.Departments[0].Name != "Billing" {
			t.Fatalf("me departments %+v", me.Departments)
		}
	})
}

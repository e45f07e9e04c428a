package tickets_test

import (
	"encoding/base64"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// listAll walks every page of a list and fails on duplicates.
func listAll(t *testing.T, e *env, actor accounts.User, f tickets.Filter, limit int) []tickets.Ticket {
	t.Helper()
	var out []tickets.Ticket
	seen := map[int64]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		p, err := e.svc.List(ctx, actor, f, cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > limit {
			t.Fatalf("page of %d items, limit %d", len(p.Items), limit)
		}
		for _, tk := range p.Items {
			if seen[tk.ID] {
				t.Fatalf("ticket %d on two pages (sort %s)", tk.ID, f.Sort)
			}
			seen[tk.ID] = true
			out = append(out, tk)
		}
		if p.NextCursor == "" {
			return out
		}
		cursor = p.NextCursor
	}
}

func ids(ts []tickets.Ticket) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func TestListFiltersSortsAndCursors(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		member := e.user("member", accounts.RoleDepartmentMember)
		billing := e.dept(accounts.NewDepartment{Name: "Billing", MemberIDs: []int64{member.ID}})
		cust2 := e.user("customer2", accounts.RoleRequester)

		subjects := []string{"申请退款", "Refund for order 42", "退款 refund 双语", "Login page broken", "无法登录", "Invoice missing"}
		var all []tickets.Ticket
		start := e.clk.Now()
		for i := range 37 {
			in := tickets.NewTicket{
				Subject:     subjects[i%len(subjects)],
				Description: fmt.Sprintf("case %d", i),
				Priority:    tickets.Priorities[(i*7)%4],
				RequesterID: e.cust.ID,
				Tags:        []string{fmt.Sprint("t", i%3)},
			}
			if i%4 == 0 {
				in.DepartmentID = &billing.ID
			}
			if i%5 == 0 {
				in.RequesterID = cust2.ID
			}
			if i%6 == 0 && in.DepartmentID == nil {
				in.AssigneeID = &e.agent.ID
			}
			all = append(all, e.create(e.agent, in))
			e.clk.Advance(time.Second)
		}
		// Touch a few so "updated" differs from creation order, some with the same instant.
		for _, i := range []int{3, 30, 11, 20} {
			if _, err := e.svc.Update(ctx, e.agent, all[i].ID, 0, tickets.Patch{Category: ptr("touched")}); err != nil {
				t.Fatal(err)
			}
			if i != 30 {
				e.clk.Advance(time.Millisecond)
			}
		}
		e.fire(e.agent, all[1].ID, "open", nil)
		e.fire(e.agent, all[2].ID, "resolve", map[string]string{"resolution": "ok", "no_article_reason": "n/a"})
		if _, err := e.svc.AddComment(ctx, e.agent, all[3].ID, tickets.NewComment{Body: "customer wants a 退款 now", Internal: true}); err != nil {
			t.Fatal(err)
		}
		byID := map[int64]tickets.Ticket{}
		for _, tk := range listAll(t, e, e.agent, tickets.Filter{}, 200) {
			byID[tk.ID] = tk
		}
		if len(byID) != 37 {
			t.Fatalf("%d tickets", len(byID))
		}

		// Every sort, walked in pages of 5, equals the full list sorted in Go.
		sorts := map[string]func(a, b tickets.Ticket) bool{
			"":       func(a, b tickets.Ticket) bool { return a.ID > b.ID },
			"newest": func(a, b tickets.Ticket) bool { return a.ID > b.ID },
			"oldest": func(a, b tickets.Ticket) bool { return a.ID < b.ID },
			"updated": func(a, b tickets.Ticket) bool {
				if !a.UpdatedAt.Equal(b.UpdatedAt) {
					return a.UpdatedAt.After(b.UpdatedAt)
				}
				return a.ID > b.ID
			},
			"priority": func(a, b tickets.Ticket) bool {
				if a.Priority != b.Priority {
					return a.Priority < b.Priority
				}
				return a.ID > b.ID
			},
		}
		for name, less := range sorts {
			for _, limit := range []int{1, 5, 7, 200} {
				got := listAll(t, e, e.agent, tickets.Filter{Sort: name}, limit)
				want := make([]tickets.Ticket, 0, len(byID))
				for _, tk := range byID {
					want = append(want, tk)
				}
				sort.Slice(want, func(i, j int) bool { return less(want[i], want[j]) })
				if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
					t.Fatalf("sort %q limit %d:\n got %v\nwant %v", name, limit, ids(got), ids(want))
				}
			}
		}

		count := func(actor accounts.User, f tickets.Filter, pred func(tickets.Ticket) bool) {
			t.Helper()
			got := listAll(t, e, actor, f, 4)
			var want []int64
			for _, tk := range byID {
				if pred(tk) {
					want = append(want, tk.ID)
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
			if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
				t.Fatalf("filter %+v:\n got %v\nwant %v", f, ids(got), want)
			}
		}
		has := func(tags []string, tag string) bool {
			for _, x := range tags {
				if x == tag {
					return true
				}
			}
			return false
		}
		count(e.agent, tickets.Filter{Status: []string{"open"}}, func(t tickets.Ticket) bool { return t.Status == "open" })
		count(e.agent, tickets.Filter{StatusCategory: []workflow.Category{"new", "resolved"}}, func(t tickets.Ticket) bool {
			return t.StatusCategory == "new" || t.StatusCategory == "resolved"
		})
		count(e.agent, tickets.Filter{Priority: []string{"P1", "P4"}}, func(t tickets.Ticket) bool { return t.Priority == "P1" || t.Priority == "P4" })
		count(e.agent, tickets.Filter{DepartmentID: &billing.ID}, func(t tickets.Ticket) bool { return t.DepartmentID != nil && *t.DepartmentID == billing.ID })
		count(e.agent, tickets.Filter{AssigneeID: &e.agent.ID}, func(t tickets.Ticket) bool { return t.AssigneeID != nil && *t.AssigneeID == e.agent.ID })
		count(e.agent, tickets.Filter{Unassigned: true}, func(t tickets.Ticket) bool { return t.AssigneeID == nil })
		count(e.agent, tickets.Filter{RequesterID: &cust2.ID}, func(t tickets.Ticket) bool { return t.RequesterID == cust2.ID })
		count(e.agent, tickets.Filter{Tag: " T1 "}, func(t tickets.Ticket) bool { return has(t.Tags, "t1") })
		count(e.agent, tickets.Filter{Category: "touched"}, func(t tickets.Ticket) bool { return t.Category == "touched" })
		from, to := start.Add(10*time.Second), start.Add(20*time.Second)
		count(e.agent, tickets.Filter{CreatedFrom: &from, CreatedTo: &to}, func(t tickets.Ticket) bool {
			return !t.CreatedAt.Before(from.Truncate(time.Millisecond)) && t.CreatedAt.Before(to.Truncate(time.Millisecond))
		})
		count(e.agent, tickets.Filter{DepartmentID: &billing.ID, Priority: []string{"P1"}, Tag: "t0"}, func(t tickets.Ticket) bool {
			return t.DepartmentID != nil && *t.DepartmentID == billing.ID && t.Priority == "P1" && has(t.Tags, "t0")
		})
		// Visibility applies under every filter.
		count(cust2, tickets.Filter{}, func(t tickets.Ticket) bool { return t.RequesterID == cust2.ID })
		member = e.reload(member)
		count(member, tickets.Filter{Sort: "newest"}, func(t tickets.Ticket) bool { return t.DepartmentID != nil && *t.DepartmentID == billing.ID })

		// Full text: Chinese, English, mixed, and comments count.
		q := func(text string, want ...int) {
			t.Helper()
			got := listAll(t, e, e.agent, tickets.Filter{Q: text}, 3)
			var w []int64
			for _, i := range want {
				w = append(w, all[i].ID)
			}
			sort.Slice(w, func(i, j int) bool { return w[i] > w[j] })
			if fmt.Sprint(ids(got)) != fmt.Sprint(w) {
				t.Fatalf("q %q:\n got %v\nwant %v", text, ids(got), w)
			}
		}
		var zh, en, mixed []int
		for i := range 37 {
			s := subjects[i%len(subjects)]
			if s == "申请退款" || s == "退款 refund 双语" || i == 3 {
				zh = append(zh, i)
			}
			if s == "Refund for order 42" || s == "退款 refund 双语" {
				en = append(en, i)
			}
			if s == "退款 refund 双语" {
				mixed = append(mixed, i)
			}
		}
		q("退款", zh...)
		q("refund", en...)
		q("REFUND 退款", mixed...)
		q("!!!")
		p, err := e.svc.List(ctx, e.cust, tickets.Filter{Q: "退款", Priority: []string{"P2"}}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range p.Items {
			if tk.Priority != "P2" || tk.RequesterID != e.cust.ID {
				t.Fatalf("%+v", tk)
			}
		}

		// Bad input is a validation error naming the field.
		p1, _ := e.svc.List(ctx, e.agent, tickets.Filter{Sort: "priority"}, "", 2)
		for _, c := range []struct {
			f      tickets.Filter
			cursor string
			field  string
		}{
			{tickets.Filter{}, "garbage!", "cursor"},
			{tickets.Filter{}, base64.RawURLEncoding.EncodeToString([]byte(`{"s":"newest"}`)), "cursor"},
			{tickets.Filter{Sort: "newest"}, p1.NextCursor, "cursor"},
			{tickets.Filter{Sort: "sideways"}, "", "sort"},
			{tickets.Filter{Priority: []string{"P7"}}, "", "priority"},
			{tickets.Filter{StatusCategory: []workflow.Category{"limbo"}}, "", "status_category"},
			{tickets.Filter{Unassigned: true, AssigneeID: &e.agent.ID}, "", "assignee_id"},
		} {
			_, err := e.svc.List(ctx, e.agent, c.f, c.cursor, 10)
			if f := fieldsOf(t, err); !eqStrings(f, []string{c.field}) {
				t.Errorf("%+v %q: fields %v", c.f, c.cursor, f)
			}
		}
		// Limits: 0 means 50, more than 200 is 200.
		p, _ = e.svc.List(ctx, e.agent, tickets.Filter{}, "", 0)
		if len(p.Items) != 37 || p.NextCursor != "" {
			t.Fatalf("default limit: %d %q", len(p.Items), p.NextCursor)
		}
	})
}

package tickets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

func TestCreateDefaultsAndEvents(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		before := e.outboxCount()
		tk := e.create(e.cust, tickets.NewTicket{Subject: "  Refund please  ", Description: "I was charged twice",
			Tags: []string{" Billing", "billing", "URGENT"}, CustomFields: map[string]string{"order_id": "A-1"}})
		if tk.Subject != "Refund please" || tk.Priority != "P3" || tk.Type != "support" || tk.Channel != "api" ||
			tk.Status != "new" || tk.StatusCategory != "new" || tk.RequesterID != e.cust.ID || tk.Version != 1 ||
			tk.WorkflowVersion != 1 || !eqStrings(tk.Tags, []string{"billing", "urgent"}) || tk.CustomFields["order_id"] != "A-1" {
			t.Fatalf("%+v", tk)
		}
		if !tk.CreatedAt.Equal(e.clk.Now().Truncate(1e6)) || tk.CreatedAt.Location().String() != "UTC" {
			t.Fatalf("created at %v", tk.CreatedAt)
		}
		got, err := e.svc.Get(ctx, e.cust, tk.ID)
		if err != nil || got.Subject != tk.Subject || !eqStrings(got.Tags, tk.Tags) || got.CustomFields["order_id"] != "A-1" ||
			!got.CreatedAt.Equal(tk.CreatedAt) || !got.StateEnteredAt.Equal(tk.StateEnteredAt) {
			t.Fatalf("get %+v %v", got, err)
		}
		if ev := e.eventsOf(tk.ID); !eqStrings(ev, []string{tickets.EventTicketCreated}) || e.outboxCount() != before+1 {
			t.Fatalf("events %v", ev)
		}
		h, _ := e.svc.History(ctx, e.cust, tk.ID)
		if len(h) != 1 || h[0].Kind != tickets.KindCreated || h[0].To != "new" || *h[0].ActorID != e.cust.ID {
			t.Fatalf("history %+v", h)
		}
		// Staff may open a ticket for someone else.
		onBehalf := e.create(e.agent, tickets.NewTicket{RequesterID: e.cust.ID, Channel: "phone"})
		if onBehalf.RequesterID != e.cust.ID {
			t.Fatal("on behalf")
		}
	})
}

func TestCreateValidationListsEveryField(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		other := e.user("other", accounts.RoleRequester)
		before := e.outboxCount()
		_, err := e.svc.Create(ctx, e.agent, tickets.NewTicket{
			Subject:      "   ",
			Description:  strings.Repeat("x", tickets.MaxDescription+1),
			Priority:     "P9",
			Type:         "nope",
			Channel:      "fax",
			Tags:         []string{"ok", "", "  ", strings.Repeat("t", 51)},
			CustomFields: map[string]string{"Bad-Key": "v", "ok_key": strings.Repeat("v", 1001)},
			DepartmentID: ptr(int64(9999)),
			RequesterID:  9999,
		})
		want := []string{"channel", "custom_fields.Bad-Key", "custom_fields.ok_key", "department_id", "description", "priority",
			"requester_id", "subject", "tags[1]", "tags[2]", "tags[3]", "type"}
		if got := fieldsOf(t, err); !eqStrings(got, want) {
			t.Fatalf("fields\n got %v\nwant %v", got, want)
		}
		// Subject too long, too many tags and custom fields, a requester
		// opening for somebody else, an assignee who is not staff.
		many := map[string]string{}
		for i := range 51 {
			many["k"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
		}
		var tags []string
		for i := range 21 {
			tags = append(tags, "t"+string(rune('a'+i)))
		}
		_, err = e.svc.Create(ctx, e.cust, tickets.NewTicket{Subject: strings.Repeat("s", 301), Tags: tags, CustomFields: many, RequesterID: other.ID})
		if got := fieldsOf(t, err); !eqStrings(got, []string{"custom_fields", "requester_id", "subject", "tags"}) {
			t.Fatalf("fields %v", got)
		}
		_, err = e.svc.Create(ctx, e.agent, tickets.NewTicket{Subject: "x", AssigneeID: &other.ID})
		if got := fieldsOf(t, err); !eqStrings(got, []string{"assignee_id"}) {
			t.Fatalf("fields %v", got)
		}
		// A requester may not name an assignee at all.
		_, err = e.svc.Create(ctx, e.cust, tickets.NewTicket{Subject: "x", AssigneeID: &e.agent.ID})
		var fe *tickets.ForbiddenError
		if !errors.As(err, &fe) || fe.Permission != "tickets:assign" {
			t.Fatalf("%v", err)
		}
		// Assignee must be an active member of the department.
		d := e.dept(accounts.NewDepartment{Name: "Billing"})
		before = e.outboxCount()
		_, err = e.svc.Create(ctx, e.agent, tickets.NewTicket{Subject: "x", DepartmentID: &d.ID, AssigneeID: &e.agent.ID})
		if got := fieldsOf(t, err); !eqStrings(got, []string{"assignee_id"}) {
			t.Fatalf("fields %v", got)
		}
		if e.outboxCount() != before {
			t.Fatal("failed creates wrote outbox events")
		}
		var n int64
		db.Table("tickets").Count(&n)
		if n != 0 {
			t.Fatal("failed creates stored tickets")
		}
	})
}

func TestVisibilityScopes(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		member := e.user("member", accounts.RoleDepartmentMember)
		billing := e.dept(accounts.NewDepartment{Name: "Billing", MemberIDs: []int64{member.ID}})
		other := e.dept(accounts.NewDepartment{Name: "Other"})
		member = e.reload(member)
		cust2 := e.user("customer2", accounts.RoleRequester)

		own := e.create(e.cust, tickets.NewTicket{Subject: "mine"})
		theirs := e.create(cust2, tickets.NewTicket{Subject: "theirs"})
		inBilling := e.create(e.agent, tickets.NewTicket{Subject: "billing queue", DepartmentID: &billing.ID})
		inOther := e.create(e.agent, tickets.NewTicket{Subject: "other queue", DepartmentID: &other.ID})
		assigned := e.create(e.agent, tickets.NewTicket{Subject: "assigned to member"})
		if _, err := e.svc.Update(ctx, e.agent, assigned.ID, 0, tickets.Patch{AssigneeID: &member.ID}); err != nil {
			t.Fatal(err)
		}
		byMember := e.create(member, tickets.NewTicket{Subject: "member asks"})

		visible := func(u accounts.User) []int64 {
			p, err := e.svc.List(ctx, u, tickets.Filter{Sort: "oldest"}, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, tk := range p.Items {
				ids = append(ids, tk.ID)
			}
			return ids
		}
		check := func(name string, u accounts.User, want ...int64) {
			t.Helper()
			got := visible(u)
			if len(got) != len(want) {
				t.Fatalf("%s sees %v, want %v", name, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s sees %v, want %v", name, got, want)
				}
			}
			seen := map[int64]bool{}
			for _, id := range want {
				seen[id] = true
			}
			for _, id := range []int64{own.ID, theirs.ID, inBilling.ID, inOther.ID, assigned.ID, byMember.ID} {
				_, err := e.svc.Get(ctx, u, id)
				if seen[id] && err != nil {
					t.Errorf("%s: Get %d: %v", name, id, err)
				}
				if !seen[id] && !errors.Is(err, accounts.ErrNotFound) {
					t.Errorf("%s: Get %d should be not found, got %v", name, id, err)
				}
			}
		}
		check("requester", e.cust, own.ID)
		check("member", member, inBilling.ID, assigned.ID, byMember.ID)
		check("agent", e.agent, own.ID, theirs.ID, inBilling.ID, inOther.ID, assigned.ID, byMember.ID)

		// Writes respect the scope too.
		if _, err := e.svc.AddComment(ctx, e.cust, theirs.ID, tickets.NewComment{Body: "hi"}); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("comment on a ticket not seen: %v", err)
		}
		if _, err := e.svc.Update(ctx, e.cust, own.ID, 0, tickets.Patch{Subject: ptr("x")}); !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("requester edit: %v", err)
		}
	})
}

func TestInternalNotesHiddenFromRequester(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		tk := e.create(e.cust, tickets.NewTicket{Subject: "Where is my order"})
		if _, err := e.svc.AddComment(ctx, e.agent, tk.ID, tickets.NewComment{Body: "customer is a VIP", Internal: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddComment(ctx, e.agent, tk.ID, tickets.NewComment{Body: "We are looking into it"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.AddComment(ctx, e.cust, tk.ID, tickets.NewComment{Body: "secret", Internal: true})
		var fe *tickets.ForbiddenError
		if !errors.As(err, &fe) || fe.Permission != "comments:internal" {
			t.Fatalf("requester internal note: %v", err)
		}
		if _, err := e.svc.AddComment(ctx, e.cust, tk.ID, tickets.NewComment{Body: "  "}); fieldsOf(t, err)[0] != "body" {
			t.Fatal("blank body accepted")
		}
		c, err := e.svc.AddComment(ctx, e.cust, tk.ID, tickets.NewComment{Body: "thanks"})
		if err != nil || c.AuthorID != e.cust.ID || c.Internal {
			t.Fatalf("%+v %v", c, err)
		}
		staff, _ := e.svc.Comments(ctx, e.agent, tk.ID)
		cust, _ := e.svc.Comments(ctx, e.cust, tk.ID)
		if len(staff) != 3 || len(cust) != 2 {
			t.Fatalf("staff sees %d, requester %d", len(staff), len(cust))
		}
		for _, c := range cust {
			if c.Internal || strings.Contains(c.Body, "VIP") {
				t.Fatal("requester sees the internal note")
			}
		}
		h, _ := e.svc.History(ctx, e.cust, tk.ID)
		for _, x := range h {
			if x.Kind == tickets.KindComment && x.Note == "internal" {
				t.Fatal("requester sees the internal note in history")
			}
		}
		hs, _ := e.svc.History(ctx, e.agent, tk.ID)
		if len(hs) != len(h)+1 {
			t.Fatalf("history staff %d requester %d", len(hs), len(h))
		}
		var added int
		for _, ev := range e.eventsOf(tk.ID) {
			if ev == tickets.EventCommentAdded {
				added++
			}
		}
		if added != 3 {
			t.Fatalf("%d comment:added events", added)
		}
	})
}

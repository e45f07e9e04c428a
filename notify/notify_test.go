package notify_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/tickets"
)

var ctx = context.Background()

// env is a database with a department (lead + two members), an agent, a
// customer, and tickets made on demand.
type env struct {
	t       *testing.T
	db      *database.DB
	acc     *accounts.Service
	tk      *tickets.Service
	agent   accounts.User
	cust    accounts.User
	lead    accounts.User
	member  accounts.User
	member2 accounts.User
	dept    accounts.Department
	n       int
}

func newEnv(t *testing.T, db *database.DB) *env {
	t.Helper()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, acc: acc, tk: tk}
	e.agent = e.user("agent", accounts.RoleAgent)
	e.cust = e.user("customer", accounts.RoleRequester)
	e.lead = e.user("lead", accounts.RoleDepartmentMember)
	e.member = e.user("member", accounts.RoleDepartmentMember)
	e.member2 = e.user("member2", accounts.RoleDepartmentMember)
	d, err := acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Cards", LeadID: &e.lead.ID,
		MemberIDs: []int64{e.lead.ID, e.member.ID, e.member2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	e.dept = d
	return e
}

func (e *env) user(name string, roles ...accounts.Role) accounts.User {
	e.t.Helper()
	e.n++
	u, err := e.acc.CreateUser(ctx, accounts.NewUser{Email: name + strconv.Itoa(e.n) + "@example.com", Name: name, Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) ticket(dept, assignee *int64) tickets.Ticket {
	e.t.Helper()
	tk, err := e.tk.Create(ctx, e.agent, tickets.NewTicket{Subject: "Card not arrived", RequesterID: e.cust.ID,
		DepartmentID: dept, AssigneeID: assignee})
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

func msg(ticketID int64) notify.Message {
	return notify.Message{TicketID: ticketID, Kind: notify.KindSLABreach, Subject: "[#1] SLA breached", Body: "resolution target of 2h missed\n"}
}

func userIDs(ns []notify.Notification) []int64 {
	var out []int64
	for _, n := range ns {
		if n.UserID != nil {
			out = append(out, *n.UserID)
		}
	}
	slices.Sort(out)
	return out
}

func TestNotifyResolvesRecipients(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		svc := notify.New(db, e.acc)
		tk := e.ticket(&e.dept.ID, &e.member.ID)
		gone := e.user("gone", accounts.RoleAgent)
		off := false
		if _, err := e.acc.UpdateUser(ctx, gone.ID, 0, accounts.UserPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}

		res, err := svc.Notify(ctx, msg(tk.ID), []string{
			"assignee", "department_lead", "department", // member, lead, member2 (member and lead again)
			"user:" + strconv.FormatInt(e.agent.ID, 10),
			"ops@partner.example",     // no user: a row without user_id
			"OPS@partner.example",     // the same address again
			e.cust.Email,              // a user's address: that user
			"user:999999", "user:abc", // no such user, not an id
			"boss", "not-an-address@", // unknown keyword, malformed address
			"user:" + strconv.FormatInt(gone.ID, 10),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{e.agent.ID, e.cust.ID, e.lead.ID, e.member.ID, e.member2.ID}
		slices.Sort(want)
		if got := userIDs(res.Notifications); !slices.Equal(got, want) {
			t.Fatalf("notified users %v, want %v", got, want)
		}
		if len(res.Notifications) != 6 {
			t.Fatalf("%d notifications, want 5 users + 1 bare address", len(res.Notifications))
		}
		var bare []notify.Notification
		for _, n := range res.Notifications {
			if n.ID == 0 || n.TicketID != tk.ID || n.Kind != notify.KindSLABreach || n.Subject != "[#1] SLA breached" || n.ReadAt != nil {
				t.Fatalf("notification %+v", n)
			}
			if n.EmailedAt != nil || n.EmailError != "" {
				t.Fatalf("no mailer, yet email outcome recorded: %+v", n)
			}
			if n.UserID == nil {
				bare = append(bare, n)
			}
		}
		if len(bare) != 1 || bare[0].Email != "ops@partner.example" {
			t.Fatalf("bare address rows %+v", bare)
		}
		var skipped []string
		for _, s := range res.Skipped {
			if s.Reason == "" {
				t.Fatalf("skip without reason: %+v", s)
			}
			skipped = append(skipped, s.To)
		}
		slices.Sort(skipped)
		wantSkip := []string{"boss", "not-an-address@", "user:" + strconv.FormatInt(gone.ID, 10), "user:999999", "user:abc"}
		slices.Sort(wantSkip)
		if !slices.Equal(skipped, wantSkip) {
			t.Fatalf("skipped %v, want %v", skipped, wantSkip)
		}
		// Stored: each user sees exactly one.
		for _, id := range want {
			ns, err := svc.List(ctx, id, notify.Filter{}, accounts.Page{Limit: 50})
			if err != nil || len(ns) != 1 {
				t.Fatalf("user %d has %d notifications (err %v), want 1", id, len(ns), err)
			}
		}
	})
}

func TestNotifySkipsWhatTheTicketLacks(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		svc := notify.New(db, e.acc)
		tk := e.ticket(nil, nil) // front line, unassigned
		res, err := svc.Notify(ctx, msg(tk.ID), []string{"assignee", "department_lead", "department"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Notifications) != 0 || len(res.Skipped) != 3 {
			t.Fatalf("result %+v, want nothing stored and three skipped", res)
		}
		// A department without a lead.
		d, err := e.acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Billing", MemberIDs: []int64{e.member.ID}})
		if err != nil {
			t.Fatal(err)
		}
		tk2 := e.ticket(&d.ID, nil)
		res, err = svc.Notify(ctx, msg(tk2.ID), []string{"department_lead", "department"})
		if err != nil {
			t.Fatal(err)
		}
		if got := userIDs(res.Notifications); !slices.Equal(got, []int64{e.member.ID}) || len(res.Skipped) != 1 || res.Skipped[0].To != "department_lead" {
			t.Fatalf("result %+v, want the member notified and the lead skipped", res)
		}
		// No ticket: an error, nothing stored.
		if _, err := svc.Notify(ctx, msg(tk2.ID+100), []string{"assignee"}); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("missing ticket: %v, want ErrNotFound", err)
		}
	})
}

func TestListAndMarkRead(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		clk := time.Date(2026, 3, 6, 7, 0, 0, 0, time.UTC)
		svc := notify.New(db, e.acc, notify.WithClock(func() time.Time { return clk }))
		tk := e.ticket(&e.dept.ID, &e.member.ID)
		var ids []int64
		for i := range 5 {
			m := msg(tk.ID)
			m.Subject = "n" + strconv.Itoa(i)
			res, err := svc.Notify(ctx, m, []string{"assignee"})
			if err != nil || len(res.Notifications) != 1 {
				t.Fatalf("notify: %+v %v", res, err)
			}
			ids = append(ids, res.Notifications[0].ID)
		}
		if _, err := svc.Notify(ctx, msg(tk.ID), []string{"department_lead"}); err != nil {
			t.Fatal(err)
		}
		// Newest first, in pages.
		p1, err := svc.List(ctx, e.member.ID, notify.Filter{}, accounts.Page{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := svc.List(ctx, e.member.ID, notify.Filter{}, accounts.Page{AfterID: p1[len(p1)-1].ID, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, n := range append(p1, p2...) {
			got = append(got, n.ID)
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("pages %v, want %v", got, want)
		}

		clk = clk.Add(time.Minute)
		n, err := svc.MarkRead(ctx, e.member.ID, ids[1])
		if err != nil || n.ReadAt == nil || !n.ReadAt.Equal(clk) {
			t.Fatalf("mark read: %+v %v", n, err)
		}
		clk = clk.Add(time.Minute)
		if n, err = svc.MarkRead(ctx, e.member.ID, ids[1]); err != nil || !n.ReadAt.Equal(clk.Add(-time.Minute)) {
			t.Fatalf("mark read again moved read_at: %+v %v", n, err)
		}
		unread, err := svc.List(ctx, e.member.ID, notify.Filter{UnreadOnly: true}, accounts.Page{Limit: 50})
		if err != nil || len(unread) != 4 || slices.ContainsFunc(unread, func(n notify.Notification) bool { return n.ID == ids[1] }) {
			t.Fatalf("unread %+v %v, want the 4 others", unread, err)
		}
		// Someone else's is not found, and stays unread.
		if _, err := svc.MarkRead(ctx, e.lead.ID, ids[2]); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("other's notification: %v, want ErrNotFound", err)
		}
		if _, err := svc.MarkRead(ctx, e.member.ID, ids[4]+100); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("missing notification: %v, want ErrNotFound", err)
		}
		if unread, _ = svc.List(ctx, e.member.ID, notify.Filter{UnreadOnly: true}, accounts.Page{Limit: 50}); len(unread) != 4 {
			t.Fatalf("unread after a stranger's attempt: %d, want 4", len(unread))
		}
	})
}

func TestUnreadCountAndMarkAllRead(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		clk := time.Date(2026, 3, 6, 7, 0, 0, 0, time.UTC)
		svc := notify.New(db, e.acc, notify.WithClock(func() time.Time { return clk }))
		tk := e.ticket(&e.dept.ID, &e.member.ID)
		var ids []int64
		for range 4 {
			res, err := svc.Notify(ctx, msg(tk.ID), []string{"assignee"})
			if err != nil || len(res.Notifications) != 1 {
				t.Fatalf("notify: %+v %v", res, err)
			}
			ids = append(ids, res.Notifications[0].ID)
		}
		if _, err := svc.Notify(ctx, msg(tk.ID), []string{"department_lead"}); err != nil {
			t.Fatal(err)
		}
		count := func(u int64) int64 {
			t.Helper()
			n, err := svc.UnreadCount(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(e.member.ID); n != 4 {
			t.Fatalf("member unread = %d, want 4", n)
		}
		if n := count(e.agent.ID); n != 0 {
			t.Fatalf("agent unread = %d, want 0", n)
		}
		if _, err := svc.MarkRead(ctx, e.member.ID, ids[0]); err != nil {
			t.Fatal(err)
		}
		if n := count(e.member.ID); n != 3 {
			t.Fatalf("member unread after one read = %d, want 3", n)
		}

		// Up to ids[2]: ids[1] and ids[2]; ids[0] keeps its first read time.
		clk = clk.Add(time.Minute)
		marked, err := svc.MarkAllRead(ctx, e.member.ID, ids[2])
		if err != nil || marked != 2 {
			t.Fatalf("mark all read up to %d: %d %v, want 2", ids[2], marked, err)
		}
		if n := count(e.member.ID); n != 1 {
			t.Fatalf("member unread = %d, want 1 (the newer one)", n)
		}
		all, err := svc.List(ctx, e.member.ID, notify.Filter{}, accounts.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range all {
			switch {
			case n.ID == ids[0] && (n.ReadAt == nil || !n.ReadAt.Equal(clk.Add(-time.Minute))):
				t.Errorf("first read time of %d moved: %v", n.ID, n.ReadAt)
			case (n.ID == ids[1] || n.ID == ids[2]) && (n.ReadAt == nil || !n.ReadAt.Equal(clk)):
				t.Errorf("%d read_at = %v, want %v", n.ID, n.ReadAt, clk)
			case n.ID == ids[3] && n.ReadAt != nil:
				t.Errorf("%d, newer than the limit, was marked read", n.ID)
			}
		}
		// No limit: the rest; the lead's stays unread.
		if marked, err = svc.MarkAllRead(ctx, e.member.ID, 0); err != nil || marked != 1 {
			t.Fatalf("mark all read: %d %v, want 1", marked, err)
		}
		if n := count(e.member.ID); n != 0 {
			t.Fatalf("member unread = %d, want 0", n)
		}
		if n := count(e.lead.ID); n != 1 {
			t.Fatalf("lead unread = %d, want 1 (another user's are untouched)", n)
		}
	})
}

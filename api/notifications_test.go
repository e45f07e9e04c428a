package api_test

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/tickets"
)

type notificationJSON struct {
	ID         int64      `json:"id"`
	TicketID   int64      `json:"ticket_id"`
	Kind       string     `json:"kind"`
	Subject    string     `json:"subject"`
	Body       string     `json:"body"`
	CreatedAt  time.Time  `json:"created_at"`
	ReadAt     *time.Time `json:"read_at"`
	Email      string     `json:"email"`
	EmailedAt  *time.Time `json:"emailed_at"`
	EmailError string     `json:"email_error"`
}

type notificationList struct {
	Items      []notificationJSON `json:"items"`
	NextCursor string             `json:"next_cursor"`
}

// withNotify gives e an engine that also serves /notifications.
func withNotify(e *env) *notify.Service {
	n := notify.New(e.db, e.svc)
	e.eng = api.NewEngine(api.Deps{
		Accounts: e.svc, Tickets: e.tix, SLA: e.sla, Knowledge: e.kb, Notify: n, DB: e.db, Redis: e.rdb,
		Throttle: accounts.NewLoginThrottle(ratelimit.New(e.rdb, "test:rl:")), Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: e.logs}, nil)), Version: "test",
	})
	return n
}

func TestNotificationsAPI(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, testenv.EmbeddedRedis(t))
		// Without the service the routes say so.
		e.req("GET", "/api/v1/notifications", e.adminTok, nil).problem(503)

		n := withNotify(e)
		ctx := context.Background()
		agent, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		if err := e.tix.EnsureBuiltinWorkflows(ctx); err != nil {
			t.Fatal(err)
		}
		tk, err := e.tix.Create(ctx, e.admin, tickets.NewTicket{Subject: "Card not arrived", RequesterID: e.requester.ID})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			_, err := n.Notify(ctx, notify.Message{TicketID: tk.ID, Kind: notify.KindSLABreach, Subject: "breach " + strconv.Itoa(i), Body: "body"},
				[]string{"user:" + strconv.FormatInt(agent.ID, 10)})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := n.Notify(ctx, notify.Message{TicketID: tk.ID, Kind: notify.KindSLAWarning, Subject: "the requester's", Body: "b"},
			[]string{e.requester.Email}); err != nil {
			t.Fatal(err)
		}

		// Newest first, two pages.
		var p1, p2 notificationList
		e.req("GET", "/api/v1/notifications?limit=2", agentTok, nil).status(200).json(&p1)
		if len(p1.Items) != 2 || p1.NextCursor == "" || p1.Items[0].Subject != "breach 2" || p1.Items[1].Subject != "breach 1" {
			t.Fatalf("page 1: %+v", p1)
		}
		it := p1.Items[0]
		if it.TicketID != tk.ID || it.Kind != "sla.breach" || it.Body != "body" || it.ReadAt != nil || it.Email != agent.Email || it.CreatedAt.IsZero() {
			t.Fatalf("item %+v", it)
		}
		e.req("GET", "/api/v1/notifications?limit=2&cursor="+url.QueryEscape(p1.NextCursor), agentTok, nil).status(200).json(&p2)
		if len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].Subject != "breach 0" {
			t.Fatalf("page 2: %+v", p2)
		}

		// Mark one read; again keeps read_at.
		var read, again notificationJSON
		path := "/api/v1/notifications/" + strconv.FormatInt(p1.Items[1].ID, 10) + "/read"
		e.req("POST", path, agentTok, nil).status(200).json(&read)
		if read.ID != p1.Items[1].ID || read.ReadAt == nil {
			t.Fatalf("read: %+v", read)
		}
		e.req("POST", path, agentTok, nil).status(200).json(&again)
		if again.ReadAt == nil || !again.ReadAt.Equal(*read.ReadAt) {
			t.Fatalf("read again moved read_at: %v -> %v", read.ReadAt, again.ReadAt)
		}
		var unread notificationList
		e.req("GET", "/api/v1/notifications?unread=true", agentTok, nil).status(200).json(&unread)
		if len(unread.Items) != 2 || unread.Items[0].Subject != "breach 2" || unread.Items[1].Subject != "breach 0" {
			t.Fatalf("unread: %+v", unread)
		}
		var all notificationList
		e.req("GET", "/api/v1/notifications?unread=false", agentTok, nil).status(200).json(&all)
		if len(all.Items) != 3 {
			t.Fatalf("unread=false: %d items, want 3", len(all.Items))
		}

		// Each user sees only their own; another's is a 404 and stays unread.
		var mine notificationList
		e.req("GET", "/api/v1/notifications", e.reqTok, nil).status(200).json(&mine)
		if len(mine.Items) != 1 || mine.Items[0].Subject != "the requester's" {
			t.Fatalf("requester's list: %+v", mine)
		}
		other := "/api/v1/notifications/" + strconv.FormatInt(p1.Items[0].ID, 10) + "/read"
		e.req("POST", other, e.reqTok, nil).problem(404)
		e.req("POST", "/api/v1/notifications/999999/read", agentTok, nil).problem(404)
		e.req("GET", "/api/v1/notifications?unread=true", agentTok, nil).status(200).json(&unread)
		if len(unread.Items) != 2 {
			t.Fatalf("a stranger's read changed the agent's unread list: %+v", unread)
		}

		// Client mistakes are 400s that say what is wrong.
		if p := e.req("GET", "/api/v1/notifications?cursor=garbage", agentTok, nil).problem(400); p.field("cursor") == "" {
			t.Fatalf("bad cursor: %+v", p)
		}
		var up notificationList
		e.req("GET", "/api/v1/notifications?unread=true&limit=1", agentTok, nil).status(200).json(&up)
		if p := e.req("GET", "/api/v1/notifications?cursor="+url.QueryEscape(up.NextCursor), agentTok, nil).problem(400); p.field("cursor") == "" {
			t.Fatalf("an unread list's cursor on the full list: %+v", p)
		}
		if p := e.req("GET", "/api/v1/notifications?unread=yes", agentTok, nil).problem(400); p.field("unread") == "" {
			t.Fatalf("bad unread: %+v", p)
		}
		if p := e.req("GET", "/api/v1/notifications?unred=true", agentTok, nil).problem(400); p.field("unred") == "" {
			t.Fatalf("unknown parameter: %+v", p)
		}
		e.req("GET", "/api/v1/notifications?limit=0", agentTok, nil).problem(400)
		e.req("POST", "/api/v1/notifications/abc/read", agentTok, nil).problem(400)
		e.req("GET", "/api/v1/notifications", "", nil).problem(401)
	})
}

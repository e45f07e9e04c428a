package notify_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
)

// clock is a settable time for services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mailService is a notify service mailing through srv on clk's time.
func mailService(t *testing.T, db *database.DB, e *env, srv *smtpServer, clk *clock) *notify.Service {
	t.Helper()
	m, err := notify.ParseSMTPURL("smtp://" + srv.addr() + "?from=loopdesk@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return notify.New(db, e.acc, notify.WithMailer(m), notify.WithClock(clk.now), notify.WithSendTimeout(5*time.Second))
}

// stored is the member's one notification as the database has it.
func stored(t *testing.T, svc *notify.Service, userID, id int64) notify.Notification {
	t.Helper()
	n, err := svc.Get(ctx, userID, id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// failedMail notifies the assignee (member) of a new ticket through a
// server that refuses every recipient for now: the mail's first send has
// failed. id is the notification.
func failedMail(t *testing.T, db *database.DB) (e *env, srv *smtpServer, clk *clock, svc *notify.Service, id int64) {
	t.Helper()
	e = newEnv(t, db)
	srv = startSMTP(t, false)
	srv.busy.Store(true)
	clk = &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	svc = mailService(t, db, e, srv, clk)
	tk := e.ticket(&e.dept.ID, &e.member.ID)
	res, err := svc.Notify(ctx, msg(tk.ID), []string{"assignee"})
	if err != nil || len(res.Notifications) != 1 {
		t.Fatalf("notify: %+v %v", res, err)
	}
	return e, srv, clk, svc, res.Notifications[0].ID
}

func TestFailedMailIsRetriedUntilSent(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e, srv, clk, svc, id := failedMail(t, db)
		n := stored(t, svc, e.member.ID, id)
		if n.EmailedAt != nil || !strings.Contains(n.EmailError, "451") || n.EmailAttempts != 1 ||
			n.EmailRetryAt == nil || !n.EmailRetryAt.Equal(clk.now().Add(time.Minute)) {
			t.Fatalf("after the first failure: %+v, want attempt 1, the server's 451, a retry in a minute", n)
		}

		// Not due yet: nothing is sent.
		if r, err := svc.RetryMail(ctx, 10); err != nil || r != (notify.RetryResult{}) {
			t.Fatalf("retry before due: %+v %v", r, err)
		}
		// Due, still refused: the next try is 5 minutes later.
		clk.add(time.Minute)
		if r, err := svc.RetryMail(ctx, 10); err != nil || r != (notify.RetryResult{Failed: 1}) {
			t.Fatalf("second try: %+v %v", r, err)
		}
		n = stored(t, svc, e.member.ID, id)
		if n.EmailAttempts != 2 || n.EmailRetryAt == nil || !n.EmailRetryAt.Equal(clk.now().Add(5*time.Minute)) {
			t.Fatalf("after the second failure: %+v", n)
		}
		// The server accepts again: the third try sends it, once.
		srv.busy.Store(false)
		clk.add(5 * time.Minute)
		if r, err := svc.RetryMail(ctx, 10); err != nil || r != (notify.RetryResult{Sent: 1}) {
			t.Fatalf("third try: %+v %v", r, err)
		}
		n = stored(t, svc, e.member.ID, id)
		if n.EmailedAt == nil || n.EmailError != "" || n.EmailAttempts != 3 || n.EmailRetryAt != nil {
			t.Fatalf("after sending: %+v, want sent on attempt 3 with no error and no retry", n)
		}
		clk.add(time.Hour)
		if r, err := svc.RetryMail(ctx, 10); err != nil || r != (notify.RetryResult{}) {
			t.Fatalf("retry after sent: %+v %v", r, err)
		}
		if got := srv.messages(); len(got) != 1 || len(got[0].to) != 1 || got[0].to[0] != e.member.Email {
			t.Fatalf("server received %+v, want one mail to %s", got, e.member.Email)
		}
	})
}

func TestMailIsGivenUpAfterTheLastAttempt(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e, srv, clk, svc, id := failedMail(t, db)
		var waited time.Duration
		for attempt := 2; attempt <= notify.MaxEmailAttempts; attempt++ {
			n := stored(t, svc, e.member.ID, id)
			if n.EmailRetryAt == nil {
				t.Fatalf("attempt %d: no retry scheduled: %+v", attempt, n)
			}
			d := n.EmailRetryAt.Sub(clk.now())
			waited += d
			clk.add(d)
			r, err := svc.RetryMail(ctx, 10)
			want := notify.RetryResult{Failed: 1}
			if attempt == notify.MaxEmailAttempts {
				want = notify.RetryResult{GaveUp: 1}
			}
			if err != nil || r != want {
				t.Fatalf("attempt %d: %+v %v, want %+v", attempt, r, err, want)
			}
		}
		if want := time.Minute + 5*time.Minute + 15*time.Minute + time.Hour + 3*time.Hour; waited != want {
			t.Fatalf("retries spread over %s, want %s", waited, want)
		}
		n := stored(t, svc, e.member.ID, id)
		if n.EmailAttempts != notify.MaxEmailAttempts || n.EmailRetryAt != nil || n.EmailedAt != nil ||
			!strings.HasPrefix(n.EmailError, "gave up after 6 attempts: ") || !strings.Contains(n.EmailError, "451") {
			t.Fatalf("given up: %+v", n)
		}
		clk.add(24 * time.Hour)
		if r, err := svc.RetryMail(ctx, 10); err != nil || r != (notify.RetryResult{}) {
			t.Fatalf("retry after giving up: %+v %v", r, err)
		}
		if got := srv.messages(); len(got) != 0 {
			t.Fatalf("a busy server received %d mails", len(got))
		}
	})
}

// Two workers retrying at once send each due mail once.
func TestRetryMailSendsOnceAcrossWorkers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		srv := startSMTP(t, false)
		srv.busy.Store(true)
		clk := &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
		a := mailService(t, db, e, srv, clk)
		b := mailService(t, db, e, srv, clk)
		const tickets = 4
		for i := 0; i < tickets; i++ {
			tk := e.ticket(&e.dept.ID, &e.member.ID)
			// The department: lead and two members, three mails a ticket.
			if res, err := a.Notify(ctx, msg(tk.ID), []string{"department"}); err != nil || len(res.Notifications) != 3 {
				t.Fatalf("notify: %+v %v", res, err)
			}
		}
		srv.busy.Store(false)
		clk.add(time.Minute)
		var wg sync.WaitGroup
		results := make([]notify.RetryResult, 4)
		errs := make([]error, 4)
		for i := range results {
			svc := a
			if i%2 == 1 {
				svc = b
			}
			wg.Add(1)
			go func() { defer wg.Done(); results[i], errs[i] = svc.RetryMail(ctx, 100) }()
		}
		wg.Wait()
		sent := 0
		for i, r := range results {
			if errs[i] != nil || r.Failed != 0 || r.GaveUp != 0 {
				t.Fatalf("worker %d: %+v %v", i, r, errs[i])
			}
			sent += r.Sent
		}
		if sent != 3*tickets || len(srv.messages()) != 3*tickets {
			t.Fatalf("workers sent %d, the server received %d; want %d each", sent, len(srv.messages()), 3*tickets)
		}
	})
}

// Mail still waiting for its turn when the send deadline ends was not
// tried: no attempt is counted, and it is due at once for the next run.
func TestMailNotReachedIsNotAnAttempt(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		stall := startSMTP(t, true)
		m, err := notify.ParseSMTPURL("smtp://" + stall.addr() + "?from=loopdesk@example.com")
		if err != nil {
			t.Fatal(err)
		}
		clk := &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
		svc := notify.New(db, e.acc, notify.WithMailer(m), notify.WithClock(clk.now), notify.WithSendTimeout(300*time.Millisecond))
		tk := e.ticket(&e.dept.ID, &e.member.ID)
		// Six mails, four sent at a time, a server that never answers.
		res, err := svc.Notify(ctx, msg(tk.ID), []string{"department", "a@partner.example", "b@partner.example", "c@partner.example"})
		if err != nil || len(res.Notifications) != 6 {
			t.Fatalf("notify: %d notifications, %v", len(res.Notifications), err)
		}
		tried, waiting := 0, 0
		for _, n := range res.Notifications {
			switch {
			case n.EmailAttempts == 1 && n.EmailRetryAt != nil && n.EmailRetryAt.Equal(clk.now().Add(time.Minute)):
				tried++
			case n.EmailAttempts == 0 && n.EmailRetryAt != nil && n.EmailRetryAt.Equal(clk.now()) && strings.HasPrefix(n.EmailError, "not sent"):
				waiting++
			default:
				t.Fatalf("unexpected outcome %+v", n)
			}
		}
		if tried != 4 || waiting != 2 {
			for _, n := range res.Notifications {
				t.Logf("%s: %d %q", n.Email, n.EmailAttempts, n.EmailError)
			}
			t.Fatalf("%d tried and %d waiting, want 4 and 2", tried, waiting)
		}
	})
}

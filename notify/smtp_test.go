package notify_test

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
)

// received is one message the test server accepted.
type received struct {
	auth string // "user:pass" from AUTH PLAIN, "" without
	from string
	to   []string
	data []byte
	tls  bool // the message came over TLS
}

// smtpServer speaks just enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT) to accept messages on 127.0.0.1, one goroutine per
// connection. stall: accept connections but never answer. busy: refuse
// every recipient with a temporary failure (451), as a full or
// greylisting server does.
type smtpServer struct {
	ln       net.Listener
	stall    bool
	busy     atomic.Bool
	starttls *tls.Config // offer STARTTLS with this certificate
	mu       sync.Mutex
	msgs     []received
	wg       sync.WaitGroup
}

func startSMTP(t *testing.T, stall bool) *smtpServer {
	t.Helper()
	return startSMTPWith(t, &smtpServer{stall: stall}, false, nil)
}

// startSMTPWith starts s on 127.0.0.1; with implicit, TLS from the first
// byte (smtps) with cfg.
func startSMTPWith(t *testing.T, s *smtpServer, implicit bool, cfg *tls.Config) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, cfg)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if s.stall {
		io.Copy(io.Discard, c) // until the client gives up
		return
	}
	tp := textproto.NewConn(c)
	reply := func(line string) { tp.PrintfLine("%s", line) }
	reply("220 test ESMTP")
	_, secure := c.(*tls.Conn)
	var cur received
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			reply("250-test")
			reply("250-8BITMIME")
			if s.starttls != nil && !secure {
				reply("250-STARTTLS")
			}
			reply("250 AUTH PLAIN")
		case "STARTTLS":
			if s.starttls == nil || secure {
				reply("502 not implemented")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.starttls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			tp = textproto.NewConn(c)
			cur = received{} // RFC 3207: the session starts over
			defer tc.Close()
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(ir)
			parts := strings.Split(string(b), "\x00")
			if mech != "PLAIN" || err != nil || len(parts) != 3 {
				reply("535 bad auth")
				continue
			}
			cur.auth = parts[1] + ":" + parts[2]
			reply("235 ok")
		case "MAIL":
			cur.from = angle(arg)
			reply("250 ok")
		case "RCPT":
			if s.busy.Load() {
				reply("451 4.3.2 busy, try again later")
				continue
			}
			cur.to = append(cur.to, angle(arg))
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := io.ReadAll(tp.DotReader()) // undoes dot-stuffing
			if err != nil {
				return
			}
			cur.data = data
			cur.tls = secure
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			cur = received{auth: cur.auth}
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// angle returns the <path> of "FROM:<a@b> BODY=8BITMIME".
func angle(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	path, _, _ := strings.Cut(rest, ">")
	return path
}

func TestParseSMTPURL(t *testing.T) {
	m, err := notify.ParseSMTPURL("smtp://ana:secret@mail.example.com:587?from=loopdesk@example.com")
	if err != nil || m.Addr() != "mail.example.com:587" || m.From() != "loopdesk@example.com" {
		t.Fatalf("%v %v", m, err)
	}
	if m, err = notify.ParseSMTPURL("smtps://bot@example.com:pw@mail.example.com"); err != nil || m.Addr() != "mail.example.com:465" || m.From() != "bot@example.com" {
		t.Fatalf("smtps default port and from = user: %v %v", m, err)
	}
	for _, bad := range []string{"http://mail.example.com?from=a@b.c", "smtp://mail.example.com", "smtp://?from=a@b.c", "smtp://h?from=nope", "::"} {
		if _, err := notify.ParseSMTPURL(bad); err == nil || !strings.Contains(err.Error(), "LOOPDESK_SMTP_URL") {
			t.Errorf("%q: %v, want an error naming LOOPDESK_SMTP_URL", bad, err)
		}
	}
}

func TestNotifySendsEmail(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		srv := startSMTP(t, false)
		m, err := notify.ParseSMTPURL("smtp://bot:s3cret@" + srv.addr() + "?from=loopdesk@example.com")
		if err != nil {
			t.Fatal(err)
		}
		svc := notify.New(db, e.acc, notify.WithMailer(m))
		tk := e.ticket(&e.dept.ID, &e.member.ID)
		body := "Ticket: 退款一直没有到账 refund missing\n.a line that starts with a dot\n" + strings.Repeat("long ", 40) + "\n"
		res, err := svc.Notify(ctx, notify.Message{TicketID: tk.ID, Kind: notify.KindSLAWarning, Subject: "[#1] SLA warning: 退款", Body: body},
			[]string{"assignee", "ops@partner.example"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Notifications) != 2 {
			t.Fatalf("%d notifications, want 2", len(res.Notifications))
		}
		for _, n := range res.Notifications {
			if n.EmailedAt == nil || n.EmailError != "" {
				t.Fatalf("email outcome %+v, want sent", n)
			}
		}
		msgs := srv.messages()
		var rcpts []string
		for _, r := range msgs {
			if r.auth != "bot:s3cret" || r.from != "loopdesk@example.com" || len(r.to) != 1 {
				t.Fatalf("envelope %+v", r)
			}
			rcpts = append(rcpts, r.to[0])
			pm, err := mail.ReadMessage(strings.NewReader(string(r.data)))
			if err != nil {
				t.Fatal(err)
			}
			subj, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
			if err != nil || subj != "[#1] SLA warning: 退款" {
				t.Fatalf("subject %q (%v)", subj, err)
			}
			if to, _ := mail.ParseAddress(pm.Header.Get("To")); to == nil || to.Address != r.to[0] {
				t.Fatalf("To header %q for rcpt %s", pm.Header.Get("To"), r.to[0])
			}
			if ct := pm.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			raw, err := io.ReadAll(quotedprintable.NewReader(pm.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(string(raw), "\r\n", "\n"); got != body {
				t.Fatalf("body %q, want %q", got, body)
			}
		}
		slices.Sort(rcpts)
		want := []string{"ops@partner.example", e.member.Email}
		slices.Sort(want)
		if !slices.Equal(rcpts, want) {
			t.Fatalf("recipients %v, want %v", rcpts, want)
		}
		// The outcome is stored, not only returned.
		ns, err := svc.List(ctx, e.member.ID, notify.Filter{}, accounts.Page{Limit: 10})
		if err != nil || len(ns) != 1 || ns[0].EmailedAt == nil || ns[0].Email != e.member.Email {
			t.Fatalf("stored %+v %v", ns, err)
		}
	})
}

func TestFailedEmailKeepsNotification(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		tk := e.ticket(&e.dept.ID, &e.member.ID)

		// Nobody listens: refused at once.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close()
		m, err := notify.ParseSMTPURL("smtp://" + closed + "?from=loopdesk@example.com")
		if err != nil {
			t.Fatal(err)
		}
		svc := notify.New(db, e.acc, notify.WithMailer(m))
		res, err := svc.Notify(ctx, msg(tk.ID), []string{"assignee"})
		if err != nil {
			t.Fatalf("a failed send is not the caller's error: %v", err)
		}
		if len(res.Notifications) != 1 || res.Notifications[0].EmailedAt != nil || !strings.Contains(res.Notifications[0].EmailError, "smtp") {
			t.Fatalf("result %+v, want the notification with its email error", res.Notifications)
		}

		// A server that never answers: the deadline ends the wait.
		stall := startSMTP(t, true)
		m, err = notify.ParseSMTPURL("smtp://" + stall.addr() + "?from=loopdesk@example.com")
		if err != nil {
			t.Fatal(err)
		}
		svc = notify.New(db, e.acc, notify.WithMailer(m), notify.WithSendTimeout(300*time.Millisecond))
		start := time.Now()
		res, err = svc.Notify(ctx, msg(tk.ID), []string{"department"})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("Notify took %s with a 300ms send timeout", took)
		}
		if len(res.Notifications) != 3 {
			t.Fatalf("%d notifications, want the 3 department members", len(res.Notifications))
		}
		for _, n := range res.Notifications {
			if n.EmailedAt != nil || n.EmailError == "" {
				t.Fatalf("stalled send recorded as %+v", n)
			}
		}
		ns, err := svc.List(ctx, e.lead.ID, notify.Filter{UnreadOnly: true}, accounts.Page{Limit: 10})
		if err != nil || len(ns) != 1 || ns[0].EmailError == "" {
			t.Fatalf("lead's stored notifications %+v %v", ns, err)
		}
	})
}

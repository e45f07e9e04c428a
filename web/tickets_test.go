package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/web"
)

var (
	versionField = regexp.MustCompile(`name="version" value="(\d+)"`)
	ticketPath   = regexp.MustCompile(`^/tickets/(\d+)$`)
)

type deskSite struct {
	srv    *httptest.Server
	acc    *accounts.Service
	tk     *tickets.Service
	sla    *sla.Service
	nt     *notify.Service
	deptID int64
}

// newDesk mounts the pages with real accounts and tickets services and
// creates a requester, an agent, a department and its member.
func newDesk(t *testing.T, db *database.DB) *deskSite {
	t.Helper()
	return newDeskNotify(t, db, true)
}

// newDeskNotify is newDesk with or without the notify service.
func newDeskNotify(t *testing.T, db *database.DB, withNotify bool) *deskSite {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	ctx := t.Context()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	slaSvc := sla.New(db, tk)
	var nt *notify.Service
	if withNotify {
		nt = notify.New(db, acc)
	}
	r := gin.New()
	if err := web.Mount(r, web.Deps{Accounts: acc, Tickets: tk, SLA: slaSvc, Notify: nt}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	d, err := acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "网络组 Network", Tier: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []accounts.NewUser{
		{Email: "rita@example.com", Name: "Rita 王", Roles: []accounts.Role{accounts.RoleRequester}},
		{Email: "sam@example.com", Name: "Sam", Roles: []accounts.Role{accounts.RoleRequester}},
		{Email: "ana@example.com", Name: "Ana Agent", Roles: []accounts.Role{accounts.RoleAgent}},
		{Email: "mo@example.com", Name: "Mo 李", Roles: []accounts.Role{accounts.RoleDepartmentMember}, DepartmentIDs: []int64{d.ID}},
	} {
		u.Password = "password-1"
		if _, err := acc.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return &deskSite{srv: srv, acc: acc, tk: tk, sla: slaSvc, nt: nt, deptID: d.ID}
}

// person is a signed-in browser.
type person struct {
	t    *testing.T
	base string
	c    *http.Client // follows redirects
	raw  *http.Client // does not, to see the 303s
	csrf string
}

func (s *deskSite) signIn(t *testing.T, email string) *person {
	t.Helper()
	c := browser(t)
	resp, err := c.Get(s.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	tok := csrfField.FindStringSubmatch(body(t, resp))[1]
	resp, err = c.PostForm(s.srv.URL+"/login", url.Values{"email": {email}, "password": {"password-1"}, "csrf_token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in of %s ended at %s", email, resp.Request.URL)
	}
	p := &person{t: t, base: s.srv.URL, c: c, csrf: csrfField.FindStringSubmatch(page)[1]}
	p.raw = &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return p
}

func (p *person) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.c.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.StatusCode, body(p.t, resp)
}

// post sends a form with the session's CSRF token (unless vals has one).
func (p *person) post(path string, vals url.Values) (*http.Response, string) {
	p.t.Helper()
	if _, ok := vals["csrf_token"]; !ok {
		vals.Set("csrf_token", p.csrf)
	}
	resp, err := p.raw.PostForm(p.base+path, vals)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp, body(p.t, resp)
}

// mustRedirect checks a Post/Redirect/Get answer and returns the target path.
func (p *person) mustRedirect(what string, resp *http.Response, page string) string {
	p.t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("%s = %d, want 303; page:\n%s", what, resp.StatusCode, excerpt(page))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.IsAbs() {
		p.t.Fatalf("%s redirected to %q", what, resp.Header.Get("Location"))
	}
	return loc.Path
}

// excerpt keeps failure output readable: the main part of a page.
func excerpt(page string) string {
	if i := strings.Index(page, "<main>"); i >= 0 {
		page = page[i:]
	}
	if len(page) > 4000 {
		page = page[:4000] + "…"
	}
	return page
}

// section returns the part of page from the element with id up to end.
func section(page, id, end string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	if j := strings.Index(rest, end); j >= 0 {
		return rest[:j]
	}
	return rest
}

func version(t *testing.T, page string) string {
	t.Helper()
	m := versionField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no version field on the page:\n%s", excerpt(page))
	}
	return m[1]
}

func mustContain(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, excerpt(page))
		}
	}
}

func mustNotContain(t *testing.T, what, page string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(page, w) {
			t.Fatalf("%s shows %q:\n%s", what, w, excerpt(page))
		}
	}
}

const (
	subject     = `打印机无法连接 printer offline <script>alert("x")</script>`
	description = "三楼的打印机连不上。\nThe 3rd floor printer is offline since Monday.\n<b>not bold</b>"
	noteText    = "内部备注: driver bug, do not tell the customer yet"
	replyText   = "我们正在处理 — we are on it, thanks for the details."
)

func TestTicketPagesEndToEnd(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newDesk(t, db)
		rita := s.signIn(t, "rita@example.com")

		// The requester's form has no department select; the header links it.
		code, page := rita.get("/tickets/new")
		if code != http.StatusOK {
			t.Fatalf("new ticket form = %d", code)
		}
		mustContain(t, "new ticket form", page, `action="/tickets"`, `name="subject"`, `name="description"`, `name="priority"`, `name="type"`, `value="support"`, `href="/tickets/new"`)
		mustNotContain(t, "requester's new ticket form", page, `name="department_id"`, `value="article"`)

		// Validation error: 422, the form again with the input kept and the
		// message next to the subject.
		resp, page := rita.post("/tickets", url.Values{"subject": {"  "}, "description": {description}, "priority": {"P2"}, "tags": {"打印机, Printer"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("blank subject = %d, want 422", resp.StatusCode)
		}
		mustContain(t, "re-rendered form", page, `class="field-error" id="subject-error">Subject is required`,
			"三楼的打印机连不上。\nThe 3rd floor printer is offline since Monday.\n&lt;b&gt;not bold&lt;/b&gt;</textarea>",
			`value="打印机, Printer"`, `<option value="P2" selected>`)

		resp, page = rita.post("/tickets", url.Values{"subject": {subject}, "description": {description}, "priority": {"P2"}, "type": {"support"}, "tags": {"打印机， printer"}, "category": {"hardware"}})
		path := rita.mustRedirect("create ticket", resp, page)
		m := ticketPath.FindStringSubmatch(path)
		if m == nil {
			t.Fatalf("created ticket redirect to %s", path)
		}
		id := m[1]
		tp := "/tickets/" + id
		code, page = rita.get(tp + "?done=created")
		if code != http.StatusOK {
			t.Fatalf("ticket page = %d", code)
		}
		mustContain(t, "requester's ticket page", page, "Ticket created",
			`打印机无法连接 printer offline &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
			"三楼的打印机连不上。\nThe 3rd floor printer is offline since Monday.\n&lt;b&gt;not bold&lt;/b&gt;",
			">New<", ">P2<", "打印机", "Rita 王")
		mustNotContain(t, "ticket page", page, `<script>alert`, `<b>not bold`, `name="internal"`, `id="escalate"`)

		// Someone else's ticket, a missing one and a malformed id are 404s.
		sam := s.signIn(t, "sam@example.com")
		for _, path := range []string{tp, "/tickets/99999999", "/tickets/abc", "/tickets/-1"} {
			if code, page := sam.get(path); code != http.StatusNotFound || !strings.Contains(page, "Ticket not found") {
				t.Fatalf("sam GET %s = %d", path, code)
			}
		}
		resp, page = sam.post(tp+"/comments", url.Values{"body": {"hi"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("comment on someone else's ticket = %d, want 404:\n%s", resp.StatusCode, excerpt(page))
		}

		// The requester's queue.
		code, page = rita.get("/tickets")
		if code != http.StatusOK {
			t.Fatalf("requester queue = %d", code)
		}
		mustContain(t, "requester queue", page, "Requested by me", `href="/tickets/`+id+`"`, "&lt;script&gt;")
		mustNotContain(t, "requester queue", page, "All tickets", "Unassigned", "My tickets")

		// The agent finds it in the queues and by search, Chinese and English.
		ana := s.signIn(t, "ana@example.com")
		code, page = ana.get("/tickets")
		mustContain(t, "agent's default queue", page, "My tickets", "All tickets", "Unassigned", "No tickets in this queue")
		for _, path := range []string{"/tickets?view=all", "/tickets?view=unassigned", "/tickets?view=all&priority=P2&status=new&sort=oldest",
			"/tickets?view=all&q=" + url.QueryEscape("打印机"), "/tickets?view=all&q=printer", "/tickets?view=all&q=" + url.QueryEscape("无法连接")} {
			code, page = ana.get(path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, code)
			}
			mustContain(t, path, page, `<a href="/tickets/`+id+`">打印机无法连接 printer offline &lt;script&gt;`, "Rita 王", ">New<", ">P2<")
		}
		for _, path := range []string{"/tickets?view=all&q=kubernetes", "/tickets?view=all&priority=P4", "/tickets?view=all&status=closed"} {
			code, page = ana.get(path)
			mustNotContain(t, path, page, `href="/tickets/`+id+`"`)
		}
		_, page = ana.get("/tickets?view=all&q=kubernetes")
		mustContain(t, "empty search", page, "No tickets match “kubernetes”")
		if code, page := ana.get("/tickets?view=all&cursor=garbage"); code != http.StatusBadRequest || !strings.Contains(page, "Start again from the first page") {
			t.Fatalf("bad cursor = %d", code)
		}

		// Internal note and public reply.
		code, page = ana.get(tp)
		mustContain(t, "agent's ticket page", page, `name="internal"`, `id="escalate"`, "网络组 Network", `id="event-pick_up"`)
		resp, page = ana.post(tp+"/comments", url.Values{"body": {noteText}, "internal": {"1"}})
		ana.mustRedirect("internal note", resp, page)
		resp, page = ana.post(tp+"/comments", url.Values{"body": {replyText}})
		ana.mustRedirect("reply", resp, page)
		_, page = ana.get(tp)
		mustContain(t, "agent's ticket page", page, "Internal note</span> <strong>Ana Agent</strong>", noteText, replyText)

		_, page = rita.get(tp)
		mustContain(t, "requester's ticket page", page, replyText, "Ana Agent")
		mustNotContain(t, "requester's ticket page", page, noteText, "Internal note")

		// A form without the CSRF token is refused.
		resp, _ = ana.post(tp+"/comments", url.Values{"body": {"forged"}, "csrf_token": {""}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("comment without CSRF = %d, want 403", resp.StatusCode)
		}
		resp, _ = ana.post(tp+"/transitions", url.Values{"event": {"pick_up"}, "version": {"1"}, "csrf_token": {"nope"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("transition with a wrong CSRF token = %d, want 403", resp.StatusCode)
		}

		// The agent escalates to the department through the form.
		_, page = ana.get(tp)
		stale := version(t, page)
		resp, page = ana.post(tp+"/escalations", url.Values{"kind": {"functional"}, "department_id": {fmt.Sprint(s.deptID)}, "reason": {"需要二线 network team"}, "version": {stale}})
		ana.mustRedirect("escalate", resp, page)
		_, page = ana.get(tp + "?done=escalated")
		mustContain(t, "escalated ticket", page, "Ticket escalated", "<dt>Department</dt><dd>网络组 Network</dd>", "Escalated")

		// A form from before the escalation is stale: 409 and a clear message.
		resp, page = ana.post(tp+"/transitions", url.Values{"event": {"pick_up"}, "version": {stale}})
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("stale transition = %d, want 409:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "stale transition", page, "Someone changed this ticket", `href="/tickets/`+id+`">Reload</a>`)
		if version(t, page) == stale {
			t.Fatal("the conflict page still carries the stale version")
		}

		// The department member picks it up and resolves it.
		mo := s.signIn(t, "mo@example.com")
		code, page = mo.get("/tickets?view=dept&dept=" + fmt.Sprint(s.deptID))
		mustContain(t, "department queue", page, "网络组 Network", `href="/tickets/`+id+`"`)
		_, page = mo.get(tp)
		pick := section(page, "event-pick_up", "</form>")
		if pick == "" {
			t.Fatalf("member's ticket page has no pick up form:\n%s", excerpt(page))
		}
		resp, page = mo.post(tp+"/transitions", url.Values{"event": {"pick_up"}, "version": {version(t, pick)}})
		mo.mustRedirect("pick up", resp, page)
		_, page = mo.get(tp)
		mustContain(t, "picked-up ticket", page, "<dt>Assignee</dt><dd>Mo 李</dd>", "In progress")
		resolve := section(page, "event-resolve", "</form>")
		mustContain(t, "resolve form", resolve, `name="f_resolution"`, `name="f_no_article_reason"`)

		// Missing the knowledge reason: the guard's message, 422, input kept.
		resp, page = mo.post(tp+"/transitions", url.Values{"event": {"resolve"}, "version": {version(t, resolve)}, "f_resolution": {"更新了驱动 updated the driver"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("resolve without a knowledge reason = %d, want 422:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "refused resolve", page, "link a knowledge article or fill in", "更新了驱动 updated the driver</textarea>")

		resp, page = mo.post(tp+"/transitions", url.Values{"event": {"resolve"}, "version": {version(t, resolve)},
			"f_resolution": {"更新了驱动 updated the driver"}, "f_no_article_reason": {"one-off hardware fault"}})
		mo.mustRedirect("resolve", resp, page)
		_, page = mo.get(tp)
		mustContain(t, "resolved ticket", page, `<span class="badge st-resolved">Resolved</span>`)
		hist := section(page, "history", "</table>")
		mustContain(t, "history", hist, "Rita 王", "Ana Agent", "Mo 李", "<td>Created</td>", "New → Escalated", "需要二线 network team", "Escalated → In progress", "In progress → Resolved", "none → 网络组 Network", "none → Mo 李")

		// The event is gone now: firing it again says what is possible.
		resp, page = mo.post(tp+"/transitions", url.Values{"event": {"pick_up"}, "version": {version(t, page)}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "cannot be done while the ticket is") {
			t.Fatalf("pick up of a resolved ticket = %d:\n%s", resp.StatusCode, excerpt(page))
		}

		// The requester sees the outcome and may close or reopen.
		_, page = rita.get(tp)
		mustContain(t, "requester's resolved ticket", page, "Resolved", `id="event-close"`, `id="event-reopen"`)
		mustNotContain(t, "requester's resolved ticket", page, noteText, "需要二线 network team")
		mustContain(t, "requester's history", section(page, "history", "</table>"), "Created", "New → Escalated", "In progress → Resolved", "更新了驱动 updated the driver")

		if dir := os.Getenv("LOOPDESK_WEB_SNAPSHOTS"); dir != "" && db.Dialect == "sqlite" {
			for name, path := range map[string]string{"queue.html": "/tickets?view=all&status=any", "ticket.html": tp, "new.html": "/tickets/new"} {
				_, page := ana.get(path)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(page), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, page = rita.get(tp)
			os.WriteFile(filepath.Join(dir, "ticket-requester.html"), []byte(page), 0o644)
		}
	})
}

func TestTicketPagesWithoutTickets(t *testing.T) {
	// Without a tickets service the routes are not there and the header has
	// no ticket links.
	srv, _ := newSite(t, testenv.SQLite(t))
	c := browser(t)
	resp, _ := c.Get(srv.URL + "/login")
	tok := csrfField.FindStringSubmatch(body(t, resp))[1]
	resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"password-1"}, "csrf_token": {tok}})
	page := body(t, resp)
	if strings.Contains(page, `href="/tickets"`) {
		t.Fatal("ticket links without a tickets service")
	}
	resp, _ = c.Get(srv.URL + "/tickets")
	body(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/tickets without a tickets service = %d", resp.StatusCode)
	}
}

// A form whose text is not UTF-8 (only a hand-made request sends one) is a
// 400 page on both backends, and changes nothing.
func TestFormWithNonUTF8TextIsRefused(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newDesk(t, db)
		rita := s.signIn(t, "rita@example.com")
		_, before := rita.get("/tickets")
		resp, page := rita.post("/tickets", url.Values{"subject": {"printer \xc2 offline"}, "description": {description}, "priority": {"P2"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("non-UTF-8 subject = %d, want 400", resp.StatusCode)
		}
		mustContain(t, "refusal page", page, "not UTF-8")
		if _, after := rita.get("/tickets"); after != before {
			t.Fatal("the ticket list changed after a refused form")
		}
	})
}

// Sign-in takes no session, so it is not behind requireCSRF's text check:
// an email that is not UTF-8 is a wrong sign-in, not a server error.
func TestSignInWithNonUTF8Email(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newDesk(t, db)
		c := browser(t)
		resp, err := c.Get(s.srv.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		tok := csrfField.FindStringSubmatch(body(t, resp))[1]
		resp, err = c.PostForm(s.srv.URL+"/login", url.Values{"email": {"rita\xc2@example.com"}, "password": {"password-1"}, "csrf_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("sign-in with a non-UTF-8 email = %d, want 401: %s", resp.StatusCode, page)
		}
	})
}

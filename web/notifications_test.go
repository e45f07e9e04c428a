package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/tickets"
)

var (
	navNotifications = regexp.MustCompile(`id="nav-notifications"[^>]*>Notifications(?: \(([^)]+)\))?</a>`)
	notificationRow  = regexp.MustCompile(`id="notification-(\d+)" class="(unread|read)"`)
	upToField        = regexp.MustCompile(`name="up_to" value="(\d+)"`)
)

// notifyDesk is newDesk's site with one more agent and a ticket of
// Rita's to notify about.
type notifyDesk struct {
	*deskSite
	ticket tickets.Ticket
}

func newNotifyDesk(t *testing.T, db *database.DB) *notifyDesk {
	t.Helper()
	d := newDesk(t, db)
	ctx := t.Context()
	if _, err := d.acc.CreateUser(ctx, accounts.NewUser{Email: "bo@example.com", Name: "Bo Agent", Password: "password-1",
		Roles: []accounts.Role{accounts.RoleAgent}}); err != nil {
		t.Fatal(err)
	}
	rita, err := d.acc.GetUserByEmail(ctx, "rita@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tkt, err := d.tk.Create(ctx, rita, tickets.NewTicket{Subject: "VPN 连不上", Description: "since this morning"})
	if err != nil {
		t.Fatal(err)
	}
	return &notifyDesk{deskSite: d, ticket: tkt}
}

// notifyUser stores one notification for the user with email and returns its id.
func (d *notifyDesk) notifyUser(t *testing.T, email, kind, subject string) int64 {
	t.Helper()
	u, err := d.acc.GetUserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.nt.Notify(t.Context(), notify.Message{TicketID: d.ticket.ID, Kind: kind, Subject: subject, Body: "target missed\n"},
		[]string{"user:" + strconv.FormatInt(u.ID, 10)})
	if err != nil || len(res.Notifications) != 1 {
		t.Fatalf("notify %s: %+v %v", email, res, err)
	}
	return res.Notifications[0].ID
}

func (d *notifyDesk) unread(t *testing.T, email string) int64 {
	t.Helper()
	u, err := d.acc.GetUserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.nt.UnreadCount(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// navCount is the header's unread count: "" when the link has none, "-"
// when there is no link.
func navCount(page string) string {
	m := navNotifications.FindStringSubmatch(page)
	if m == nil {
		return "-"
	}
	return m[1]
}

// rows maps the listed notification ids, in page order, to read/unread.
func rows(page string) ([]int64, map[int64]string) {
	var ids []int64
	state := map[int64]string{}
	for _, m := range notificationRow.FindAllStringSubmatch(page, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
		state[id] = m[2]
	}
	return ids, state
}

func TestNotificationsPage(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		d := newNotifyDesk(t, db)
		n1 := d.notifyUser(t, "ana@example.com", notify.KindSLAWarning, "[#1] First response due in 10m")
		n2 := d.notifyUser(t, "ana@example.com", notify.KindSLABreach, "[#1] First response <b>breached</b>")
		bos := d.notifyUser(t, "bo@example.com", notify.KindSLABreach, "Bo's own breach")
		n3 := d.notifyUser(t, "ana@example.com", notify.KindSLABreach, "[#1] Resolution breached")

		ana := d.signIn(t, "ana@example.com")
		_, home := ana.get("/")
		if got := navCount(home); got != "3" {
			t.Fatalf("ana's header count = %q, want 3", got)
		}
		if !strings.Contains(home, ">Notifications (3)</a>") {
			t.Errorf("header does not read Notifications (3)")
		}
		if _, page := d.signIn(t, "rita@example.com").get("/"); navCount(page) != "" {
			t.Errorf("rita (none) header count = %q, want the bare link", navCount(page))
		}

		// Only her own, newest first, escaped, linked to the ticket through
		// the marking link while unread.
		code, page := ana.get("/notifications")
		if code != http.StatusOK {
			t.Fatalf("GET /notifications = %d", code)
		}
		ids, state := rows(page)
		if want := []int64{n3, n2, n1}; !slices.Equal(ids, want) {
			t.Fatalf("listed %v, want %v", ids, want)
		}
		for _, id := range ids {
			if state[id] != "unread" {
				t.Errorf("notification %d is %s, want unread", id, state[id])
			}
		}
		for _, want := range []string{"[#1] Resolution breached", "[#1] First response &lt;b&gt;breached&lt;/b&gt;", "SLA warning", "SLA breach",
			`href="/notifications/` + strconv.FormatInt(n1, 10) + `/open">#` + strconv.FormatInt(d.ticket.ID, 10), `aria-current="page">Notifications (3)`} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(page, "Bo&#39;s own breach") || strings.Contains(page, "Bo's own breach") {
			t.Error("ana's page lists bo's notification")
		}

		// Mark read needs the session's CSRF token.
		readPath := "/notifications/" + strconv.FormatInt(n2, 10) + "/read"
		resp, _ := ana.post(readPath, url.Values{"csrf_token": {""}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("mark read without CSRF = %d, want 403", resp.StatusCode)
		}
		if n := d.unread(t, "ana@example.com"); n != 3 {
			t.Fatalf("unread after a refused form = %d, want 3", n)
		}
		resp, out := ana.post(readPath, url.Values{"back": {"/notifications?unread=1"}})
		if loc := ana.mustRedirect("mark read", resp, out); loc != "/notifications" || !strings.Contains(resp.Header.Get("Location"), "unread=1") {
			t.Fatalf("mark read went to %s", resp.Header.Get("Location"))
		}
		_, page = ana.get("/notifications")
		if _, state = rows(page); state[n2] != "read" || state[n1] != "unread" || state[n3] != "unread" {
			t.Fatalf("after mark read: %v", state)
		}
		if got := navCount(page); got != "2" {
			t.Fatalf("count after mark read = %q, want 2", got)
		}
		if !strings.Contains(page, `href="/tickets/`+strconv.FormatInt(d.ticket.ID, 10)+`">#`) {
			t.Error("a read notification does not link straight to its ticket")
		}
		_, page = ana.get("/notifications?unread=1")
		if ids, _ = rows(page); !slices.Equal(ids, []int64{n3, n1}) {
			t.Fatalf("unread tab lists %v, want %v", ids, []int64{n3, n1})
		}

		// Another user's notification is not found, and stays unread.
		resp, _ = ana.post("/notifications/"+strconv.FormatInt(bos, 10)+"/read", url.Values{})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("marking bo's notification = %d, want 404", resp.StatusCode)
		}
		if code, _ = ana.get("/notifications/" + strconv.FormatInt(bos, 10) + "/open"); code != http.StatusNotFound {
			t.Fatalf("opening bo's notification = %d, want 404", code)
		}
		if resp, _ = ana.post("/notifications/x/read", url.Values{}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("marking notification x = %d, want 404", resp.StatusCode)
		}
		if n := d.unread(t, "bo@example.com"); n != 1 {
			t.Fatalf("bo's unread = %d, want 1", n)
		}

		// Opening the ticket from an unread notification marks it read.
		resp, err := ana.c.Get(d.srv.URL + "/notifications/" + strconv.FormatInt(n1, 10) + "/open")
		if err != nil {
			t.Fatal(err)
		}
		page = body(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/tickets/"+strconv.FormatInt(d.ticket.ID, 10) || !strings.Contains(page, "VPN 连不上") {
			t.Fatalf("opening the notification ended at %s (%d)", resp.Request.URL, resp.StatusCode)
		}
		if got := navCount(page); got != "1" {
			t.Fatalf("count on the ticket page = %q, want 1", got)
		}

		// Mark all read: CSRF-checked, and it stops at the newest the page
		// showed: one arriving meanwhile stays unread.
		_, page = ana.get("/notifications")
		upTo := upToField.FindStringSubmatch(page)
		if upTo == nil || upTo[1] != strconv.FormatInt(n3, 10) {
			t.Fatalf("mark-all form up_to = %v, want %d", upTo, n3)
		}
		late := d.notifyUser(t, "ana@example.com", notify.KindSLABreach, "arrived meanwhile")
		resp, _ = ana.post("/notifications/read-all", url.Values{"csrf_token": {"forged"}, "up_to": {upTo[1]}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("mark all read without CSRF = %d, want 403", resp.StatusCode)
		}
		if n := d.unread(t, "ana@example.com"); n != 2 {
			t.Fatalf("unread after a refused mark-all = %d, want 2", n)
		}
		resp, out = ana.post("/notifications/read-all", url.Values{"up_to": {upTo[1]}, "back": {"https://evil.example/"}})
		if loc := ana.mustRedirect("mark all read", resp, out); loc != "/notifications" {
			t.Fatalf("mark all read went to %s", resp.Header.Get("Location"))
		}
		_, page = ana.get("/notifications")
		if _, state = rows(page); state[late] != "unread" || state[n3] != "read" {
			t.Fatalf("after mark all read: %v", state)
		}
		if got := navCount(page); got != "1" {
			t.Fatalf("count after mark all read = %q, want 1 (the late one)", got)
		}
		resp, out = ana.post("/notifications/read-all", url.Values{})
		ana.mustRedirect("mark all read again", resp, out)
		_, page = ana.get("/notifications?done=read-all")
		if got := navCount(page); got != "" {
			t.Fatalf("count with all read = %q, want none", got)
		}
		if !strings.Contains(page, "All your notifications are marked as read.") || strings.Contains(page, `id="read-all-form"`) {
			t.Error("after mark all read: no notice, or the button is still offered")
		}
		if n := d.unread(t, "bo@example.com"); n != 1 {
			t.Fatalf("ana's mark all read touched bo's: unread %d, want 1", n)
		}

		// Signed out, the page sends the browser to the login form.
		resp, err = browser(t).Get(d.srv.URL + "/notifications")
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("signed-out /notifications ended at %s", resp.Request.URL)
		}
	})
}

func TestNotificationsPaging(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		d := newNotifyDesk(t, db)
		var want []int64
		for i := range 53 {
			want = append(want, d.notifyUser(t, "bo@example.com", notify.KindSLAWarning, "warning "+strconv.Itoa(i)))
		}
		for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
		bo := d.signIn(t, "bo@example.com")
		_, page := bo.get("/")
		if got := navCount(page); got != "53" {
			t.Fatalf("header count = %q, want 53", got)
		}
		_, page = bo.get("/notifications")
		ids, _ := rows(page)
		if !slices.Equal(ids, want[:50]) {
			t.Fatalf("first page: %d rows %v", len(ids), ids)
		}
		next := regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page »</a>`).FindStringSubmatch(page)
		if next == nil || strings.Contains(page, "« First page") {
			t.Fatal("first page: no next link, or a first-page link")
		}
		code, page := bo.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		ids, _ = rows(page)
		if code != http.StatusOK || !slices.Equal(ids, want[50:]) {
			t.Fatalf("second page (%d): %v, want %v", code, ids, want[50:])
		}
		if strings.Contains(page, `rel="next"`) || !strings.Contains(page, `<a href="/notifications">« First page</a>`) {
			t.Error("last page: a next link, or no first-page link")
		}
		// Mark all read from the second page still covers the newest.
		if up := upToField.FindStringSubmatch(page); up == nil || up[1] != strconv.FormatInt(want[0], 10) {
			t.Fatalf("second page up_to = %v, want %d", up, want[0])
		}
		if code, page = bo.get("/notifications?cursor=nope"); code != http.StatusBadRequest || !strings.Contains(page, "Start again from the first page") {
			t.Fatalf("bad cursor = %d", code)
		}
	})
}

// TestNotificationsLeftOutWithoutService: no notify service, no link and no page.
func TestNotificationsLeftOutWithoutService(t *testing.T) {
	d := newDeskNotify(t, testenv.SQLite(t), false)
	ana := d.signIn(t, "ana@example.com")
	_, page := ana.get("/")
	if navCount(page) != "-" {
		t.Error("header links to notifications without a notify service")
	}
	if code, _ := ana.get("/notifications"); code != http.StatusNotFound {
		t.Errorf("GET /notifications = %d, want 404", code)
	}
}

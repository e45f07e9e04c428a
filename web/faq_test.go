package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

var faqLink = regexp.MustCompile(`href="/faq-proposals/(\d+)">([^<]*)</a>`)

// Repeat issues, as customers write them.
var (
	faqLogin = [][3]string{
		{"Hi, cannot log in to the app", "The app says my password is incorrect. My email is john.doe@example.com",
			"Reset the password from the login page and cleared the app cache; the customer can log in now."},
		{"Login fails with wrong password after reset", "I reset my password but the app still says wrong password when I log in",
			"Cleared the app cache and the customer logged in with the new password."},
		{"Can't log in: password incorrect", "Every time I log in the app says the password is incorrect. Thanks",
			"Asked the customer to clear the app cache and log in again with the reset password."},
	}
	faqRefund = [][3]string{
		{"您好，退款还没到账", "我上周申请了退款，订单号202403150001，钱还没有退回来。",
			"已为您加急处理退款，款项将在1-3个工作日原路退回，请留意银行卡到账信息。"},
		{"申请退款后一直没收到钱", "退款申请已经通过了，但是银行卡里没有收到退款，谢谢",
			"退款已原路退回，银行处理需要1-3个工作日，请留意银行卡到账信息。"},
		{"请问退款什么时候到账？", "已经等了一周了，退款还没到账，能帮忙查一下吗",
			"退款将在1-3个工作日内原路退回到支付账户，请留意到账信息。"},
	}
)

const faqQuestion = `Cannot log in to the app <script>alert("faq")</script>`

// resolvedRepeats opens the cases as rita and has ana resolve them with a
// resolution note and no article.
func (s *kbSite) resolvedRepeats(t *testing.T, cases [][3]string) []int64 {
	t.Helper()
	ctx := t.Context()
	var ids []int64
	for _, c := range cases {
		tk, err := s.tk.Create(ctx, s.users["rita"], tickets.NewTicket{Subject: c[0], Description: c[1]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.tk.Fire(ctx, s.users["ana"], tk.ID, 0, tickets.Transition{Event: "resolve",
			Fields: map[string]string{"resolution": c[2], "no_article_reason": "not in the knowledge base yet"}}); err != nil {
			t.Fatalf("resolve %q: %v", c[0], err)
		}
		ids = append(ids, tk.ID)
	}
	return ids
}

func TestFAQReviewPages(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newKBDesk(t, db)
		login := s.resolvedRepeats(t, faqLogin)
		refund := s.resolvedRepeats(t, faqRefund)
		eve := s.signIn(t, "eve@example.com")
		ana := s.signIn(t, "ana@example.com")
		rita := s.signIn(t, "rita@example.com")

		// Only faq:review gets the pages and the header link.
		_, page := eve.get("/")
		mustContain(t, "editor's header", page, `href="/faq-proposals"`, "FAQ proposals")
		for _, who := range []*person{ana, rita} {
			_, page = who.get("/")
			mustNotContain(t, "header without faq:review", page, `href="/faq-proposals"`)
			for _, path := range []string{"/faq-proposals", "/faq-proposals?status=rejected", "/faq-proposals/1"} {
				if code, page := who.get(path); code != http.StatusForbidden || !strings.Contains(page, "reviewing FAQ proposals") {
					t.Fatalf("GET %s without faq:review = %d", path, code)
				}
			}
			if resp, _ := who.post("/faq-proposals/mine", url.Values{}); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("mine without faq:review = %d", resp.StatusCode)
			}
		}

		code, page := eve.get("/faq-proposals")
		if code != http.StatusOK {
			t.Fatalf("proposal list = %d", code)
		}
		mustContain(t, "empty list", page, `href="/faq-proposals" class="on"`, "No open proposals", `action="/faq-proposals/mine"`)

		// Mine now: a notice with the counts, then the proposals by impact.
		resp, page := eve.post("/faq-proposals/mine", url.Values{})
		eve.mustRedirect("mine now", resp, page)
		code, page = eve.get(resp.Header.Get("Location"))
		if code != http.StatusOK {
			t.Fatalf("list after mining = %d", code)
		}
		mustContain(t, "list after mining", page, `id="mine-notice"`, "6 resolved tickets", "2 new proposals")
		rows := faqLink.FindAllStringSubmatch(section(page, "proposals", "</table>"), -1)
		if len(rows) != 2 {
			t.Fatalf("want 2 proposals:\n%s", excerpt(page))
		}
		var enID, zhID string
		for _, r := range rows {
			if strings.Contains(r[2], "退款") {
				zhID = r[1]
			} else {
				enID = r[1]
			}
		}
		if enID == "" || zhID == "" {
			t.Fatalf("proposals %q", rows)
		}

		// The proposal page: draft, sources and members link to the tickets.
		pp := "/faq-proposals/" + enID
		code, page = eve.get(pp)
		if code != http.StatusOK {
			t.Fatalf("proposal page = %d", code)
		}
		for _, id := range login {
			mustContain(t, "member tickets", section(page, "members", "</table>"), `href="/tickets/`+strconv.FormatInt(id, 10)+`"`)
		}
		mustContain(t, "proposal page", page, `id="sources"`, `href="/tickets/`, "cache", `id="edit-form"`, `id="approve-form"`,
			`id="reject-form"`, `id="attach-form"`, `name="publish"`, `<option value="public"`, `id="merge-form"`, `<option value="`+zhID+`"`)
		mustNotContain(t, "proposal page", page, "john.doe@example.com")
		oldVersion := version(t, section(page, "edit-form", "</form>"))

		// Edit: saved, the question escaped everywhere.
		edit := url.Values{"question": {faqQuestion}, "answer": {"1. Reset the password\r\n2. **Clear the app cache**\r\n"},
			"category": {"Accounts"}, "tags": {"login, app"}, "version": {oldVersion}}
		resp, page = eve.post(pp+"/edit", edit)
		eve.mustRedirect("edit proposal", resp, page)
		_, page = eve.get(pp + "?done=saved")
		escaped := `Cannot log in to the app &lt;script&gt;alert(&#34;faq&#34;)&lt;/script&gt;`
		mustContain(t, "edited proposal", page, "Draft saved", escaped, "<strong>Clear the app cache</strong>", "#login", "Accounts", "Eve Editor")
		mustNotContain(t, "edited proposal", page, `<script>alert`)
		_, page = eve.get("/faq-proposals")
		mustContain(t, "list after edit", page, escaped, ">edited<")
		mustNotContain(t, "list after edit", page, `<script>alert`)

		// A stale form: a clear conflict, the typed text kept.
		edit.Set("answer", "my stale answer")
		resp, page = eve.post(pp+"/edit", edit)
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("stale edit = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "stale edit", page, "Someone else changed this proposal", "Your text is kept", ">my stale answer</textarea>")
		if v := version(t, section(page, "edit-form", "</form>")); v == oldVersion {
			t.Fatalf("the conflict form still carries version %s", v)
		}

		// Reject needs a reason.
		zp := "/faq-proposals/" + zhID
		_, page = eve.get(zp)
		zv := version(t, section(page, "reject-form", "</form>"))
		resp, page = eve.post(zp+"/reject", url.Values{"reason": {"  "}, "version": {zv}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("reject without a reason = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "reject without a reason", section(page, "reject", "</form>"), `id="reject-error"`, "Reason is required")
		resp, page = eve.post(zp+"/reject", url.Values{"reason": {"一次性问题 <b>one-off</b>"}, "version": {zv}})
		eve.mustRedirect("reject", resp, page)
		_, page = eve.get(zp)
		mustContain(t, "rejected proposal", page, "Rejected", "一次性问题 &lt;b&gt;one-off&lt;/b&gt;")
		mustNotContain(t, "rejected proposal", page, `id="reject-form"`, `id="approve-form"`)
		_, page = eve.get("/faq-proposals?status=rejected")
		mustContain(t, "rejected list", page, `href="/faq-proposals/`+zhID+`"`, `class="on" aria-current="page">Rejected`)
		for _, id := range refund {
			if id == 0 {
				t.Fatal("no refund ticket")
			}
		}

		// Attach to an article that does not exist: refused, input kept.
		_, page = eve.get(pp)
		resp, page = eve.post(pp+"/attach", url.Values{"article_id": {"99999999"},
			"version": {version(t, section(page, "attach-form", "</form>"))}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("attach to a missing article = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "attach to a missing article", section(page, "attach", "</form>"), `id="attach-error"`, "there is no article 99999999",
			`value="99999999"`)

		// Approve and publish: the article exists, public, and every
		// member ticket links to it.
		_, page = eve.get(pp)
		resp, page = eve.post(pp+"/approve", url.Values{"publish": {"1"}, "audience": {"public"},
			"version": {version(t, section(page, "approve-form", "</form>"))}})
		eve.mustRedirect("approve", resp, page)
		_, page = eve.get(pp + "?done=approved")
		m := regexp.MustCompile(`id="article-link">[^<]*<a href="/articles/(\d+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no article link after approval:\n%s", excerpt(page))
		}
		ap := "/articles/" + m[1]
		mustContain(t, "approved proposal", page, "Proposal approved", "Approved")
		mustNotContain(t, "approved proposal", page, `id="edit-form"`, `id="approve-form"`)
		code, page = rita.get(ap)
		if code != http.StatusOK {
			t.Fatalf("requester GET the published FAQ article = %d", code)
		}
		mustContain(t, "published FAQ article", page, escaped, "<strong>Clear the app cache</strong>")
		for _, id := range login {
			_, page = eve.get("/tickets/" + strconv.FormatInt(id, 10))
			mustContain(t, "member ticket", page, `href="`+ap+`"`)
		}
		_, page = eve.get("/faq-proposals?status=approved")
		mustContain(t, "approved list", page, `href="`+pp+`"`)
	})
}

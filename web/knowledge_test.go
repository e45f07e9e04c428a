package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/web"
)

var (
	articlePath   = regexp.MustCompile(`^/articles/(\d+)$`)
	baseRevField  = regexp.MustCompile(`name="base_revision" value="(\d+)"`)
	articleEditTo = regexp.MustCompile(`^/articles/(\d+)/edit$`)
)

type kbSite struct {
	srv *httptest.Server
	acc *accounts.Service
	tk  *tickets.Service
	kb  *knowledge.Service
	// users by first name
	users map[string]accounts.User
}

// newKBDesk mounts the pages with real accounts, tickets and knowledge
// services and creates a requester, an agent and two knowledge editors.
func newKBDesk(t *testing.T, db *database.DB) *kbSite {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	ctx := t.Context()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	kb := knowledge.New(db, tk, knowledge.WithSuggestRefresh(0))
	r := gin.New()
	if err := web.Mount(r, web.Deps{Accounts: acc, Tickets: tk, Knowledge: kb}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s := &kbSite{srv: srv, acc: acc, tk: tk, kb: kb, users: map[string]accounts.User{}}
	for _, u := range []accounts.NewUser{
		{Email: "rita@example.com", Name: "Rita 王", Roles: []accounts.Role{accounts.RoleRequester}},
		{Email: "ana@example.com", Name: "Ana Agent", Roles: []accounts.Role{accounts.RoleAgent}},
		{Email: "eve@example.com", Name: "Eve Editor", Roles: []accounts.Role{accounts.RoleKnowledgeEditor}},
		{Email: "ed@example.com", Name: "Ed Editor", Roles: []accounts.Role{accounts.RoleKnowledgeEditor}},
	} {
		u.Password = "password-1"
		created, err := acc.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		s.users[strings.Split(u.Email, "@")[0]] = created
	}
	return s
}

func (s *kbSite) signIn(t *testing.T, email string) *person {
	return (&deskSite{srv: s.srv}).signIn(t, email)
}

// publish writes an article as ana through the service and has eve approve it.
func (s *kbSite) publish(t *testing.T, in knowledge.NewArticle) knowledge.Article {
	t.Helper()
	ctx := t.Context()
	a, err := s.kb.Create(ctx, s.users["ana"], in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.kb.Fire(ctx, s.users["ana"], a.ID, 0, knowledge.Transition{Event: "submit"}); err != nil {
		t.Fatal(err)
	}
	a, err = s.kb.Fire(ctx, s.users["eve"], a.ID, 0, knowledge.Transition{Event: "approve"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const (
	kbTitle   = `打印机脱机 Printer offline <script>alert("t")</script>`
	kbSummary = "如何让打印机重新上线 · how to bring the printer back"
	kbBody    = "## 步骤 Steps\r\n\r\n1. 重启打印机 restart the printer\r\n2. **检查网线** check the cable\r\n\r\n<script>alert('body')</script>\r\n"
)

// fire posts a workflow action of the article page.
func fireArticle(p *person, path, page, event string, extra url.Values) (*http.Response, string) {
	p.t.Helper()
	form := section(page, "event-"+event, "</form>")
	if form == "" {
		p.t.Fatalf("no %s action on the article page:\n%s", event, excerpt(page))
	}
	vals := url.Values{"event": {event}, "version": {version(p.t, form)}}
	for k, v := range extra {
		vals[k] = v
	}
	return p.post(path+"/transitions", vals)
}

func TestKnowledgeEditorFlow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newKBDesk(t, db)
		ana := s.signIn(t, "ana@example.com")
		eve := s.signIn(t, "eve@example.com")
		ed := s.signIn(t, "ed@example.com")
		rita := s.signIn(t, "rita@example.com")

		// The header links the knowledge base; writers get "New article".
		code, page := ana.get("/articles")
		if code != http.StatusOK {
			t.Fatalf("article list = %d", code)
		}
		mustContain(t, "agent's article list", page, `href="/articles"`, `href="/articles/new"`, "No articles yet")
		_, page = rita.get("/articles")
		mustContain(t, "requester's article list", page, `href="/articles" class="on"`)
		mustNotContain(t, "requester's article list", page, `href="/articles/new"`, `name="status"`)
		if code, _ := rita.get("/articles/new"); code != http.StatusForbidden {
			t.Fatalf("requester's new article form = %d, want 403", code)
		}
		if resp, _ := rita.post("/articles", url.Values{"title": {"x"}, "body": {"y"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("requester creating an article = %d, want 403", resp.StatusCode)
		}

		// Validation: 422, the message next to the field, every input kept.
		code, page = ana.get("/articles/new")
		mustContain(t, "new article form", page, `name="title"`, `name="summary"`, `name="body"`, `name="category"`, `name="tags"`,
			`name="language"`, `value="zh"`, `name="audience"`, `value="public"`)
		resp, page := ana.post("/articles", url.Values{"title": {"  "}, "summary": {kbSummary}, "body": {kbBody}, "tags": {"打印机， Printer"},
			"category": {"硬件 hardware"}, "language": {"zh"}, "audience": {"public"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("blank title = %d, want 422:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "refused new article", page, `class="field-error" id="title-error">Title is required`,
			"重启打印机 restart the printer", "&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;", `value="打印机， Printer"`,
			`value="硬件 hardware"`, `<option value="zh" selected>`, `<option value="public" selected>`, kbSummary)

		// Created: a draft, the title escaped, the body rendered safely.
		resp, page = ana.post("/articles", url.Values{"title": {kbTitle}, "summary": {kbSummary}, "body": {kbBody}, "tags": {"打印机， Printer"},
			"category": {"硬件 hardware"}, "language": {"zh"}, "audience": {"public"}, "note": {"first cut"}})
		m := articlePath.FindStringSubmatch(ana.mustRedirect("create article", resp, page))
		if m == nil {
			t.Fatalf("create article redirected to %s", resp.Header.Get("Location"))
		}
		id := m[1]
		ap := "/articles/" + id
		_, page = ana.get(ap + "?done=created")
		mustContain(t, "new article page", page, "Article saved as a draft",
			`打印机脱机 Printer offline &lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;`,
			"<strong>检查网线</strong>", "<h2>步骤 Steps</h2>", ">Draft<", "Ana Agent", "first cut", `id="event-submit"`, `href="/articles/`+id+`/edit"`)
		mustNotContain(t, "new article page", page, `<script>alert`, `id="event-approve"`)

		// A draft does not exist for the requester: not by link, list or search.
		for _, path := range []string{ap, ap + "?view=published", ap + "/diff?from=1&to=1", "/articles/99999999", "/articles/abc"} {
			if code, page := rita.get(path); code != http.StatusNotFound || !strings.Contains(page, "Article not found") {
				t.Fatalf("requester GET %s = %d", path, code)
			}
		}
		for _, path := range []string{"/articles", "/articles?q=" + url.QueryEscape("打印机"), "/articles?q=printer"} {
			_, page = rita.get(path)
			mustNotContain(t, "requester's list "+path, page, `href="/articles/`+id+`"`, "Printer offline", "硬件 hardware")
		}
		if resp, _ := rita.post(ap+"/feedback", url.Values{"helpful": {"yes"}}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("requester's feedback on a draft = %d, want 404", resp.StatusCode)
		}

		// The author submits; an agent may not approve, nor may the author.
		_, page = ana.get(ap)
		resp, page = fireArticle(ana, ap, page, "submit", nil)
		ana.mustRedirect("submit", resp, page)
		_, page = ana.get(ap)
		mustContain(t, "submitted article", page, ">In review<")
		mustNotContain(t, "author's page in review", page, `id="event-approve"`, `id="event-reject"`)

		// The editor sends it back; the comment is required and shown.
		_, page = eve.get(ap)
		mustContain(t, "editor's page in review", page, `id="event-approve"`, `id="event-reject"`, "Comment for the author")
		resp, page = fireArticle(eve, ap, page, "reject", nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "fill in: Comment") {
			t.Fatalf("send back without a comment = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		resp, page = fireArticle(eve, ap, page, "reject", url.Values{"f_comment": {"请补充截图 add a screenshot <b>please</b>"}})
		eve.mustRedirect("send back", resp, page)
		_, page = ana.get(ap)
		mustContain(t, "sent-back article", page, ">Draft<", `id="sent-back"`, "Sent back by Eve Editor", "请补充截图 add a screenshot &lt;b&gt;please&lt;/b&gt;")

		// Edit conflict: ana's form is stale after eve's edit; her text stays.
		_, anaForm := ana.get(ap + "/edit")
		mustContain(t, "edit form", anaForm, `action="/articles/`+id+`/edit"`, "打印机脱机 Printer offline &lt;script&gt;", "重启打印机 restart the printer")
		stale, base := version(t, anaForm), baseRevField.FindStringSubmatch(anaForm)[1]
		_, eveForm := eve.get(ap + "/edit")
		resp, page = eve.post(ap+"/edit", url.Values{"version": {version(t, eveForm)}, "base_revision": {base}, "title": {kbTitle}, "summary": {kbSummary},
			"body": {kbBody + "\n3. 换一根网线 try another cable\n"}, "tags": {"打印机, printer"}, "category": {"硬件 hardware"}, "language": {"zh"}, "audience": {"public"}})
		eve.mustRedirect("editor's edit", resp, page)
		anaBody := kbBody + "\n![截图](https://example.com/shot.png)\n"
		anaEdit := url.Values{"version": {stale}, "base_revision": {base}, "title": {kbTitle}, "summary": {kbSummary},
			"body": {anaBody}, "tags": {"打印机, printer, 截图"}, "category": {"硬件 hardware"}, "language": {"zh"}, "audience": {"public"}, "note": {"加了截图"}}
		resp, page = ana.post(ap+"/edit", anaEdit)
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("stale edit = %d, want 409:\n%s", resp.StatusCode, excerpt(page))
		}
		mustContain(t, "edit conflict", page, `id="conflict"`, "Someone else changed this article", "https://example.com/shot.png",
			`value="打印机, printer, 截图"`, `value="加了截图"`, `/articles/`+id+`/diff?from=`+base+`&amp;to=`)
		fresh := version(t, page)
		if fresh == stale {
			t.Fatal("the conflict form still carries the stale version")
		}
		anaEdit.Set("version", fresh)
		resp, page = ana.post(ap+"/edit", anaEdit)
		ana.mustRedirect("edit after the conflict", resp, page)
		// Saving unchanged text makes no revision.
		_, page = ana.get(ap + "/edit")
		anaEdit.Set("version", version(t, page))
		anaEdit.Set("base_revision", baseRevField.FindStringSubmatch(page)[1])
		resp, page = ana.post(ap+"/edit", anaEdit)
		if loc := resp.Header.Get("Location"); loc != ap+"?done=unchanged" {
			t.Fatalf("unchanged save redirected to %q (%d)", loc, resp.StatusCode)
		}

		// Resubmitted and approved by the editor: published for the requester.
		_, page = ana.get(ap)
		mustContain(t, "revisions", section(page, "revisions", "</table>"), "Eve Editor", "加了截图", "first cut", `/articles/`+id+`/diff?from=2&amp;to=3`)
		resp, page = fireArticle(ana, ap, page, "submit", nil)
		ana.mustRedirect("resubmit", resp, page)
		_, page = eve.get(ap)
		resp, page = fireArticle(eve, ap, page, "approve", nil)
		eve.mustRedirect("approve", resp, page)

		code, page = rita.get(ap)
		if code != http.StatusOK {
			t.Fatalf("requester's published article = %d:\n%s", code, excerpt(page))
		}
		if resp, err := rita.c.Get(rita.base + ap); err != nil || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src 'self' https: data:") {
			t.Fatalf("article page CSP = %q (%v)", resp.Header.Get("Content-Security-Policy"), err)
		} else {
			resp.Body.Close()
		}
		mustContain(t, "requester's article page", page, "打印机脱机 Printer offline &lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;",
			"<strong>检查网线</strong>", `src="https://example.com/shot.png"`, `id="feedback"`)
		mustNotContain(t, "requester's article page", page, "<script>alert", `id="revisions"`, `id="actions"`, `id="flag-form"`, "Ana Agent", "请补充截图")

		// Search, Chinese and English, finds it with the match marked.
		for q, mark := range map[string]string{"打印机": "<mark>打印机</mark>", "printer": "<mark>printer</mark>", "网线 cable": "<mark>网线</mark>"} {
			for _, p := range []*person{rita, ana} {
				code, page = p.get("/articles?q=" + url.QueryEscape(q))
				if code != http.StatusOK {
					t.Fatalf("search %q = %d", q, code)
				}
				mustContain(t, "search "+q, page, `<a href="/articles/`+id+`">打印机脱机 Printer offline &lt;script&gt;`, mark)
			}
		}
		_, page = rita.get("/articles?q=kubernetes")
		mustContain(t, "empty search", page, "No articles match “kubernetes”")
		_, page = rita.get("/articles?language=en")
		mustNotContain(t, "English-only list", page, `href="/articles/`+id+`"`)
		_, page = rita.get("/articles?category=" + url.QueryEscape("硬件 hardware"))
		mustContain(t, "category filter", page, `href="/articles/`+id+`"`, `<option value="硬件 hardware" selected>`)
		_, page = ana.get("/articles?status=draft")
		mustNotContain(t, "draft filter", page, `href="/articles/`+id+`"`)
		_, page = ana.get("/articles?status=published")
		mustContain(t, "published filter", page, `href="/articles/`+id+`"`, ">Published<")

		// Feedback from the requester, a flag from the agent.
		resp, page = rita.post(ap+"/feedback", url.Values{"helpful": {"yes"}, "comment": {"有用 <i>thanks</i>"}})
		rita.mustRedirect("feedback", resp, page)
		resp, page = ana.post(ap+"/flags", url.Values{"reason": {"  "}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Reason is required") {
			t.Fatalf("flag without a reason = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		resp, page = ana.post(ap+"/flags", url.Values{"reason": {"新驱动 v2 changed the steps"}})
		ana.mustRedirect("flag", resp, page)
		_, page = ana.get(ap)
		mustContain(t, "staff article page", page, "有用 &lt;i&gt;thanks&lt;/i&gt;", "Rita 王", "新驱动 v2 changed the steps", `id="outdated-notice"`,
			"<dt>Reused</dt><dd>in 0 tickets</dd>", "👍 1 · 👎 0")

		// Editing the published article starts a draft; readers keep the live text.
		_, page = ana.get(ap + "/edit")
		mustContain(t, "edit of a published article", page, "Saving starts a new draft")
		anaEdit.Set("version", version(t, page))
		anaEdit.Set("body", "全新内容 completely new text")
		resp, page = ana.post(ap+"/edit", anaEdit)
		ana.mustRedirect("edit published", resp, page)
		_, page = ana.get(ap)
		mustContain(t, "working copy", page, `id="live-notice"`, "Readers still see the published revision 3", "全新内容")
		_, page = ana.get(ap + "?view=published")
		mustContain(t, "published view", page, "You are viewing the <strong>published version</strong>", "检查网线", ">Published version<")
		_, page = rita.get(ap)
		mustContain(t, "requester during review", page, "检查网线")
		mustNotContain(t, "requester during review", page, "全新内容")

		// The diff view.
		code, page = ana.get(ap + "/diff?from=3&to=4")
		if code != http.StatusOK {
			t.Fatalf("diff = %d:\n%s", code, excerpt(page))
		}
		mustContain(t, "diff", page, `<div class="file">--- revision 3/body</div>`, `<div class="add">&#43;全新内容 completely new text</div>`,
			`<div class="del">-1. 重启打印机 restart the printer</div>`, `<div class="del">-&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;</div>`)
		mustNotContain(t, "diff", page, "<script>alert")
		if code, page := ana.get(ap + "/diff?from=9&to=1"); code != http.StatusBadRequest || !strings.Contains(page, "cannot be compared") {
			t.Fatalf("diff of a missing revision = %d", code)
		}

		// Self-approval is not offered: eve writes, ed approves.
		resp, page = eve.post("/articles", url.Values{"title": {"VPN 证书更新 renew the VPN certificate"}, "body": {"每年更新一次 once a year"}, "language": {""}, "audience": {"internal"}})
		m = articlePath.FindStringSubmatch(eve.mustRedirect("editor's article", resp, page))
		ap2 := "/articles/" + m[1]
		_, page = eve.get(ap2)
		resp, page = fireArticle(eve, ap2, page, "submit", nil)
		eve.mustRedirect("editor submits", resp, page)
		_, page = eve.get(ap2)
		mustContain(t, "author-editor's page", page, ">In review<", "<dt>Language</dt><dd>中文</dd>")
		mustNotContain(t, "author-editor's page", page, `id="event-approve"`)
		_, page = ed.get(ap2)
		resp, page = fireArticle(ed, ap2, page, "approve", nil)
		ed.mustRedirect("other editor approves", resp, page)

		// An internal article stays out of the requester's sight.
		if code, _ := rita.get(ap2); code != http.StatusNotFound {
			t.Fatalf("requester GET internal article = %d, want 404", code)
		}
		_, page = rita.get("/articles?q=VPN")
		mustNotContain(t, "requester's search", page, `href="`+ap2+`"`, "证书")
		_, page = ana.get("/articles?q=VPN")
		mustContain(t, "agent's search", page, `href="`+ap2+`"`, "Internal")

		snapshot(t, db, ana, map[string]string{"articles.html": "/articles?q=" + url.QueryEscape("打印机 printer"), "article.html": ap,
			"article-published.html": ap + "?view=published", "article-edit.html": ap + "/edit", "article-diff.html": ap + "/diff?from=1&to=4"})
		snapshot(t, db, rita, map[string]string{"article-requester.html": ap, "articles-requester.html": "/articles"})

		// Forged forms are refused.
		if resp, _ := ana.post(ap+"/flags", url.Values{"reason": {"x"}, "csrf_token": {"forged"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("flag with a forged token = %d", resp.StatusCode)
		}
		// A stale action form says so.
		resp, page = eve.post(ap+"/transitions", url.Values{"event": {"submit"}, "version": {"1"}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "Someone else changed this article") {
			t.Fatalf("stale action = %d:\n%s", resp.StatusCode, excerpt(page))
		}
	})
}

func TestTicketPageKnowledge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newKBDesk(t, db)
		ctx := t.Context()
		art := s.publish(t, knowledge.NewArticle{Title: "VPN 连接失败 <VPN> connection fails", Summary: "重新导入 VPN 配置 · re-import the VPN profile",
			Body: "VPN 连不上时，重新导入配置文件。If the VPN cannot connect, re-import the profile.", Audience: knowledge.AudiencePublic})
		aid := strconv.FormatInt(art.ID, 10)
		internal := s.publish(t, knowledge.NewArticle{Title: "VPN 网关重启 restart the VPN gateway", Body: "仅限网络组 VPN gateway restart steps for staff."})
		rita := s.users["rita"]
		t1, err := s.tk.Create(ctx, rita, tickets.NewTicket{Subject: "VPN 连不上 VPN cannot connect", Description: "从今天早上开始 VPN connection fails since this morning"})
		if err != nil {
			t.Fatal(err)
		}
		t2, err := s.tk.Create(ctx, rita, tickets.NewTicket{Subject: "VPN 又连不上了 VPN fails again", Description: "VPN cannot connect, connection fails"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.kb.RefreshSuggestions(ctx); err != nil {
			t.Fatal(err)
		}
		tp1, tp2 := fmt.Sprintf("/tickets/%d", t1.ID), fmt.Sprintf("/tickets/%d", t2.ID)

		ana := s.signIn(t, "ana@example.com")
		_, page := ana.get(tp1)
		sugg := section(page, "kb-suggested", `id="kb-linked"`)
		mustContain(t, "suggested articles", sugg, `<a href="/articles/`+aid+`"><strong>VPN 连接失败 &lt;VPN&gt; connection fails</strong></a>`,
			"重新导入 VPN 配置", `id="link-`+aid+`"`, "Link as solution")
		mustContain(t, "linked articles", section(page, "kb-linked", `id="actions"`), "No articles linked yet", "Create article from this ticket")
		resolve := section(page, "event-resolve", "</form>")
		mustContain(t, "resolve form", resolve, `name="f_article_id"`, `<option value="`+aid+`">VPN 连接失败 &lt;VPN&gt; connection fails · suggested</option>`,
			`name="f_no_article_reason" value="">`, "Only needed when you choose no article above")

		// Link as solution, then unlink and link again.
		resp, page := ana.post(tp1+"/articles", url.Values{"article_id": {aid}, "kind": {"solved_by"}})
		ana.mustRedirect("link as solution", resp, page)
		_, page = ana.get(tp1 + "?done=linked")
		mustContain(t, "ticket page after linking", page, "Article linked to this ticket")
		mustContain(t, "linked articles", section(page, "kb-linked", `id="actions"`), `href="/articles/`+aid+`"`, "Solution", "Ana Agent", "Unlink")
		mustContain(t, "suggestions after linking", section(page, "kb-suggested", `id="kb-linked"`), `<span class="badge st-resolved">Linked</span>`)
		mustNotContain(t, "resolve form with a link", section(page, "event-resolve", "</form>"), `name="f_no_article_reason"`)
		resp, page = ana.post(tp1+"/articles/unlink", url.Values{"article_id": {aid}, "kind": {"solved_by"}})
		ana.mustRedirect("unlink", resp, page)
		_, page = ana.get(tp1)
		mustContain(t, "after unlinking", section(page, "kb-linked", `id="actions"`), "No articles linked yet")
		resp, page = ana.post(tp1+"/articles", url.Values{"article_id": {"99999999"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "there is no article 99999999") {
			t.Fatalf("linking a missing article = %d:\n%s", resp.StatusCode, excerpt(page))
		}
		resp, page = ana.post(tp1+"/articles", url.Values{"article_id": {aid}})
		ana.mustRedirect("link again", resp, page)

		// Resolve with an article in one step: no reason needed.
		_, page = ana.get(tp2)
		resolve = section(page, "event-resolve", "</form>")
		resp, page = ana.post(tp2+"/transitions", url.Values{"event": {"resolve"}, "version": {version(t, resolve)},
			"f_resolution": {"重新导入配置 re-imported the profile"}, "f_article_id": {aid}, "f_no_article_reason": {""}})
		ana.mustRedirect("resolve with an article", resp, page)
		_, page = ana.get(tp2)
		mustContain(t, "resolved with an article", page, `<span class="badge st-resolved">Resolved</span>`)
		mustContain(t, "resolved ticket's links", section(page, "kb-linked", `id="draft-article"`), `href="/articles/`+aid+`"`, "Solution")
		a, err := s.kb.Get(ctx, s.users["ana"], art.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if a.ReuseCount != 2 {
			t.Fatalf("reuse count = %d, want 2", a.ReuseCount)
		}

		// The requester sees the public solution, not the staff cards.
		rp := s.signIn(t, "rita@example.com")
		_, page = rp.get(tp2)
		mustContain(t, "requester's ticket page", page, "Helpful articles", `href="/articles/`+aid+`"`)
		mustNotContain(t, "requester's ticket page", page, `id="kb-suggested"`, "Unlink", "Create article from this ticket", `name="f_article_id"`)
		if resp, _ := rp.post(tp2+"/articles", url.Values{"article_id": {strconv.FormatInt(internal.ID, 10)}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("requester linking = %d, want 403", resp.StatusCode)
		}
		code, page := rp.get("/articles/" + aid)
		if code != http.StatusOK {
			t.Fatalf("requester's linked article = %d", code)
		}

		// A draft from the ticket, prefilled and linked.
		resp, page = ana.post(tp2+"/articles/draft", url.Values{})
		loc := ana.mustRedirect("draft from ticket", resp, page)
		m := articleEditTo.FindStringSubmatch(loc)
		if m == nil {
			t.Fatalf("draft from ticket redirected to %s", loc)
		}
		_, page = ana.get(loc + "?done=drafted")
		mustContain(t, "drafted article", page, "Draft created from the ticket", `value="VPN 又连不上了 VPN fails again"`, "VPN cannot connect, connection fails", "重新导入配置 re-imported the profile")
		_, page = ana.get(tp2)
		mustContain(t, "ticket after drafting", section(page, "kb-linked", `id="draft-article"`), `href="/articles/`+m[1]+`"`, "Written from this ticket", ">Draft<")
		if resp, _ := rp.post(tp2+"/articles/draft", url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("requester drafting = %d, want 403", resp.StatusCode)
		}
		_, page = rp.get(tp2)
		mustNotContain(t, "requester's ticket page", page, `href="/articles/`+m[1]+`"`)
		snapshot(t, db, ana, map[string]string{"ticket-kb.html": tp1, "ticket-kb-resolved.html": tp2})
		snapshot(t, db, rp, map[string]string{"ticket-kb-requester.html": tp2})
	})
}

// snapshot writes pages for a look in a browser when LOOPDESK_WEB_SNAPSHOTS
// names a directory (SQLite run only).
func snapshot(t *testing.T, db *database.DB, p *person, pages map[string]string) {
	t.Helper()
	dir := os.Getenv("LOOPDESK_WEB_SNAPSHOTS")
	if dir == "" || db.Dialect != "sqlite" {
		return
	}
	for name, path := range pages {
		_, page := p.get(path)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKnowledgePagesWithoutKnowledge(t *testing.T) {
	s := newDesk(t, testenv.SQLite(t))
	ana := s.signIn(t, "ana@example.com")
	code, page := ana.get("/")
	if code != http.StatusOK || strings.Contains(page, `href="/articles"`) {
		t.Fatalf("home without a knowledge service = %d, links the knowledge base", code)
	}
	if code, _ := ana.get("/articles"); code != http.StatusNotFound {
		t.Fatalf("/articles without a knowledge service = %d", code)
	}
}

package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

type articleJSON struct {
	ID                  int64    `json:"id"`
	Title               string   `json:"title"`
	Summary             string   `json:"summary"`
	Body                string   `json:"body"`
	BodyHTML            string   `json:"body_html"`
	Tags                []string `json:"tags"`
	Language            string   `json:"language"`
	Audience            string   `json:"audience"`
	Status              string   `json:"status"`
	View                string   `json:"view"`
	Revision            int      `json:"revision"`
	AuthorID            int64    `json:"author_id"`
	CurrentRevision     int      `json:"current_revision"`
	PublishedRevision   *int     `json:"published_revision"`
	PublishedRevisionID *int64   `json:"published_revision_id"`
	Version             int      `json:"version"`
	ReuseCount          int      `json:"reuse_count"`
	HelpfulCount        int      `json:"helpful_count"`
	NotHelpfulCount     int      `json:"not_helpful_count"`
	Outdated            *struct {
		Reason string `json:"reason"`
	} `json:"outdated"`
	Flags []struct {
		ID       int64  `json:"id"`
		Reason   string `json:"reason"`
		TicketID *int64 `json:"ticket_id"`
	} `json:"flags"`
}

type articleItem struct {
	ID          int64    `json:"id"`
	Title       string   `json:"title"`
	Status      string   `json:"status"`
	View        string   `json:"view"`
	Score       *float64 `json:"score"`
	Snippet     string   `json:"snippet"`
	SnippetHTML string   `json:"snippet_html"`
}

type articlePage struct {
	Items      []articleItem `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func apath(id int64, sub ...string) string {
	p := "/api/v1/articles/" + itoa(id)
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// kbEnv adds the knowledge cast: two agents, two editors.
type kbEnv struct {
	*env
	agent, agent2, editor, editor2           accounts.User
	agentTok, agent2Tok, editorTok, edit2Tok string
}

func newKBEnv(e *env) *kbEnv {
	e.withWorkflows()
	k := &kbEnv{env: e}
	k.agent, k.agentTok = e.user("agent@example.com", accounts.RoleAgent)
	k.agent2, k.agent2Tok = e.user("agent2@example.com", accounts.RoleAgent)
	k.editor, k.editorTok = e.user("editor@example.com", accounts.RoleKnowledgeEditor)
	k.editor2, k.edit2Tok = e.user("editor2@example.com", accounts.RoleKnowledgeEditor)
	return k
}

func (k *kbEnv) newArticle(tok string, body map[string]any) articleJSON {
	k.t.Helper()
	var a articleJSON
	r := k.req("POST", "/api/v1/articles", tok, body).status(http.StatusCreated)
	r.json(&a)
	if r.Header().Get("Location") != apath(a.ID) || r.Header().Get("ETag") != `"1"` {
		k.t.Fatalf("create headers %v", r.Header())
	}
	return a
}

func (k *kbEnv) fireArticle(tok string, id int64, event, comment string, hdr ...string) resp {
	k.t.Helper()
	body := map[string]any{"event": event}
	if comment != "" {
		body["comment"] = comment
	}
	return k.req("POST", apath(id, "transitions"), tok, body, hdr...)
}

// publish: submitted by agent, approved by editor.
func (k *kbEnv) publish(id int64) articleJSON {
	k.t.Helper()
	k.fireArticle(k.agentTok, id, "submit", "").status(200)
	var a articleJSON
	k.fireArticle(k.editorTok, id, "approve", "").status(200).json(&a)
	return a
}

// The knowledge loop through the API: an article is written, reviewed and
// published; a customer's ticket gets it suggested; resolving is refused
// without a link or reason and links the article when resolved with it;
// the reuse count moves and the customer rates the article.
func TestKnowledgeLoop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		art := k.newArticle(k.editorTok, map[string]any{"title": "如何申请退款", "summary": "签收后7天内可申请退款",
			"body": "## 步骤\n\n1. 打开「我的订单」\n2. 点击**申请退款**\n\n退款3-5个工作日原路返回。", "tags": []string{"退款"}, "audience": "public"})
		if art.Status != "draft" || art.Language != "zh" || !strings.Contains(art.BodyHTML, "<strong>申请退款</strong>") {
			t.Fatalf("created %+v", art)
		}
		other := k.newArticle(k.agentTok, map[string]any{"title": "Reset your card PIN", "body": "Reset the PIN in the app.", "audience": "public"})
		k.publish(other.ID)

		// Review: the author may not approve; another editor does.
		k.fireArticle(k.editorTok, art.ID, "submit", "").status(200)
		var tr struct {
			State   string `json:"state"`
			Items   []struct{ Event string }
			History []struct {
				Event   string `json:"event"`
				ActorID int64  `json:"actor_id"`
			} `json:"history"`
		}
		k.req("GET", apath(art.ID, "transitions"), k.editorTok, nil).status(200).json(&tr)
		if tr.State != "in_review" || slices.ContainsFunc(tr.Items, func(o struct{ Event string }) bool { return o.Event == "approve" }) {
			t.Fatalf("author's transitions %+v", tr)
		}
		p := k.fireArticle(k.editorTok, art.ID, "approve", "").problem(http.StatusForbidden)
		if !strings.Contains(p.Detail, "may not approve") {
			t.Fatalf("self-approval detail %q", p.Detail)
		}
		var pub articleJSON
		k.fireArticle(k.edit2Tok, art.ID, "approve", "").status(200).json(&pub)
		if pub.Status != "published" || pub.PublishedRevision == nil || *pub.PublishedRevision != 1 {
			t.Fatalf("published %+v", pub)
		}

		// A customer opens a ticket; the agent sees suggestions.
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "退款还没到账", "description": "上周申请了退款，钱还没有退回来"})
		var sugs struct {
			Items []struct {
				ArticleID   int64   `json:"article_id"`
				Title       string  `json:"title"`
				Score       float64 `json:"score"`
				SnippetHTML string  `json:"snippet_html"`
				Linked      bool    `json:"linked"`
			} `json:"items"`
		}
		k.req("GET", tpath(tk.ID, "suggested-articles")+"?limit=2", k.agentTok, nil).status(200).json(&sugs)
		if len(sugs.Items) == 0 || sugs.Items[0].ArticleID != art.ID || sugs.Items[0].Score <= 0 || !strings.Contains(sugs.Items[0].SnippetHTML, "<mark>") {
			t.Fatalf("suggestions %+v", sugs)
		}
		// The customer may see suggestions for their own ticket too.
		e.req("GET", tpath(tk.ID, "suggested-articles"), e.reqTok, nil).status(200)

		// Resolve: refused without a link or a reason, then with the article.
		r := e.fire(k.agentTok, tk.ID, "resolve", map[string]string{"resolution": "已退款，3天内到账"}).problem(http.StatusConflict)
		if r.field("fields.no_article_reason") == "" {
			t.Fatalf("knowledge guard problem %+v", r)
		}
		e.fire(k.agentTok, tk.ID, "resolve", map[string]string{"resolution": "x", "article_id": "999999"}).problem(http.StatusUnprocessableEntity)
		var done ticketJSON
		e.fire(k.agentTok, tk.ID, "resolve", map[string]string{"resolution": "已退款，3天内到账", "article_id": itoa(art.ID)}).status(200).json(&done)
		if done.Status != "resolved" {
			t.Fatalf("resolved %+v", done)
		}
		var links struct {
			Items []struct {
				ArticleID int64  `json:"article_id"`
				Kind      string `json:"kind"`
				Title     string `json:"title"`
			} `json:"items"`
		}
		e.req("GET", tpath(tk.ID, "articles"), e.reqTok, nil).status(200).json(&links)
		if len(links.Items) != 1 || links.Items[0].ArticleID != art.ID || links.Items[0].Kind != "solved_by" || links.Items[0].Title != "如何申请退款" {
			t.Fatalf("links %+v", links)
		}
		var got articleJSON
		e.req("GET", apath(art.ID), k.agentTok, nil).status(200).json(&got)
		if got.ReuseCount != 1 {
			t.Fatalf("reuse count %d", got.ReuseCount)
		}
		var hist struct {
			Items []struct{ Kind, To, Note string }
		}
		e.req("GET", tpath(tk.ID, "history"), k.agentTok, nil).status(200).json(&hist)
		if !slices.ContainsFunc(hist.Items, func(h struct{ Kind, To, Note string }) bool {
			return h.Kind == "link" && h.To == itoa(art.ID) && h.Note == "solved_by"
		}) {
			t.Fatalf("no link in history %+v", hist)
		}

		// Another link by hand, then removed.
		e.req("POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": other.ID, "kind": "referenced"}).status(http.StatusCreated)
		e.req("POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": other.ID, "kind": "referenced"}).status(http.StatusOK)
		e.req("GET", apath(other.ID), k.agentTok, nil).status(200).json(&got)
		if got.ReuseCount != 1 {
			t.Fatalf("other reuse %d", got.ReuseCount)
		}
		e.req("DELETE", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": other.ID, "kind": "referenced"}).status(http.StatusNoContent)
		e.req("GET", apath(other.ID), k.agentTok, nil).status(200).json(&got)
		if got.ReuseCount != 0 {
			t.Fatalf("other reuse after unlink %d", got.ReuseCount)
		}
		e.req("DELETE", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": other.ID}).problem(http.StatusUnprocessableEntity)
		e.req("POST", tpath(tk.ID, "articles"), e.reqTok, map[string]any{"article_id": other.ID}).problem(http.StatusForbidden)

		// The customer reads the published article and rates it.
		var cv articleJSON
		e.req("GET", apath(art.ID), e.reqTok, nil).status(200).json(&cv)
		if cv.View != "published" || cv.Title != "如何申请退款" {
			t.Fatalf("customer view %+v", cv)
		}
		e.req("POST", apath(art.ID, "feedback"), e.reqTok, map[string]any{"helpful": true, "ticket_id": tk.ID}).status(http.StatusCreated)
		e.req("POST", apath(art.ID, "feedback"), e.reqTok, map[string]any{"helpful": false, "comment": "到账慢"}).status(http.StatusOK)
		e.req("GET", apath(art.ID), k.agentTok, nil).status(200).json(&got)
		if got.HelpfulCount != 0 || got.NotHelpfulCount != 1 {
			t.Fatalf("feedback counts %+v", got)
		}
		e.req("GET", apath(art.ID, "feedback"), e.reqTok, nil).problem(http.StatusForbidden)

		// Flag it from the ticket; a draft from the ticket links it created_from.
		e.req("POST", apath(art.ID, "flag"), k.agentTok, map[string]any{"reason": "到账时间已改为1-3天", "ticket_id": tk.ID}).status(http.StatusCreated)
		e.req("GET", apath(art.ID), k.agentTok, nil).status(200).json(&got)
		if got.Outdated == nil || len(got.Flags) != 1 || *got.Flags[0].TicketID != tk.ID {
			t.Fatalf("flag %+v", got)
		}
		draft := k.newArticle(k.agentTok, map[string]any{"from_ticket_id": tk.ID})
		if draft.Title != "退款还没到账" || !strings.Contains(draft.Body, "已退款，3天内到账") || draft.Status != "draft" {
			t.Fatalf("draft from ticket %+v", draft)
		}
		e.req("GET", tpath(tk.ID, "articles"), k.agentTok, nil).status(200).json(&links)
		if len(links.Items) != 2 || links.Items[1].Kind != "created_from" {
			t.Fatalf("links after draft %+v", links)
		}
		e.noServerErrors()
	})
}

func TestArticleEditorRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		a := k.newArticle(k.agentTok, map[string]any{"title": "IC card error E52", "body": "Clean the chip.", "language": "en"})
		// Reject needs a comment; only editors reject.
		k.fireArticle(k.agentTok, a.ID, "submit", "").status(200)
		p := k.fireArticle(k.editorTok, a.ID, "reject", "").problem(http.StatusUnprocessableEntity)
		if p.field("comment") == "" {
			t.Fatalf("reject without comment %+v", p)
		}
		k.fireArticle(k.agent2Tok, a.ID, "reject", "no").problem(http.StatusForbidden)
		k.fireArticle(k.editorTok, a.ID, "reject", "add the reader model").status(200)
		// Not allowed from draft: 409 listing what is.
		if got := allowedOf(k.fireArticle(k.editorTok, a.ID, "approve", "").status(http.StatusConflict)); !slices.Contains(got, "submit") {
			t.Fatalf("allowed %v", got)
		}
		pub := k.publish(a.ID)

		// Archive: editors only.
		k.fireArticle(k.agentTok, a.ID, "archive", "").problem(http.StatusForbidden)
		// Concurrent edits from one version: one wins, the others get 412.
		etag := `If-Match: "` + itoa(int64(pub.Version)) + `"`
		var wg sync.WaitGroup
		var mu sync.Mutex
		var codes []int
		for i := range 4 {
			wg.Go(func() {
				r := e.req("PATCH", apath(a.ID), k.agent2Tok, map[string]any{"body": "Clean the chip, variant " + itoa(int64(i))}, etag)
				mu.Lock()
				codes = append(codes, r.Code)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []int{200, 412, 412, 412}) {
			t.Fatalf("PATCH race %v", codes)
		}
		var revs struct {
			Items []struct {
				Number   int   `json:"number"`
				AuthorID int64 `json:"author_id"`
			} `json:"items"`
		}
		e.req("GET", apath(a.ID, "revisions"), k.editorTok, nil).status(200).json(&revs)
		if len(revs.Items) != 2 || revs.Items[0].Number != 2 || revs.Items[0].AuthorID != k.agent2.ID {
			t.Fatalf("revisions %+v", revs)
		}
		// The edit started a draft; readers still see revision 1.
		var cur, cv articleJSON
		e.req("GET", apath(a.ID), k.agentTok, nil).status(200).json(&cur)
		e.req("GET", apath(a.ID)+"?view=published", k.agentTok, nil).status(200).json(&cv)
		if cur.Status != "draft" || cur.Revision != 2 || cv.Revision != 1 || cv.View != "published" {
			t.Fatalf("working %+v published %+v", cur, cv)
		}
		var diff struct {
			Unified string `json:"unified"`
			Added   int    `json:"added"`
		}
		e.req("GET", apath(a.ID, "revisions", "diff")+"?from=1&to=2", k.agentTok, nil).status(200).json(&diff)
		if !strings.Contains(diff.Unified, "-Clean the chip.\n+Clean the chip, variant") || diff.Added != 1 {
			t.Fatalf("diff %+v", diff)
		}
		var one struct {
			Body     string `json:"body"`
			BodyHTML string `json:"body_html"`
		}
		e.req("GET", apath(a.ID, "revisions", "1"), k.agentTok, nil).status(200).json(&one)
		if one.Body != "Clean the chip." || !strings.Contains(one.BodyHTML, "<p>") {
			t.Fatalf("revision 1 %+v", one)
		}
		e.req("GET", apath(a.ID, "revisions", "9"), k.agentTok, nil).problem(http.StatusNotFound)
		e.req("GET", apath(a.ID, "revisions", "diff")+"?from=1&to=9", k.agentTok, nil).problem(http.StatusBadRequest)

		// Archive needs the published state (an editor approves the draft first).
		k.fireArticle(k.agent2Tok, a.ID, "submit", "").status(200)
		k.fireArticle(k.agent2Tok, a.ID, "approve", "").problem(http.StatusForbidden)
		k.fireArticle(k.editorTok, a.ID, "approve", "").status(200)
		var ar articleJSON
		k.fireArticle(k.edit2Tok, a.ID, "archive", "duplicate").status(200).json(&ar)
		if ar.Status != "archived" || ar.PublishedRevisionID != nil {
			t.Fatalf("archived %+v", ar)
		}
		e.req("GET", apath(a.ID), e.reqTok, nil).problem(http.StatusNotFound)
		e.req("PATCH", apath(a.ID), k.agentTok, map[string]any{"title": "x"}).problem(http.StatusConflict)
		// A stale If-Match on a transition.
		k.fireArticle(k.editorTok, a.ID, "restore", "", etag).problem(http.StatusPreconditionFailed)
		e.noServerErrors()
	})
}

func TestArticleSearchAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		mk := func(body map[string]any) int64 {
			a := k.newArticle(k.agentTok, body)
			k.publish(a.ID)
			return a.ID
		}
		refund := mk(map[string]any{"title": "如何申请退款", "body": "在订单页申请退款，3-5个工作日到账。", "audience": "public"})
		ship := mk(map[string]any{"title": "发货时间", "body": "下单后48小时内发货。", "audience": "public"})
		pin := mk(map[string]any{"title": "Reset your card PIN", "body": "Forgot your PIN? Reset it in the app.", "audience": "public"})
		ic := mk(map[string]any{"title": "IC card reader error", "body": "Clean the IC card chip and retry.", "audience": "public"})
		iphone := mk(map[string]any{"title": "iPhone 无法开机", "body": "充电后强制重启 iPhone。", "audience": "public"})
		internal := mk(map[string]any{"title": "退款审批（内部）", "body": "超过500元的退款需要主管审批。"})
		for q, want := range map[string]int64{"退款": refund, "发货？": ship, "PIN": pin, "IC card": ic, "iPhone 无法开机": iphone, "“PIN”!!": pin} {
			var pg articlePage
			e.req("GET", "/api/v1/articles?q="+urlQuery(q), e.reqTok, nil).status(200).json(&pg)
			if len(pg.Items) == 0 || pg.Items[0].ID != want || pg.Items[0].Score == nil || !strings.Contains(pg.Items[0].SnippetHTML, "<mark>") ||
				pg.Items[0].View != "published" {
				t.Fatalf("q=%q: %+v", q, pg)
			}
		}
		var pg articlePage
		e.req("GET", "/api/v1/articles?q="+urlQuery("退款"), e.reqTok, nil).status(200).json(&pg)
		for _, it := range pg.Items {
			if it.ID == internal {
				t.Fatal("customer found the internal article")
			}
		}
		e.req("GET", "/api/v1/articles?q="+urlQuery("退款")+"&limit=1", k.agentTok, nil).status(200).json(&pg)
		if len(pg.Items) != 1 || pg.NextCursor == "" {
			t.Fatalf("page 1 %+v", pg)
		}
		first := pg.Items[0].ID
		next := pg.NextCursor
		pg = articlePage{}
		e.req("GET", "/api/v1/articles?q="+urlQuery("退款")+"&limit=1&cursor="+next, k.agentTok, nil).status(200).json(&pg)
		if len(pg.Items) != 1 || pg.Items[0].ID == first || !slices.Contains([]int64{refund, internal}, pg.Items[0].ID) {
			t.Fatalf("page 2 %+v", pg)
		}
		// Plain lists with filters.
		pg = articlePage{}
		e.req("GET", "/api/v1/articles?language=en&status=published", k.agentTok, nil).status(200).json(&pg)
		if len(pg.Items) != 2 || pg.Items[0].Score != nil {
			t.Fatalf("en list %+v", pg)
		}
		pg = articlePage{}
		e.req("GET", "/api/v1/articles?audience=internal", e.reqTok, nil).status(200).json(&pg)
		if len(pg.Items) != 0 {
			t.Fatalf("customer internal list %+v", pg)
		}
		// Queries without searchable words, or hostile ones, are empty lists or results: never errors.
		for _, q := range []string{"!!!", "' OR 1=1 --", "🙂", strings.Repeat("退款", 3000), "\"PIN\" AND \"card\""} {
			e.req("GET", "/api/v1/articles?q="+urlQuery(q), e.reqTok, nil).status(200)
		}
		e.noServerErrors()
	})
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func TestArticleMarkdownIsSafe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		body := "Hello <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n<iframe src=\"https://evil.example\"></iframe>\n\n" +
			"[click](javascript:alert(1)) [ok](https://example.com)\n\n![p](data:text/html;base64,PHNjcmlwdD4=)"
		a := k.newArticle(k.agentTok, map[string]any{"title": "XSS", "body": body})
		for _, bad := range []string{"<script", "onerror", "<iframe", "javascript:", "data:text"} {
			if strings.Contains(strings.ToLower(a.BodyHTML), bad) {
				t.Fatalf("body_html keeps %s: %s", bad, a.BodyHTML)
			}
		}
		if a.Body != body || !strings.Contains(a.BodyHTML, `<a href="https://example.com">ok</a>`) {
			t.Fatalf("body %q html %q", a.Body, a.BodyHTML)
		}
	})
}

func TestArticleBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		a := k.newArticle(k.agentTok, map[string]any{"title": "PIN", "body": "b"})
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "s"})
		cases := []struct {
			name, method, path, tok string
			body                    any
			status                  int
			field                   string
		}{
			{"unknown field", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": "t", "body": "b", "colour": "red"}, 422, "colour"},
			{"mis-cased field", "POST", "/api/v1/articles", k.agentTok, map[string]any{"Title": "t", "body": "b"}, 422, "Title"},
			{"missing title", "POST", "/api/v1/articles", k.agentTok, map[string]any{"body": "b"}, 422, "title"},
			{"bad language", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": "t", "body": "b", "language": "fr"}, 422, "language"},
			{"bad audience", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": "t", "body": "b", "audience": "everyone"}, 422, "audience"},
			{"oversize body", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": "t", "body": strings.Repeat("x", 100_001)}, 422, "body"},
			{"oversize title", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": strings.Repeat("退", 201), "body": "b"}, 422, "title"},
			{"too many tags", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": "t", "body": "b", "tags": strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u", ",")}, 422, "tags"},
			{"wrong type", "POST", "/api/v1/articles", k.agentTok, map[string]any{"title": 5, "body": "b"}, 422, "title"},
			{"unknown ticket", "POST", "/api/v1/articles", k.agentTok, map[string]any{"from_ticket_id": 999999}, 422, "from_ticket_id"},
			{"requester writes", "POST", "/api/v1/articles", e.reqTok, map[string]any{"title": "t", "body": "b"}, 403, ""},
			{"empty patch", "PATCH", apath(a.ID), k.agentTok, map[string]any{}, 422, "body"},
			{"null patch", "PATCH", apath(a.ID), k.agentTok, map[string]any{"title": nil}, 422, "title"},
			{"bad event", "POST", apath(a.ID, "transitions"), k.agentTok, map[string]any{"event": ""}, 422, "event"},
			{"feedback needs helpful", "POST", apath(a.ID, "feedback"), k.agentTok, map[string]any{"comment": "x"}, 422, "helpful"},
			{"flag needs reason", "POST", apath(a.ID, "flag"), k.agentTok, map[string]any{"ticket_id": tk.ID}, 422, "reason"},
			{"bad kind", "POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": a.ID, "kind": "fixed"}, 422, "kind"},
			{"unknown article", "POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": 999999}, 422, "article_id"},
			{"zero article", "POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": 0}, 422, "article_id"},
			{"link unknown field", "POST", tpath(tk.ID, "articles"), k.agentTok, map[string]any{"article_id": a.ID, "type": "x"}, 422, "type"},
			{"unknown ticket link", "POST", tpath(999999, "articles"), k.agentTok, map[string]any{"article_id": a.ID}, 404, ""},
			{"draft invisible to customer", "GET", apath(a.ID), e.reqTok, nil, 404, ""},
			{"bad id", "GET", "/api/v1/articles/abc", k.agentTok, nil, 400, "id"},
			{"bad view", "GET", apath(a.ID) + "?view=draft", k.agentTok, nil, 400, "view"},
			{"unknown query", "GET", "/api/v1/articles?lang=en", k.agentTok, nil, 400, "lang"},
			{"bad language filter", "GET", "/api/v1/articles?language=fr", k.agentTok, nil, 400, "language"},
			{"bad status filter", "GET", "/api/v1/articles?status=Bad-State", k.agentTok, nil, 400, "status"},
			{"bad limit", "GET", "/api/v1/articles?limit=0", k.agentTok, nil, 400, "limit"},
			{"bad cursor", "GET", "/api/v1/articles?cursor=xyz", k.agentTok, nil, 400, "cursor"},
			{"bad diff", "GET", apath(a.ID, "revisions", "diff") + "?from=abc", k.agentTok, nil, 400, "from"},
			{"bad suggestion limit", "GET", tpath(tk.ID, "suggested-articles") + "?limit=500", k.agentTok, nil, 400, "limit"},
			{"customer revisions", "GET", apath(a.ID, "revisions"), e.reqTok, nil, 403, ""},
			{"no token", "GET", "/api/v1/articles", "", nil, 401, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := e.req(c.method, c.path, c.tok, c.body).problem(c.status)
				if c.field != "" && p.field(c.field) == "" {
					t.Fatalf("no error on %s: %+v", c.field, p)
				}
			})
		}
		// Not JSON.
		e.req("POST", "/api/v1/articles", k.agentTok, "title=x", "Content-Type: text/plain").problem(http.StatusUnsupportedMediaType)
		e.noServerErrors()
	})
}

func TestOpenAPIKnowledgeRoutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	var doc struct {
		Paths map[string]map[string]struct {
			Permission string `json:"x-permission"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.req("GET", "/api/v1/openapi.json", "", nil).status(200).json(&doc)
	for path, methods := range map[string][]string{
		"/api/v1/articles":                         {"get", "post"},
		"/api/v1/articles/{id}":                    {"get", "patch"},
		"/api/v1/articles/{id}/revisions":          {"get"},
		"/api/v1/articles/{id}/revisions/diff":     {"get"},
		"/api/v1/articles/{id}/revisions/{number}": {"get"},
		"/api/v1/articles/{id}/transitions":        {"get", "post"},
		"/api/v1/articles/{id}/feedback":           {"get", "post"},
		"/api/v1/articles/{id}/flag":               {"post"},
		"/api/v1/articles/{id}/flags":              {"get"},
		"/api/v1/tickets/{id}/articles":            {"get", "post", "delete"},
		"/api/v1/tickets/{id}/suggested-articles":  {"get"},
	} {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("%s %s not documented", m, path)
			}
		}
	}
	if doc.Paths["/api/v1/articles"]["post"].Permission != "articles:write" || doc.Paths["/api/v1/articles/{id}/revisions"]["get"].Permission != "articles:read_drafts" {
		t.Error("article permissions")
	}
	if doc.Components.Schemas["ArticleResponse"].Properties["body_html"] == nil {
		t.Error("ArticleResponse.body_html undocumented")
	}
}

// Without a knowledge service the routes answer 503, not 500.
func TestKnowledgeNotConfigured(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	eng := api.NewEngine(api.Deps{Accounts: e.svc, Tickets: e.tix, DB: e.db, Redis: e.rdb})
	for _, path := range []string{"/api/v1/articles", "/api/v1/tickets/1/suggested-articles"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+e.adminTok)
		w := httptest.NewRecorder()
		eng.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
	}
}

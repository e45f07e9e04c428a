package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

type proposalJSON struct {
	ID               int64    `json:"id"`
	Status           string   `json:"status"`
	Question         string   `json:"question"`
	Answer           string   `json:"answer"`
	Category         string   `json:"category"`
	Tags             []string `json:"tags"`
	Language         string   `json:"language"`
	MemberCount      int      `json:"member_count"`
	RequesterCount   int      `json:"requester_count"`
	HandlingSeconds  int64    `json:"handling_seconds"`
	RepresentativeID int64    `json:"representative_ticket_id"`
	ReopenedFrom     *int64   `json:"reopened_from"`
	RejectedReason   string   `json:"rejected_reason"`
	RejectedSize     int      `json:"rejected_size"`
	ArticleID        *int64   `json:"article_id"`
	MergedInto       *int64   `json:"merged_into"`
	Edited           bool     `json:"edited"`
	Version          int      `json:"version"`
	Sources          []struct {
		TicketID int64  `json:"ticket_id"`
		Kind     string `json:"kind"`
		Text     string `json:"text"`
		Used     bool   `json:"used"`
	} `json:"sources"`
	Members []struct {
		TicketID   int64   `json:"ticket_id"`
		Subject    string  `json:"subject"`
		Similarity float64 `json:"similarity"`
	} `json:"members"`
}

type mineJSON struct {
	Tickets     int     `json:"tickets"`
	Created     int     `json:"created"`
	Reproposed  int     `json:"reproposed"`
	Joined      int     `json:"joined"`
	Covered     int     `json:"covered"`
	Suppressed  int     `json:"suppressed"`
	ProposalIDs []int64 `json:"proposal_ids"`
}

func ppath(id int64, sub ...string) string {
	p := "/api/v1/faq-proposals/" + itoa(id)
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// issue is one repeat issue: subject, description and resolution per ticket.
type issue [][3]string

var (
	issueRefund = issue{
		{"您好，退款还没到账", "我上周申请了退款，订单号202403150001，钱还没有退回来。电话13812345678", "已为您加急处理退款，款项将在1-3个工作日原路退回，请留意银行卡到账信息。"},
		{"申请退款后一直没收到钱", "退款申请已经通过了，但是银行卡里没有收到退款，谢谢", "退款已原路退回，银行处理需要1-3个工作日，请留意银行卡到账信息。"},
		{"请问退款什么时候到账？", "已经等了一周了，退款还没到账，能帮忙查一下吗", "退款将在1-3个工作日内原路退回到支付账户，请留意到账信息。"},
	}
	issueLogin = issue{
		{"Hi, cannot log in to the app", "The app says my password is incorrect. My email is john.doe@example.com", "Reset the password from the login page and cleared the app cache; the customer can log in now."},
		{"Login fails with wrong password after reset", "I reset my password but the app still says wrong password when I log in", "Cleared the app cache and the customer logged in with the new password."},
		{"Can't log in: password incorrect", "Every time I log in the app says the password is incorrect. Thanks", "Asked the customer to clear the app cache and log in again with the reset password."},
		{"App login says password incorrect", "I cannot log in, the app says the password is incorrect", "Cleared the app cache; login works."},
		{"Password incorrect when I log in to the app", "Log in fails: password incorrect, even after a reset", "Cleared the app cache and reset the password."},
		{"Unable to log in to the app, wrong password", "The app keeps saying wrong password when I log in", "Cleared the app cache."},
	}
	issueMixed = issue{
		{"iPhone 上 App 闪退", "升级到 iOS 17 之后 App 一打开就闪退", "请卸载后重新安装最新版 App，闪退问题已修复。"},
		{"App 打开就闪退 iOS17", "iPhone 更新 iOS 17 后 App 闪退，无法使用", "重新安装最新版本的 App 即可解决闪退。"},
		{"更新iOS17后app闪退怎么办", "我的 iPhone 升级系统后 app 闪退", "卸载并重新安装最新版 App 后不再闪退。"},
	}
)

// faqAPI adds a knowledge editor and requesters to the env.
type faqAPI struct {
	*kbEnv
	custToks []string
	n        int
}

// resolve opens a ticket per case as a rotating requester, resolved by
// the agent with a resolution and no article, all through the API.
func (f *faqAPI) resolve(cs issue) []int64 {
	f.t.Helper()
	var ids []int64
	for _, c := range cs {
		tok := f.custToks[f.n%len(f.custToks)]
		f.n++
		tk := f.newTicket(tok, map[string]any{"subject": c[0], "description": c[1]})
		f.fire(f.agentTok, tk.ID, "resolve", map[string]string{"resolution": c[2], "no_article_reason": "not written yet"}).status(http.StatusOK)
		ids = append(ids, tk.ID)
	}
	return ids
}

func (f *faqAPI) refresh() mineJSON {
	f.t.Helper()
	var m mineJSON
	f.req("POST", "/api/v1/faq-proposals/refresh", f.editorTok, nil).status(http.StatusOK).json(&m)
	return m
}

func (f *faqAPI) proposal(id int64) proposalJSON {
	f.t.Helper()
	var p proposalJSON
	r := f.req("GET", ppath(id), f.editorTok, nil).status(http.StatusOK)
	r.json(&p)
	if r.Header().Get("ETag") != `"`+itoa(int64(p.Version))+`"` {
		f.t.Fatalf("ETag %q for version %d", r.Header().Get("ETag"), p.Version)
	}
	return p
}

func (f *faqAPI) list(query string) []proposalJSON {
	f.t.Helper()
	var page struct {
		Items []proposalJSON `json:"items"`
	}
	f.req("GET", "/api/v1/faq-proposals"+query, f.editorTok, nil).status(http.StatusOK).json(&page)
	return page.Items
}

func hasMembers(p proposalJSON, ids []int64) bool {
	if len(p.Members) != len(ids) || p.MemberCount != len(ids) {
		return false
	}
	in := map[int64]bool{}
	for _, m := range p.Members {
		in[m.TicketID] = true
	}
	for _, id := range ids {
		if !in[id] {
			return false
		}
	}
	return true
}

// The FAQ path through the API, on SQLite and MySQL: repeat tickets in
// Chinese, English and mixed text are resolved; one refresh proposes
// exactly one proposal per repeated issue (largest first, masked, without
// greetings); refreshing again creates nothing; an editor approves one and
// publishes: the article exists and every member ticket links to it; a
// rejected proposal does not come back on the next refresh, but does once
// the group has doubled.
func TestFAQProposalsThroughAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &faqAPI{kbEnv: newKBEnv(e)}
		for _, m := range []string{"c1@example.com", "c2@example.com", "c3@example.com"} {
			_, tok := e.user(m, "requester")
			f.custToks = append(f.custToks, tok)
		}
		refund := f.resolve(issueRefund)
		login := f.resolve(issueLogin[:3])
		mixed := f.resolve(issueMixed)
		f.resolve(issue{{"Dark mode request", "Please add a dark mode to the web app", "Logged as a feature request."}})

		m := f.refresh()
		if m.Created != 3 || m.Tickets != 10 || len(m.ProposalIDs) != 3 {
			t.Fatalf("refresh %+v", m)
		}
		items := f.list("")
		if len(items) != 3 {
			t.Fatalf("list %+v", items)
		}
		byFirst := map[int64]proposalJSON{}
		for _, it := range items {
			if it.Status != "open" || it.MemberCount != 3 || it.RequesterCount != 3 || it.Members != nil {
				t.Fatalf("item %+v", it)
			}
			p := f.proposal(it.ID)
			for _, want := range [][]int64{refund, login, mixed} {
				if hasMembers(p, want) {
					byFirst[want[0]] = p
				}
			}
		}
		if len(byFirst) != 3 {
			t.Fatalf("groups %+v", byFirst)
		}
		pr, pl, pm := byFirst[refund[0]], byFirst[login[0]], byFirst[mixed[0]]
		if pr.Language != "zh" || pl.Language != "en" || pm.Language != "zh" {
			t.Fatalf("languages %s %s %s", pr.Language, pl.Language, pm.Language)
		}
		body := e.req("GET", ppath(pr.ID), f.editorTok, nil).Body.String() + e.req("GET", ppath(pl.ID), f.editorTok, nil).Body.String()
		for _, pii := range []string{"13812345678", "202403150001", "john.doe@example.com"} {
			if strings.Contains(body, pii) {
				t.Fatalf("%s in %s", pii, body)
			}
		}
		if strings.HasPrefix(pr.Question, "您好") || strings.HasPrefix(pl.Question, "Hi") || pr.Answer == "" || len(pr.Sources) == 0 || !pr.Sources[0].Used {
			t.Fatalf("drafts %+v / %+v", pr, pl)
		}
		// Refreshing again creates nothing.
		if m := f.refresh(); m.Created != 0 || m.Joined != 0 {
			t.Fatalf("second refresh %+v", m)
		}

		// Edit with If-Match, then approve and publish.
		f.req("PATCH", ppath(pr.ID), f.editorTok, map[string]any{"question": "退款多久到账？", "tags": []string{"退款"}},
			`If-Match: "99"`).problem(http.StatusPreconditionFailed)
		var edited proposalJSON
		f.req("PATCH", ppath(pr.ID), f.editorTok, map[string]any{"question": "退款多久到账？", "tags": []string{"退款"}},
			`If-Match: "1"`).status(http.StatusOK).json(&edited)
		if edited.Question != "退款多久到账？" || edited.Version != 2 || len(edited.Tags) != 1 {
			t.Fatalf("edited %+v", edited)
		}
		var approved proposalJSON
		f.req("POST", ppath(pr.ID, "approve"), f.editorTok, map[string]any{"publish": true, "audience": "public"},
			`If-Match: "2"`).status(http.StatusOK).json(&approved)
		if approved.Status != "approved" || approved.ArticleID == nil {
			t.Fatalf("approved %+v", approved)
		}
		var art articleJSON
		e.req("GET", apath(*approved.ArticleID), f.editorTok, nil).status(http.StatusOK).json(&art)
		if art.Status != "published" || art.Title != "退款多久到账？" || art.Audience != "public" || !strings.Contains(art.Body, "1-3个工作日") {
			t.Fatalf("article %+v", art)
		}
		for _, id := range refund {
			var links struct {
				Items []struct {
					ArticleID int64  `json:"article_id"`
					Kind      string `json:"kind"`
				} `json:"items"`
			}
			e.req("GET", tpath(id, "articles"), f.agentTok, nil).status(http.StatusOK).json(&links)
			if len(links.Items) != 1 || links.Items[0].ArticleID != art.ID || links.Items[0].Kind != "created_from" {
				t.Fatalf("ticket %d links %+v", id, links)
			}
		}
		// The published article is found by requesters.
		var found articlePage
		e.req("GET", "/api/v1/articles?q=退款", e.reqTok, nil).status(http.StatusOK).json(&found)
		if len(found.Items) == 0 || found.Items[0].ID != art.ID {
			t.Fatalf("search %+v", found)
		}
		f.req("POST", ppath(pr.ID, "approve"), f.editorTok, map[string]any{}).problem(http.StatusConflict)

		// In review only, without publishing.
		var inReview proposalJSON
		f.req("POST", ppath(pm.ID, "approve"), f.editorTok, map[string]any{}).status(http.StatusOK).json(&inReview)
		e.req("GET", apath(*inReview.ArticleID), f.editorTok, nil).status(http.StatusOK).json(&art)
		if art.Status != "in_review" {
			t.Fatalf("in review %+v", art)
		}

		// Reject: it does not come back, until it doubles.
		var rejected proposalJSON
		f.req("POST", ppath(pl.ID, "reject"), f.editorTok, map[string]any{"reason": "app bug, fixed in 2.3"}).status(http.StatusOK).json(&rejected)
		if rejected.Status != "rejected" || rejected.RejectedSize != 3 || rejected.RejectedReason != "app bug, fixed in 2.3" {
			t.Fatalf("rejected %+v", rejected)
		}
		if m := f.refresh(); m.Created != 0 || m.Suppressed != 1 {
			t.Fatalf("after reject %+v", m)
		}
		if items := f.list(""); len(items) != 0 {
			t.Fatalf("open after reject %+v", items)
		}
		more := f.resolve(issueLogin[3:])
		m = f.refresh()
		if m.Created != 1 || m.Reproposed != 1 {
			t.Fatalf("doubled %+v", m)
		}
		back := f.proposal(m.ProposalIDs[0])
		if back.ReopenedFrom == nil || *back.ReopenedFrom != pl.ID || !hasMembers(back, append(append([]int64{}, login...), more...)) {
			t.Fatalf("back %+v", back)
		}
		if items := f.list("?status=rejected,approved"); len(items) != 3 {
			t.Fatalf("decided %+v", items)
		}

		// The report has the FAQ figures.
		var rep struct {
			FAQ struct {
				Created  int `json:"created"`
				Approved int `json:"approved"`
				Rejected int `json:"rejected"`
				Open     int `json:"open"`
			} `json:"faq"`
		}
		day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format("2006-01-02") }
		e.req("GET", "/api/v1/reports/knowledge?from="+day(-1)+"&to="+day(1), f.editorTok, nil).status(http.StatusOK).json(&rep)
		if rep.FAQ.Created != 4 || rep.FAQ.Approved != 2 || rep.FAQ.Rejected != 1 || rep.FAQ.Open != 1 {
			t.Fatalf("report %+v", rep.FAQ)
		}
		e.noServerErrors()
	})
}

// Bad input is a 4xx that says what to fix; nobody without faq:review
// gets in.
func TestFAQProposalsBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &faqAPI{kbEnv: newKBEnv(e), custToks: []string{e.reqTok}}
		f.resolve(issueRefund)
		m := f.refresh()
		if m.Created != 1 {
			t.Fatalf("refresh %+v", m)
		}
		id := m.ProposalIDs[0]
		f.resolve(issueMixed)
		other := f.refresh().ProposalIDs[0]

		e.req("GET", "/api/v1/faq-proposals", e.reqTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/faq-proposals", f.agentTok, nil).problem(http.StatusForbidden)
		e.req("POST", "/api/v1/faq-proposals/refresh", f.agentTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/faq-proposals", "", nil).problem(http.StatusUnauthorized)
		for _, q := range []string{"?status=pending", "?stauts=open", "?limit=0", "?cursor=xyz"} {
			e.req("GET", "/api/v1/faq-proposals"+q, f.editorTok, nil).problem(http.StatusBadRequest)
		}
		e.req("GET", "/api/v1/faq-proposals/abc", f.editorTok, nil).problem(http.StatusBadRequest)
		if p := e.req("GET", ppath(987654), f.editorTok, nil).problem(http.StatusNotFound); !strings.Contains(p.Detail, "FAQ proposal") {
			t.Fatalf("404 detail %q", p.Detail)
		}
		for _, tc := range []struct {
			method, path string
			body         any
			status       int
			field        string
		}{
			{"PATCH", ppath(id), map[string]any{}, 422, "question"},
			{"PATCH", ppath(id), map[string]any{"question": ""}, 422, "question"},
			{"PATCH", ppath(id), map[string]any{"question": strings.Repeat("问", 201)}, 422, "question"},
			{"PATCH", ppath(id), map[string]any{"language": "fr"}, 422, "language"},
			{"PATCH", ppath(id), map[string]any{"question": nil}, 422, "question"},
			{"PATCH", ppath(id), map[string]any{"title": "x"}, 422, "title"},
			{"POST", ppath(id, "approve"), map[string]any{"audience": "everyone"}, 422, "audience"},
			{"POST", ppath(id, "approve"), map[string]any{"publish": "yes"}, 422, "publish"},
			{"POST", ppath(id, "reject"), map[string]any{}, 422, "reason"},
			{"POST", ppath(id, "reject"), map[string]any{"reason": "   "}, 422, "reason"},
			{"POST", ppath(id, "merge"), map[string]any{"into": 0}, 422, "into"},
			{"POST", ppath(id, "merge"), map[string]any{"into": id}, 422, "into"},
			{"POST", ppath(id, "merge"), map[string]any{"into": 987654}, 422, "into"},
			{"POST", ppath(id, "attach"), map[string]any{"article_id": -1}, 422, "article_id"},
			{"POST", ppath(id, "attach"), map[string]any{"article_id": 987654}, 422, "article_id"},
			{"POST", ppath(987654, "reject"), map[string]any{"reason": "x"}, 404, ""},
		} {
			p := e.req(tc.method, tc.path, f.editorTok, tc.body).problem(tc.status)
			if tc.field != "" && p.field(tc.field) == "" {
				t.Errorf("%s %s %v: no error on %s: %+v", tc.method, tc.path, tc.body, tc.field, p)
			}
		}
		e.req("POST", ppath(id, "reject"), f.editorTok, "{").problem(http.StatusBadRequest)
		e.req("POST", ppath(id, "reject"), f.editorTok, "reason=x", "Content-Type: text/plain").problem(http.StatusUnsupportedMediaType)
		// An empty answer cannot be approved.
		f.req("PATCH", ppath(id), f.editorTok, map[string]any{"answer": ""}).status(http.StatusOK)
		if p := f.req("POST", ppath(id, "approve"), f.editorTok, map[string]any{}).problem(http.StatusUnprocessableEntity); p.field("answer") == "" {
			t.Fatalf("empty answer %+v", p)
		}
		// An agent cannot publish; an editor without articles:approve is
		// not a case (editors have it), so check the agent path only.
		f.req("POST", ppath(id, "approve"), f.agentTok, map[string]any{"publish": true}).problem(http.StatusForbidden)
		// Merge the other proposal in; the merged one no longer changes.
		var into proposalJSON
		f.req("POST", ppath(other, "merge"), f.editorTok, map[string]any{"into": id}).status(http.StatusOK).json(&into)
		if into.ID != id || into.MemberCount != 6 {
			t.Fatalf("merged %+v", into)
		}
		f.req("POST", ppath(other, "reject"), f.editorTok, map[string]any{"reason": "x"}).problem(http.StatusConflict)
		// Stale If-Match on a decision.
		f.req("POST", ppath(id, "reject"), f.editorTok, map[string]any{"reason": "x"}, `If-Match: "1"`).problem(http.StatusPreconditionFailed)
		e.noServerErrors()
	})
}

// Refreshes racing each other create each proposal once.
func TestFAQConcurrentRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &faqAPI{kbEnv: newKBEnv(e), custToks: []string{e.reqTok}}
		f.resolve(issueRefund)
		f.resolve(issueLogin[:3])
		var wg sync.WaitGroup
		created := make([]int, 4)
		for i := range created {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var m mineJSON
				f.req("POST", "/api/v1/faq-proposals/refresh", f.editorTok, nil).status(http.StatusOK).json(&m)
				created[i] = m.Created
			}(i)
		}
		wg.Wait()
		total := 0
		for _, c := range created {
			total += c
		}
		if total != 2 || len(f.list("")) != 2 {
			t.Fatalf("created %v, open %d", created, len(f.list("")))
		}
		e.noServerErrors()
	})
}

// The endpoints are in the OpenAPI document with their permission.
func TestOpenAPIFAQ(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	var doc struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	e.req("GET", "/api/v1/openapi.json", "", nil).status(http.StatusOK).json(&doc)
	for path, methods := range map[string][]string{
		"/api/v1/faq-proposals":              {"get"},
		"/api/v1/faq-proposals/refresh":      {"post"},
		"/api/v1/faq-proposals/{id}":         {"get", "patch"},
		"/api/v1/faq-proposals/{id}/approve": {"post"},
		"/api/v1/faq-proposals/{id}/reject":  {"post"},
		"/api/v1/faq-proposals/{id}/merge":   {"post"},
		"/api/v1/faq-proposals/{id}/attach":  {"post"},
	} {
		for _, m := range methods {
			op := doc.Paths[path][m]
			if op == nil || op["x-permission"] != "faq:review" {
				t.Errorf("%s %s: %v", m, path, op)
			}
		}
	}
}

package knowledge_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// Repeat issues as customers write them: several phrasings each, Chinese,
// English and mixed, with personal data to mask.
type faqCase struct{ subject, description, resolution string }

var (
	refundZh = []faqCase{
		{"您好，退款还没到账", "我上周申请了退款，订单号202403150001，钱还没有退回来。电话13812345678",
			"已为您加急处理退款，款项将在1-3个工作日原路退回，请留意银行卡到账信息。"},
		{"申请退款后一直没收到钱", "退款申请已经通过了，但是银行卡里没有收到退款，谢谢",
			"退款已原路退回，银行处理需要1-3个工作日，请留意银行卡到账信息。"},
		{"请问退款什么时候到账？", "已经等了一周了，退款还没到账，能帮忙查一下吗",
			"退款将在1-3个工作日内原路退回到支付账户，请留意到账信息。"},
	}
	refundZhLater = []faqCase{
		{"退款一直没到账怎么办", "申请退款五天了，钱还没有退回到银行卡", "退款已原路退回，1-3个工作日到账。"},
	}
	loginEn = []faqCase{
		{"Hi, cannot log in to the app", "The app says my password is incorrect. My email is john.doe@example.com",
			"Reset the password from the login page and cleared the app cache; the customer can log in now."},
		{"Login fails with wrong password after reset", "I reset my password but the app still says wrong password when I log in",
			"Cleared the app cache and the customer logged in with the new password."},
		{"Can't log in: password incorrect", "Every time I log in the app says the password is incorrect. Thanks",
			"Asked the customer to clear the app cache and log in again with the reset password."},
	}
	loginEnMore = []faqCase{
		{"App login says password incorrect", "I cannot log in, the app says the password is incorrect", "Cleared the app cache; login works."},
		{"Password incorrect when I log in to the app", "Log in fails: password incorrect, even after a reset", "Cleared the app cache and reset the password."},
		{"Unable to log in to the app, wrong password", "The app keeps saying wrong password when I log in", "Cleared the app cache."},
	}
	addressEn = []faqCase{
		{"Change the delivery address of my order", "I moved and need to change the delivery address of my order", "Changed the delivery address in the order."},
		{"How do I change my delivery address?", "I need to change the delivery address for my order before it ships", "Changed the delivery address."},
		{"Wrong delivery address on my order", "Please change the delivery address of my order to my new home", "Updated the delivery address of the order."},
	}
	// Unrelated one-offs.
	noise = []faqCase{
		{"发票怎么开", "我需要开具增值税专用发票", "已开具发票并发送到邮箱。"},
		{"Dark mode request", "Please add a dark mode to the web app", "Logged as a feature request."},
	}
)

type faqEnv struct {
	*env
	customers []accounts.User
	k         int
}

func newFAQEnv(e *env) *faqEnv {
	f := &faqEnv{env: e}
	for i := 0; i < 3; i++ {
		f.customers = append(f.customers, e.user("customer", accounts.RoleRequester))
	}
	return f
}

// resolved opens a ticket as the next customer and resolves it as the
// agent with a resolution note and no article.
func (f *faqEnv) resolved(c faqCase) tickets.Ticket {
	f.t.Helper()
	cust := f.customers[f.k%len(f.customers)]
	f.k++
	tk := f.ticket(cust, c.subject, c.description)
	done, err := f.tk.Fire(ctx, f.agent, tk.ID, 0, tickets.Transition{Event: "resolve",
		Fields: map[string]string{"resolution": c.resolution, "no_article_reason": "not in the knowledge base yet"}})
	if err != nil {
		f.t.Fatalf("resolve %q: %v", c.subject, err)
	}
	return done
}

func (f *faqEnv) all(cs ...[]faqCase) []int64 {
	f.t.Helper()
	var ids []int64
	for _, group := range cs {
		for _, c := range group {
			ids = append(ids, f.resolved(c).ID)
		}
	}
	return ids
}

func (f *faqEnv) mine() knowledge.MineResult {
	f.t.Helper()
	res, err := f.kb.FAQ().Mine(ctx)
	if err != nil {
		f.t.Fatalf("mine: %v", err)
	}
	return res
}

func (f *faqEnv) open() []knowledge.Proposal {
	f.t.Helper()
	pg, err := f.kb.FAQ().List(ctx, f.editor, knowledge.ProposalFilter{}, "", 50)
	if err != nil {
		f.t.Fatal(err)
	}
	return pg.Items
}

func (f *faqEnv) get(id int64) knowledge.Proposal {
	f.t.Helper()
	p, err := f.kb.FAQ().Get(ctx, f.editor, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func memberIDs(p knowledge.Proposal) map[int64]bool {
	out := map[int64]bool{}
	for _, m := range p.Members {
		out[m.TicketID] = true
	}
	return out
}

func sameMembers(p knowledge.Proposal, ids []int64) bool {
	m := memberIDs(p)
	if len(m) != len(ids) || p.MemberCount != len(ids) {
		return false
	}
	for _, id := range ids {
		if !m[id] {
			return false
		}
	}
	return true
}

// byLanguage finds the open proposal in language lang.
func byLanguage(ps []knowledge.Proposal, lang string) *knowledge.Proposal {
	for i := range ps {
		if ps[i].Language == lang {
			return &ps[i]
		}
	}
	return nil
}

// The miner's whole path in the domain: repeats become one proposal per
// issue with a clean, masked draft; covered issues and one-offs do not;
// mining again changes nothing; a new repeat joins; approval writes the
// article and links every member; a rejected group stays away until it
// has doubled.
func TestFAQMinerLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		f := newFAQEnv(e)
		// The delivery-address issue is covered by a published article.
		addr := e.published(knowledge.NewArticle{Title: "Change the delivery address of an order",
			Body: "To change the delivery address of your order, open the order and edit the delivery address before it ships."})
		zh := f.all(refundZh)
		en := f.all(loginEn)
		covered := f.all(addressEn)
		f.all(noise)

		res := f.mine()
		if res.Created != 2 || res.Covered != 1 || res.Tickets != 11 || len(res.ProposalIDs) != 2 {
			t.Fatalf("first run %+v", res)
		}
		open := f.open()
		if len(open) != 2 {
			t.Fatalf("open proposals %+v", open)
		}
		pz, pe := byLanguage(open, knowledge.LanguageZh), byLanguage(open, knowledge.LanguageEn)
		if pz == nil || pe == nil {
			t.Fatalf("languages %+v", open)
		}
		a, b := f.get(pz.ID), f.get(pe.ID)
		if !sameMembers(a, zh) || !sameMembers(b, en) {
			t.Fatalf("members zh %+v / en %+v", a.Members, b.Members)
		}
		for _, p := range []knowledge.Proposal{a, b} {
			if p.Status != knowledge.ProposalOpen || p.RequesterCount != 3 || p.HandlingSeconds < 0 || p.FirstSeen.IsZero() ||
				p.LastSeen.Before(p.FirstSeen) || p.Answer == "" || len(p.Sources) == 0 || !p.Sources[0].Used ||
				p.RepresentativeID != p.Members[0].TicketID || p.Version != 1 {
				t.Fatalf("proposal %+v", p)
			}
			all := p.Question + p.Answer
			for _, s := range p.Sources {
				all += s.Text
			}
			for _, m := range p.Members {
				all += m.Subject
			}
			for _, pii := range []string{"13812345678", "202403150001", "john.doe@example.com"} {
				if strings.Contains(all, pii) {
					t.Fatalf("personal data %q in %+v", pii, p)
				}
			}
			for _, greet := range []string{"您好", "请问", "Hi,", "谢谢", "Thanks"} {
				if strings.HasPrefix(p.Question, greet) {
					t.Fatalf("question %q not cleaned", p.Question)
				}
			}
		}
		if !strings.Contains(a.Answer, "1-3个工作日") || !strings.Contains(strings.ToLower(b.Answer), "cache") {
			t.Fatalf("answers %q / %q", a.Answer, b.Answer)
		}
		// The covered issue raised its article's repeat signal instead.
		var reps int64
		if err := e.db.Table("faq_coverage").Where("article_id = ?", addr.ID).Count(&reps).Error; err != nil || int(reps) != len(covered) {
			t.Fatalf("coverage of the address article: %d %v", reps, err)
		}

		// Again: nothing new, nothing duplicated.
		if res := f.mine(); res.Created != 0 || res.Joined != 0 {
			t.Fatalf("second run %+v", res)
		}
		if r, err := e.kb.FAQ().MineIfChanged(ctx); err != nil || !r.Skipped {
			t.Fatalf("unchanged run not skipped: %+v %v", r, err)
		}

		// A new repeat joins the open proposal.
		later := f.all(refundZhLater)
		res = f.mine()
		if res.Created != 0 || res.Joined != 1 || res.Updated != 1 {
			t.Fatalf("incremental run %+v", res)
		}
		a = f.get(a.ID)
		if !sameMembers(a, append(append([]int64{}, zh...), later...)) || a.Version != 2 {
			t.Fatalf("joined %+v", a)
		}

		// The editor edits, then approves and publishes.
		q := "退款多久到账？"
		a, err := e.kb.FAQ().Update(ctx, e.editor, a.ID, a.Version, knowledge.ProposalPatch{Question: &q})
		if err != nil || a.Question != q || a.EditedAt == nil || a.Version != 3 {
			t.Fatalf("update %+v %v", a, err)
		}
		if _, err := e.kb.FAQ().Update(ctx, e.editor, a.ID, 2, knowledge.ProposalPatch{Question: &q}); !errors.Is(err, accounts.ErrVersionConflict) {
			t.Fatalf("stale update: %v", err)
		}
		if _, err := e.kb.FAQ().Approve(ctx, e.agent, a.ID, 0, knowledge.ApproveOptions{Publish: true}); !errors.Is(err, knowledge.ErrForbidden) {
			t.Fatalf("agent approves: %v", err)
		}
		a, err = e.kb.FAQ().Approve(ctx, e.editor, a.ID, a.Version, knowledge.ApproveOptions{Publish: true, Audience: knowledge.AudiencePublic})
		if err != nil || a.Status != knowledge.ProposalApproved || a.ArticleID == nil || a.DecidedBy == nil || *a.DecidedBy != e.editor.ID {
			t.Fatalf("approve %+v %v", a, err)
		}
		art, err := e.kb.Get(ctx, e.admin, *a.ArticleID, "")
		if err != nil || art.Status != "published" || art.Title != q || art.Audience != knowledge.AudiencePublic || art.OwnerID != e.editor.ID {
			t.Fatalf("article %+v %v", art, err)
		}
		for id := range memberIDs(a) {
			links, err := e.tk.ArticleLinks(ctx, e.admin, id)
			if err != nil || len(links) != 1 || links[0].ArticleID != art.ID || links[0].Kind != tickets.LinkCreatedFrom {
				t.Fatalf("ticket %d links %+v %v", id, links, err)
			}
		}
		if _, err := e.kb.FAQ().Approve(ctx, e.editor, a.ID, 0, knowledge.ApproveOptions{}); !knowledge.IsStateError(err) {
			t.Fatalf("approve twice: %v", err)
		}

		// Reject the login proposal: it does not come back...
		if _, err := e.kb.FAQ().Reject(ctx, e.editor, b.ID, 0, "  "); fieldErr(err, "reason") == "" {
			t.Fatalf("reject without reason: %v", err)
		}
		b, err = e.kb.FAQ().Reject(ctx, e.editor, b.ID, b.Version, "known app bug, fixed in 2.3")
		if err != nil || b.Status != knowledge.ProposalRejected || b.RejectedSize != 3 {
			t.Fatalf("reject %+v %v", b, err)
		}
		if res := f.mine(); res.Created != 0 || res.Suppressed != 1 {
			t.Fatalf("after reject %+v", res)
		}
		// ...not even a little bigger...
		more := f.all(loginEnMore[:2])
		if res := f.mine(); res.Created != 0 || res.Suppressed != 1 {
			t.Fatalf("grown by 2 %+v", res)
		}
		if len(f.open()) != 0 {
			t.Fatalf("open after reject %+v", f.open())
		}
		// ...until it has doubled.
		more = append(more, f.all(loginEnMore[2:])...)
		res = f.mine()
		if res.Created != 1 || res.Reproposed != 1 {
			t.Fatalf("doubled %+v", res)
		}
		back := f.get(res.ProposalIDs[0])
		if back.ReopenedFrom == nil || *back.ReopenedFrom != b.ID || !sameMembers(back, append(append([]int64{}, en...), more...)) {
			t.Fatalf("reproposed %+v", back)
		}

		// The knowledge report counts it all.
		rep, err := e.kb.Report(ctx, knowledge.ReportQuery{From: back.CreatedAt.AddDate(0, 0, -1), To: back.CreatedAt.AddDate(0, 0, 1)})
		if err != nil || rep.FAQ == nil {
			t.Fatalf("report %v", err)
		}
		if m := rep.FAQ; m.Created != 3 || m.Approved != 1 || m.Rejected != 1 || m.Open != 1 || m.DecisionMedianSeconds == nil ||
			m.DecisionMeanSeconds == nil || m.RepeatsOfCoveredIssues != len(covered) {
			t.Fatalf("faq metrics %+v", *m)
		}
	})
}

// A later ticket resolved with an article born from a proposal counts in
// the report; the proposal's own members do not.
func TestFAQReportLaterTickets(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		f := newFAQEnv(e)
		f.all(refundZh)
		res := f.mine()
		if res.Created != 1 {
			t.Fatalf("mine %+v", res)
		}
		p, err := e.kb.FAQ().Approve(ctx, e.editor, res.ProposalIDs[0], 0, knowledge.ApproveOptions{Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		tk := f.ticket(f.customers[0], "退款没到账", "退款还没收到")
		if _, err := e.tk.Fire(ctx, e.agent, tk.ID, 0, tickets.Transition{Event: "resolve",
			Fields: map[string]string{"resolution": "按文章处理", "article_id": strconv.FormatInt(*p.ArticleID, 10)}}); err != nil {
			t.Fatal(err)
		}
		rep, err := e.kb.Report(ctx, knowledge.ReportQuery{From: p.CreatedAt.AddDate(0, 0, -1), To: p.CreatedAt.AddDate(0, 0, 1)})
		if err != nil || rep.FAQ.ResolvedWithFAQArticles != 1 || rep.FAQ.Approved != 1 || rep.FAQ.Created != 1 {
			t.Fatalf("report %+v %v", rep.FAQ, err)
		}
		// That ticket is now solved by a published article: a new run leaves
		// it out of any proposal.
		if res := f.mine(); res.Created != 0 || res.Joined != 0 {
			t.Fatalf("after article %+v", res)
		}
	})
}

// Merge and attach.
func TestFAQMergeAndAttach(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		f := newFAQEnv(e)
		zh := f.all(refundZh)
		en := f.all(loginEn)
		res := f.mine()
		if res.Created != 2 {
			t.Fatalf("mine %+v", res)
		}
		ps := f.open()
		pz, pe := byLanguage(ps, knowledge.LanguageZh), byLanguage(ps, knowledge.LanguageEn)
		if _, err := e.kb.FAQ().Merge(ctx, e.editor, pz.ID, 0, pz.ID); fieldErr(err, "into") == "" {
			t.Fatalf("merge into itself: %v", err)
		}
		if _, err := e.kb.FAQ().Merge(ctx, e.editor, pz.ID, 0, 987654); fieldErr(err, "into") == "" {
			t.Fatalf("merge into nothing: %v", err)
		}
		merged, err := e.kb.FAQ().Merge(ctx, e.editor, pe.ID, pe.Version, pz.ID)
		if err != nil || merged.ID != pz.ID || !sameMembers(merged, append(append([]int64{}, zh...), en...)) || merged.Version != 2 {
			t.Fatalf("merge %+v %v", merged, err)
		}
		src := f.get(pe.ID)
		if src.Status != knowledge.ProposalMerged || src.MergedInto == nil || *src.MergedInto != pz.ID {
			t.Fatalf("merged source %+v", src)
		}
		if _, err := e.kb.FAQ().Merge(ctx, e.editor, pz.ID, 0, pe.ID); fieldErr(err, "into") == "" {
			t.Fatalf("merge into a merged one: %v", err)
		}
		// Mining keeps the merge: no new proposal for the English tickets.
		if res := f.mine(); res.Created != 0 {
			t.Fatalf("after merge %+v", res)
		}

		// Attach to an existing article: every member is linked referenced.
		art := e.published(knowledge.NewArticle{Title: "Refunds", Body: "How refunds work."})
		if _, err := e.kb.FAQ().Attach(ctx, e.editor, pz.ID, 0, 987654); fieldErr(err, "article_id") == "" {
			t.Fatalf("attach to nothing: %v", err)
		}
		att, err := e.kb.FAQ().Attach(ctx, e.editor, pz.ID, 0, art.ID)
		if err != nil || att.Status != knowledge.ProposalAttached || att.ArticleID == nil || *att.ArticleID != art.ID {
			t.Fatalf("attach %+v %v", att, err)
		}
		if n := e.reuse(art.ID); n != len(zh)+len(en) {
			t.Fatalf("reuse count %d", n)
		}
		if _, err := e.kb.FAQ().Reject(ctx, e.editor, pz.ID, 0, "x"); !knowledge.IsStateError(err) {
			t.Fatalf("reject attached: %v", err)
		}
		if _, err := e.kb.FAQ().Get(ctx, e.customer, pz.ID); !errors.Is(err, knowledge.ErrForbidden) {
			t.Fatalf("customer reads: %v", err)
		}
		if _, err := e.kb.FAQ().Get(ctx, e.editor, 987654); !isNotFound(err) {
			t.Fatalf("missing: %v", err)
		}
	})
}

// Two miners at once (two workers, or a worker and the refresh endpoint)
// store each proposal once.
func TestFAQConcurrentMiners(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		f := newFAQEnv(e)
		f.all(refundZh, loginEn, noise)
		other := knowledge.New(e.db, e.tk) // another replica's service
		var wg sync.WaitGroup
		results := make([]knowledge.MineResult, 4)
		errs := make([]error, 4)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				svc := e.kb
				if i%2 == 1 {
					svc = other
				}
				results[i], errs[i] = svc.FAQ().Mine(ctx)
			}(i)
		}
		wg.Wait()
		created := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("miner %d: %v", i, err)
			}
			created += results[i].Created
		}
		if created != 2 || len(f.open()) != 2 {
			t.Fatalf("created %d in total, open %d: %+v", created, len(f.open()), results)
		}
		var members int64
		if err := e.db.Table("faq_proposal_members").Count(&members).Error; err != nil || members != 6 {
			t.Fatalf("members %d %v", members, err)
		}
	})
}

// The unique signature refuses a second copy of a proposal even without
// the lock.
func TestFAQSignatureUnique(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		f := newFAQEnv(e)
		f.all(refundZh)
		f.mine()
		var sig string
		if err := e.db.Table("faq_proposals").Select("signature").Scan(&sig).Error; err != nil || len(sig) != 64 {
			t.Fatalf("signature %q %v", sig, err)
		}
		err := e.db.Exec(`INSERT INTO faq_proposals (status, question, answer, sources, category, tags, language, first_seen, last_seen,
signature, rejected_reason, version, created_at, updated_at) SELECT status, question, answer, sources, category, tags, language,
first_seen, last_seen, signature, rejected_reason, 1, created_at, updated_at FROM faq_proposals`).Error
		if !database.IsUniqueViolation(err) {
			t.Fatalf("duplicate signature: %v", err)
		}
	})
}

// A Drafter rewrites drafts when configured; its output is masked, and a
// failing one keeps the extractive draft.
type fakeDrafter struct{ fail bool }

func (d fakeDrafter) Draft(_ context.Context, in knowledge.DraftInput) (knowledge.DraftText, error) {
	if d.fail {
		return knowledge.DraftText{}, errors.New("endpoint down")
	}
	return knowledge.DraftText{Question: "Q: " + in.Question, Answer: "Call 13812345678. " + in.Answer}, nil
}

func TestFAQDrafter(t *testing.T) {
	for _, fail := range []bool{false, true} {
		db := testenv.SQLite(t)
		e := newEnv(t, db)
		e.kb = knowledge.New(db, e.tk, knowledge.WithFAQ(knowledge.FAQConfig{Drafter: fakeDrafter{fail: fail}}))
		f := newFAQEnv(e)
		f.all(loginEn)
		res := f.mine()
		if res.Created != 1 {
			t.Fatalf("mine %+v", res)
		}
		p := f.get(res.ProposalIDs[0])
		switch {
		case fail && (res.DrafterErrors != 1 || strings.HasPrefix(p.Question, "Q: ")):
			t.Fatalf("failing drafter: %+v %+v", res, p)
		case !fail && (!strings.HasPrefix(p.Question, "Q: ") || !strings.HasPrefix(p.Answer, "Call ***.") || res.DrafterErrors != 0):
			t.Fatalf("drafter: %+v", p)
		}
	}
}

package knowledge_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

func TestLinksAndResolve(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		art := e.published(knowledge.NewArticle{Title: "如何申请退款", Body: "在订单页申请退款", Audience: knowledge.AudiencePublic})
		internal := e.published(knowledge.NewArticle{Title: "Refund override", Body: "internal only"})
		tk := e.ticket(e.customer, "申请退款没反应", "点击申请退款按钮没有反应")
		resolve := func(fields map[string]string) (tickets.Ticket, error) {
			return e.tk.Fire(ctx, e.agent, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: fields})
		}
		// The knowledge guard refuses a resolve without a link or reason.
		if _, err := resolve(map[string]string{"resolution": "按步骤处理"}); guardKind(err) != workflow.GuardPrecondition {
			t.Fatalf("resolve without link: %v", err)
		}
		// Bad article ids are field errors, and nothing is linked.
		for _, tc := range []struct{ id, kind, field string }{
			{"abc", "", "fields.article_id"},
			{"999999", "", "fields.article_id"},
			{strconv.FormatInt(art.ID, 10), "fixed_by", "fields.link_kind"},
		} {
			_, err := resolve(map[string]string{"resolution": "x", "article_id": tc.id, "link_kind": tc.kind})
			if fieldErr(err, tc.field) == "" {
				t.Fatalf("article_id %q kind %q: %v", tc.id, tc.kind, err)
			}
		}
		if n, _ := e.tk.LinkCount(ctx, e.agent, tk.ID); n != 0 {
			t.Fatalf("%d links after refusals", n)
		}
		// A requester cannot link, neither directly nor through a resolve.
		if _, _, err := e.kb.Link(ctx, e.customer, tk.ID, art.ID, tickets.LinkSolvedBy); !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("customer links: %v", err)
		}

		// Resolving with article_id links it in the same transaction.
		res, err := resolve(map[string]string{"resolution": "引导客户刷新后重新申请退款", "article_id": strconv.FormatInt(art.ID, 10)})
		if err != nil || res.Status != "resolved" || res.LinkedArticles != 1 {
			t.Fatalf("resolve with article: %+v %v", res, err)
		}
		if n := e.reuse(art.ID); n != 1 {
			t.Fatalf("reuse count %d", n)
		}
		links, err := e.kb.TicketArticles(ctx, e.agent, tk.ID)
		if err != nil || len(links) != 1 || links[0].Kind != tickets.LinkSolvedBy || links[0].Title != "如何申请退款" || *links[0].CreatedBy != e.agent.ID {
			t.Fatalf("links %+v %v", links, err)
		}
		hist, _ := e.tk.History(ctx, e.agent, tk.ID)
		var linkEntry, stateEntry int
		for i, h := range hist {
			if h.Kind == tickets.KindLink && h.To == strconv.FormatInt(art.ID, 10) && h.Note == tickets.LinkSolvedBy {
				linkEntry = i
			}
			if h.Kind == tickets.KindState && h.To == "resolved" {
				stateEntry = i
			}
		}
		if linkEntry == 0 || stateEntry == 0 || linkEntry > stateEntry {
			t.Fatalf("history %+v", hist)
		}

		// Direct links: referenced counts, created_from does not; repeats change nothing.
		if _, created, err := e.kb.Link(ctx, e.agent, tk.ID, internal.ID, tickets.LinkReferenced); err != nil || !created {
			t.Fatalf("link referenced: %v", err)
		}
		if _, created, err := e.kb.Link(ctx, e.agent, tk.ID, internal.ID, tickets.LinkReferenced); err != nil || created {
			t.Fatalf("repeat link: created %v %v", created, err)
		}
		if _, _, err := e.kb.Link(ctx, e.agent, tk.ID, internal.ID, tickets.LinkCreatedFrom); err != nil {
			t.Fatal(err)
		}
		if n := e.reuse(internal.ID); n != 1 {
			t.Fatalf("internal reuse %d", n)
		}
		// The requester sees only the public article's link.
		cl, err := e.kb.TicketArticles(ctx, e.customer, tk.ID)
		if err != nil || len(cl) != 1 || cl[0].ArticleID != art.ID {
			t.Fatalf("customer links %+v %v", cl, err)
		}
		// Unlink: every kind, counts move back; a missing link is a field error.
		if err := e.kb.Unlink(ctx, e.agent, tk.ID, internal.ID, ""); err != nil {
			t.Fatal(err)
		}
		if n := e.reuse(internal.ID); n != 0 {
			t.Fatalf("internal reuse after unlink %d", n)
		}
		if err := e.kb.Unlink(ctx, e.agent, tk.ID, internal.ID, tickets.LinkReferenced); fieldErr(err, "article_id") == "" {
			t.Fatalf("unlink missing: %v", err)
		}
		if _, _, err := e.kb.Link(ctx, e.agent, tk.ID, 424242, tickets.LinkReferenced); fieldErr(err, "article_id") == "" {
			t.Fatalf("unknown article: %v", err)
		}
		// Archived articles cannot be linked.
		e.mustFire(e.editor, internal.ID, "archive", "")
		if _, _, err := e.kb.Link(ctx, e.agent, tk.ID, internal.ID, tickets.LinkReferenced); !strings.Contains(fieldErr(err, "article_id"), "archived") {
			t.Fatalf("archived article: %v", err)
		}
		// A ticket the caller cannot see is not found.
		other := e.ticket(e.user("other", "requester"), "x", "y")
		if _, err := e.kb.TicketArticles(ctx, e.customer, other.ID); !isNotFound(err) {
			t.Fatalf("foreign ticket: %v", err)
		}
	})
}

func TestDraftFromTicket(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		tk := e.ticket(e.customer, "发票抬头填错了怎么办", "开票时把公司名称写错了，需要重新开具发票。")
		if _, err := e.tk.Fire(ctx, e.agent, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: map[string]string{
			"resolution": "作废原发票后在订单页重新申请开票，填写正确抬头。", "no_article_reason": "还没有文章"}}); err != nil {
			t.Fatal(err)
		}
		a, err := e.kb.Create(ctx, e.agent, knowledge.NewArticle{FromTicketID: &tk.ID})
		if err != nil {
			t.Fatal(err)
		}
		if a.Title != tk.Subject || a.Language != knowledge.LanguageZh || !strings.Contains(a.Body, "开票时把公司名称写错了") ||
			!strings.Contains(a.Body, "作废原发票后在订单页重新申请开票") || strings.Contains(a.Body, "还没有文章") || a.Status != "draft" {
			t.Fatalf("drafted %+v", a)
		}
		links, _ := e.kb.TicketArticles(ctx, e.agent, tk.ID)
		if len(links) != 1 || links[0].Kind != tickets.LinkCreatedFrom || links[0].ArticleID != a.ID {
			t.Fatalf("links %+v", links)
		}
		if e.reuse(a.ID) != 0 {
			t.Fatal("created_from counted as reuse")
		}
		revs, _ := e.kb.Revisions(ctx, e.agent, a.ID)
		if !strings.Contains(revs[0].Note, "ticket") {
			t.Fatalf("note %q", revs[0].Note)
		}
		// Given fields win; an unresolved English ticket gets a placeholder.
		tk2 := e.ticket(e.customer, "Card declined abroad", "My card is declined in Japan.")
		b, err := e.kb.Create(ctx, e.agent, knowledge.NewArticle{FromTicketID: &tk2.ID, Title: "Cards abroad"})
		if err != nil || b.Title != "Cards abroad" || !strings.Contains(b.Body, "## Problem") || !strings.Contains(b.Body, "declined in Japan") || b.Language != "en" {
			t.Fatalf("second draft %+v %v", b, err)
		}
		// A ticket the caller cannot see.
		if _, err := e.kb.Create(ctx, e.agent, knowledge.NewArticle{FromTicketID: ptr(int64(999999))}); fieldErr(err, "from_ticket_id") == "" {
			t.Fatalf("unknown ticket: %v", err)
		}
	})
}

func TestFeedbackAndFlags(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		pub := e.published(knowledge.NewArticle{Title: "发货时间", Body: "48小时内发货", Audience: knowledge.AudiencePublic})
		internal := e.published(knowledge.NewArticle{Title: "Internal", Body: "staff only"})
		tk := e.ticket(e.customer, "还没发货", "下单三天了")

		fb, created, err := e.kb.AddFeedback(ctx, e.customer, pub.ID, knowledge.NewFeedback{Helpful: true, TicketID: &tk.ID})
		if err != nil || !created || !fb.Helpful {
			t.Fatalf("feedback %+v %v", fb, err)
		}
		// Voting again replaces the vote.
		if _, created, err = e.kb.AddFeedback(ctx, e.customer, pub.ID, knowledge.NewFeedback{Helpful: false, Comment: "没用"}); err != nil || created {
			t.Fatalf("second vote: %v %v", created, err)
		}
		if _, _, err = e.kb.AddFeedback(ctx, e.agent, pub.ID, knowledge.NewFeedback{Helpful: true}); err != nil {
			t.Fatal(err)
		}
		a, _ := e.kb.Get(ctx, e.agent, pub.ID, "")
		if a.HelpfulCount != 1 || a.NotHelpfulCount != 1 {
			t.Fatalf("counts %d/%d", a.HelpfulCount, a.NotHelpfulCount)
		}
		list, _ := e.kb.FeedbackOf(ctx, e.editor, pub.ID)
		if len(list) != 2 {
			t.Fatalf("feedback list %+v", list)
		}
		// Requesters: not on internal articles, not for others' tickets.
		if _, _, err := e.kb.AddFeedback(ctx, e.customer, internal.ID, knowledge.NewFeedback{Helpful: true}); !isNotFound(err) {
			t.Fatalf("customer on internal: %v", err)
		}
		other := e.ticket(e.user("other", "requester"), "x", "y")
		if _, _, err := e.kb.AddFeedback(ctx, e.customer, pub.ID, knowledge.NewFeedback{Helpful: true, TicketID: &other.ID}); fieldErr(err, "ticket_id") == "" {
			t.Fatalf("foreign ticket: %v", err)
		}

		// Flag it from a ticket; the flag closes when a new revision is published.
		if _, err := e.kb.FlagOutdated(ctx, e.customer, pub.ID, knowledge.NewFlag{Reason: "x"}); !errors.Is(err, knowledge.ErrForbidden) {
			t.Fatalf("customer flags: %v", err)
		}
		if _, err := e.kb.FlagOutdated(ctx, e.agent, pub.ID, knowledge.NewFlag{Reason: " "}); fieldErr(err, "reason") == "" {
			t.Fatalf("blank reason: %v", err)
		}
		f, err := e.kb.FlagOutdated(ctx, e.agent, pub.ID, knowledge.NewFlag{Reason: "现在是72小时内发货", TicketID: &tk.ID})
		if err != nil || f.ResolvedAt != nil {
			t.Fatalf("flag %+v %v", f, err)
		}
		a, _ = e.kb.Get(ctx, e.agent, pub.ID, "")
		if a.Outdated == nil || a.Outdated.Reason != "现在是72小时内发货" || len(a.Flags) != 1 || a.Flags[0].TicketID == nil {
			t.Fatalf("flagged article %+v", a)
		}
		e.kb.Update(ctx, e.agent, pub.ID, 0, knowledge.Patch{Body: ptr("72小时内发货")})
		e.publish(pub.ID)
		a, _ = e.kb.Get(ctx, e.agent, pub.ID, "")
		all, _ := e.kb.Flags(ctx, e.editor, pub.ID, true)
		if a.Outdated != nil || len(a.Flags) != 0 || len(all) != 1 || all[0].ResolvedAt == nil || all[0].ResolvedRevisionID == nil {
			t.Fatalf("after republish %+v flags %+v", a, all)
		}
	})
}

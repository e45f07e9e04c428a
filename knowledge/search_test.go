package knowledge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
)

type corpus struct {
	refund, shipping, pin, icCard, iphone, internal, draft knowledge.Article
}

// seedCorpus writes realistic customer-service articles in Chinese,
// English and both.
func seedCorpus(e *env) corpus {
	var c corpus
	c.refund = e.published(knowledge.NewArticle{Title: "如何申请退款", Summary: "签收后7天内可申请退款",
		Body:     "## 申请步骤\n\n订单签收后7天内，可以在「我的订单」页面点击**申请退款**。\n\n退款会在3-5个工作日内原路返回到您的支付账户。",
		Category: "billing", Tags: []string{"退款", "售后"}, Audience: knowledge.AudiencePublic})
	c.shipping = e.published(knowledge.NewArticle{Title: "发货时间说明", Summary: "下单后48小时内发货",
		Body:     "普通商品在下单后48小时内发货；预售商品按页面约定的时间发货。偏远地区物流可能延迟1-3天。",
		Category: "shipping", Tags: []string{"发货", "物流"}, Audience: knowledge.AudiencePublic})
	c.pin = e.published(knowledge.NewArticle{Title: "Reset your card PIN", Summary: "Forgot your PIN? Reset it in the app.",
		Body:     "If you forgot your PIN, open the app and go to **Cards > Security > Reset PIN**.\n\nAfter three wrong PIN entries the card is blocked for 24 hours.",
		Category: "cards", Tags: []string{"pin", "card"}, Language: "en", Audience: knowledge.AudiencePublic})
	c.icCard = e.published(knowledge.NewArticle{Title: "IC card reader shows error E52", Summary: "Clean the chip, then reinsert the IC card.",
		Body:     "Error E52 means the reader cannot read the IC card chip.\n\n1. Clean the chip with a dry cloth.\n2. Reinsert the card chip-first.\n3. If the error stays, replace the reader.",
		Category: "cards", Tags: []string{"ic card", "reader"}, Language: "en", Audience: knowledge.AudiencePublic})
	c.iphone = e.published(knowledge.NewArticle{Title: "iPhone 无法开机怎么办", Summary: "先充电，再强制重启",
		Body:     "如果 iPhone 无法开机，请先充电 30 分钟，然后同时按住电源键和音量键强制重启。\n\nIf it still won't turn on, contact Apple support.",
		Category: "devices", Tags: []string{"iphone"}, Audience: knowledge.AudiencePublic})
	c.internal = e.published(knowledge.NewArticle{Title: "Refund override procedure", Summary: "Supervisor approval needed",
		Body: "Agents can override refund limits with supervisor approval. Never promise a refund before approval.", Language: "en"})
	c.draft = e.create(e.agent, knowledge.NewArticle{Title: "退款政策草稿", Body: "内部讨论中的退款政策：秘密词汇 zebracode。"})
	return c
}

func ids(p knowledge.Page) []int64 {
	out := []int64{}
	for _, h := range p.Items {
		out = append(out, h.ID)
	}
	return out
}

func (e *env) search(by accounts.User, q string, f ...knowledge.Filter) knowledge.Page {
	e.t.Helper()
	var fl knowledge.Filter
	if len(f) > 0 {
		fl = f[0]
	}
	fl.Q = q
	p, err := e.kb.List(ctx, by, fl, "", 20)
	if err != nil {
		e.t.Fatalf("search %q: %v", q, err)
	}
	return p
}

func TestSearchChineseEnglishMixed(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		c := seedCorpus(e)
		first := []struct {
			q    string
			want int64
		}{
			{"退款", c.refund.ID},
			{"怎么申请退款？", c.refund.ID},
			{"“退款”！！！", c.refund.ID},
			{"发货", c.shipping.ID},
			{"什么时候发货", c.shipping.ID},
			{"PIN", c.pin.ID},
			{"ＰＩＮ", c.pin.ID},
			{"pin!!!", c.pin.ID},
			{"forgot my PIN code", c.pin.ID},
			{"IC card", c.icCard.ID},
			{"IC-card E52", c.icCard.ID},
			{"iPhone 无法开机", c.iphone.ID},
			{"iphone无法开机了", c.iphone.ID},
			{"won't turn on", c.iphone.ID},
		}
		for _, tc := range first {
			for _, who := range []accounts.User{e.customer, e.agent} {
				p := e.search(who, tc.q)
				if len(p.Items) == 0 || p.Items[0].ID != tc.want {
					t.Errorf("%s searching %q: got %v, want %d first", who.Name, tc.q, ids(p), tc.want)
					continue
				}
				h := p.Items[0]
				if h.Score <= 0 || !strings.Contains(h.Snippet, "«") || h.Body != "" {
					t.Errorf("%q: hit %+v", tc.q, h)
				}
			}
		}
		// Highlighted snippet of a Chinese match.
		if sn := e.search(e.customer, "退款").Items[0].Snippet; !strings.Contains(sn, "«退款»") {
			t.Errorf("snippet %q", sn)
		}

		// Requesters never see internal articles or drafts, staff do.
		if p := e.search(e.customer, "refund override"); len(p.Items) != 0 {
			t.Errorf("customer finds internal: %v", ids(p))
		}
		if p := e.search(e.agent, "refund override"); len(p.Items) == 0 || p.Items[0].ID != c.internal.ID {
			t.Errorf("agent: %v", ids(p))
		}
		if p := e.search(e.customer, "zebracode 秘密词汇"); len(p.Items) != 0 {
			t.Errorf("customer finds a draft: %v", ids(p))
		}
		if p := e.search(e.agent, "zebracode"); len(p.Items) != 1 || p.Items[0].ID != c.draft.ID || p.Items[0].Status != "draft" {
			t.Errorf("agent draft search: %v", ids(p))
		}

		// Filters combine with q.
		if p := e.search(e.customer, "card", knowledge.Filter{Language: "en", Category: "cards"}); !sameSet(ids(p), c.pin.ID, c.icCard.ID) {
			t.Errorf("card in en/cards: %v", ids(p))
		}
		if p := e.search(e.agent, "退款", knowledge.Filter{Status: []string{"draft"}}); !sameSet(ids(p), c.draft.ID) {
			t.Errorf("draft filter: %v", ids(p))
		}
		// No searchable words: an empty page, not an error.
		for _, q := range []string{"!!!", "🙂🙂", "the and of", "“”"} {
			if p := e.search(e.customer, q); len(p.Items) != 0 {
				t.Errorf("%q: %v", q, ids(p))
			}
		}
	})
}

func sameSet(got []int64, want ...int64) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// A published article whose new revision is in review is still found by
// its published text; readers never find it by the draft's words.
func TestSearchDuringReview(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		c := seedCorpus(e)
		if _, err := e.kb.Update(ctx, e.agent2, c.pin.ID, 0, knowledge.Patch{Title: ptr("Change your card passcode"),
			Body: ptr("Open the app and choose Cards > Security > Passcode."), Summary: ptr("New passcode flow")}); err != nil {
			t.Fatal(err)
		}
		e.mustFire(e.agent2, c.pin.ID, "submit", "")
		for _, who := range []accounts.User{e.customer, e.agent} {
			p := e.search(who, "reset PIN")
			if len(p.Items) == 0 || p.Items[0].ID != c.pin.ID {
				t.Fatalf("%s: published text not found during review: %v", who.Name, ids(p))
			}
		}
		cp := e.search(e.customer, "reset PIN").Items[0]
		if cp.Title != "Reset your card PIN" || cp.View != knowledge.ViewPublished {
			t.Fatalf("customer hit %+v", cp)
		}
		ap := e.search(e.agent, "reset PIN").Items[0]
		if ap.Title != "Change your card passcode" || ap.Status != "in_review" || !strings.Contains(ap.Snippet, "«PIN»") {
			t.Fatalf("agent hit %+v", ap)
		}
		// Staff hits read the revisions' author and number from the narrow
		// index: the working copy's author, the published revision's number.
		pubRev := *cp.PublishedRevision
		if ap.AuthorID != e.agent2.ID || ap.PublishedRevision == nil || *ap.PublishedRevision != pubRev || ap.Revision != pubRev+1 {
			t.Fatalf("agent hit author %d, revision %d, published %v; want author %d, revision %d, published %d",
				ap.AuthorID, ap.Revision, ap.PublishedRevision, e.agent2.ID, pubRev+1, pubRev)
		}
		p, err := e.kb.List(ctx, e.agent, knowledge.Filter{}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(p.Items, func(h knowledge.Hit) bool { return h.ID == c.pin.ID })
		if i < 0 {
			t.Fatalf("staff list misses article %d: %v", c.pin.ID, ids(p))
		}
		if h := p.Items[i]; h.AuthorID != e.agent2.ID || h.PublishedRevision == nil || *h.PublishedRevision != pubRev {
			t.Fatalf("staff list item author %d, published %v", h.AuthorID, h.PublishedRevision)
		}
		if p := e.search(e.customer, "passcode"); len(p.Items) != 0 {
			t.Fatalf("customer finds draft words: %v", ids(p))
		}
		if p := e.search(e.agent, "passcode"); len(p.Items) != 1 {
			t.Fatalf("agent misses draft words: %v", ids(p))
		}
		// Once approved, the new text is what everyone finds.
		e.mustFire(e.editor, c.pin.ID, "approve", "")
		if p := e.search(e.customer, "passcode"); len(p.Items) != 1 {
			t.Fatalf("customer after approval: %v", ids(p))
		}
		for _, who := range []accounts.User{e.customer, e.agent} {
			if p := e.search(who, "forgot"); slices.Contains(ids(p), c.pin.ID) {
				t.Fatalf("%s still finds the replaced text: %v", who.Name, ids(p))
			}
		}
		// Archived: gone for readers.
		e.mustFire(e.editor, c.refund.ID, "archive", "")
		if p := e.search(e.customer, "退款"); slices.Contains(ids(p), c.refund.ID) {
			t.Fatalf("archived still found: %v", ids(p))
		}
		if p := e.search(e.agent, "退款", knowledge.Filter{Status: []string{"archived"}}); !sameSet(ids(p), c.refund.ID) {
			t.Fatalf("staff archived filter: %v", ids(p))
		}
	})
}

func TestListPagination(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		var all []int64
		for i := 0; i < 7; i++ {
			a := e.published(knowledge.NewArticle{Title: "退款 FAQ " + string(rune('A'+i)), Body: "退款问题 refund question", Audience: knowledge.AudiencePublic})
			all = append([]int64{a.ID}, all...)
		}
		for _, q := range []string{"", "退款"} {
			var got []int64
			cursor := ""
			for pages := 0; ; pages++ {
				p, err := e.kb.List(ctx, e.customer, knowledge.Filter{Q: q}, cursor, 3)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(p)...)
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
				if pages > 5 {
					t.Fatal("no end")
				}
			}
			if len(got) != 7 || (q == "" && !slices.Equal(got, all)) || !sameSet(got, all...) {
				t.Fatalf("q=%q pages: %v, want %v", q, got, all)
			}
		}
		// A cursor belongs to its query.
		p, _ := e.kb.List(ctx, e.customer, knowledge.Filter{Q: "退款"}, "", 3)
		if _, err := e.kb.List(ctx, e.customer, knowledge.Filter{Q: "refund"}, p.NextCursor, 3); fieldErr(err, "cursor") == "" {
			t.Fatalf("cursor of another query: %v", err)
		}
		if _, err := e.kb.List(ctx, e.customer, knowledge.Filter{}, "garbage!", 3); fieldErr(err, "cursor") == "" {
			t.Fatalf("bad cursor: %v", err)
		}
		if _, err := e.kb.List(ctx, e.customer, knowledge.Filter{Language: "fr"}, "", 3); fieldErr(err, "language") == "" {
			t.Fatalf("bad language: %v", err)
		}
	})
}

package knowledge_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

func TestSuggestions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		c := seedCorpus(e)
		tk := e.ticket(e.customer, "退款一直没到账", "我上周申请了退款，到现在还没有收到钱，请帮忙查一下")
		// The first requests, concurrent, wait for one shared build.
		var wg sync.WaitGroup
		all := make([][]knowledge.Suggestion, 6)
		for i := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				all[i] = must(e.kb.Suggest(ctx, e.agent, tk.ID, 3))
			}()
		}
		wg.Wait()
		sugs := all[0]
		if len(sugs) == 0 || sugs[0].ArticleID != c.refund.ID || sugs[0].Score <= 0 || sugs[0].Title != "如何申请退款" || sugs[0].Linked {
			t.Fatalf("suggestions %+v", sugs)
		}
		for _, s := range sugs {
			if s.ArticleID == c.draft.ID {
				t.Fatal("a draft was suggested")
			}
		}
		// Requesters only get public ones.
		tk2 := e.ticket(e.customer, "refund override approval", "can a supervisor override the refund limit")
		for _, s := range must(e.kb.Suggest(ctx, e.customer, tk2.ID, 10)) {
			if s.ArticleID == c.internal.ID {
				t.Fatal("internal article suggested to a requester")
			}
		}
		if s := must(e.kb.Suggest(ctx, e.agent, tk2.ID, 1)); len(s) != 1 || s[0].ArticleID != c.internal.ID {
			t.Fatalf("agent suggestions %+v", s)
		}

		// Linked tickets teach the model customers' words: "卡被吞" never
		// appears in the IC card article.
		for i := 0; i < 4; i++ {
			lt := e.ticket(e.customer, "ATM 卡被吞了 "+strconv.Itoa(i), "取款机把我的卡吞了，屏幕显示 E52")
			if _, _, err := e.kb.Link(ctx, e.agent, lt.ID, c.icCard.ID, tickets.LinkSolvedBy); err != nil {
				t.Fatal(err)
			}
		}
		q := e.ticket(e.customer, "卡被吞", "取款机吞卡了")
		if err := e.kb.RefreshSuggestions(ctx); err != nil {
			t.Fatal(err)
		}
		s := must(e.kb.Suggest(ctx, e.agent, q.ID, 3))
		if len(s) == 0 || s[0].ArticleID != c.icCard.ID || s[0].ReuseCount != 4 {
			t.Fatalf("after learning: %+v", s)
		}
		// Linked articles are marked.
		if _, _, err := e.kb.Link(ctx, e.agent, q.ID, c.icCard.ID, tickets.LinkReferenced); err != nil {
			t.Fatal(err)
		}
		if s := must(e.kb.Suggest(ctx, e.agent, q.ID, 1)); !s[0].Linked {
			t.Fatalf("linked flag %+v", s)
		}

		// A newly published article is picked up; concurrent requests share builds.
		fresh := e.published(knowledge.NewArticle{Title: "修改收货地址", Body: "发货前可以在订单详情页修改收货地址。", Audience: knowledge.AudiencePublic})
		q2 := e.ticket(e.customer, "想改收货地址", "地址写错了，能修改收货地址吗")
		if err := e.kb.RefreshSuggestions(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := e.kb.Suggest(ctx, e.agent, q2.ID, 1)
				if err != nil || len(s) == 0 || s[0].ArticleID != fresh.ID {
					t.Errorf("fresh article: %+v %v", s, err)
				}
			}()
		}
		wg.Wait()
		// Unknown or invisible tickets are not found.
		other := e.ticket(e.user("other", "requester"), "x", "y")
		if _, err := e.kb.Suggest(ctx, e.customer, other.ID, 5); !isNotFound(err) {
			t.Fatalf("foreign ticket: %v", err)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

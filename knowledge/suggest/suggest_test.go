package suggest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

// zhArticles are Chinese customer-service articles with some English, as a
// bilingual help centre writes them.
var zhArticles = []Article{
	{ID: 1, Title: "如何申请退款 (Refund)", Summary: "退款到账时间和进度查询",
		Body: "申请退款后，款项会在3-5个工作日内原路退回。If you paid by card, the refund goes back to the same card.", Tags: []string{"退款", "refund"}},
	{ID: 2, Title: "发货与物流查询", Summary: "订单什么时候发货，怎么查物流",
		Body: "订单一般在48小时内发货，发货后可以在订单详情查看物流信息和快递单号。", Tags: []string{"发货", "shipping"}},
	{ID: 3, Title: "重置登录密码 (Password reset)", Summary: "忘记密码时怎么办",
		Body: "在登录页点击“忘记密码”，输入手机号，通过短信验证码重置密码。", Tags: []string{"密码", "password"}},
	{ID: 4, Title: "银行卡寄送进度", Summary: "新办理的银行卡什么时候寄到",
		Body: "新办理的银行卡一般7个工作日内寄到。如果超过时间仍未收到，请联系客服补寄。", Tags: []string{"银行卡", "card"}},
}

// zhTickets are resolved tickets linked to zhArticles: several phrasings
// per issue, Chinese and mixed.
var zhTickets = []Example{
	{1, "退款一直没有到账，已经等了五天"},
	{1, "申请退款后多久能到账？"},
	{1, "我要退货退款，订单号 A1023"},
	{1, "refund还没到我的信用卡"},
	{2, "订单显示已发货但是物流三天没更新"},
	{2, "发货太慢了，什么时候能收到"},
	{2, "快递单号查不到 tracking number invalid"},
	{3, "忘记密码了怎么办"},
	{3, "登录时提示password错误，但是密码是对的"},
	{3, "收不到重置密码的短信验证码 SMS code"},
	{4, "银行卡还没收到"},
	{4, "申请的新卡两周了还没寄到"},
	{4, "my debit card 还没有到"},
}

func top(t *testing.T, m *Model, q string) int64 {
	t.Helper()
	s := m.Rank(q, 3)
	if len(s) == 0 {
		t.Fatalf("Rank(%q): no suggestions", q)
	}
	return s[0].ArticleID
}

func TestChineseAndMixed(t *testing.T) {
	queries := []struct {
		q         string
		want      int64
		linksOnly bool // the article text alone points elsewhere
	}{
		{"退款什么时候到账", 1, false},
		{"refund 还没到账", 1, false},
		{"我的订单什么时候发货", 2, false},
		{"物流信息一直不更新", 2, false},
		{"tracking number 查不到", 2, false},
		{"password reset 验证码收不到", 3, false},
		{"忘了密码登录不了", 3, false},
		{"新银行卡一直没收到怎么办", 4, false},
		{"银行卡寄到了吗", 4, false},
		// Article 1 says "card" twice (refunds go back to the card); the
		// linked ticket "my debit card 还没有到" teaches the right one.
		{"debit card 还没到", 4, true},
	}
	withLinks := Build(zhArticles, zhTickets, Options{})
	articlesOnly := Build(zhArticles, nil, Options{})
	for _, c := range queries {
		if got := top(t, withLinks, c.q); got != c.want {
			t.Errorf("with links: Rank(%q) top = %d, want %d (%v)", c.q, got, c.want, withLinks.Rank(c.q, 0))
		}
		if c.linksOnly {
			continue
		}
		if got := top(t, articlesOnly, c.q); got != c.want {
			t.Errorf("articles only: Rank(%q) top = %d, want %d (%v)", c.q, got, c.want, articlesOnly.Rank(c.q, 0))
		}
	}
}

// enArticles: a small English base for behaviour tests.
var enArticles = []Article{
	{ID: 10, Title: "Card delivery", Body: "How long a new card takes to arrive and what to do if it has not."},
	{ID: 20, Title: "Refunds", Body: "How to ask for a refund of a purchase and when the money comes back."},
	{ID: 30, Title: "Change your PIN", Body: "Set a new PIN in the app under Security, or at any cash machine."},
	{ID: 40, Title: "Exchange rates", Body: "Which exchange rate applies when you pay in a foreign currency."},
}

var enTickets = []Example{
	{10, "still waiting for my plastic"},
	{10, "where is my plastic, ordered it ages ago"},
	{10, "my card has not come in the post"},
	{20, "I want my money back for this order"},
	{20, "merchant agreed to give money back, when do I get it"},
	{20, "refund not received"},
	{10, "plastic never showed up"},
	{20, "return the payment please"},
}

func TestLearnsWordingsFromLinks(t *testing.T) {
	q := "the plastic still hasn't shown up"
	with := Build(enArticles, enTickets, Options{})
	if got := top(t, with, q); got != 10 {
		t.Errorf("with links: top = %d, want 10 (%v)", got, with.Rank(q, 0))
	}
	// The article text alone does not know "plastic".
	without := Build(enArticles, nil, Options{})
	if s := without.Rank(q, 1); len(s) > 0 && s[0].ArticleID == 10 && s[0].Score > 0.5 {
		t.Errorf("articles only: %v; expected no confident match", s)
	}
}

func TestArticleWithoutLinksIsSuggested(t *testing.T) {
	// Articles 30 and 40 have no linked tickets; their text still wins.
	m := Build(enArticles, enTickets, Options{})
	for q, want := range map[string]int64{
		"how do I change my PIN":                30,
		"which exchange rate do you use abroad": 40,
		"forgot pin, want a new one":            30,
	} {
		if got := top(t, m, q); got != want {
			t.Errorf("Rank(%q) top = %d, want %d (%v)", q, got, want, m.Rank(q, 0))
		}
	}
}

func TestRankContract(t *testing.T) {
	m := Build(enArticles, enTickets, Options{})
	all := m.Rank("refund for my card", 0)
	if len(all) != len(enArticles) {
		t.Fatalf("k=0: %d suggestions, want all %d", len(all), len(enArticles))
	}
	var sum float64
	for i, s := range all {
		if s.Score < 0 || s.Score > 1 {
			t.Errorf("score %v out of [0,1]", s.Score)
		}
		if i > 0 && (s.Score > all[i-1].Score || s.Score == all[i-1].Score && s.ArticleID < all[i-1].ArticleID) {
			t.Errorf("not sorted best first, ties by ID: %v", all)
		}
		sum += s.Score
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("scores sum to %v, want 1", sum)
	}
	if got := m.Rank("refund for my card", 2); len(got) != 2 || got[0] != all[0] || got[1] != all[1] {
		t.Errorf("k=2: %v, want the first two of %v", got, all)
	}
	for _, q := range []string{"", "   ", "!!! ???", "zzqxj"} {
		if got := m.Rank(q, 3); len(got) != 0 {
			t.Errorf("Rank(%q) = %v, want none", q, got)
		}
	}
	if got := Build(nil, enTickets, Options{}).Rank("refund", 3); got != nil {
		t.Errorf("no articles: %v", got)
	}
}

func TestBuildInputs(t *testing.T) {
	exs := append([]Example{
		{999, "refund for a card that never arrived"}, // unknown article: ignored
		{20, "   "}, // blank: ignored
	}, enTickets...)
	arts := append(append([]Article(nil), enArticles...), Article{ID: 10, Title: "Duplicate", Body: "ignored"})
	m := Build(arts, exs, Options{})
	if m.Articles() != len(enArticles) || m.Examples() != len(enTickets) {
		t.Errorf("Articles %d Examples %d, want %d %d", m.Articles(), m.Examples(), len(enArticles), len(enTickets))
	}
	for _, s := range m.Rank("duplicate ignored refund", 0) {
		if s.ArticleID == 999 {
			t.Errorf("suggested an article not given to Build: %v", s)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := Build(zhArticles, zhTickets, Options{})
	b := Build(zhArticles, zhTickets, Options{})
	for _, q := range []string{"退款什么时候到账", "debit card 还没到", "password"} {
		if x, y := fmt.Sprint(a.Rank(q, 0)), fmt.Sprint(b.Rank(q, 0)); x != y {
			t.Errorf("Rank(%q) differs between identical builds:\n%s\n%s", q, x, y)
		}
	}
}

func TestConcurrentRank(t *testing.T) {
	m := Build(zhArticles, zhTickets, Options{})
	want := fmt.Sprint(m.Rank("refund 还没到账", 3))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got := fmt.Sprint(m.Rank("refund 还没到账", 3)); got != want {
					t.Errorf("concurrent Rank = %s, want %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// denseRank is the reference for Rank: every article scored the plain way
// (dense arrays over all articles, softmax over all), best first.
func denseRank(m *Model, text string) []Suggestion {
	n := len(m.ids)
	txt := make([]float64, n)
	wordFz := featurizer{stem: m.p.fz.stem}
	textHit := m.bm25.score(&wordFz, text, func(a int32, w float32) { txt[a] += float64(w) / m.p.textTemp })
	q := m.artVoc.vectorizeText(&m.p.fz, text)
	for j, f := range q.idx {
		textHit = true
		for _, e := range m.artPost[m.artOff[f]:m.artOff[f+1]] {
			txt[e.doc] += m.p.textCos * float64(q.val[j]) * float64(e.w)
		}
	}
	softmax(txt)
	clf := make([]float64, n)
	if m.clf != nil {
		x := m.voc.vectorizeText(&m.p.fz, text)
		if len(x.idx) == 0 && !textHit {
			return nil
		}
		var raw []float64
		var arts []int
		for a := range n {
			if m.isClass[a] {
				arts = append(arts, a)
				raw = append(raw, 0)
			}
		}
		pos := map[int32]int{}
		for i, a := range arts {
			pos[int32(a)] = i
		}
		for j, f := range x.idx {
			for i, a := range m.clf.cls[m.clf.off[f]:m.clf.off[f+1]] {
				raw[pos[a]] += float64(x.val[j]) * float64(m.clf.w[int(m.clf.off[f])+i])
			}
		}
		softmax(raw)
		for i, a := range arts {
			clf[a] = raw[i]
		}
	} else if !textHit {
		return nil
	}
	out := make([]Suggestion, n)
	var z float64
	for a := range n {
		s := m.clfShare * clf[a]
		if textHit {
			s += m.textW[a] * txt[a]
		}
		out[a] = Suggestion{m.ids[a], s}
		z += s
	}
	for a := range out {
		out[a].Score /= z
	}
	slices.SortFunc(out, better)
	return out
}

// TestRankSparse checks Rank, which scores only the articles a text
// reaches, against denseRank on a base where most articles share nothing
// with a query: many linked articles and many without links, with equal
// numbers of links (equal scores).
func TestRankSparse(t *testing.T) {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
	var arts []Article
	var exs []Example
	for i := range 400 {
		id := int64(1000 - 2*i) // IDs not in input order
		w1, w2 := words[i%len(words)], words[(i/len(words))%len(words)]
		arts = append(arts, Article{ID: id, Title: w1 + " " + w2, Body: fmt.Sprintf("about %s and %s number %d", w1, w2, i)})
		if i%3 != 0 {
			for j := range 1 + i%4 {
				exs = append(exs, Example{ArticleID: id, Text: fmt.Sprintf("my %s is %s %d", w1, w2, j)})
			}
		}
	}
	few := defaultParams()
	few.maxClasses = 50 // the other linked articles go to the text match
	for _, c := range []struct {
		name string
		exs  []Example
		opts Options
	}{{"links", exs, Options{Epochs: 5}}, {"links, 50 classes", exs, Options{Epochs: 5, p: &few}}, {"no links", nil, Options{}}} {
		m := Build(arts, c.exs, c.opts)
		withLinks := c.name
		for _, q := range []string{"alpha", "my bravo is kilo", "zulu number 7", "number", "mike november oscar papa", "is my", "nothing matches zzz"} {
			want := denseRank(m, q)
			got := m.Rank(q, 0)
			if len(got) != len(want) {
				t.Fatalf("%s, Rank(%q, 0): %d suggestions, want %d", withLinks, q, len(got), len(want))
			}
			score := map[int64]float64{}
			for _, s := range want {
				score[s.ArticleID] = s.Score
			}
			for i, s := range got {
				if d := s.Score - score[s.ArticleID]; d > 1e-9 || d < -1e-9 {
					t.Fatalf("%s, Rank(%q): article %d scores %v, dense %v", withLinks, q, s.ArticleID, s.Score, score[s.ArticleID])
				}
				if i > 0 && better(got[i-1], s) > 0 {
					t.Fatalf("%s, Rank(%q): %v before %v", withLinks, q, got[i-1], s)
				}
			}
			for _, k := range []int{1, 3, 10, 150, 399} {
				if gk := m.Rank(q, k); !slices.Equal(gk, got[:min(k, len(got))]) {
					t.Fatalf("%s, Rank(%q, %d) = %v, want the first of Rank(q, 0) %v", withLinks, q, k, gk, got[:min(k, len(got))])
				}
			}
		}
	}
}

// softmax turns scores into probabilities in place.
func softmax(s []float64) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var z float64
	for i, v := range s {
		s[i] = math.Exp(v - mx)
		z += s[i]
	}
	for i := range s {
		s[i] /= z
	}
}

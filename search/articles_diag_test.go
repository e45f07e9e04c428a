package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/datasets"
)

// BenchmarkArticleSearchWork times Search alone, without hydration, on the
// MariaDB database seeded by bench/articles_search_bench_test.go
// (LOOPDESK_SEARCH_DIAG_URL, e.g.
// mysql://root@127.0.0.1:3306/loopdesk_bench_articles_100000), staff (no
// filter) and agent (published, public), with the work MariaDB did
// (handler rows read, statements: figures load cannot blur). Knobs:
//
//	LOOPDESK_SEARCH_DIAG_KINDS=very-common,long   kinds to run
//	LOOPDESK_SEARCH_DIAG_SLOW=1                   per-query worst times
//	LOOPDESK_SEARCH_DIAG_QUALITY=1                long queries against exact
//	LOOPDESK_SEARCH_DIAG_RELEVANCE=1              long queries' top 10 by intent
//	                                              BM25 over the same terms
//	LOOPDESK_SEARCH_DIAG_LOOP='how can i|top up'  these queries, 20 times each
//	LOOPDESK_SEARCH_DIAG_TRACE='how can i'        every statement of one search
//
// It is a measurement, not a check: run it with -bench, -benchtime 1x.
func BenchmarkArticleSearchWork(t *testing.B) {
	url := os.Getenv("LOOPDESK_SEARCH_DIAG_URL")
	if url == "" {
		t.Skip("LOOPDESK_SEARCH_DIAG_URL not set")
	}
	ctx := context.Background()
	db, err := database.Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// One connection: its session counters are the searches' work.
	if sqlDB, err := db.DB.DB(); err == nil {
		sqlDB.SetMaxOpenConns(1)
	}
	work := func() (rows, stmts int64) {
		var vs []struct {
			VariableName string `gorm:"column:Variable_name"`
			Value        int64  `gorm:"column:Value"`
		}
		db.Raw("SHOW SESSION STATUS WHERE Variable_name LIKE 'Handler_read%' OR Variable_name = 'Com_select'").Scan(&vs)
		for _, v := range vs {
			if v.VariableName == "Com_select" {
				stmts += v.Value
			} else {
				rows += v.Value
			}
		}
		return rows, stmts
	}
	reps := 4
	kinds := map[string][]string{
		"common":      {"card", "refund", "account", "transfer", "money", "payment", "bank", "balance", "help", "order"},
		"very-common": {"how", "how can i", "what can you do", "can you help me", "why", "how do i get", "what", "need"},
		"two-word": {"card arrived", "exchange rate", "top up", "declined payment", "reset password", "lost card",
			"book flight", "credit score", "cash withdrawal", "pending transfer", "change pin", "bill due"},
		"two-letter": {"PIN", "IC", "ID", "UK", "EU", "US", "tv", "pm"},
		"chinese":    {"退款", "发货", "无法开机", "登录失败", "密码", "银行卡冻结", "发票", "物流", "自动续费", "转账到账"},
		"mixed":      {"iPhone 无法开机", "App 闪退", "PIN码 重置", "E52 错误", "Android 登录失败", "IC卡 消磁", "iPhone 15 充电", "App 退款"},
	}
	names := []string{"common", "very-common", "two-word", "two-letter", "chinese", "mixed", "long"}
	if dir, ok := datasets.Dir(); ok {
		kinds["long"] = diagParagraphs(t, dir, 100)
	}
	if s := os.Getenv("LOOPDESK_SEARCH_DIAG_KINDS"); s != "" {
		names = strings.Split(s, ",")
	}
	if q := os.Getenv("LOOPDESK_SEARCH_DIAG_LOOP"); q != "" {
		ix := NewIndex(db)
		ix.statsTTL = time.Hour
		var tr rankTrace
		ix.trace = func(x rankTrace) { tr = x }
		for _, actor := range []string{"staff", "agent"} {
			docType, f := "article", func() *gorm.DB { return nil }
			if actor == "agent" {
				docType = "article_published"
				f = func() *gorm.DB {
					return db.Session(&gorm.Session{NewDB: true}).Raw("SELECT a.id FROM articles AS a JOIN article_revisions r ON r.id = a.published_revision_id WHERE r.audience = ?", "public")
				}
			}
			for _, q := range strings.Split(q, "|") {
				ix.Search(ctx, docType, q, 51, f())
				r0, s0 := work()
				t0 := time.Now()
				for i := 0; i < 20; i++ {
					ix.Search(ctx, docType, q, 51, f())
				}
				r1, s1 := work()
				t.Logf("%s %q: %s per search, %d handler rows, %d statements; %d reads, %d lookups, %d rounds", actor, q, time.Since(t0)/20, (r1-r0)/20, (s1-s0)/20, tr.reads, tr.lookups, tr.rounds)
			}
		}
		return
	}
	if os.Getenv("LOOPDESK_SEARCH_DIAG_RELEVANCE") != "" {
		diagRelevance(t, db)
		return
	}
	if q := os.Getenv("LOOPDESK_SEARCH_DIAG_TRACE"); q != "" {
		ix := NewIndex(db)
		for _, actor := range []string{"staff", "agent", "agent"} {
			docType, f := "article", (*gorm.DB)(nil)
			if actor == "agent" {
				docType = "article_published"
				f = db.Session(&gorm.Session{NewDB: true}).Raw("SELECT a.id FROM articles AS a JOIN article_revisions r ON r.id = a.published_revision_id WHERE r.audience = ?", "public")
			}
			ix.Search(ctx, docType, q, 51, f) // statistics
			db.DB.Logger = diagLogger{t}
			t0 := time.Now()
			ix.Search(ctx, docType, q, 51, f)
			t.Logf("%s %q: %s", actor, q, time.Since(t0))
			db.DB.Logger = logger.Discard
		}
		return
	}
	filter := func() *gorm.DB {
		return db.Session(&gorm.Session{NewDB: true}).Raw("SELECT a.id FROM articles AS a JOIN article_revisions r ON r.id = a.published_revision_id WHERE r.audience = ?", "public")
	}
	for _, actor := range []string{"staff", "agent"} {
		docType, f := "article", func() *gorm.DB { return nil }
		if actor == "agent" {
			docType, f = "article_published", filter
		}
		ix := NewIndex(db)
		ix.statsTTL = time.Hour
		var tr rankTrace
		ix.trace = func(x rankTrace) { tr = x }
		for _, name := range names {
			qs := kinds[name]
			var lat, cold []time.Duration
			var hrows, stmts, maxRows int64
			qrows := map[string]int64{}
			var reads, lookups, rounds, approx, fallback int64
			slow := map[string]time.Duration{}
			var overlap, top1, ratio float64
			var nq int
			for rep := 0; rep < reps; rep++ {
				for _, q := range qs {
					r0, s0 := work()
					t0 := time.Now()
					got, err := ix.Search(ctx, docType, q, 51, f())
					d := time.Since(t0)
					r1, s1 := work()
					if err != nil {
						t.Fatal(err)
					}
					if rep == 0 {
						cold = append(cold, d)
						continue
					}
					lat = append(lat, d)
					slow[q] = max(slow[q], d)
					hrows += r1 - r0
					stmts += s1 - s0 - 1
					maxRows = max(maxRows, r1-r0)
					qrows[q] = max(qrows[q], r1-r0)
					reads += tr.reads
					lookups += tr.lookups
					rounds += int64(tr.rounds)
					if tr.approximate {
						approx++
					}
					if tr.fallback {
						fallback++
					}
					if rep == 1 && name == "long" && os.Getenv("LOOPDESK_SEARCH_DIAG_QUALITY") != "" {
						o, s1, r := diagQuality(t, ix, docType, q, got, f)
						overlap += o
						top1 += s1
						ratio += r
						nq++
					}
				}
			}
			slices.Sort(lat)
			slices.Sort(cold)
			p := func(x float64) float64 {
				return float64(lat[min(len(lat)-1, int(x*float64(len(lat))))].Microseconds()) / 1000
			}
			n := int64(len(lat))
			var coldSum time.Duration
			for _, d := range cold {
				coldSum += d
			}
			t.Logf("%s %-12s cold mean %6.1f, statistics scans so far %d", actor, name,
				float64(coldSum.Microseconds())/1000/float64(max(len(cold), 1)), ix.termScans.Load())
			t.Logf("%s %-12s cold max %6.1f, warm p50 %6.1f p95 %6.1f p99 %6.1f max %6.1f | reads %6d lookups %6d rounds %.1f approx %d fallback %d",
				actor, name, float64(cold[len(cold)-1].Microseconds())/1000, p(.5), p(.95), p(.99), p(1), reads/n, lookups/n, float64(rounds)/float64(n), approx, fallback)
			t.Logf("%s %-12s handler rows avg %d max %d, statements %.1f", actor, name, hrows/n, maxRows, float64(stmts)/float64(n))
			if nq > 0 {
				t.Logf("%s %-12s quality: top-10 overlap %.2f, top-1 same %.2f, exact score of top 10 / best %.3f",
					actor, name, overlap/float64(nq), top1/float64(nq), ratio/float64(nq))
			}
			if name != "long" && os.Getenv("LOOPDESK_SEARCH_DIAG_SLOW") != "" {
				for _, q := range qs {
					t.Logf("   %-20q %6.1f ms %7d rows", q, float64(slow[q].Microseconds())/1000, qrows[q])
				}
			}
		}
	}
}

// diagQuality compares a long query's top 10 with exact BM25 over the
// same terms (rankedTerms), document frequencies counted.
func diagQuality(t testing.TB, ix *Index, docType, q string, got []Hit, f func() *gorm.DB) (overlap, top1, ratio float64) {
	ctx := context.Background()
	terms := rankedTerms(t, ix, docType, q)
	conn := ix.conn(ctx, nil)
	stats, _ := ix.corpusStats(conn, docType)
	ts, err := loadTerms(conn, docType, terms, stats.avgdl)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ix.searchAll(conn, docType, terms, ts, stats, 2000, f())
	if err != nil {
		t.Fatal(err)
	}
	exact := map[int64]float64{}
	for _, h := range want {
		exact[h.DocID] = h.Score
	}
	k := min(10, len(want), len(got))
	if k == 0 {
		return 1, 1, 1
	}
	in := map[int64]bool{}
	for _, h := range want[:k] {
		in[h.DocID] = true
	}
	var best, have float64
	for i := 0; i < k; i++ {
		best += want[i].Score
		have += exact[got[i].DocID] // 0 when beyond the exact top 2000
		if in[got[i].DocID] {
			overlap++
		}
	}
	if got[0].DocID == want[0].DocID || exact[got[0].DocID] == want[0].Score {
		top1 = 1
	}
	return overlap / float64(k), top1, have / best
}

// diagParagraphs builds pasted paragraphs as the benchmark does: 5-8
// held-out questions, or 3-5 Chinese messages.
func diagParagraphs(t testing.TB, dir string, n int) []string {
	ps, _ := diagParagraphIntents(t, dir, n)
	return ps
}

// diagParagraphIntents is diagParagraphs with, for each English paragraph,
// the intents of its questions (nil for Chinese ones).
func diagParagraphIntents(t testing.TB, dir string, n int) ([]string, [][]string) {
	var held, intents []string
	test, err := datasets.Banking77(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range test {
		held = append(held, l.Text)
		intents = append(intents, l.Intent)
	}
	clinc, err := datasets.CLINC150(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range clinc["test"] {
		held = append(held, l.Text)
		intents = append(intents, l.Intent)
	}
	zh := []string{"退款一直没有到账，已经等了{n}天", "订单显示已发货但是物流{n}天没更新", "我的{p}无法开机，屏幕显示 error {e}",
		"登录时提示密码错误，但是密码是对的", "忘记PIN码怎么重置", "银行卡被冻结了，无法转账", "App 闪退，每次打开 {p} 版就崩溃",
		"发票抬头填错了，可以重新开吗", "会员自动续费了，我要取消并退款", "付款失败，提示{e}", "转账显示成功但对方没收到",
		"{p}电池掉电很快", "怎么注销账户", "{p}连不上Wi-Fi"}
	products := []string{"iPhone 15", "iPhone 14", "华为 Mate 60", "小米 14", "Android", "iPad", "MacBook", "安卓手机", "Galaxy S24", "Apple Watch"}
	errs := []string{"E52", "E404", "E1001", "502", "0x80070005", "ERR_NETWORK", "E07"}
	r := rand.New(rand.NewPCG(42, 43))
	sentence := func(s string) string {
		s = strings.TrimSpace(s)
		rs := []rune(s)
		if len(rs) == 0 {
			return s
		}
		rs[0] = unicode.ToUpper(rs[0])
		s = string(rs)
		if last := rs[len(rs)-1]; last != '?' && last != '.' && last != '!' {
			s += "?"
		}
		return s
	}
	var out []string
	var outIntents [][]string
	for i := 0; i < n; i++ {
		var parts, is []string
		if i%4 == 3 {
			for j := 3 + r.IntN(3); j > 0; j-- {
				s := zh[r.IntN(len(zh))]
				s = strings.ReplaceAll(s, "{p}", products[r.IntN(len(products))])
				s = strings.ReplaceAll(s, "{e}", errs[r.IntN(len(errs))])
				s = strings.ReplaceAll(s, "{n}", fmt.Sprint(2+r.IntN(9)))
				parts = append(parts, s+"，")
			}
			parts = append(parts, "请尽快处理，谢谢！")
		} else {
			parts = append(parts, "Hello,")
			for j := 5 + r.IntN(4); j > 0; j-- {
				k := r.IntN(len(held))
				parts = append(parts, sentence(held[k]))
				is = append(is, intents[k])
			}
			parts = append(parts, "Thanks for your help.")
		}
		out = append(out, strings.Join(parts, " "))
		outIntents = append(outIntents, is)
	}
	return out, outIntents
}

type diagLogger struct{ t testing.TB }

func (l diagLogger) LogMode(logger.LogLevel) logger.Interface    { return l }
func (diagLogger) Info(context.Context, string, ...interface{})  {}
func (diagLogger) Warn(context.Context, string, ...interface{})  {}
func (diagLogger) Error(context.Context, string, ...interface{}) {}
func (l diagLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	sql, rows := fc()
	if len(sql) > 300 {
		sql = sql[:300] + "..."
	}
	l.t.Logf("%6.2f ms %5d rows %v %s", float64(time.Since(begin).Microseconds())/1000, rows, err, sql)
}

// diagRelevance judges long queries by what a person pasting them wants:
// articles about the paragraph's questions. The benchmark's English
// articles carry their intent as first tag, and each English paragraph is
// made of held-out questions of known intents, so for the top 10 (staff)
// it reports the share of hits on one of the paragraph's intents and the
// share of its intents with a hit, for Search and for exact BM25 over the
// same terms. LOOPDESK_SEARCH_DIAG_K sets the list length (10).
func diagRelevance(t *testing.B, db *database.DB) {
	dir, ok := datasets.Dir()
	if !ok {
		t.Skip("../shared/data is absent")
	}
	ctx := context.Background()
	ix := NewIndex(db)
	ix.statsTTL = time.Hour
	conn := ix.conn(ctx, nil)
	ps, intents := diagParagraphIntents(t, dir, 200)
	k := 10
	if v, err := strconv.Atoi(os.Getenv("LOOPDESK_SEARCH_DIAG_K")); err == nil && v > 0 {
		k = v
	}
	intentOf := func(hits []Hit) map[int64]string {
		ids := make([]int64, len(hits))
		for i, h := range hits {
			ids[i] = h.DocID
		}
		var rows []struct {
			ID   int64
			Tags string
		}
		if err := conn.Raw("SELECT id, tags FROM articles WHERE id IN ?", ids).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		out := map[int64]string{}
		for _, r := range rows {
			var tags []string
			if json.Unmarshal([]byte(r.Tags), &tags) == nil && len(tags) > 0 {
				out[r.ID] = tags[0]
			}
		}
		return out
	}
	score := func(hits []Hit, want []string) (prec, cover float64) {
		if len(hits) == 0 {
			return 0, 0
		}
		of := intentOf(hits)
		seen := map[string]bool{}
		for _, h := range hits {
			if in := of[h.DocID]; slices.Contains(want, in) {
				prec++
				seen[in] = true
			}
		}
		distinct := map[string]bool{}
		for _, w := range want {
			distinct[w] = true
		}
		return prec / float64(len(hits)), float64(len(seen)) / float64(len(distinct))
	}
	var n int
	var p1, c1, p2, c2, p3, c3 float64
	var took []time.Duration
	for i, q := range ps {
		if intents[i] == nil {
			continue
		}
		ix.Search(ctx, "article", q, k, nil) // statistics, as a running system has them
		t0 := time.Now()
		got, err := ix.Search(ctx, "article", q, k, nil)
		took = append(took, time.Since(t0))
		if err != nil {
			t.Fatal(err)
		}
		// Exact BM25 over the terms Search ranks on, and over the first
		// maxQueryTerms (how long queries were cut before queryStats).
		stats, _ := ix.corpusStats(conn, "article")
		exactOver := func(terms []string) []Hit {
			ts, err := loadTerms(conn, "article", terms, stats.avgdl)
			if err != nil {
				t.Fatal(err)
			}
			hits, err := ix.searchAll(conn, "article", terms, ts, stats, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			return hits
		}
		first := queryTerms(q)
		first = first[:min(len(first), maxQueryTerms)]
		a, b := score(got, intents[i])
		c, d := score(exactOver(rankedTerms(t, ix, "article", q)), intents[i])
		e, f := score(exactOver(first), intents[i])
		p1, c1, p2, c2, p3, c3 = p1+a, c1+b, p2+c, c2+d, p3+e, c3+f
		n++
	}
	slices.Sort(took)
	t.Logf("long relevance, %d English paragraphs, staff top %d: Search hits on the paragraph's intents %.3f, intents with a hit %.3f | exact BM25 %.3f, %.3f | exact BM25 on the first %d terms %.3f, %.3f | Search warm p50 %.1f ms p95 %.1f ms",
		n, k, p1/float64(n), c1/float64(n), p2/float64(n), c2/float64(n), maxQueryTerms, p3/float64(n), c3/float64(n),
		float64(took[len(took)/2].Microseconds())/1000, float64(took[len(took)*95/100].Microseconds())/1000)
}

package bench_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/datasets"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/migrations"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/tickets"
)

// BenchmarkArticleSearch seeds 100,000 published FAQ articles and times
// ranked search through knowledge.Service.List (the code behind
// GET /api/v1/articles?q=, without the HTTP layer, whose cost is measured
// by the ticket benchmarks and is the same for every query), page size 50
// (the API default), for staff (working copies, no filter) and an agent
// (published revisions: the list query restricts the ranking).
//
//	LOOPDESK_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//	LOOPDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	go test ./bench -run '^$' -bench ArticleSearch -benchtime 1x -timeout 60m
//
// Articles: English ones are built per intent from BANKING77 and CLINC150
// questions (../shared/data): a question as title, a question and an answer
// sentence as summary, 4-9 questions of the same intent and 1-3 answer
// sentences as body (50-150 words), the intent and its domain as tags; one
// in five is Chinese or mixed, from the customer-service phrasings below
// (product names, error codes, amounts). 80 % are public.
//
// Seeding is bulk SQL (articles, revisions, both search documents, with
// postings written in primary-key order); the first articles go through
// knowledge.Service (Create, submit, approve) and the bulk rows of those
// are checked against what the service wrote, so the index is the one the
// service builds.
//
// Query kinds, 300 each, one after the other, each kind's first 10 run
// once before as a warm-up: common English words (card, refund), very
// common ones that match half the articles (how, "how can i", "can you
// help me"), two-word queries, rare words (in at most about 30 articles,
// picked from the corpus), two-letter words (PIN, IC, ID), Chinese (退款,
// 发货, 无法开机), mixed (iPhone 无法开机, App 闪退), pasted paragraphs (5-8
// held-out dataset questions, or 3-5 Chinese messages), and the same
// paragraphs again (their words' statistics cached, as most words' are in
// a running system). Latency is the wall time of List, hits hydrated with
// snippets.
//
// Knobs:
//
//	LOOPDESK_BENCH_ARTICLES   articles (100000)
//	LOOPDESK_BENCH_QUERIES    queries per kind (300)
//	LOOPDESK_BENCH_SPLIT=1    log staff List time split into ranking and hydration
//	LOOPDESK_BENCH_REUSE=1    keep the seeded database between runs (SQLite
//	                          under $TMPDIR, MariaDB database
//	                          loopdesk_bench_articles_<n>) and reuse it
func BenchmarkArticleSearch(b *testing.B) {
	n := envInt("LOOPDESK_BENCH_ARTICLES", 100_000)
	perKind := envInt("LOOPDESK_BENCH_QUERIES", 300)
	gen, err := newArticleGen()
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, backend string, db *database.DB) {
		ctx := context.Background()
		if db.Dialect == database.MySQL {
			var pool int64
			db.Raw("SELECT @@innodb_buffer_pool_size").Scan(&pool)
			b.Logf("MariaDB innodb_buffer_pool_size %d MiB", pool>>20)
		}
		acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
		tk := tickets.New(db, acc)
		if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
			b.Fatal(err)
		}
		kb := knowledge.New(db, tk, knowledge.WithSuggestRefresh(0))
		users := artUsers(b, acc)
		start := time.Now()
		seeded := artSeed(b, db, kb, tk, users, gen, n)
		if seeded {
			b.Logf("%s: seeded %d articles in %s", db.Dialect, n, time.Since(start).Round(time.Second))
		} else {
			b.Logf("%s: reusing %d seeded articles", db.Dialect, n)
		}
		kinds := gen.queries(perKind)
		// LOOPDESK_BENCH_SPLIT=1: also time staff queries' ranking alone, on
		// an index of its own (warmed by the same warm-up), to split List's
		// time into ranking and hydration.
		var split *search.Index
		if os.Getenv("LOOPDESK_BENCH_SPLIT") == "1" {
			split = search.NewIndex(db)
		}
		actors := []struct {
			name string
			user accounts.User
		}{{"staff", users.admin}, {"agent", users.agent}}
		var table []string
		for _, a := range actors {
			b.Logf("%s: load average (1, 5, 15 min) before: %s", a.name, artLoad())
			// Warm up: caches of the process and the database, as a
			// running server has them.
			for _, k := range kinds {
				for _, q := range k.qs[:min(10, len(k.qs))] {
					if _, err := kb.List(ctx, a.user, knowledge.Filter{Q: q}, "", 50); err != nil {
						b.Fatalf("%s %q: %v", a.name, q, err)
					}
					if split != nil {
						split.Search(ctx, knowledge.DocType, q, 51, nil)
					}
				}
			}
			for _, k := range kinds {
				b.Run(a.name+"/"+k.name, func(b *testing.B) {
					var lat []time.Duration
					empty, hits := 0, 0
					var searchOnly time.Duration
					for b.Loop() {
						lat = lat[:0]
						empty, hits = 0, 0
						searchOnly = 0
						for _, q := range k.qs {
							t0 := time.Now()
							page, err := kb.List(ctx, a.user, knowledge.Filter{Q: q}, "", 50)
							d := time.Since(t0)
							if err != nil {
								b.Fatalf("%q: %v", q, err)
							}
							lat = append(lat, d)
							hits += len(page.Items)
							if len(page.Items) == 0 {
								empty++
							}
							if split != nil && a.name == "staff" {
								// The ranking alone, as List runs it for staff
								// (working copies, no filter, a page of 50 and one).
								t1 := time.Now()
								if _, err := split.Search(ctx, knowledge.DocType, q, 51, nil); err != nil {
									b.Fatalf("%q: %v", q, err)
								}
								searchOnly += time.Since(t1)
							}
						}
					}
					if searchOnly > 0 {
						var total time.Duration
						for _, d := range lat {
							total += d
						}
						n := time.Duration(len(lat))
						b.Logf("%s %s: mean List %.1f ms, of which ranking about %.1f ms and hydration (rows, snippets) about %.1f ms",
							a.name, k.name, artMS(total/n), artMS(searchOnly/n), artMS((total-searchOnly)/n))
					}
					slices.Sort(lat)
					p := func(f float64) float64 { return artMS(lat[min(len(lat)-1, int(f*float64(len(lat))))]) }
					b.ReportMetric(p(0.50), "p50-ms")
					b.ReportMetric(p(0.95), "p95-ms")
					b.ReportMetric(p(0.99), "p99-ms")
					b.ReportMetric(artMS(lat[len(lat)-1]), "max-ms")
					b.ReportMetric(float64(hits)/float64(len(lat)), "hits/query")
					b.ReportMetric(0, "ns/op")
					table = append(table, fmt.Sprintf("| %s | %s | %s | %.1f / %.1f / %.1f | %.1f | %d/%d |",
						backend, a.name, k.name, p(0.50), p(0.95), p(0.99), artMS(lat[len(lat)-1]), empty, len(lat)))
				})
			}
		}
		b.Logf("load average (1, 5, 15 min) at the end: %s", artLoad())
		b.Logf("\n| backend | actor | kind | p50 / p95 / p99 ms | max ms | empty |\n|---|---|---|---|---|---|\n%s", strings.Join(table, "\n"))
	}
	b.Run("sqlite", func(b *testing.B) { run(b, "sqlite", artOpenSQLite(b, n)) })
	if os.Getenv(testenv.MySQLEnv) != "" {
		b.Run("mariadb", func(b *testing.B) { run(b, "mariadb", artOpenMySQL(b, n)) })
	}
}

func artMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func artLoad() string {
	bs, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(bs))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func artReuse() bool { return os.Getenv("LOOPDESK_BENCH_REUSE") == "1" }

func artOpenSQLite(b *testing.B, n int) *database.DB {
	if !artReuse() {
		return testenv.SQLite(b)
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("loopdesk-bench-articles-%d", n))
	db, err := database.Open(context.Background(), "", dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	return db
}

func artOpenMySQL(b *testing.B, n int) *database.DB {
	if !artReuse() {
		return testenv.MySQL(b)
	}
	raw := os.Getenv(testenv.MySQLEnv)
	admin, err := database.Open(context.Background(), raw, "")
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("loopdesk_bench_articles_%d", n)
	err = admin.Exec("CREATE DATABASE IF NOT EXISTS " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error
	admin.Close()
	if err != nil {
		b.Fatal(err)
	}
	u := strings.SplitN(raw, "?", 2)
	base := u[0][:strings.LastIndex(u[0], "/")+1] + name
	if len(u) == 2 {
		base += "?" + u[1]
	}
	db, err := database.Open(context.Background(), base, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	return db
}

type artUserSet struct{ admin, editor, editor2, agent accounts.User }

func artUsers(b *testing.B, acc *accounts.Service) artUserSet {
	ctx := context.Background()
	get := func(email string, role accounts.Role) accounts.User {
		u, err := acc.CreateUser(ctx, accounts.NewUser{Email: email, Name: email, Roles: []accounts.Role{role}})
		if err == nil {
			return u
		}
		// Reused database: the user exists.
		if u, err2 := acc.GetUserByEmail(ctx, email); err2 == nil {
			return u
		}
		b.Fatalf("user %s: %v", email, err)
		return accounts.User{}
	}
	return artUserSet{
		admin:   get("kb-admin@example.com", accounts.RoleAdmin),
		editor:  get("kb-editor@example.com", accounts.RoleKnowledgeEditor),
		editor2: get("kb-editor2@example.com", accounts.RoleKnowledgeEditor),
		agent:   get("kb-agent@example.com", accounts.RoleAgent),
	}
}

// ---- article text ----

type artContent struct {
	title, summary, body, category, language, audience string
	tags                                               []string
}

type artGen struct {
	intents   []string            // English intents, BANKING77 then CLINC150
	questions map[string][]string // intent -> questions (train splits)
	domain    map[string]string   // intent -> domain (banking77 for BANKING77)
	heldOut   []string            // test-split questions, for pasted paragraphs
}

func newArticleGen() (*artGen, error) {
	g := &artGen{questions: map[string][]string{}, domain: map[string]string{}}
	dir, ok := datasets.Dir()
	if !ok {
		return nil, fmt.Errorf("BANKING77 and CLINC150 (../shared/data or $LOOPDESK_DATA_SETS) are needed")
	}
	add := func(text, intent, domain string) {
		if _, ok := g.questions[intent]; !ok {
			g.intents = append(g.intents, intent)
			g.domain[intent] = domain
		}
		g.questions[intent] = append(g.questions[intent], strings.TrimSpace(text))
	}
	train, err := datasets.Banking77(dir, "train")
	if err != nil {
		return nil, err
	}
	for _, l := range train {
		add(l.Text, l.Intent, "banking")
	}
	test, err := datasets.Banking77(dir, "test")
	if err != nil {
		return nil, err
	}
	for _, l := range test {
		g.heldOut = append(g.heldOut, l.Text)
	}
	clinc, err := datasets.CLINC150(dir)
	if err != nil {
		return nil, err
	}
	bs, err := os.ReadFile(filepath.Join(dir, "clinc150", "domains.json"))
	if err != nil {
		return nil, err
	}
	var domains map[string][]string
	if err := json.Unmarshal(bs, &domains); err != nil {
		return nil, err
	}
	domainOf := map[string]string{}
	for d, is := range domains {
		for _, i := range is {
			domainOf[i] = d
		}
	}
	for _, split := range []string{"train", "val"} {
		for _, l := range clinc[split] {
			add(l.Text, l.Intent, domainOf[l.Intent])
		}
	}
	for _, l := range clinc["test"] {
		g.heldOut = append(g.heldOut, l.Text)
	}
	return g, nil
}

// Answer sentences: what an FAQ says besides restating the question.
var artAnswers = []string{
	"Open the app, go to Settings and choose %s; the change takes effect at once.",
	"If the problem with %s continues after 24 hours, contact support with your reference number.",
	"You can check the status of %s in the Activity tab of the mobile app or on the website.",
	"Most questions about %s are answered within one business day by our support team.",
	"For security reasons we may ask you to verify your identity before we help with %s.",
	"Fees for %s are listed on the pricing page and shown before you confirm.",
	"Make sure the app is updated to the latest version, then try %s again.",
	"Agents can escalate %s to the specialist team when the standard steps do not help.",
}

func artSentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	s = string(r)
	if last := r[len(r)-1]; last != '?' && last != '.' && last != '!' {
		s += "?"
	}
	return s
}

func (g *artGen) english(r *rand.Rand) artContent {
	intent := g.intents[r.IntN(len(g.intents))]
	qs := g.questions[intent]
	pick := func() string { return artSentence(qs[r.IntN(len(qs))]) }
	topic := strings.ReplaceAll(intent, "_", " ")
	answer := func() string { return fmt.Sprintf(artAnswers[r.IntN(len(artAnswers))], topic) }
	title := pick()
	if len([]rune(title)) > 190 {
		title = string([]rune(title)[:190])
	}
	var body []string
	for i := 4 + r.IntN(6); i > 0; i-- {
		body = append(body, pick())
	}
	paras := []string{strings.Join(body[:len(body)/2], " "), answer(), strings.Join(body[len(body)/2:], " ")}
	if r.IntN(2) == 0 {
		paras = append(paras, answer())
	}
	return artContent{title: title, summary: pick() + " " + answer(), body: strings.Join(paras, "\n\n"),
		category: g.domain[intent], language: knowledge.LanguageEn, tags: []string{intent, g.domain[intent]}}
}

// Chinese and mixed customer-service text: several phrasings per issue,
// with product names, error codes and amounts filled in.
var artZhIssues = []struct {
	tag       string
	phrasings []string
	answers   []string
}{
	{"refund", []string{"退款一直没有到账，已经等了{n}天", "申请退款后多久能到账？", "我的退款申请被拒绝了，为什么", "退款到哪个账户？原路退回吗", "{p}退货以后退款什么时候到"},
		[]string{"退款审核通过后，一般{n}个工作日内原路退回。", "如超过{n}天仍未到账，请提供订单号联系客服。"}},
	{"shipping", []string{"订单显示已发货但是物流{n}天没更新", "发货太慢了，什么时候能收到", "{p}什么时候发货？", "快递显示已签收但我没收到", "可以修改收货地址吗，订单还没发货"},
		[]string{"付款后48小时内发货，节假日顺延。", "物流信息一般在发货后24小时内更新，可在订单详情查看快递单号。"}},
	{"boot", []string{"我的{p}无法开机，屏幕显示 error {e}", "手机开不了机，提示{e}错误", "{p}充电后还是无法开机", "{p}开机卡在标志界面", "升级系统后{p}黑屏无法开机"},
		[]string{"请长按电源键{n}秒强制重启。", "如仍无法开机，请携带购买凭证到售后网点检测。"}},
	{"login", []string{"登录时提示密码错误，但是密码是对的", "{p} App 登录失败，显示{e}", "收不到登录验证码", "账号被锁定无法登录", "换了手机以后登录不了"},
		[]string{"连续输错密码{n}次后账号会锁定30分钟。", "请确认手机号正确，验证码5分钟内有效。"}},
	{"pin", []string{"忘记PIN码怎么重置", "PIN码输错{n}次被锁了", "银行卡PIN码怎么修改", "IC卡的PIN码和密码一样吗"},
		[]string{"在App的卡片管理中可以重置PIN码。", "PIN码锁定后24小时自动解锁，也可以到柜台办理。"}},
	{"card_frozen", []string{"银行卡被冻结了，无法转账", "信用卡突然被冻结怎么办", "IC卡消磁了不能刷", "卡片被吞了怎么办"},
		[]string{"冻结原因可在App消息中心查看。", "请携带身份证到任一网点办理解冻。"}},
	{"crash", []string{"App 闪退，每次打开 {p} 版就崩溃", "更新以后App打不开", "{p} 上的App一直转圈加载不出来", "App 提示网络错误 {e}"},
		[]string{"请先卸载后重新安装最新版本。", "清除缓存后重启手机，一般可以解决闪退问题。"}},
	{"invoice", []string{"发票抬头填错了，可以重新开吗", "怎么申请电子发票", "发票什么时候能开出来", "公司报销需要增值税专用发票"},
		[]string{"订单完成后可在订单详情申请电子发票。", "发票开具后{n}个工作日内发送到邮箱。"}},
	{"membership", []string{"会员自动续费了，我要取消并退款", "怎么关闭自动续费", "会员到期了积分还能用吗", "开通会员后没有生效"},
		[]string{"在我的-会员管理中可以关闭自动续费。", "自动续费扣款后{n}天内未使用可申请退款。"}},
	{"payment", []string{"付款失败，提示{e}", "扣款了但是订单显示未支付", "重复扣款了两次", "支付宝付款一直失败", "信用卡支付被拒绝"},
		[]string{"重复扣款会在{n}个工作日内自动退回。", "请检查银行卡余额和支付限额。"}},
	{"transfer", []string{"转账显示成功但对方没收到", "跨行转账多久到账", "转账手续费怎么算", "转账被退回了是什么原因"},
		[]string{"跨行转账一般{n}小时内到账。", "转账失败的款项会原路退回到付款账户。"}},
	{"battery", []string{"{p}电池掉电很快", "{p}充电很慢，充不满", "电池鼓包了可以免费换吗", "{p}充电时发烫"},
		[]string{"请使用原装充电器充电。", "电池健康度低于80%可申请更换。"}},
	{"account", []string{"怎么注销账户", "账户余额怎么提现", "修改绑定的手机号", "实名认证一直审核不通过"},
		[]string{"账户注销前请先提现全部余额。", "实名认证一般{n}个工作日内完成审核。"}},
	{"wifi", []string{"{p}连不上Wi-Fi", "蓝牙耳机连接后没有声音", "网络很慢，视频一直缓冲", "路由器重启后还是没有网络"},
		[]string{"请忘记该网络后重新连接。", "可以尝试重置网络设置。"}},
}

var (
	artZhProducts = []string{"iPhone 15", "iPhone 14", "华为 Mate 60", "小米 14", "Android", "iPad", "MacBook", "安卓手机", "Galaxy S24", "Apple Watch"}
	artZhErrors   = []string{"E52", "E404", "E1001", "502", "0x80070005", "ERR_NETWORK", "E07"}
)

func artFill(r *rand.Rand, s string) string {
	s = strings.ReplaceAll(s, "{p}", artZhProducts[r.IntN(len(artZhProducts))])
	s = strings.ReplaceAll(s, "{e}", artZhErrors[r.IntN(len(artZhErrors))])
	return strings.ReplaceAll(s, "{n}", fmt.Sprint(2+r.IntN(9)))
}

func (g *artGen) chinese(r *rand.Rand) artContent {
	is := artZhIssues[r.IntN(len(artZhIssues))]
	ph := func() string { return artFill(r, is.phrasings[r.IntN(len(is.phrasings))]) }
	an := func() string { return artFill(r, is.answers[r.IntN(len(is.answers))]) }
	var body []string
	for i := 3 + r.IntN(5); i > 0; i-- {
		body = append(body, ph()+"。")
	}
	body = append(body, "\n\n"+an(), an())
	if r.IntN(3) == 0 {
		// A line in English, as mixed-language teams write.
		intent := g.intents[r.IntN(len(g.intents))]
		qs := g.questions[intent]
		body = append(body, "\n\n"+artSentence(qs[r.IntN(len(qs))]))
	}
	return artContent{title: ph(), summary: ph() + "。" + an(), body: strings.Join(body, ""),
		category: "售后", language: knowledge.LanguageZh, tags: []string{is.tag, "中文"}}
}

func (g *artGen) article(i int) artContent {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	var c artContent
	if r.IntN(5) == 0 {
		c = g.chinese(r)
	} else {
		c = g.english(r)
	}
	c.audience = knowledge.AudiencePublic
	if r.IntN(5) == 0 {
		c.audience = knowledge.AudienceInternal
	}
	return c
}

// fields are the search fields knowledge indexes for an article (title 3,
// summary 2, tags 2, body as plain text 1).
func (c artContent) fields() []search.Field {
	return []search.Field{{Text: c.title, Weight: 3}, {Text: c.summary, Weight: 2},
		{Text: strings.Join(c.tags, " "), Weight: 2}, {Text: knowledge.PlainText(c.body), Weight: 1}}
}

// ---- seeding ----

type artPosting struct {
	term    string
	id      int64
	tf, len int
}

// artTerms is what search.Index writes for one document: weighted term
// frequencies and the weighted length.
func artTerms(fs []search.Field) (map[string]int, int) {
	tf := map[string]int{}
	length := 0
	for _, f := range fs {
		w := max(f.Weight, 1)
		for _, t := range search.Tokenize(f.Text) {
			tf[t] += w
			length += w
		}
	}
	return tf, length
}

// artViaService is how many articles go through knowledge.Service to check
// the bulk rows against.
const artViaService = 12

func artSeed(b *testing.B, db *database.DB, kb *knowledge.Service, tk *tickets.Service, u artUserSet, g *artGen, n int) bool {
	ctx := context.Background()
	var have int64
	db.Raw("SELECT COUNT(*) FROM articles WHERE published_revision_id IS NOT NULL").Scan(&have)
	if have == int64(n) {
		return false
	}
	if have != 0 {
		b.Fatalf("the reused database holds %d articles, not %d: drop it", have, n)
	}
	// The first articles through the service: create, submit, approve.
	for i := 1; i <= artViaService; i++ {
		c := g.article(i)
		a, err := kb.Create(ctx, u.editor, knowledge.NewArticle{Title: c.title, Summary: c.summary, Body: c.body,
			Category: c.category, Tags: c.tags, Language: c.language, Audience: c.audience})
		if err != nil {
			b.Fatal(err)
		}
		if a.ID != int64(i) {
			b.Fatalf("article %d got id %d", i, a.ID)
		}
		if _, err := kb.Fire(ctx, u.editor, a.ID, 0, knowledge.Transition{Event: "submit"}); err != nil {
			b.Fatal(err)
		}
		if _, err := kb.Fire(ctx, u.editor2, a.ID, 0, knowledge.Transition{Event: "approve"}); err != nil {
			b.Fatal(err)
		}
	}
	for _, docType := range []string{knowledge.DocType, knowledge.DocTypePublished} {
		var rows []struct {
			Term          string
			DocID, TF, DL int64
		}
		db.Raw("SELECT term, doc_id, tf, doc_len AS dl FROM search_postings WHERE doc_type = ? ORDER BY doc_id, term", docType).Scan(&rows)
		var want []string
		for i := 1; i <= artViaService; i++ {
			tf, l := artTerms(g.article(i).fields())
			for t, f := range tf {
				want = append(want, fmt.Sprintf("%d %s %d %d", i, t, f, l))
			}
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%d %s %d %d", r.DocID, r.Term, r.TF, r.DL))
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			b.Fatalf("%s: the bulk postings differ from what knowledge indexes (%d vs %d rows)", docType, len(want), len(got))
		}
	}

	def, err := tk.GetWorkflow(ctx, tickets.ArticleWorkflow, 0)
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB.DB()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Articles and revisions, 500 a statement.
	const rowsPer = 500
	var postings []artPosting
	var docs [][2]int64 // id, length
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var aSQL, rSQL strings.Builder
	var aArgs, rArgs []any
	flush := func() {
		if len(aArgs) == 0 {
			return
		}
		if _, err := tx.Exec(aSQL.String(), aArgs...); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(rSQL.String(), rArgs...); err != nil {
			b.Fatal(err)
		}
		aSQL.Reset()
		rSQL.Reset()
		aArgs, rArgs = aArgs[:0], rArgs[:0]
	}
	for i := artViaService + 1; i <= n; i++ {
		c := g.article(i)
		at := now.Add(time.Duration(i-n) * time.Minute)
		if len(aArgs) == 0 {
			aSQL.WriteString("INSERT INTO articles (id, title, summary, body, category, tags, language, audience, owner_id, status, status_category," +
				" workflow_version, state_entered_at, current_revision_id, revision_number, published_revision_id, published_at, version," +
				" reuse_count, helpful_count, not_helpful_count, flagged_outdated_reason, created_at, updated_at) VALUES ")
			rSQL.WriteString("INSERT INTO article_revisions (id, article_id, number, title, summary, body, category, tags, language, audience," +
				" author_id, note, created_at) VALUES ")
		} else {
			aSQL.WriteByte(',')
			rSQL.WriteByte(',')
		}
		aSQL.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
		rSQL.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
		tags, _ := json.Marshal(c.tags)
		id := int64(i)
		aArgs = append(aArgs, id, c.title, c.summary, c.body, c.category, string(tags), c.language, c.audience, u.editor.ID,
			"published", "resolved", def.Version, at, id, 1, id, at, 3, 0, 0, 0, "", at, at)
		rArgs = append(rArgs, id, id, 1, c.title, c.summary, c.body, c.category, string(tags), c.language, c.audience,
			u.editor.ID, "", at)
		if len(aArgs) >= rowsPer*24 {
			flush()
		}
		tf, l := artTerms(c.fields())
		docs = append(docs, [2]int64{id, int64(l)})
		for t, f := range tf {
			postings = append(postings, artPosting{t, id, f, l})
		}
	}
	flush()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d articles written, %d postings per document type", db.Dialect, n, len(postings))
	// Postings in primary-key order (doc_type, term, doc_id): appends.
	sort.Slice(postings, func(i, j int) bool {
		if postings[i].term != postings[j].term {
			return postings[i].term < postings[j].term
		}
		return postings[i].id < postings[j].id
	})
	for _, docType := range []string{knowledge.DocType, knowledge.DocTypePublished} {
		artInsert(b, sqlDB, "INSERT INTO search_docs (doc_type, doc_id, length) VALUES ", 3, len(docs), func(i int) []any {
			return []any{docType, docs[i][0], docs[i][1]}
		})
		artInsert(b, sqlDB, "INSERT INTO search_postings (doc_type, term, doc_id, tf, doc_len) VALUES ", 5, len(postings), func(i int) []any {
			p := postings[i]
			return []any{docType, p.term, p.id, p.tf, p.len}
		})
	}
	if db.Dialect == database.MySQL {
		// MariaDB's persistent statistics would catch up by themselves.
		db.Exec("ANALYZE TABLE search_postings, search_docs, articles, article_revisions")
	}
	return true
}

// artInsert writes rows with multi-row INSERTs, 1000 rows a statement,
// 50 statements a transaction.
func artInsert(b *testing.B, db *sql.DB, prefix string, cols, rows int, row func(i int) []any) {
	ctx := context.Background()
	const per = 1000
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	var tx *sql.Tx
	var err error
	for start, stmt := 0, 0; start < rows; start, stmt = start+per, stmt+1 {
		if stmt%50 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		end := min(start+per, rows)
		var sb strings.Builder
		sb.WriteString(prefix)
		args := make([]any, 0, cols*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteString(ph)
			args = append(args, row(i)...)
		}
		if _, err := tx.Exec(sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// ---- queries ----

type artKind struct {
	name string
	qs   []string
}

func (g *artGen) queries(perKind int) []artKind {
	r := rand.New(rand.NewPCG(42, 42))
	cycle := func(list []string) []string {
		out := make([]string, perKind)
		for i := range out {
			out[i] = list[i%len(list)]
		}
		return out
	}
	// Rare words: words of the corpus in at most 30 of the 100k articles,
	// found by counting a sample of the articles.
	df := map[string]int{}
	for i := 1; i <= 20000; i++ {
		tf, _ := artTerms(g.article(i * 5).fields())
		for t := range tf {
			df[t]++
		}
	}
	var rare []string
	for t, c := range df {
		if c <= 6 && len(t) >= 5 && t[0] >= 'a' && t[0] <= 'z' {
			rare = append(rare, t)
		}
	}
	sort.Strings(rare)
	r.Shuffle(len(rare), func(i, j int) { rare[i], rare[j] = rare[j], rare[i] })
	var long []string
	for i := 0; i < perKind; i++ {
		var parts []string
		if i%4 == 3 {
			for j := 3 + r.IntN(3); j > 0; j-- {
				parts = append(parts, artFill(r, artZhIssues[r.IntN(len(artZhIssues))].phrasings[0])+"，")
			}
			parts = append(parts, "请尽快处理，谢谢！")
		} else {
			parts = append(parts, "Hello,")
			for j := 5 + r.IntN(4); j > 0; j-- {
				parts = append(parts, artSentence(g.heldOut[r.IntN(len(g.heldOut))]))
			}
			parts = append(parts, "Thanks for your help.")
		}
		long = append(long, strings.Join(parts, " "))
	}
	return []artKind{
		{"common", cycle([]string{"card", "refund", "account", "transfer", "money", "payment", "bank", "balance", "help", "order"})},
		{"very-common", cycle([]string{"how", "how can i", "what can you do", "can you help me", "why", "how do i get", "what", "need"})},
		{"two-word", cycle([]string{"card arrived", "exchange rate", "top up", "declined payment", "reset password", "lost card",
			"book flight", "credit score", "cash withdrawal", "pending transfer", "change pin", "bill due"})},
		{"rare", cycle(rare)},
		{"two-letter", cycle([]string{"PIN", "IC", "ID", "UK", "EU", "US", "tv", "pm"})},
		{"chinese", cycle([]string{"退款", "发货", "无法开机", "登录失败", "密码", "银行卡冻结", "发票", "物流", "自动续费", "转账到账"})},
		{"mixed", cycle([]string{"iPhone 无法开机", "App 闪退", "PIN码 重置", "E52 错误", "Android 登录失败", "IC卡 消磁", "iPhone 15 充电", "App 退款"})},
		{"long-paste", long},
		// The same paragraphs again: their words' statistics are cached
		// now, as most words' are in a running system.
		{"long-paste-again", long},
	}
}

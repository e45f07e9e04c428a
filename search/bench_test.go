package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// Synthetic support vocabulary: real words first (they take the head of the
// Zipf distribution), then generated ones for a long tail.
var benchEnglish = strings.Fields(`account password reset login error refund order payment card
delivery shipping app update crash email phone iphone android screen battery charge
cancel subscription invoice bill transfer bank pin code verify otp network wifi slow
install upload download file photo sync backup restore price discount coupon return
exchange broken damaged missing package tracking address change name profile delete
open close locked blocked support agent ticket issue problem help urgent again still
cannot failed failing timeout server offline online mobile desktop browser chrome
safari windows mac ios17 android14 e52 e404 v2 v3 ic sim usb hdmi bluetooth printer`)

var benchChinese = strings.Fields(`退款 发货 登录 密码 支付 订单 账户 银行 转账 验证 手机 屏幕 电池 充电 无法 开机
失败 错误 取消 订阅 发票 账单 物流 快递 地址 修改 删除 更新 安装 下载 上传 同步 备份 恢复
价格 优惠 退货 换货 损坏 丢失 包裹 查询 客服 投诉 紧急 网络 缓慢 超时 服务 离线 蓝牙 打印
会员 积分 余额 提现 充值 绑定 解绑 冻结 解冻 审核 延迟 重复 扣款 到账 信用 额度 还款 逾期`)

const benchHan = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"

func benchVocab(r *rand.Rand) []string {
	var v []string
	// Interleave so both scripts sit at the head of the distribution.
	for i := 0; i < max(len(benchEnglish), len(benchChinese)); i++ {
		if i < len(benchEnglish) {
			v = append(v, benchEnglish[i])
		}
		if i < len(benchChinese) {
			v = append(v, benchChinese[i])
		}
	}
	han := []rune(benchHan)
	seen := map[string]bool{}
	for _, w := range v {
		seen[w] = true
	}
	for len(v) < 6000 {
		var w string
		if len(v)%2 == 0 {
			w = fmt.Sprintf("%c%c%c%c", 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26))
			if r.IntN(4) == 0 {
				w += fmt.Sprint(r.IntN(100))
			}
		} else {
			w = string([]rune{han[r.IntN(len(han))], han[r.IntN(len(han))]})
		}
		if !seen[w] {
			seen[w] = true
			v = append(v, w)
		}
	}
	return v
}

func benchText(r *rand.Rand, z *rand.Zipf, vocab []string, words int) string {
	var sb strings.Builder
	prevHan := false
	for i := 0; i < words; i++ {
		w := vocab[z.Uint64()]
		isHan := w[0] >= 0x80
		// Chinese words run together as in real text (bigrams across word
		// boundaries included); a space or a comma otherwise.
		if i > 0 && !(isHan && prevHan && r.IntN(3) > 0) {
			if r.IntN(5) == 0 {
				sb.WriteString(", ")
			} else {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(w)
		prevHan = isHan
	}
	return sb.String()
}

func loadBench(b *testing.B, db *database.DB, n int) (vocab []string, z *rand.Zipf) {
	r := rand.New(rand.NewPCG(1, 2))
	vocab = benchVocab(r)
	z = rand.NewZipf(r, 1.1, 3, uint64(len(vocab)-1))
	ix := NewIndex(db)
	ctx := context.Background()
	start := time.Now()
	const perTx = 1000
	for base := 0; base < n; base += perTx {
		docs := make([]Doc, 0, perTx)
		for i := base; i < min(base+perTx, n); i++ {
			docs = append(docs, Doc{ID: int64(i + 1), Fields: []Field{
				{Text: benchText(r, z, vocab, 3+r.IntN(4)), Weight: 3},
				{Text: benchText(r, z, vocab, 6+r.IntN(14)), Weight: 1},
			}})
		}
		tx := db.Begin()
		if err := ix.PutMany(ctx, tx, "bench", docs); err != nil {
			tx.Rollback()
			b.Fatal(err)
		}
		if err := tx.Commit().Error; err != nil {
			b.Fatal(err)
		}
	}
	if db.Dialect == database.SQLite {
		// What a deployment would run after a bulk reindex.
		db.Exec("ANALYZE")
	} else {
		db.Exec("ANALYZE TABLE search_postings, search_docs")
	}
	var postings int64
	db.Raw("SELECT COUNT(*) FROM search_postings").Scan(&postings)
	b.Logf("%s: indexed %d docs (%d postings) in %s", db.Dialect, n, postings, time.Since(start).Round(time.Millisecond))
	return vocab, z
}

// BenchmarkMatchAll100k indexes 100k short synthetic tickets (mixed Chinese
// and English, Zipf word choice) and times MatchAll (as a keyset page of 50
// and as a COUNT) and Search for 1-3 term queries whose words follow the same
// Zipf law, so common words are queried often (the head words sit in 40-65 %
// of documents: a harsh case). Frequency caches are disabled: every query
// pays its frequency lookups. Run (with LOOPDESK_TEST_MYSQL_URL for MariaDB):
//
//	go test -run '^$' -bench MatchAll100k -benchtime 200x ./search/
func BenchmarkMatchAll100k(b *testing.B) {
	open := map[database.Dialect]func(testing.TB) *database.DB{
		database.SQLite: testenv.SQLite,
		database.MySQL:  testenv.MySQL,
	}
	for _, d := range []database.Dialect{database.SQLite, database.MySQL} {
		b.Run(string(d), func(b *testing.B) {
			db := open[d](b)
			vocab, z := loadBench(b, db, 100_000)
			ix := NewIndex(db)
			ix.statsTTL = 0
			ctx := context.Background()
			for terms := 1; terms <= 3; terms++ {
				queries := make([]string, 200)
				for i := range queries {
					ws := make([]string, terms)
					for j := range ws {
						ws[j] = vocab[z.Uint64()]
					}
					queries[i] = strings.Join(ws, " ")
				}
				kinds := []struct {
					name string
					run  func(q string) error
				}{
					{"matchall-page50", func(q string) error {
						sub, ok := ix.MatchAll(db.DB, "bench", q)
						if !ok {
							return nil
						}
						var ids []int64
						return db.Raw("SELECT doc_id FROM search_docs WHERE doc_type = ? AND doc_id IN (?) ORDER BY doc_id DESC LIMIT 50", "bench", sub).Scan(&ids).Error
					}},
					{"matchall-count", func(q string) error {
						sub, ok := ix.MatchAll(db.DB, "bench", q)
						if !ok {
							return nil
						}
						var n int64
						return db.Raw("SELECT COUNT(*) FROM (?) m", sub).Scan(&n).Error
					}},
					{"search-top20", func(q string) error {
						_, err := ix.Search(ctx, "bench", q, 20, nil)
						return err
					}},
				}
				for _, k := range kinds {
					b.Run(fmt.Sprintf("%s/%dterm", k.name, terms), func(b *testing.B) {
						var lat []time.Duration
						i := 0
						for b.Loop() {
							q := queries[i%len(queries)]
							i++
							t0 := time.Now()
							if err := k.run(q); err != nil {
								b.Fatalf("%q: %v", q, err)
							}
							lat = append(lat, time.Since(t0))
						}
						slices.Sort(lat)
						pct := func(p float64) float64 {
							return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
						}
						b.ReportMetric(pct(0.50), "p50-ms")
						b.ReportMetric(pct(0.99), "p99-ms")
						b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
					})
				}
			}
		})
	}
}

// BenchmarkSnippet is one search hit's snippet of a 100-word body (the
// text knowledge.PlainText gives for knowledge's BenchmarkPlainText body).
//
//	go test ./search -run '^$' -bench Snippet -benchmem
func BenchmarkSnippet(b *testing.B) {
	body := strings.Repeat("How long does it take for my new card to arrive? I ordered it last week and it has not come yet. ", 8) +
		"\n\nAnswer: cards arrive in 3-5 working days; if not, contact us."
	for b.Loop() {
		if !strings.Contains(Snippet(body, "card arrive", 160), "«") {
			b.Fatal("no match highlighted")
		}
	}
}

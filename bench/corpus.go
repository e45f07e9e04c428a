package bench

import (
	"github.com/loopdesk/loopdesk/internal/datasets"
	"math/rand/v2"
)

// chineseIssues are realistic Chinese and mixed-script customer messages, a
// few phrasings per issue, so ticket search is measured on both scripts.
var chineseIssues = []string{
	"退款一直没有到账，已经等了五天",
	"申请退款后多久能到账？",
	"订单显示已发货但是物流三天没更新",
	"发货太慢了，什么时候能收到",
	"我的iPhone 15无法开机，屏幕显示 error E52",
	"手机开不了机，提示E52错误",
	"登录时提示密码错误，但是密码是对的",
	"忘记PIN码怎么重置",
	"银行卡被冻结了，无法转账",
	"App 闪退，每次打开 Android 版就崩溃",
	"发票抬头填错了，可以重新开吗",
	"会员自动续费了，我要取消并退款",
}

// Corpus returns ticket subjects: BANKING77 questions when the shared data
// set is present (../shared/data, never copied into the repo) and the
// Chinese fixtures, shuffled deterministically.
func Corpus() ([]string, error) {
	out := append([]string(nil), chineseIssues...)
	if dir, ok := datasets.Dir(); ok {
		ls, err := datasets.Banking77(dir, "train")
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			out = append(out, l.Text)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// Subject shortens a corpus line to a ticket subject (at most 120 runes);
// the full line still goes into descriptions.
func Subject(s string) string {
	r := []rune(s)
	if len(r) > 120 {
		return string(r[:120])
	}
	return s
}

package knowledge_test

import (
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/knowledge"
)

func TestMaskPII(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mail me at john.doe+x@example.co.uk please", "mail me at *** please"},
		{"我的邮箱是 张三zhang@qq.com", "我的邮箱是 张三***"},
		{"电话13812345678，谢谢", "电话***，谢谢"},
		{"call +86 138 1234 5678 now", "call *** now"},
		{"手机：138-1234-5678", "手机：***"},
		{"call me on +44 20 7946 0958", "call me on ***"},
		{"US: (555) 123-4567 or 555-123-4567", "US: *** or ***"},
		{"card 4111 1111 1111 1111 was charged", "card *** was charged"},
		{"card 4111-1111-1111-1111", "card ***"},
		{"卡号6222021234567890123被扣款", "卡号***被扣款"},
		{"身份证 11010519491231002X", "身份证 ***"},
		{"order #12345 not shipped", "order #*** not shipped"},
		{"Order number: A2024-0099 late", "Order number: *** late"},
		{"订单号202403150001退款", "订单号***退款"},
		{"订单 12345 没发货", "订单 *** 没发货"},
		{"account 12345678901", "account ***"},
		// What is not personal data stays.
		{"error 0x80070005 on Windows 10", "error 0x80070005 on Windows 10"},
		{"iPhone 15 with iOS 17.4, 3 days ago, 1200 yuan", "iPhone 15 with iOS 17.4, 3 days ago, 1200 yuan"},
		{"refund of 99.50 on 2024-03-15", "refund of 99.50 on 2024-03-15"},
		{"", ""},
	} {
		if got := knowledge.MaskPII(tc.in); got != tc.want {
			t.Errorf("MaskPII(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanQuestion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hi, refund not received", "Refund not received"},
		{"Hello there! Cannot log in to the app. Thanks!", "Cannot log in to the app"},
		{"hey team, where is my refund? thank you so much", "Where is my refund?"},
		{"Good morning, my card was declined. Many thanks", "My card was declined"},
		{"Refund for order #12345678 not received", "Refund for order not received"},
		{"Order 55512 has not arrived, thx", "Order has not arrived"},
		{"您好，退款还没到账", "退款还没到账"},
		{"你好，请问退款什么时候到账？谢谢！", "退款什么时候到账？"},
		{"在吗？订单号202403150001的退款还没到", "订单的退款还没到"},
		{"麻烦您了，APP登录失败，谢谢您", "APP登录失败"},
		{"亲，发票怎么开？", "发票怎么开？"},
		// Words that merely start like a greeting stay.
		{"History page is empty", "History page is empty"},
		{"Hiring status unknown", "Hiring status unknown"},
		{"Property tax question", "Property tax question"},
		{"My email john@example.com cannot receive codes", "My email cannot receive codes"},
		{"  Hi  ", ""},
	} {
		if got := knowledge.CleanQuestion(tc.in); got != tc.want {
			t.Errorf("CleanQuestion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if q := knowledge.CleanQuestion("hi, call me 13812345678 about card 4111111111111111"); strings.ContainsAny(q, "0123456789") {
		t.Errorf("digits left: %q", q)
	}
}

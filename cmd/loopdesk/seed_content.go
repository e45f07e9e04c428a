package main

import (
	"context"
	"fmt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

type demoArticle struct {
	title, summary, body, category, lang string
	tags                                 []string
}

var demoArticles = []demoArticle{
	{"My new card has not arrived", "How long delivery takes and what to do after 10 working days.",
		"Cards usually arrive within **5 to 7 working days**.\n\n1. Check the delivery address in *Settings > Profile*.\n2. After 10 working days, freeze the card in the app and order a replacement: it is free.\n",
		"cards", "en", []string{"card", "delivery"}},
	{"When will I get my refund?", "Refunds reach the original payment method in 3-5 working days.",
		"Once a refund is approved it takes **3 to 5 working days** to reach the original payment method. Bank transfers can take up to 7 days. The refund appears with the merchant's name.\n",
		"payments", "en", []string{"refund"}},
	{"退款多久到账？", "退款审核通过后 3-5 个工作日退回原支付方式。",
		"退款审核通过后，一般 **3-5 个工作日** 退回原支付方式；银行卡可能需要 7 个工作日。\n\n如果超过 7 个工作日仍未到账，请提供订单号联系客服。\n",
		"payments", "zh", []string{"退款"}},
	{"如何重置密码 / How to reset your password", "在登录页点击“忘记密码”，按邮件中的链接设置新密码。",
		"1. 在登录页点击 **忘记密码**。\n2. 输入注册邮箱，打开邮件中的链接（30 分钟内有效）。\n3. 设置新密码。\n\nOn the sign-in page choose **Forgot password** and follow the link in the email.\n",
		"account", "zh", []string{"password", "密码"}},
}

var demoTickets = []struct{ subject, description, priority string }{
	{"Card still not here after two weeks", "I ordered a new card on the 3rd and it has not arrived. Can you check?", "P3"},
	{"退款还没到账", "上周申请的退款还没有到账，订单号 20261101-88。", "P2"},
	{"忘记密码，无法登录 app", "I forgot my password and the reset email never came.", "P3"},
	{"Charged twice for one order", "My statement shows the same payment twice. Please refund one.", "P1"},
}

// seedDemoContent publishes a few English and Chinese articles (written by
// the demo agent, approved by the demo editor) and opens demo tickets from
// the demo customer, one of them resolved with an article. It does nothing
// when articles already exist.
func seedDemoContent(ctx context.Context, acc *accounts.Service, tk *tickets.Service, kb *knowledge.Service) error {
	agent, err := acc.GetUserByEmail(ctx, "agent@demo.loopdesk")
	if err != nil {
		return fmt.Errorf("demo agent: %w", err)
	}
	editor, err := acc.GetUserByEmail(ctx, "editor@demo.loopdesk")
	if err != nil {
		return fmt.Errorf("demo editor: %w", err)
	}
	customer, err := acc.GetUserByEmail(ctx, "customer@demo.loopdesk")
	if err != nil {
		return fmt.Errorf("demo customer: %w", err)
	}
	page, err := kb.List(ctx, editor, knowledge.Filter{}, "", 1)
	if err != nil {
		return err
	}
	if len(page.Items) > 0 {
		return nil
	}
	var first int64
	for _, d := range demoArticles {
		a, err := kb.Create(ctx, agent, knowledge.NewArticle{Title: d.title, Summary: d.summary, Body: d.body,
			Category: d.category, Tags: d.tags, Language: d.lang, Audience: "public"})
		if err != nil {
			return fmt.Errorf("demo article %q: %w", d.title, err)
		}
		if a, err = kb.Fire(ctx, agent, a.ID, 0, knowledge.Transition{Event: "submit"}); err != nil {
			return fmt.Errorf("submit demo article: %w", err)
		}
		if _, err = kb.Fire(ctx, editor, a.ID, 0, knowledge.Transition{Event: "approve"}); err != nil {
			return fmt.Errorf("approve demo article: %w", err)
		}
		if first == 0 {
			first = a.ID
		}
	}
	for i, d := range demoTickets {
		t, err := tk.Create(ctx, customer, tickets.NewTicket{Subject: d.subject, Description: d.description, Priority: d.priority, Channel: "web"})
		if err != nil {
			return fmt.Errorf("demo ticket: %w", err)
		}
		if i == 0 { // the card question, answered with the card article
			if _, err := tk.Fire(ctx, agent, t.ID, 0, tickets.Transition{Event: "resolve",
				Comment: "Your card is on its way; see the article for what to do if it is late.",
				Fields:  map[string]string{"resolution": "Replacement card ordered", "article_id": fmt.Sprint(first)}}); err != nil {
				return fmt.Errorf("resolve demo ticket: %w", err)
			}
		}
	}
	return nil
}

package knowledge_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/loopdesk/loopdesk/knowledge"
)

// executable reports what in rendered HTML could run script: script-like
// elements, event-handler attributes, and URL attributes whose scheme is
// not http(s)/mailto (data:image only on img src). It parses the HTML the
// way a browser tokenizes it rather than searching strings.
func executable(rendered string) []string {
	var found []string
	z := html.NewTokenizer(strings.NewReader(rendered))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return found
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed", "style", "link", "meta", "base", "form", "svg", "math", "frame", "frameset", "applet":
				found = append(found, "<"+tok.Data+">")
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") || key == "style" || key == "srcdoc" || key == "formaction" {
					found = append(found, tok.Data+" "+key+"="+a.Val)
					continue
				}
				if key != "href" && key != "src" && key != "action" && key != "xlink:href" {
					continue
				}
				v := strings.Map(func(r rune) rune {
					if r <= ' ' {
						return -1
					}
					return r
				}, strings.ToLower(a.Val))
				scheme, _, hasScheme := strings.Cut(v, ":")
				if !hasScheme || strings.ContainsAny(scheme, "/?#") {
					continue // relative
				}
				switch {
				case scheme == "http" || scheme == "https" || scheme == "mailto":
				case tok.Data == "img" && key == "src" && (strings.HasPrefix(v, "data:image/png;") || strings.HasPrefix(v, "data:image/jpeg;")):
				default:
					found = append(found, tok.Data+" "+key+"="+a.Val)
				}
			}
		}
	}
}

func TestMarkdownNothingExecutableSurvives(t *testing.T) {
	payloads := []string{
		`<script>alert(1)</script>`,
		"Before\n\n<script>\nalert(document.cookie)\n</script>\n\nAfter",
		`<img src=x onerror=alert(1)>`,
		`<iframe src="https://evil.example/"></iframe>`,
		`<a href="javascript:alert(1)">click</a>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		"[click](<java\tscript:alert(1)>)",
		`[click](&#106;avascript:alert(1))`,
		`[click](javascript&colon;alert(1))`,
		`[click](javascript\:alert(1))`,
		`[click](&#x6A;avascript&#x3A;alert(1))`,
		`[click](%20javascript:alert(1))`,
		`[click](vbscript:msgbox(1))`,
		`[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
		`![x](javascript:alert(1))`,
		`![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)`,
		`<javascript:alert(1)>`,
		`<vbscript:msgbox(1)>`,
		"[ref]\n\n[ref]: javascript:alert(1)",
		`[x](feed:javascript:alert(1))`,
		`<svg onload=alert(1)>`,
		`<details open ontoggle=alert(1)>`,
		`<style>body{background:url(javascript:alert(1))}</style>`,
		"```html\n<script>alert(1)</script>\n```",
		"`<img src=x onerror=alert(1)>`",
		`Text {onclick=alert(1)}`,
		"# Heading {#id onclick=alert(1)}",
		"| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
		`<a href="https://ok.example" onclick="alert(1)">x</a>`,
		`[x](https://ok.example "title\" onmouseover=\"alert(1)")`,
		`www.example.com/<script>alert(1)</script>`,
		"<!-- --><script>alert(1)</script>",
		`<math><mi xlink:href="javascript:alert(1)">x</mi></math>`,
	}
	for _, p := range payloads {
		out := knowledge.RenderHTML(p)
		if bad := executable(out); len(bad) > 0 {
			t.Errorf("payload %q rendered %q: executable %v", p, out, bad)
		}
	}
	// Safe things still render.
	ok := knowledge.RenderHTML("# 退款流程\n\nSee [the guide](https://help.example.com/refund?x=1) or <https://example.com>, mail [us](mailto:help@example.com).\n\n" +
		"![logo](https://example.com/logo.png) ![dot](data:image/png;base64,iVBORw0KGgo=)\n\n| 步骤 | 说明 |\n|---|---|\n| 1 | 申请退款 |\n\n- [x] done\n\n~~old~~ `code`")
	for _, want := range []string{`<h1>退款流程</h1>`, `href="https://help.example.com/refund?x=1"`, `href="https://example.com"`,
		`href="mailto:help@example.com"`, `src="https://example.com/logo.png"`, `src="data:image/png;base64,iVBORw0KGgo="`,
		`<table>`, `<td>申请退款</td>`, `<del>old</del>`, `<code>code</code>`, `checkbox`} {
		if !strings.Contains(ok, want) {
			t.Errorf("safe markdown lost %s:\n%s", want, ok)
		}
	}
	// An unsafe link keeps its text.
	if out := knowledge.RenderHTML(`[click me](javascript:alert(1))`); !strings.Contains(out, "click me") || strings.Contains(out, "<a") {
		t.Errorf("unsafe link: %s", out)
	}
}

func TestPlainText(t *testing.T) {
	got := knowledge.PlainText("# 如何申请退款\n\n请在**订单页**点击[申请退款](https://x.example/refund)。\n\n<div>raw html</div>\n\n```\ncode line\n```\n\n- one\n- two <b>bold</b>")
	for _, want := range []string{"如何申请退款", "请在订单页点击申请退款。", "code line", "one", "two", "bold"} {
		if !strings.Contains(got, want) {
			t.Errorf("plain text lacks %q: %q", want, got)
		}
	}
	for _, bad := range []string{"https", "**", "<div>", "raw html", "```", "<b>"} {
		if strings.Contains(got, bad) {
			t.Errorf("plain text has %q: %q", bad, got)
		}
	}
}

// snippetBody is an FAQ article body of about 100 words, as search hits
// carry: the cost of one hit's snippet (BenchmarkPlainText here,
// search.BenchmarkSnippet there) in docs/BENCHMARKS.md.
var snippetBody = strings.Repeat("How long does it take for my new card to arrive? I ordered it last week and it has not come yet. ", 8) +
	"\n\n**Answer:** cards arrive in 3-5 working days; if not, contact us."

// go test ./knowledge -run '^$' -bench PlainText -benchmem
func BenchmarkPlainText(b *testing.B) {
	for b.Loop() {
		if knowledge.PlainText(snippetBody) == "" {
			b.Fatal("no text")
		}
	}
}

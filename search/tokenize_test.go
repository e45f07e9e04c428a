package search

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"chinese words inside sentences", "我要申请退款，什么时候发货？",
			[]string{"我要", "要申", "申请", "请退", "退款", "什么", "么时", "时候", "候发", "发货"}},
		{"mixed chinese english codes", "我的iPhone 15无法开机 error E52",
			[]string{"我的", "iphone", "15", "无法", "法开", "开机", "error", "e52"}},
		{"full width", "ＰＩＮ码", []string{"pin", "码"}},
		{"full width digits", "错误码１２３", []string{"错误", "误码", "123"}},
		{"english with apostrophe and stop words", "I can't reset my PIN", []string{"cant", "reset", "pin"}},
		{"two-letter terms and codes", "IC card v2 on iOS17", []string{"ic", "card", "v2", "ios17"}},
		{"lone letter dropped, lone digit kept", "a b c 7 x", []string{"7"}},
		{"compounds give parts and glued form", "Wi-Fi v1.2 foo_bar", []string{"wi", "fi", "wifi", "v1", "2", "v12", "foo", "bar", "foobar"}},
		{"trailing punctuation", "PIN. Reset!", []string{"pin", "reset"}},
		{"emoji and symbols dropped", "😀 退款 👍🏽 ok ❤️ 1️⃣ ©®™ → ∑", []string{"退款", "ok", "1", "tm"}},
		{"sql-ish input", "' OR 1=1; DROP TABLE x; --", []string{"1", "1", "drop", "table"}},
		{"japanese and korean", "ラーメン 한국어", []string{"ラー", "ーメ", "メン", "한국", "국어"}},
		{"accents are kept distinct", "Café cafe", []string{"café", "cafe"}},
		{"combining accent composed by NFKC", "cafe\u0301", []string{"café"}},
		{"empty", "", nil},
		{"only stop words", "the a of", nil},
		{"invalid utf8", "ab\xffcd 退\xfe款", []string{"ab", "cd", "退", "款"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Tokenize(c.in)
			if !slices.Equal(got, c.want) {
				t.Fatalf("Tokenize(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestQueryTermsUseGluedCompounds(t *testing.T) {
	got := queryTerms("Wi-Fi wifi e-mail 退款 退款")
	want := []string{"wifi", "email", "退款"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTermFreqs(t *testing.T) {
	got := TermFreqs("退款退款 refund REFUND refund")
	if got["退款"] != 2 || got["款退"] != 1 || got["refund"] != 3 || len(got) != 3 {
		t.Fatalf("got %v", got)
	}
}

func TestTokenizeLongInput(t *testing.T) {
	long := strings.Repeat("a", 10000)
	got := Tokenize(long)
	if len(got) != 1 || len(got[0]) != MaxTermBytes {
		t.Fatalf("10,000 letters: got %d terms, first %d bytes", len(got), len(got[0]))
	}
	han := strings.Repeat("退", 10000) // 3 bytes each
	got = Tokenize(han)
	if len(got) != 9999 || got[0] != "退退" {
		t.Fatalf("10,000 Han: got %d terms", len(got))
	}
	glued := strings.Repeat("ab-", 5000)
	for _, term := range Tokenize(glued) {
		if len(term) > MaxTermBytes {
			t.Fatalf("term of %d bytes", len(term))
		}
	}
	mixed := strings.Repeat("我的iPhone 15无法开机 error E52。", 400)
	if n := len(Tokenize(mixed)); n != 8*400 {
		t.Fatalf("mixed 10k: %d terms, want %d", n, 8*400)
	}
	// Multi-byte runes are never cut in half at the cap.
	cut := Tokenize(strings.Repeat("é", 100))
	if len(cut) != 1 || !utf8.ValidString(cut[0]) || len(cut[0]) != 64 {
		t.Fatalf("é×100: %q", cut)
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"", "我的iPhone 15无法开机 error E52", "ＰＩＮ码", "I can't reset my PIN",
		"' OR 1=1; DROP TABLE x; --", "😀👍🏽1️⃣", "a-b.c_d/e", "ab\xffcd", "cafe\u0301",
		strings.Repeat("退款", 300), "--", "'", "\u0301\u0301x", "x'-", "ー", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms := Tokenize(s)
		for _, term := range terms {
			if term == "" || len(term) > MaxTermBytes || !utf8.ValidString(term) {
				t.Fatalf("bad term %q from %q", term, s)
			}
			if _, stop := stopWords[term]; stop {
				t.Fatalf("stop word %q from %q", term, s)
			}
		}
		tf := TermFreqs(s)
		n := 0
		for _, c := range tf {
			n += c
		}
		if n != len(terms) {
			t.Fatalf("TermFreqs counts %d, Tokenize %d", n, len(terms))
		}
		// Tokenizing is idempotent on its own output words.
		for _, term := range terms {
			if !strings.ContainsAny(term, "-._/") && utf8.RuneCountInString(term) > 1 && isWordTerm(term) {
				if got := Tokenize(term); len(got) != 1 || got[0] != term {
					t.Fatalf("Tokenize(%q) = %q", term, got)
				}
			}
		}
		for _, q := range queryTerms(s) {
			if q == "" || len(q) > MaxTermBytes {
				t.Fatalf("bad query term %q", q)
			}
		}
	})
}

func isWordTerm(s string) bool {
	for _, r := range s {
		if classify(r) != wordClass {
			return false
		}
	}
	return true
}

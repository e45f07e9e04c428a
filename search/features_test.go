package search

import (
	"slices"
	"strings"
	"testing"
)

func TestStem(t *testing.T) {
	for in, want := range map[string]string{
		"cards": "card", "card": "card", "fees": "fee", "fee": "fee",
		"charges": "charg", "charge": "charg", "charged": "charg", "charging": "charg",
		"arrive": "arriv", "arrived": "arriv", "arriving": "arriv", "arrives": "arriv",
		"transferred": "transfer", "transfer": "transfer", "transfers": "transfer",
		"topped": "top", "stopped": "stop", "declined": "declin", "decline": "declin",
		"activities": "activity", "denied": "deny", "need": "need", "agreed": "agreed",
		"class": "class", "status": "status", "this": "this", "bus": "bus",
		"payment": "payment", "pay": "pay", "ios17": "ios17", "退款": "退款",
		"café": "café", "falling": "fall", "missed": "miss",
	} {
		if got := Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCharNGrams(t *testing.T) {
	var got []string
	CharNGrams("card", 3, 4, func(g []byte) { got = append(got, string(g)) })
	want := []string{" ca", "car", "ard", "rd ", " car", "card", "ard "}
	if !slices.Equal(got, want) {
		t.Errorf("CharNGrams(card, 3, 4) = %q, want %q", got, want)
	}
	got = got[:0]
	CharNGrams("卡", 3, 4, func(g []byte) { got = append(got, string(g)) })
	if !slices.Equal(got, []string{" 卡 "}) {
		t.Errorf("CharNGrams(卡) = %q, want runes, not bytes", got)
	}
	got = got[:0]
	CharNGrams("a", 4, 5, func(g []byte) { got = append(got, string(g)) })
	if !slices.Equal(got, []string{" a "}) {
		t.Errorf("short word: %q", got)
	}
	long := strings.Repeat("x", 200)
	n := 0
	CharNGrams(long, 3, 3, func([]byte) { n++ })
	if n != 200 {
		t.Errorf("200-letter word gave %d trigrams, want 200", n)
	}
}

func TestTokenizeAll(t *testing.T) {
	for in, want := range map[string][]string{
		"How do I top-up my card? It's late": {"how", "do", "i", "top", "up", "topup", "my", "card", "its", "late"},
		"我的iPhone 15无法开机 and I can't login":  {"我的", "iphone", "15", "无法", "法开", "开机", "and", "i", "cant", "login"},
		"What is the balance":                {"what", "is", "the", "balance"},
		"ＴＨＥ ＰＩＮ":                            {"the", "pin"},
		"":                                   nil,
	} {
		if got := TokenizeAll(in); !slices.Equal(got, want) {
			t.Errorf("TokenizeAll(%q) = %q, want %q", in, got, want)
		}
		// Without its stop words it is Tokenize.
		var kept []string
		for _, w := range TokenizeAll(in) {
			if _, stop := stopWords[w]; !stop || slices.Contains(Tokenize(in), w) {
				kept = append(kept, w)
			}
		}
		if !slices.Equal(kept, Tokenize(in)) {
			t.Errorf("TokenizeAll(%q) minus stop words = %q, want Tokenize's %q", in, kept, Tokenize(in))
		}
	}
}

func TestIsCJKTerm(t *testing.T) {
	for term, want := range map[string]bool{"退款": true, "カー": true, "card": false, "15": false, "": false} {
		if got := IsCJKTerm(term); got != want {
			t.Errorf("IsCJKTerm(%q) = %v", term, got)
		}
	}
	var rs []rune
	CJKRunes("退款", func(r rune) { rs = append(rs, r) })
	if string(rs) != "退款" {
		t.Errorf("CJKRunes = %q", string(rs))
	}
}

func FuzzTokenizeAll(f *testing.F) {
	f.Add("How do I top-up my card? 退款 It's")
	f.Fuzz(func(t *testing.T, s string) {
		all := TokenizeAll(s)
		// Every Tokenize term is in TokenizeAll, in order.
		i := 0
		for _, w := range all {
			toks := Tokenize(s)
			if i < len(toks) && w == toks[i] {
				i++
			}
		}
		if i != len(Tokenize(s)) {
			t.Errorf("TokenizeAll(%q) = %q misses Tokenize terms %q", s, all, Tokenize(s))
		}
		for _, w := range all {
			CharNGrams(w, 3, 4, func([]byte) {})
			_ = Stem(w)
		}
	})
}

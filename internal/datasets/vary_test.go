package datasets

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestVaryKeepsTextReadable(t *testing.T) {
	texts := []string{"What is the €1 fee for my transfer?", "Où est ma carte bancaire, s'il vous plaît?", "退款 refund still not received"}
	out := Vary(texts, 3000)
	if len(out) != 3000 {
		t.Fatalf("%d texts, want 3000", len(out))
	}
	changed := 0
	for i, s := range out {
		if i < len(texts) && s != texts[i] {
			t.Fatalf("text %d changed: %q", i, s)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("copy %d is not UTF-8: %q", i, s)
		}
		if i >= len(texts) && s != texts[i%len(texts)] {
			changed++
		}
		if strings.TrimSpace(s) == "" {
			t.Fatalf("copy %d is empty", i)
		}
	}
	if changed < 1500 {
		t.Fatalf("only %d of %d copies vary", changed, len(out)-len(texts))
	}
	if again := Vary(texts, 3000); strings.Join(again, "\n") != strings.Join(out, "\n") {
		t.Fatal("Vary is not deterministic")
	}
}

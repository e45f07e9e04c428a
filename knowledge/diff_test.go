package knowledge

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"
	b := "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\n"
	got, add, del := unified("a", "b", diffLines(splitLines(a), splitLines(b)))
	want := "--- a\n+++ b\n" +
		"@@ -1,6 +1,6 @@\n one\n two\n-three\n+THREE\n four\n five\n six\n" +
		"@@ -8,3 +8,4 @@\n eight\n nine\n ten\n+eleven\n"
	if got != want || add != 2 || del != 1 {
		t.Fatalf("got (+%d -%d)\n%s\nwant\n%s", add, del, got, want)
	}
	// Close changes share one hunk.
	got, _, _ = unified("a", "b", diffLines(splitLines("1\n2\n3\n4\n5"), splitLines("1\nX\n3\n4\nY")))
	if want := "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n-5\n+Y\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// From and to nothing.
	got, add, _ = unified("a", "b", diffLines(nil, splitLines("新的一行\nsecond")))
	if want := "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+新的一行\n+second\n"; got != want || add != 2 {
		t.Fatalf("got\n%s", got)
	}
	if got, _, _ := unified("a", "b", diffLines(splitLines("same"), splitLines("same"))); got != "" {
		t.Fatalf("equal texts: %q", got)
	}
}

// applying the script to a must give b, and the kept lines must be a
// longest common subsequence (checked against the DP length).
func TestDiffLinesProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"退款", "refund", "PIN", "", "发货", "x"}
	gen := func() []string {
		n := r.IntN(12)
		out := make([]string, n)
		for i := range out {
			out[i] = words[r.IntN(len(words))]
		}
		return out
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		ops := diffLines(a, b)
		var ra, rb []string
		kept := 0
		for _, op := range ops {
			if op.kind != opAdd {
				ra = append(ra, op.text)
			}
			if op.kind != opDel {
				rb = append(rb, op.text)
			}
			if op.kind == opEqual {
				kept++
			}
		}
		if strings.Join(ra, "\n") != strings.Join(a, "\n") || strings.Join(rb, "\n") != strings.Join(b, "\n") || len(ra) != len(a) || len(rb) != len(b) {
			t.Fatalf("script does not rebuild: %q -> %q: %+v", a, b, ops)
		}
		if want := lcsLen(a, b); kept != want {
			t.Fatalf("kept %d lines, LCS is %d: %q %q", kept, want, a, b)
		}
	}
}

func lcsLen(a, b []string) int {
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	return t[0][0]
}

// A huge rewrite falls back to replace-all instead of a giant table.
func TestDiffLinesHuge(t *testing.T) {
	var a, b []string
	for i := 0; i < 3000; i++ {
		a = append(a, "a line "+string(rune('a'+i%26)))
		b = append(b, "b line "+string(rune('a'+i%26)))
	}
	ops := diffLines(a, b)
	if len(ops) != 6000 {
		t.Fatalf("%d ops", len(ops))
	}
}

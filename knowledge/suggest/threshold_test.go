package suggest

// Calibration of MinScore on CLINC150's out-of-scope queries (oos_*): the
// model is built on the in-scope training questions; an out-of-scope query
// should get no suggestion, an in-scope one its article. See
// docs/BENCHMARKS.md, "Article suggestions on BANKING77 and CLINC150".
//
//	LOOPDESK_SUGGEST_MINSCORE=1 go test ./knowledge/suggest -run TestMinScore -v

import (
	"github.com/loopdesk/loopdesk/internal/datasets"
	"os"
	"testing"
)

// loadCLINC150OOS returns the out-of-scope queries of a split ("val",
// "test").
func loadCLINC150OOS(dir, split string) ([]string, error) {
	all, err := datasets.CLINC150(dir)
	var out []string
	for _, l := range all["oos_"+split] {
		out = append(out, l.Text)
	}
	return out, err
}

// suppression measures a threshold: the fraction of out-of-scope queries
// whose best suggestion scores under it (no suggestion shown), and the
// fractions of in-scope queries whose right article is first (lost1), or
// in the first three (lost3), and scores under it: hits lost, out of all
// in-scope queries.
func suppression(m *Model, oos []string, in []labelled, ids map[string]int64, thr float64) (suppressed, lost1, lost3 float64) {
	for _, q := range oos {
		if s := m.Rank(q, 1); len(s) == 0 || s[0].Score < thr {
			suppressed++
		}
	}
	for _, l := range in {
		for i, s := range m.Rank(l.text, 3) {
			if s.ArticleID == ids[l.intent] && s.Score < thr {
				lost3++
				if i == 0 {
					lost1++
				}
			}
		}
	}
	n := float64(len(in))
	return suppressed / float64(len(oos)), lost1 / n, lost3 / n
}

// TestMinScore sweeps the threshold on CLINC150 val (in scope and out of
// scope, with train linked), where MinScore was chosen, and reports it on
// test.
func TestMinScore(t *testing.T) {
	if os.Getenv("LOOPDESK_SUGGEST_MINSCORE") == "" {
		t.Skip("LOOPDESK_SUGGEST_MINSCORE not set: calibration of MinScore")
	}
	dir, ok := datasets.Dir()
	if !ok {
		t.Skip("shared data sets not found")
	}
	ds, err := loadCLINC150(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	withVal, err := loadCLINC150(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	val := withVal.train[len(ds.train):]
	arts, exs, ids := ds.articlesAndLinks()
	m := Build(arts, exs, Options{})
	for _, split := range []string{"val", "test"} {
		oos, err := loadCLINC150OOS(dir, split)
		if err != nil {
			t.Fatal(err)
		}
		in := val
		if split == "test" {
			in = ds.test
		}
		for _, thr := range []float64{0.05, 0.1, 0.15, MinScore, 0.25, 0.3, 0.4, 0.5} {
			s, l1, l3 := suppression(m, oos, in, ids, thr)
			t.Logf("%-4s threshold %.2f: out-of-scope suppressed %.3f (n=%d); in scope (n=%d), hits lost: top-1 %.3f, top-3 %.3f", split, thr, s, len(oos), len(in), l1, l3)
		}
	}
}

package cluster

// Settings were chosen on tuning splits only, never on the test
// questions: BANKING77 train (every third question, 3,335) and CLINC150
// val (3,000). TestTune prints the figures of the alternatives measured;
// see docs/BENCHMARKS.md.

import (
	"fmt"
	"os"
	"testing"
)

func tuneSets(t *testing.T) ([][]labelled, []string) {
	dir := mustData(t)
	b, err := loadBanking77(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	var b3 []labelled
	for i := 0; i < len(b); i += 3 {
		b3 = append(b3, b[i])
	}
	c, err := loadCLINC150(dir, "val")
	if err != nil {
		t.Fatal(err)
	}
	return [][]labelled{b3, c}, []string{"BANKING77 train/3", "CLINC150 val"}
}

// TestTune sweeps the merge threshold for the default and for variants
// with one part removed; each cell is clean/found/ARI.
func TestTune(t *testing.T) {
	if os.Getenv("LOOPDESK_CLUSTER_TUNE") == "" {
		t.Skip("set LOOPDESK_CLUSTER_TUNE=1 to sweep settings on the tuning splits")
	}
	sets, names := tuneSets(t)
	variants := []struct {
		name string
		set  func(p *params)
	}{
		{"default", func(p *params) {}},
		{"no consistency reweighting", func(p *params) { p.noRW = true }},
		{"no word pairs", func(p *params) { p.fz.pairWin = 0 }},
		{"no character n-grams", func(p *params) { p.fz.charLo = 0 }},
		{"consistency from 10 neighbours", func(p *params) { p.rwK = 10 }},
	}
	if v := os.Getenv("LOOPDESK_CLUSTER_TUNE_ONLY"); v != "" {
		variants = variants[:1]
	}
	thrs := []float64{0.65, 0.7, 0.75, 0.8, 0.85}
	for _, v := range variants {
		line := make([]string, len(sets))
		for _, thr := range thrs {
			p := defaultParams()
			v.set(&p)
			p.thr = thr
			for k, ls := range sets {
				items, truth := asItems(ls)
				s := score(groupLabels(len(items), Cluster(items, Options{p: &p})), truth)
				line[k] += fmt.Sprintf("  %.2f: %.2f/%.2f/%.2f", thr, s.clean, s.found, s.ari)
			}
		}
		for k := range sets {
			t.Logf("%-32s %-18s%s", v.name, names[k], line[k])
		}
	}
}

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
		{"no attachment, no spreading", func(p *params) { p.attach, p.spread.iters = 0, 0 }},
		{"no spreading", func(p *params) { p.spread.iters = 0 }},
		{"attachment at threshold - 0.10", func(p *params) { p.attach = 0.10 }},
		{"spreading share 0.3", func(p *params) { p.spread.share = 0.3 }},
		{"spreading share 0.5", func(p *params) { p.spread.share = 0.5 }},
		{"bigrams without stop words", func(p *params) { p.fz.stopBigrams = false }},
	}
	if v := os.Getenv("LOOPDESK_CLUSTER_TUNE_ONLY"); v != "" {
		variants = variants[:1]
	}
	thrs := []float64{0.65, 0.7, 0.75, 0.78, 0.8}
	for _, v := range variants {
		line := make([]string, len(sets))
		for _, thr := range thrs {
			p := defaultParams()
			v.set(&p)
			p.thr = thr
			for k, ls := range sets {
				items, truth := asItems(ls)
				s := score(groupLabels(len(items), Cluster(items, Options{p: &p})), truth)
				line[k] += fmt.Sprintf("  %.2f: %.3f/%.3f/%.3f", thr, s.clean, s.found, s.ari)
			}
		}
		for k := range sets {
			t.Logf("%-32s %-18s%s", v.name, names[k], line[k])
		}
	}
}

// TestARIAnalysis shows where the ARI is lost, with the labels (analysis
// only; the miner never sees them), on the tuning splits: the default
// grouping; the same with every two proposals of one majority intent
// merged (the cost of splitting an intent); then also every unclustered
// ticket put in its intent's proposal (the cost of leaving tickets out);
// and how often an unclustered ticket's nearest proposal centroid (the
// miner's own vectors) has its intent, by cosine.
func TestARIAnalysis(t *testing.T) {
	if os.Getenv("LOOPDESK_CLUSTER_TUNE") == "" {
		t.Skip("set LOOPDESK_CLUSTER_TUNE=1 to analyse the tuning splits")
	}
	sets, names := tuneSets(t)
	for k, ls := range sets {
		items, truth := asItems(ls)
		s := NewState(Options{})
		s.Add(items)
		lab := groupLabels(len(items), s.Proposals())
		t.Logf("%s default:                  %v", names[k], score(lab, truth))
		// Majority intent of every proposal; the first proposal of each.
		maj := make([]string, len(s.props))
		for g, pr := range s.props {
			cnt := map[string]int{}
			for _, m := range pr.members {
				cnt[truth[m.ID-1]]++
			}
			for l, c := range cnt {
				if c > cnt[maj[g]] || c == cnt[maj[g]] && l < maj[g] {
					maj[g] = l
				}
			}
		}
		first := map[string]int{}
		merged := make([]int, len(lab))
		for i, g := range lab {
			merged[i] = -1
			if g >= 0 {
				if _, ok := first[maj[g]]; !ok {
					first[maj[g]] = g
				}
				merged[i] = first[maj[g]]
			}
		}
		t.Logf("%s intents' proposals merged: %v", names[k], score(proposalsOnly(merged, 1), truth))
		for i := range merged {
			if g, ok := first[truth[i]]; ok && merged[i] < 0 {
				merged[i] = g
			}
		}
		t.Logf("%s + unclustered put right:   %v", names[k], score(proposalsOnly(merged, 1), truth))
		// Nearest proposal centroid of the unclustered tickets.
		tf := map[int32]int32{}
		cents := make([]vec, len(s.props))
		for g, pr := range s.props {
			cents[g] = unitDir(pr.sum)
		}
		var n, right [4]int
		for i, g := range lab {
			if g >= 0 {
				continue
			}
			x := s.w.reweight([]vec{s.w.tfidf(s.p.fz.counts(items[i].Text, tf), s.p.minDF)})[0]
			best, bs := -1, -1.0
			for c, cv := range cents {
				if d := dot(x, cv); d > bs {
					best, bs = c, d
				}
			}
			for b, thr := range []float64{0, 0.5, 0.6, 0.7} {
				if best >= 0 && bs >= thr {
					n[b]++
					if maj[best] == truth[i] {
						right[b]++
					}
				}
			}
		}
		for b, thr := range []float64{0, 0.5, 0.6, 0.7} {
			t.Logf("%s unclustered, nearest proposal at cosine >= %.1f: %d tickets, intent right for %.3f", names[k], thr, n[b], float64(right[b])/float64(max(n[b], 1)))
		}
		// The lexical ceiling: spherical k-means over plain TF-IDF (the
		// miner's features without reweighting) started from the true
		// intent centroids, one and five rounds.
		plain := make([]vec, len(items))
		for i, it := range items {
			plain[i] = s.w.tfidf(s.p.fz.counts(it.Text, tf), s.p.minDF)
		}
		ids := map[string]int{}
		km := make([]int, len(items))
		for i, l := range truth {
			if _, ok := ids[l]; !ok {
				ids[l] = len(ids)
			}
			km[i] = ids[l]
		}
		for round := 1; round <= 5; round++ {
			sums := make([]vec, len(ids))
			for i, g := range km {
				sums[g] = addVec(sums[g], plain[i])
			}
			for g := range sums {
				sums[g] = unitDir(sums[g])
			}
			for i, x := range plain {
				best, bs := 0, -2.0
				for g, c := range sums {
					if d := dot(x, c); d > bs {
						best, bs = g, d
					}
				}
				km[i] = best
			}
			if round == 1 || round == 5 {
				t.Logf("%s k-means from the true centroids, %d round(s): %v", names[k], round, score(km, truth))
			}
		}
	}
}

package cluster

import (
	"fmt"
	"math"
)

// scores grades a grouping against true labels.
//
// Proposals are the groups the miner returned (at least MinSize members).
// A proposal is clean when at least 80 % of its members share one label;
// a label is found when some clean proposal's majority label is it.
// Purity, NMI, ARI and pairwise precision/recall/F1 are computed over ALL
// items: every item in no proposal counts as a cluster of its own. Coverage
// is the fraction of items in proposals.
type scores struct {
	items, labels, proposals int
	clean, found, coverage   float64
	purity, propPurity       float64
	nmi, ari                 float64
	pairP, pairR, pairF1     float64
}

func (s scores) String() string {
	return fmt.Sprintf("proposals %4d  clean %.3f  found %.3f  coverage %.3f  purity %.3f (in proposals %.3f)  NMI %.3f  ARI %.3f  pairs P %.3f R %.3f F1 %.3f",
		s.proposals, s.clean, s.found, s.coverage, s.purity, s.propPurity, s.nmi, s.ari, s.pairP, s.pairR, s.pairF1)
}

// score grades pred (a group number per item, -1 for none) against truth
// (a label per item).
func score(pred []int, truth []string) scores {
	n := len(pred)
	lab := map[string]int{}
	y := make([]int, n)
	for i, t := range truth {
		if _, ok := lab[t]; !ok {
			lab[t] = len(lab)
		}
		y[i] = lab[t]
	}
	// Clusters: proposals, then one per unclustered item.
	c := make([]int, n)
	np := 0
	for _, g := range pred {
		np = max(np, g+1)
	}
	next := np
	for i, g := range pred {
		if g >= 0 {
			c[i] = g
		} else {
			c[i] = next
			next++
		}
	}
	nc, nl := next, len(lab)
	// Contingency table, sparse.
	type cell struct{ c, l int }
	tab := map[cell]int{}
	a := make([]int, nc) // cluster sizes
	b := make([]int, nl) // label sizes
	for i := range n {
		tab[cell{c[i], y[i]}]++
		a[c[i]]++
		b[y[i]]++
	}
	s := scores{items: n, labels: nl, proposals: np}

	// Clean and found.
	best := make([]int, nc)
	bestL := make([]int, nc)
	for k, v := range tab {
		if v > best[k.c] || v == best[k.c] && k.l < bestL[k.c] {
			best[k.c], bestL[k.c] = v, k.l
		}
	}
	found := map[int]bool{}
	covered, propMaj := 0, 0
	for g := range np {
		covered += a[g]
		propMaj += best[g]
		if float64(best[g]) >= 0.8*float64(a[g]) {
			s.clean++
			found[bestL[g]] = true
		}
	}
	if np > 0 {
		s.clean /= float64(np)
	}
	s.found = float64(len(found)) / float64(nl)
	s.coverage = float64(covered) / float64(n)
	if covered > 0 {
		s.propPurity = float64(propMaj) / float64(covered)
	}
	maj := 0
	for g := range nc {
		maj += best[g]
	}
	s.purity = float64(maj) / float64(n)

	// NMI, arithmetic normalisation: I / ((H(C) + H(L)) / 2).
	fn := float64(n)
	ent := func(sizes []int) float64 {
		var h float64
		for _, v := range sizes {
			if v > 0 {
				p := float64(v) / fn
				h -= p * math.Log(p)
			}
		}
		return h
	}
	hc, hl := ent(a), ent(b)
	var mi float64
	for k, v := range tab {
		pij := float64(v) / fn
		mi += pij * math.Log(pij*fn*fn/(float64(a[k.c])*float64(b[k.l])))
	}
	if hc+hl > 0 {
		s.nmi = mi / ((hc + hl) / 2)
	}

	// ARI and pairwise F1 from the contingency table.
	c2 := func(v int) float64 { return float64(v) * float64(v-1) / 2 }
	var sumCell, sumA, sumB float64
	for _, v := range tab {
		sumCell += c2(v)
	}
	for _, v := range a {
		sumA += c2(v)
	}
	for _, v := range b {
		sumB += c2(v)
	}
	expected := sumA * sumB / c2(n)
	if den := (sumA+sumB)/2 - expected; den != 0 {
		s.ari = (sumCell - expected) / den
	}
	if sumA > 0 {
		s.pairP = sumCell / sumA
	}
	if sumB > 0 {
		s.pairR = sumCell / sumB
	}
	if s.pairP+s.pairR > 0 {
		s.pairF1 = 2 * s.pairP * s.pairR / (s.pairP + s.pairR)
	}
	return s
}

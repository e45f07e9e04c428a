package cluster

import (
	"cmp"
	"container/heap"
	"math"
	"runtime"
	"slices"
	"sync"
)

// neighbour is a candidate pair: another unit and its cosine.
type neighbour struct {
	j   int32
	sim float32
}

// knn returns, for every vector xs[d] with d >= from, its k most similar
// vectors in xs (itself excepted) with cosine at least minSim (vectors are
// unit length), best first, ties by index; the list of xs[d] is at d-from.
// Candidates come from an inverted index of word features; features in
// more than maxPost vectors are left out of the candidate search (the
// "how" and "card" of every question) but not of the final cosine, which is
// exact.
// Work is spread over the CPUs; the result does not depend on how.
func knn(xs []vec, from, k int, minSim float64, maxPost int) [][]neighbour {
	type posting struct {
		doc int32
		w   float32
	}
	// Postings in compressed rows: post[off[f]:off[f+1]].
	off := make([]int32, nFeat+1)
	for _, x := range xs {
		for _, f := range x.idx {
			off[f+1]++
		}
	}
	for f := range nFeat {
		off[f+1] += off[f]
	}
	post := make([]posting, off[nFeat])
	fill := make([]int32, nFeat)
	for d, x := range xs {
		for j, f := range x.idx {
			post[off[f]+fill[f]] = posting{int32(d), x.val[j]}
			fill[f]++
		}
	}
	// Character n-grams find no one the words would not: candidates
	// come from word features when there is a word feature at all (a
	// question of typos alone falls back to its n-grams).
	out := make([][]neighbour, len(xs)-from)
	parallel(len(out), func(w, workers int) {
		acc := make([]float32, len(xs))
		var touched []int32
		var cand []neighbour
		for q := w; q < len(out); q += workers {
			d := from + q
			x := xs[d]
			touched = touched[:0]
			wordsOnly := false
			for _, f := range x.idx {
				if !isCharFeature(f) {
					wordsOnly = true
					break
				}
			}
			for j, f := range x.idx {
				p := post[off[f]:off[f+1]]
				if len(p) > maxPost || wordsOnly && isCharFeature(f) {
					continue
				}
				v := x.val[j]
				for _, e := range p {
					if acc[e.doc] == 0 {
						touched = append(touched, e.doc)
					}
					acc[e.doc] += v * e.w
				}
			}
			// Approximate scores pick 4k candidates (a bounded heap:
			// sorting every touched vector was 80 % of the time at
			// 30,000 items), exact cosines rank them.
			cand = cand[:0]
			for _, o := range touched {
				s := acc[o]
				acc[o] = 0
				if int(o) != d {
					pushTop(&cand, neighbour{o, s}, candFactor*k)
				}
			}
			for i := range cand {
				cand[i].sim = float32(dot(x, xs[cand[i].j]))
			}
			sortNeighbours(cand)
			var nb []neighbour
			for _, c := range cand {
				if len(nb) == k || float64(c.sim) < minSim {
					break
				}
				nb = append(nb, c)
			}
			out[q] = nb
		}
	})
	return out
}

// parallel runs f(w, workers) for w in [0, workers) on the CPUs; f takes
// the items i with i % workers == w.
func parallel(n int, f func(w, workers int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, workers)
		}()
	}
	wg.Wait()
}

func sortNeighbours(c []neighbour) {
	slices.SortFunc(c, func(a, b neighbour) int {
		if r := cmp.Compare(b.sim, a.sim); r != 0 {
			return r
		}
		return cmp.Compare(a.j, b.j)
	})
}

// unit is a node of the agglomeration: a set of items and the sum of
// their unit vectors. The linkage of two units is the cosine of their sums
// (centroid linkage): dot(sumA, sumB) / (|sumA| |sumB|), which is the
// average cosine between their items divided by the geometric mean of
// their own average cosines (self-pairs included). Unlike plain average
// linkage it does not penalise a loose issue against a tight one: what
// counts is whether two groups point the same way.
type unit struct {
	sum   vec
	n     int
	fixed bool // holds an existing proposal: never merged with another fixed unit
	nbrs  []int32
}

type edge struct {
	score      float64
	a, b       int32
	verA, verB int32
}

type edgeHeap []edge

func (h edgeHeap) Len() int { return len(h) }
func (h edgeHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	if h[i].a != h[j].a {
		return h[i].a < h[j].a
	}
	return h[i].b < h[j].b
}
func (h edgeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *edgeHeap) Push(x any)   { *h = append(*h, x.(edge)) }
func (h *edgeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// maxNbrs caps the candidate list of a merged unit: a group of 600
// near-copies would otherwise carry thousands of candidates, each costing a
// sparse dot product per merge. The best by linkage are kept.
const maxNbrs = 64

// agglomerate merges units along their candidate edges, highest linkage
// first, while it is at least thr; two fixed units are never merged. It
// returns the root of every unit (units merged into one share a root).
// Ties break by unit index, so the result is deterministic.
func agglomerate(units []unit, thr float64) []int32 {
	parent := make([]int32, len(units))
	ver := make([]int32, len(units))
	norm := make([]float64, len(units))
	for i := range units {
		parent[i] = int32(i)
		norm[i] = math.Sqrt(norm2(units[i].sum))
	}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	link := func(a, b int32) float64 {
		if norm[a] == 0 || norm[b] == 0 {
			return 0
		}
		return dot(units[a].sum, units[b].sum) / (norm[a] * norm[b])
	}
	h := &edgeHeap{}
	for a := range units {
		for _, b := range units[a].nbrs {
			if int32(a) < b {
				if s := link(int32(a), b); s >= thr {
					*h = append(*h, edge{s, int32(a), b, 0, 0})
				}
			}
		}
	}
	heap.Init(h)
	type scored struct {
		j int32
		s float64
	}
	var cand []scored
	for h.Len() > 0 {
		e := heap.Pop(h).(edge)
		if parent[e.a] != e.a || parent[e.b] != e.b || ver[e.a] != e.verA || ver[e.b] != e.verB {
			continue // stale: one end has merged since
		}
		ua, ub := &units[e.a], &units[e.b]
		if ua.fixed && ub.fixed {
			continue
		}
		parent[e.b] = e.a
		ua.sum = addVec(ua.sum, ub.sum)
		ua.n += ub.n
		ua.fixed = ua.fixed || ub.fixed
		norm[e.a] = math.Sqrt(norm2(ua.sum))
		ver[e.a]++
		cand = cand[:0]
		seen := map[int32]bool{e.a: true}
		for _, list := range [][]int32{ua.nbrs, ub.nbrs} {
			for _, o := range list {
				r := find(o)
				if !seen[r] {
					seen[r] = true
					cand = append(cand, scored{r, link(e.a, r)})
				}
			}
		}
		ub.sum, ub.nbrs = vec{}, nil
		slices.SortFunc(cand, func(x, y scored) int {
			if c := cmp.Compare(y.s, x.s); c != 0 {
				return c
			}
			return cmp.Compare(x.j, y.j)
		})
		if len(cand) > maxNbrs {
			cand = cand[:maxNbrs]
		}
		ua.nbrs = ua.nbrs[:0]
		for _, c := range cand {
			ua.nbrs = append(ua.nbrs, c.j)
			if c.s >= thr {
				x, y := e.a, c.j
				if x > y {
					x, y = y, x
				}
				heap.Push(h, edge{c.s, x, y, ver[x], ver[y]})
			}
		}
	}
	roots := make([]int32, len(units))
	for i := range roots {
		roots[i] = find(int32(i))
	}
	return roots
}

// worse reports whether a ranks below b (lower similarity, or equal and a
// higher index).
func worse(a, b neighbour) bool {
	return a.sim < b.sim || a.sim == b.sim && a.j > b.j
}

// pushTop keeps in *h (a min-heap by worse) the best m neighbours seen.
func pushTop(h *[]neighbour, e neighbour, m int) {
	c := *h
	if len(c) < m {
		c = append(c, e)
		i := len(c) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !worse(c[i], c[p]) {
				break
			}
			c[i], c[p] = c[p], c[i]
			i = p
		}
		*h = c
		return
	}
	if !worse(c[0], e) {
		return
	}
	c[0] = e
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(c) && worse(c[l], c[m]) {
			m = l
		}
		if r < len(c) && worse(c[r], c[m]) {
			m = r
		}
		if m == i {
			break
		}
		c[i], c[m] = c[m], c[i]
		i = m
	}
}

// candFactor times k candidates by approximate score get an exact cosine.
const candFactor = 2

// attach gives every cluster that agglomeration left with fewer than
// minN items and no fixed unit (a near-miss: mostly single tickets) to the
// nearest well-formed cluster (at least minN items, or holding a fixed
// unit) when the cosine of their sums is at least thr, which is set a
// little under the merge threshold. The candidates are the clusters of the
// near-miss's candidate neighbours. Well-formed clusters are taken as
// agglomeration left them, before anything attached, so the order of
// attachment does not matter. roots (from agglomerate, with units as it
// left them) is updated in place.
//
// Agglomeration stops where the next merge would be between two groups
// that only partly look alike, which is as often two wordings of one issue
// as two issues; a single ticket close to a group of many is right to join
// it more often than not (measured: docs/BENCHMARKS.md). Groups never
// attach to groups, so no two issues are merged this way.
func attach(units []unit, roots []int32, minN int, thr float64) {
	wellFormed := func(r int32) bool { return units[r].fixed || units[r].n >= minN }
	norms := map[int32]float64{}
	norm := func(r int32) float64 {
		v, ok := norms[r]
		if !ok {
			v = math.Sqrt(norm2(units[r].sum))
			norms[r] = v
		}
		return v
	}
	// The near-misses in order of their root, and their candidates.
	cand := map[int32][]int32{}
	var order []int32
	for i, r := range roots {
		if wellFormed(r) {
			continue
		}
		if _, ok := cand[r]; !ok {
			order = append(order, r)
			cand[r] = nil
		}
		for _, j := range units[i].nbrs {
			if t := roots[j]; t != r && wellFormed(t) {
				cand[r] = append(cand[r], t)
			}
		}
	}
	to := map[int32]int32{}
	for _, r := range order {
		nr := norm(r)
		if nr == 0 {
			continue
		}
		best, bs := int32(-1), thr
		for _, t := range cand[r] {
			nt := norm(t)
			if nt == 0 {
				continue
			}
			if s := dot(units[r].sum, units[t].sum) / (nr * nt); s > bs || s == bs && t < best {
				best, bs = t, s
			}
		}
		if best >= 0 {
			to[r] = best
		}
	}
	for i, r := range roots {
		if t, ok := to[r]; ok {
			roots[i] = t
		}
	}
}

// spread places the near-misses that attach left (clusters under minN
// items without a fixed unit) by label spreading over the candidate graph
// of the batch (Zhou et al., "Learning with local and global consistency",
// 2003). Every new unit starts with one label: its cluster when that is
// well-formed (at least minN items or a fixed unit), else noLabel. For
// sp.iters rounds every unit takes sp.alpha times the similarity-weighted
// mean of its neighbours' label weights plus 1 - sp.alpha of its own label.
// A near-miss joins the well-formed cluster that holds at least the share
// sp.share of its units' label weight, noLabel included: a ticket whose
// neighbourhood is mostly other near-misses stays where it is. Where the
// nearest centroid looks at a group as a whole, this follows chains of
// paraphrases through other tickets.
//
// Only the batch's new items take part (nb holds the candidate neighbours
// of units[from:]; edges to older units are left out): an existing group
// is one unit with edges from every new ticket near it, and let in it
// would label them all. roots is updated in place.
func spread(units []unit, roots []int32, nb [][]neighbour, from, minN int, sp spreadParams) {
	wellFormed := func(r int32) bool { return units[r].fixed || units[r].n >= minN }
	some := false
	for _, r := range roots {
		if !wellFormed(r) {
			some = true
			break
		}
	}
	if !some {
		return
	}
	cur := spreadLabels(units, roots, nb, from, minN, sp.alpha, sp.iters)
	// Every near-miss cluster: its units' label weights summed.
	type vote struct {
		w   map[int32]float32
		tot float32
	}
	votes := map[int32]*vote{}
	var order []int32
	for i, r := range roots {
		if wellFormed(r) {
			continue
		}
		v := votes[r]
		if v == nil {
			v = &vote{w: map[int32]float32{}}
			votes[r] = v
			order = append(order, r)
		}
		for _, x := range cur[i] {
			v.w[x.l] += x.w
			v.tot += x.w
		}
	}
	to := map[int32]int32{}
	for _, r := range order {
		v := votes[r]
		best, bw := int32(-1), float32(0)
		for l, w := range v.w {
			if l == noLabel {
				continue
			}
			if w > bw || w == bw && l < best {
				best, bw = l, w
			}
		}
		if best >= 0 && float64(bw) >= sp.share*float64(v.tot) {
			to[r] = best
		}
	}
	for i, r := range roots {
		if t, ok := to[r]; ok {
			roots[i] = t
		}
	}
}

// labelWeight is a label (a cluster's root unit) and its weight.
type labelWeight struct {
	l int32
	w float32
}

// maxLabels is how many labels a unit keeps while spreading.
const maxLabels = 4

// noLabel is the label of the units of near-misses: spread as any other,
// it measures how much of a unit's neighbourhood belongs to no group.
const noLabel = -1

// spreadLabels runs the label spreading of spread and returns every unit's
// label weights, largest first.
func spreadLabels(units []unit, roots []int32, nb [][]neighbour, from, minN int, alpha float64, iters int) [][]labelWeight {
	n := len(units)
	wellFormed := func(r int32) bool { return units[r].fixed || units[r].n >= minN }
	// Symmetric adjacency in compressed rows.
	deg := make([]int32, n+1)
	for q, l := range nb {
		for _, e := range l {
			if int(e.j) < from {
				continue
			}
			deg[from+q+1]++
			deg[e.j+1]++
		}
	}
	for i := range n {
		deg[i+1] += deg[i]
	}
	adj := make([]neighbour, deg[n])
	fill := slices.Clone(deg[:n])
	for q, l := range nb {
		a := int32(from + q)
		for _, e := range l {
			if int(e.j) < from {
				continue
			}
			adj[fill[a]] = e
			fill[a]++
			adj[fill[e.j]] = neighbour{a, e.sim}
			fill[e.j]++
		}
	}
	// Label weights, at most maxLabels per unit, largest first.
	own := func(i int) int32 {
		if r := roots[i]; wellFormed(r) {
			return r
		}
		return noLabel
	}
	cur := make([][]labelWeight, n)
	for i := range roots {
		cur[i] = []labelWeight{{own(i), 1}}
	}
	next := make([][]labelWeight, n)
	acc := make([]float32, n+1) // by label + 1
	var touched []int32
	for range iters {
		for i := range n {
			row := adj[deg[i]:deg[i+1]]
			var tot float32
			if len(row) == 0 {
				next[i] = append(next[i][:0], labelWeight{own(i), 1})
				continue
			}
			touched = touched[:0]
			for _, e := range row {
				tot += e.sim
				for _, x := range cur[e.j] {
					if acc[x.l+1] == 0 {
						touched = append(touched, x.l)
					}
					acc[x.l+1] += e.sim * x.w
				}
			}
			out := next[i][:0]
			for _, l := range touched {
				out = append(out, labelWeight{l, float32(alpha) * acc[l+1] / tot})
				acc[l+1] = 0
			}
			r := own(i)
			k := slices.IndexFunc(out, func(x labelWeight) bool { return x.l == r })
			if k < 0 {
				out = append(out, labelWeight{r, 0})
				k = len(out) - 1
			}
			out[k].w += float32(1 - alpha)
			slices.SortFunc(out, func(a, b labelWeight) int {
				if c := cmp.Compare(b.w, a.w); c != 0 {
					return c
				}
				return cmp.Compare(a.l, b.l)
			})
			if len(out) > maxLabels {
				out = out[:maxLabels]
			}
			next[i] = out
		}
		cur, next = next, cur
	}
	return cur
}

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

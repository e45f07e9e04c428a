package suggest

import (
	"math"
	"math/rand/v2"
)

// linear is a multinomial logistic regression (softmax) over sparse TF-IDF
// vectors, score(c) = sum_f x_f * w(f, c), stored sparse by feature: the
// weights of feature f are cls/w[off[f]:off[f+1]]. A class with no weight
// on any feature of x scores 0.
type linear struct {
	c   int // classes
	off []int32
	cls []int32
	w   []float32
}

// trainOpts are the classifier's training settings.
type trainOpts struct {
	epochs int
	lr     float64
	seed   uint64
	prune  float32 // averaged weights below this (absolute) are dropped
	maxNeg int     // most classes pushed down per step (the likeliest)
	maxRow int     // most classes with a weight on one feature
	newMin float32 // smallest update that gives a wrong class a new weight
}

// entry is a class's weight on a feature during training, and the sum of
// step * update used for the average.
type entry struct {
	cls  int32
	w, u float32
}

// gradMin is the smallest gradient of a class's score that updates its
// weights: below it a step would change nothing that matters, and skipping
// it keeps the weights sparse.
const gradMin = 1e-4

// denseScores is the number of classes up to which a training step scores
// every class in a plain array; above it, only the classes the example's
// features reach are tracked.
const denseScores = 1024

// trainLinear fits a softmax classifier over c classes by averaged
// stochastic gradient descent: plain SGD with a constant step over shuffled
// examples, then the average of the weights over all steps (Polyak-Ruppert
// averaging), which generalises like a tuned decaying step without tuning
// one. Row i of docs (unit length) has class ys[i] in [0, c).
//
// Training is sparse in the classes, so that memory and time follow the
// (feature, class) pairs that matter, not features x classes:
//
//   - Adding one constant to the weights of every class on a feature
//     changes no softmax. A step's gradient, p(k) - [k = y] for each class
//     k, is shifted by the probability of a class scoring 0 (one with no
//     weight on the example's features), whose update so becomes 0 and is
//     not stored.
//   - Of the other classes, only the example's class and the maxNeg
//     likeliest wrong ones are updated, and only when the shifted gradient
//     is at least gradMin: after the first epoch the model is sure of most
//     examples and most steps change nothing. A wrong class gets a new
//     weight on a feature only for an update of at least newMin (the
//     smaller ones would mostly be pruned at the end): that halves to
//     quarters the weights held in training, at no measured cost.
//   - A feature holds weights for at most maxRow classes: when its list is
//     full, a new class gets in only with an update larger than the
//     smallest weight there, which it replaces. Stop words and common
//     n-grams so keep the classes they say most about, and a step costs at
//     most maxRow per feature of the example whatever the number of
//     classes. Up to maxRow classes this changes nothing.
//
// Averaged weights below prune in absolute value are dropped at the end.
func trainLinear(v *vocab, docs *docSet, ys []int32, c int, o trainOpts) *linear {
	nFeat := len(v.idf)
	rows := make([][]entry, nFeat)
	floor := make([]float32, nFeat) // by feature: admission floor of a full row
	// Rows start in one block, each with room for its classes (those of
	// the examples that have the feature, up to its cap) and a quarter
	// more for the wrong classes it will be pushed down for.
	rowCap := make([]int32, nFeat)
	own := docs.classCounts(ys, c, nFeat)
	total := 0
	for f := range nFeat {
		rowCap[f] = int32(o.maxRow)
		own[f] = min(rowCap[f], own[f]+own[f]/4+1)
		total += int(own[f])
	}
	block := make([]entry, total)
	for f, n := range own {
		rows[f], block = block[:0:n], block[n:]
	}
	own = nil
	n := docs.len()
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	dense := c <= denseScores
	s := make([]float64, c) // by class: score, then probability
	seen := make([]int, c)  // by class: step it was last touched
	act := make([]int, c)   // by class: step it was last active
	done := make([]int, c)  // by class: feature pass it was last updated in
	g := make([]float32, c) // by class: shifted gradient
	var touched, active []int32
	var s32 []float32 // dense: scores summed in float32, as the weights
	if dense {
		s32 = make([]float32, c)
		touched = make([]int32, c)
		for k := range touched {
			touched[k] = int32(k)
		}
	}
	neg := newTopNeg(o.maxNeg)
	var x vec
	step := float32(o.lr)
	var t float32
	stamp, pass := 0, 0
	for range o.epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			docs.row(v, int(i), &x)
			y := ys[i]
			stamp++
			if dense {
				clear(s32)
				for j, f := range x.idx {
					xv, row := x.val[j], rows[f]
					for e := range row {
						s32[row[e].cls] += xv * row[e].w
					}
				}
				for k, v := range s32 {
					s[k] = float64(v)
				}
			} else {
				touched = append(touched[:0], y)
				seen[y], s[y] = stamp, 0
				for j, f := range x.idx {
					xv := float64(x.val[j])
					for _, e := range rows[f] {
						if seen[e.cls] != stamp {
							seen[e.cls], s[e.cls] = stamp, 0
							touched = append(touched, e.cls)
						}
						s[e.cls] += xv * float64(e.w)
					}
				}
			}
			// Softmax over the touched classes and the others (score 0);
			// q is the probability of a class scoring 0.
			outside := float64(c - len(touched))
			mx := math.Inf(-1)
			if outside > 0 {
				mx = 0
			}
			for _, k := range touched {
				mx = max(mx, s[k])
			}
			var z float64
			for _, k := range touched {
				s[k] = math.Exp(s[k] - mx)
				z += s[k]
			}
			q := math.Exp(-mx)
			z += outside * q
			q /= z
			// The shifted gradient: the example's class, and the likeliest
			// of the others.
			neg.reset()
			gy := s[y]/z - q - 1
			for _, k := range touched {
				if k != y {
					if gk := s[k]/z - q; gk > gradMin || gk < -gradMin {
						neg.add(k, gk)
					}
				}
			}
			active = active[:0]
			if gy < -gradMin {
				g[y], act[y] = float32(gy), stamp
				active = append(active, y)
			}
			for j, k := range neg.k {
				g[k], act[k] = float32(neg.g[j]), stamp
				active = append(active, k)
			}
			if len(active) == 0 {
				t++
				continue
			}
			for j, f := range x.idx {
				a := step * x.val[j]
				pass++
				row := rows[f]
				hits := 0
				for e := range row {
					k := row[e].cls
					if act[k] == stamp {
						d := -a * g[k]
						row[e].w += d
						row[e].u += t * d
						done[k] = pass
						hits++
					}
				}
				if hits == len(active) {
					continue
				}
				for _, k := range active {
					if done[k] == pass {
						continue
					}
					d := -a * g[k]
					if k != y && d < o.newMin && d > -o.newMin {
						continue
					}
					if len(row) < int(rowCap[f]) {
						row = append(row, entry{k, d, t * d})
						continue
					}
					// Full: replace the smallest weight if d is larger.
					ad := abs32(d)
					if ad <= floor[f] {
						continue
					}
					lo, lo2 := -1, float32(math.MaxFloat32)
					for e := range row {
						aw := abs32(row[e].w)
						if lo < 0 || aw < abs32(row[lo].w) {
							if lo >= 0 {
								lo2 = min(lo2, abs32(row[lo].w))
							}
							lo = e
						} else {
							lo2 = min(lo2, aw)
						}
					}
					if ad <= abs32(row[lo].w) {
						floor[f] = abs32(row[lo].w)
						continue
					}
					row[lo] = entry{k, d, t * d}
					floor[f] = min(lo2, ad)
				}
				rows[f] = row
			}
			t++
		}
	}
	// Averaged weights, pruned, into sparse rows.
	l := &linear{c: c, off: make([]int32, nFeat+1)}
	kept := 0
	for _, row := range rows {
		for _, e := range row {
			if w := avg(e, t); w >= o.prune || w <= -o.prune {
				kept++
			}
		}
	}
	l.cls, l.w = make([]int32, 0, kept), make([]float32, 0, kept)
	for f, row := range rows {
		for _, e := range row {
			if w := avg(e, t); w >= o.prune || w <= -o.prune {
				l.cls = append(l.cls, e.cls)
				l.w = append(l.w, w)
			}
		}
		rows[f] = nil
		l.off[f+1] = int32(len(l.w))
	}
	return l
}

// avg is the average over t steps of a weight.
func avg(e entry, t float32) float32 {
	if t == 0 {
		return e.w
	}
	return e.w - e.u/t
}

func abs32(x float32) float32 { return max(x, -x) }

// topNeg keeps the classes with the largest gradients in absolute value,
// at most m, ties to the first added (deterministic: classes come in a
// fixed order).
type topNeg struct {
	m int
	k []int32
	g []float64
}

func newTopNeg(m int) *topNeg { return &topNeg{m: m} }

func (t *topNeg) reset() { t.k, t.g = t.k[:0], t.g[:0] }

func (t *topNeg) add(k int32, g float64) {
	ag := math.Abs(g)
	if len(t.k) == t.m {
		if t.m == 0 || ag <= math.Abs(t.g[len(t.g)-1]) {
			return
		}
		t.k, t.g = t.k[:t.m-1], t.g[:t.m-1]
	}
	// Insert in order of decreasing |g|.
	i := len(t.k)
	t.k, t.g = append(t.k, k), append(t.g, g)
	for i > 0 && math.Abs(t.g[i-1]) < ag {
		t.k[i], t.g[i] = t.k[i-1], t.g[i-1]
		i--
	}
	t.k[i], t.g[i] = k, g
}

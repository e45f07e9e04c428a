package suggest

import (
	"math/rand/v2"
)

// linear is a multinomial logistic regression (softmax) over sparse TF-IDF
// vectors, score(c) = sum_f x_f * w(f, c), stored sparse by feature: the
// weights of feature f are cls/w[off[f]:off[f+1]]. Weights too small to
// change a ranking are dropped after training (about 80-90 % of them).
type linear struct {
	c   int
	off []int32
	cls []int32
	w   []float32
}

// trainLinear fits a softmax classifier by averaged stochastic gradient
// descent: plain SGD with a constant step over shuffled examples, then the
// average of the weights over all steps (Polyak-Ruppert averaging), which
// generalises like a tuned decaying step without tuning one. xs[i] (unit
// length) has class ys[i] in [0, c). Weights below prune in absolute value
// are dropped.
func trainLinear(xs []vec, ys []int32, nFeat, c, epochs int, lr float64, seed uint64, prune float32) *linear {
	// Row f holds the weights of feature f for every class, then the sums
	// of t * update used for the average: the two halves sit side by side
	// so an update touches neighbouring cache lines.
	wu := make([]float32, nFeat*2*c)
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := make([]float64, c)
	s32 := make([]float32, c)
	g := make([]float32, c)
	active := make([]int32, 0, c)
	step := float32(lr)
	var t float32
	for range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			x, y := xs[i], int(ys[i])
			clear(s32)
			for j, f := range x.idx {
				axpy(s32, wu[int(f)*2*c:int(f)*2*c+c], x.val[j])
			}
			for k, v := range s32 {
				s[k] = float64(v)
			}
			softmax(s)
			// Gradient of the log loss: p - onehot(y). Classes with a
			// negligible gradient are skipped: after the first epoch most
			// are, so an update touches a few classes instead of all.
			active = active[:0]
			for k, pk := range s {
				if k == y {
					pk--
				}
				if pk > 1e-4 || pk < -1e-4 {
					g[k] = float32(pk)
					active = append(active, int32(k))
				}
			}
			for j, f := range x.idx {
				a := step * x.val[j]
				row := wu[int(f)*2*c : int(f)*2*c+2*c]
				w, u := row[:c], row[c:]
				for _, k := range active {
					d := -a * g[k]
					w[k] += d
					u[k] += t * d
				}
			}
			t++
		}
	}
	// Averaged weights, pruned, into sparse rows.
	l := &linear{c: c, off: make([]int32, nFeat+1)}
	for f := range nFeat {
		row := wu[f*2*c : f*2*c+2*c]
		for k := range c {
			v := row[k]
			if t > 0 {
				v -= row[c+k] / t
			}
			if v >= prune || v <= -prune {
				l.cls = append(l.cls, int32(k))
				l.w = append(l.w, v)
			}
		}
		l.off[f+1] = int32(len(l.w))
	}
	return l
}

// scores sets out[c] to the class scores of x.
func (l *linear) scores(x vec, out []float64) {
	clear(out)
	for j, f := range x.idx {
		v := float64(x.val[j])
		lo, hi := l.off[f], l.off[f+1]
		for k, c := range l.cls[lo:hi] {
			out[c] += v * float64(l.w[int(lo)+k])
		}
	}
}

// axpy adds a*x to y (len(x) >= len(y)).
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y4, x4 := y[i:i+4:i+4], x[i:i+4:i+4]
		y4[0] += a * x4[0]
		y4[1] += a * x4[1]
		y4[2] += a * x4[2]
		y4[3] += a * x4[3]
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

package cluster

import (
	"math"
	"slices"

	"github.com/loopdesk/loopdesk/search"
)

// Feature kinds, the first byte of a feature key.
const (
	kindWord   = 'w' // stemmed word from search.Tokenize (CJK bigrams as they are)
	kindBigram = 'b' // two adjacent stemmed Latin words
	kindPair   = 'p' // two stemmed Latin words near each other, unordered
	kindChar   = 'c' // character n-gram of a Latin word, or a CJK character
)

// featurizer turns text into feature keys. Words come from search.Tokenize,
// so Chinese, English and mixed text are cut exactly as ticket search cuts
// them: CJK bigrams, lowercased Latin words, a few English stop words
// dropped.
type featurizer struct {
	stem           bool // search.Stem on Latin words
	bigrams        bool // adjacent Latin word pairs
	pairWin        int  // unordered Latin word pairs at most pairWin words apart; 0: none
	charLo, charHi int  // character n-grams of Latin words; 0: none
	cjkChars       bool // single CJK characters
	cjkStop        bool // drop Chinese function words (search.IsCJKFunctionTerm)
	stopBigrams    bool // bigrams over search.TokenizeAll: stop words kept
}

// each calls fn with every feature key of text, duplicates included. The key
// slice is reused between calls.
//
// Pairs ("pending ... withdrawal") carry the conjunctions that tell "cash
// withdrawal pending" from "cash withdrawal fee", which a bag of words
// blurs; character n-grams absorb typos and inflections; single CJK
// characters let 退款 meet 退钱.
func (fz *featurizer) each(text string, fn func(key []byte)) {
	var key []byte
	if fz.bigrams && fz.stopBigrams {
		// Bigrams with the stop words search drops: "my name" and
		// "your name", "is my" and "is the" ask different things.
		prev := ""
		for _, t := range search.TokenizeAll(text) {
			if search.IsCJKTerm(t) {
				prev = ""
				continue
			}
			w := t
			if fz.stem {
				w = search.Stem(t)
			}
			if prev != "" {
				key = append(append(append(append(key[:0], kindBigram), prev...), ' '), w...)
				fn(key)
			}
			prev = w
		}
	}
	prev := ""
	var win []string
	for _, t := range search.Tokenize(text) {
		cjk := search.IsCJKTerm(t)
		if cjk && fz.cjkStop && search.IsCJKFunctionTerm(t) {
			prev = ""
			continue
		}
		w := t
		if fz.stem && !cjk {
			w = search.Stem(t)
		}
		key = append(append(key[:0], kindWord), w...)
		fn(key)
		if cjk {
			prev = ""
			if fz.cjkChars {
				search.CJKRunes(t, func(r rune) {
					key = append(append(key[:0], kindChar), string(r)...)
					if !fz.cjkStop || !search.IsCJKFunctionTerm(string(key[1:])) {
						fn(key)
					}
				})
			}
			continue
		}
		if fz.bigrams && !fz.stopBigrams && prev != "" {
			key = append(append(append(append(key[:0], kindBigram), prev...), ' '), w...)
			fn(key)
		}
		prev = w
		if fz.pairWin > 0 {
			for _, o := range win {
				if o == w {
					continue
				}
				a, b := o, w
				if a > b {
					a, b = b, a
				}
				key = append(append(append(append(key[:0], kindPair), a...), '|'), b...)
				fn(key)
			}
			win = append(win, w)
			if len(win) > fz.pairWin {
				win = win[1:]
			}
		}
		if fz.charLo > 0 {
			search.CharNGrams(t, fz.charLo, fz.charHi, func(g []byte) {
				key = append(append(key[:0], kindChar), g...)
				fn(key)
			})
		}
	}
}

// Features are hashed into a fixed space, so the State's size does not grow
// with the vocabulary (typos, order numbers and word pairs make it grow
// without end) and no string map is needed. Even indices hold word
// features (words, bigrams, pairs), odd ones character features. At 2^20
// slots collisions are rare enough to change nothing measurable.
const (
	hashBits = 20
	nFeat    = 1 << hashBits
)

// featureIndex hashes a feature key (FNV-1a, 64 bits).
func featureIndex(k []byte) int32 {
	h := uint64(14695981039346656037)
	for _, c := range k {
		h ^= uint64(c)
		h *= 1099511628211
	}
	i := int32(h>>(64-hashBits+1)) << 1
	if k[0] == kindChar {
		i |= 1
	}
	return i
}

func isCharFeature(i int32) bool { return i&1 == 1 }

// vec is a sparse vector sorted by feature index.
type vec struct {
	idx []int32
	val []float32
}

// counts featurizes text into raw counts, sorted by feature index; tf is
// scratch.
func (fz *featurizer) counts(text string, tf map[int32]int32) vec {
	clear(tf)
	fz.each(text, func(k []byte) { tf[featureIndex(k)]++ })
	x := vec{idx: make([]int32, 0, len(tf)), val: make([]float32, len(tf))}
	for i := range tf {
		x.idx = append(x.idx, i)
	}
	slices.Sort(x.idx)
	for j, i := range x.idx {
		x.val[j] = float32(tf[i])
	}
	return x
}

// dot is the inner product of two sorted sparse vectors.
func dot(a, b vec) float64 {
	var s float64
	i, j := 0, 0
	for i < len(a.idx) && j < len(b.idx) {
		switch {
		case a.idx[i] < b.idx[j]:
			i++
		case a.idx[i] > b.idx[j]:
			j++
		default:
			s += float64(a.val[i]) * float64(b.val[j])
			i++
			j++
		}
	}
	return s
}

// addVec returns a + b as a new vector.
func addVec(a, b vec) vec {
	out := vec{idx: make([]int32, 0, len(a.idx)+len(b.idx)), val: make([]float32, 0, len(a.idx)+len(b.idx))}
	i, j := 0, 0
	for i < len(a.idx) || j < len(b.idx) {
		switch {
		case j == len(b.idx) || i < len(a.idx) && a.idx[i] < b.idx[j]:
			out.idx = append(out.idx, a.idx[i])
			out.val = append(out.val, a.val[i])
			i++
		case i == len(a.idx) || a.idx[i] > b.idx[j]:
			out.idx = append(out.idx, b.idx[j])
			out.val = append(out.val, b.val[j])
			j++
		default:
			out.idx = append(out.idx, a.idx[i])
			out.val = append(out.val, a.val[i]+b.val[j])
			i++
			j++
		}
	}
	return out
}

func norm2(a vec) float64 {
	var s float64
	for _, v := range a.val {
		s += float64(v) * float64(v)
	}
	return s
}

// unitDir is x scaled to unit length (x itself when it is zero).
func unitDir(x vec) vec {
	n := math.Sqrt(norm2(x))
	if n == 0 {
		return x
	}
	out := vec{idx: x.idx, val: make([]float32, len(x.val))}
	for i, v := range x.val {
		out.val[i] = float32(float64(v) / n)
	}
	return out
}

func contains(x vec, f int32) bool {
	_, ok := slices.BinarySearch(x.idx, f)
	return ok
}

// truncate keeps the n largest weights of x (ties by feature index).
func truncate(x vec, n int) vec {
	if len(x.idx) <= n {
		return x
	}
	ord := make([]int, len(x.idx))
	for i := range ord {
		ord[i] = i
	}
	slices.SortFunc(ord, func(a, b int) int {
		switch {
		case x.val[a] > x.val[b]:
			return -1
		case x.val[a] < x.val[b]:
			return 1
		}
		return int(x.idx[a] - x.idx[b])
	})
	ord = ord[:n]
	slices.Sort(ord)
	out := vec{idx: make([]int32, n), val: make([]float32, n)}
	for k, o := range ord {
		out.idx[k], out.val[k] = x.idx[o], x.val[o]
	}
	return out
}

// weights are the corpus statistics that turn counts into vectors: the
// document frequency of every feature (for IDF) and its neighbourhood
// consistency (see reweight). They grow with every Add.
type weights struct {
	docs int
	df   []int32   // by feature
	has  []float32 // by feature: (item, near neighbour) pairs where the item has it
	both []float32 // ... and the neighbour has it too
}

func newWeights() *weights {
	return &weights{df: make([]int32, nFeat), has: make([]float32, nFeat), both: make([]float32, nFeat)}
}

// tfidf turns raw counts into a unit TF-IDF vector: sublinear tf (1 + ln
// tf) times smoothed IDF; the word block and the character block are each
// scaled to unit length, then the whole. Features in fewer than minDF
// documents are dropped: a typo or a one-off order number says nothing
// about which issue a ticket belongs to.
func (w *weights) tfidf(x vec, minDF int32) vec {
	out := vec{idx: make([]int32, 0, len(x.idx)), val: make([]float32, 0, len(x.idx))}
	n := float64(w.docs)
	for j, i := range x.idx {
		if w.df[i] < minDF {
			continue
		}
		idf := math.Log((n+1)/(float64(w.df[i])+1)) + 1
		out.idx = append(out.idx, i)
		out.val = append(out.val, float32((1+math.Log(float64(x.val[j])))*idf))
	}
	return blockNormalise(out)
}

// blockNormalise scales the word block and the character block of x to
// unit length each, then x to unit length, in place.
func blockNormalise(x vec) vec {
	var nw, nc float64
	for j, i := range x.idx {
		f := float64(x.val[j])
		if isCharFeature(i) {
			nc += f * f
		} else {
			nw += f * f
		}
	}
	var sw, sc float64
	if nw > 0 {
		sw = 1 / math.Sqrt(nw)
	}
	if nc > 0 {
		sc = 1 / math.Sqrt(nc)
	}
	for j, i := range x.idx {
		if isCharFeature(i) {
			x.val[j] *= float32(sc)
		} else {
			x.val[j] *= float32(sw)
		}
	}
	return unitDir(x)
}

// consistency is the weight of feature f: of the (item, nearest
// neighbour) pairs where the item has f, the fraction where the neighbour
// has it too, smoothed towards 1 for features seen in few pairs. Words that
// define an issue ("pending", "withdrawal", "daughter", 退款) recur among a
// question's nearest neighbours; filler ("please", "just", "help") does
// not.
func (w *weights) consistency(f int32) float64 {
	return (float64(w.both[f]) + consistencyPrior) / (float64(w.has[f]) + consistencyPrior/0.1)
}

// consistencyPrior: a feature never seen near its own kind weighs 0.1 after
// about consistencyPrior/0.1 pairs of evidence. See reweight.
const consistencyPrior = 0.1

// reweight scales every feature of unit TF-IDF vectors by its
// consistency and normalises again.
func (w *weights) reweight(xs []vec) []vec {
	out := make([]vec, len(xs))
	for i, x := range xs {
		y := vec{idx: x.idx, val: make([]float32, len(x.val))}
		for j, f := range x.idx {
			y.val[j] = float32(float64(x.val[j]) * w.consistency(f))
		}
		out[i] = unitDir(y)
	}
	return out
}

// learnConsistency adds the evidence of items sets[from:] (feature sets of
// vectors) and their nearest neighbours nb (indices into sets; the list of
// sets[d] at d-from).
func (w *weights) learnConsistency(sets []vec, from int, nb [][]neighbour) {
	for q, l := range nb {
		for _, f := range sets[from+q].idx {
			for _, e := range l {
				w.has[f]++
				if contains(sets[e.j], f) {
					w.both[f]++
				}
			}
		}
	}
}

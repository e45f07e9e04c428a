package suggest

import (
	"math"
	"slices"

	"github.com/loopdesk/loopdesk/search"
)

// Feature kinds, the first byte of a feature key.
const (
	kindWord   = 'w' // stemmed word from search.TokenizeAll (CJK bigrams as they are)
	kindBigram = 'b' // two adjacent stemmed words
	kindChar   = 'c' // character n-gram of a Latin word, or a CJK character
)

// vec is a sparse vector sorted by feature index.
type vec struct {
	idx []int32
	val []float32
}

// featurizer turns text into feature keys. Words come from search.Tokenize
// (or search.TokenizeAll, which keeps stop words), so Chinese, English and
// mixed text are cut exactly as ticket search cuts them.
type featurizer struct {
	stem           bool
	bigrams        bool
	charLo, charHi int // 0 disables character n-grams
	cjkChars       bool
	keepStop       bool // words from search.TokenizeAll (stop words kept)
}

// each calls fn with every feature key of text, duplicates included. The key
// slice is reused between calls.
func (fz *featurizer) each(text string, fn func(key []byte)) {
	var toks []string
	if fz.keepStop {
		toks = search.TokenizeAll(text)
	} else {
		toks = search.Tokenize(text)
	}
	var key []byte
	prev := ""
	for _, t := range toks {
		cjk := search.IsCJKTerm(t)
		w := t
		if fz.stem && !cjk {
			w = search.Stem(t)
		}
		key = append(append(key[:0], kindWord), w...)
		fn(key)
		if fz.bigrams && !cjk {
			// CJK bigrams already span two characters; word bigrams are for
			// Latin phrases ("top up", "exchange rate").
			if prev != "" {
				key = append(append(append(append(key[:0], kindBigram), prev...), ' '), w...)
				fn(key)
			}
			prev = w
		} else {
			prev = ""
		}
		switch {
		case cjk && fz.cjkChars && fz.charLo > 0:
			// Characters of a bigram; inner characters of a run count
			// twice, which sublinear tf makes harmless.
			search.CJKRunes(t, func(r rune) {
				key = appendRune(append(key[:0], kindChar), r)
				fn(key)
			})
		case !cjk && fz.charLo > 0:
			search.CharNGrams(t, fz.charLo, fz.charHi, func(g []byte) {
				key = append(append(key[:0], kindChar), g...)
				fn(key)
			})
		}
	}
}

func appendRune(b []byte, r rune) []byte { return append(b, string(r)...) }

// vocab maps feature keys to indices and holds their inverse document
// frequencies.
type vocab struct {
	ids  map[string]int32
	idf  []float32
	char []bool // feature is a character feature (its own L2 block)
}

// vocabBuilder numbers features in order of first sight (deterministic:
// documents and their features come in a fixed order) and counts document
// frequencies. Documents are kept as count vectors, not string maps: at
// 100,000 tickets that is the difference between 80 MB and 500 MB.
type vocabBuilder struct {
	ids  map[string]int32
	df   []int32
	char []bool
	docs []vec // raw counts in val
	tf   map[int32]int32
}

func newVocabBuilder() *vocabBuilder {
	return &vocabBuilder{ids: map[string]int32{}, tf: map[int32]int32{}}
}

// add featurizes text as one more document and returns its index.
func (b *vocabBuilder) add(fz *featurizer, text string) int {
	clear(b.tf)
	fz.each(text, func(k []byte) {
		i, ok := b.ids[string(k)]
		if !ok {
			i = int32(len(b.df))
			b.ids[string(k)] = i
			b.df = append(b.df, 0)
			b.char = append(b.char, k[0] == kindChar)
		}
		b.tf[i]++
	})
	x := vec{idx: make([]int32, 0, len(b.tf)), val: make([]float32, len(b.tf))}
	for i := range b.tf {
		x.idx = append(x.idx, i)
		b.df[i]++
	}
	slices.Sort(x.idx)
	for j, i := range x.idx {
		x.val[j] = float32(b.tf[i])
	}
	b.docs = append(b.docs, x)
	return len(b.docs) - 1
}

// finish drops features found in fewer than minDF documents, computes the
// IDF and turns every document into its TF-IDF vector (see tfidf).
func (b *vocabBuilder) finish(minDF int) (*vocab, []vec) {
	remap := make([]int32, len(b.df))
	v := &vocab{ids: make(map[string]int32, len(b.ids))}
	n := float64(len(b.docs))
	// Keys in index order, so the kept features keep their relative order.
	keys := make([]string, len(b.df))
	for k, i := range b.ids {
		keys[i] = k
	}
	for i, k := range keys {
		if int(b.df[i]) < minDF {
			remap[i] = -1
			continue
		}
		remap[i] = int32(len(v.idf))
		v.ids[k] = remap[i]
		// Smoothed IDF, always positive (as scikit-learn's TfidfVectorizer).
		v.idf = append(v.idf, float32(math.Log((n+1)/(float64(b.df[i])+1))+1))
		v.char = append(v.char, b.char[i])
	}
	for d, x := range b.docs {
		out := vec{idx: x.idx[:0], val: x.val[:0]}
		for j, i := range x.idx {
			if r := remap[i]; r >= 0 {
				out.idx = append(out.idx, r)
				out.val = append(out.val, x.val[j])
			}
		}
		v.tfidf(&out)
		b.docs[d] = out
	}
	return v, b.docs
}

// vectorizeText is the TF-IDF vector of text; features unknown to the
// vocabulary are dropped (the Rank path: no string is built per feature).
func (v *vocab) vectorizeText(fz *featurizer, text string) vec {
	tf := map[int32]int32{}
	fz.each(text, func(k []byte) {
		if i, ok := v.ids[string(k)]; ok {
			tf[i]++
		}
	})
	x := vec{idx: make([]int32, 0, len(tf)), val: make([]float32, len(tf))}
	for i := range tf {
		x.idx = append(x.idx, i)
	}
	slices.Sort(x.idx) // sums below in a fixed order: deterministic
	for j, i := range x.idx {
		x.val[j] = float32(tf[i])
	}
	v.tfidf(&x)
	return x
}

// counts returns the feature counts of text (for BM25).
func (fz *featurizer) counts(text string) map[string]int32 {
	m := map[string]int32{}
	fz.each(text, func(k []byte) { m[string(k)]++ })
	return m
}

// tfidf turns the raw counts in x.val (x.idx sorted) into a TF-IDF
// vector in place: sublinear tf (1 + ln tf) times IDF; the word block
// (words and bigrams) and the character block are each scaled to unit
// length, so that long words' many n-grams do not drown the words, then the
// whole to unit length.
func (v *vocab) tfidf(x *vec) {
	for j, i := range x.idx {
		x.val[j] = float32((1 + math.Log(float64(x.val[j]))) * float64(v.idf[i]))
	}
	var nw, nc float64
	for j, i := range x.idx {
		f := float64(x.val[j])
		if v.char[i] {
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
	var n float64
	for j, i := range x.idx {
		s := sw
		if v.char[i] {
			s = sc
		}
		f := float64(x.val[j]) * s
		x.val[j] = float32(f)
		n += f * f
	}
	if n > 0 {
		s := 1 / math.Sqrt(n)
		for j := range x.val {
			x.val[j] = float32(float64(x.val[j]) * s)
		}
	}
}

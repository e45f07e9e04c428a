package suggest

import (
	"cmp"
	"math"
	"slices"
)

// BM25 parameters, as in search.Index.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// bm25 is an in-memory BM25 index over a few documents (the articles).
type bm25 struct {
	postings map[string][]posting
	docLen   []float64
	avgdl    float64
	n        int
}

// posting is a document and a weight (a term frequency, or a TF-IDF
// component).
type posting struct {
	doc int32
	w   float32
}

// newBM25 indexes docs, each a term-count map.
func newBM25(docs []map[string]int32) *bm25 {
	b := &bm25{postings: map[string][]posting{}, docLen: make([]float64, len(docs)), n: len(docs)}
	var total float64
	for i, d := range docs {
		var l float64
		for t, c := range d {
			b.postings[t] = append(b.postings[t], posting{int32(i), float32(c)})
			l += float64(c)
		}
		b.docLen[i] = l
		total += l
	}
	if len(docs) > 0 {
		b.avgdl = max(total/float64(len(docs)), 1)
	}
	for _, ps := range b.postings {
		slices.SortFunc(ps, func(x, y posting) int { return cmp.Compare(x.doc, y.doc) })
	}
	return b
}

// score adds the BM25 score of each document for the distinct query terms
// to out (len(out) == number of documents) and reports whether any term
// matched.
func (b *bm25) score(terms []string, out []float64) bool {
	hit := false
	for _, t := range terms {
		ps := b.postings[t]
		if len(ps) == 0 {
			continue
		}
		hit = true
		df := float64(len(ps))
		idf := math.Log(1 + (float64(b.n)-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := float64(p.w)
			out[p.doc] += idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*b.docLen[p.doc]/b.avgdl))
		}
	}
	return hit
}

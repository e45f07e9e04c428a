package suggest

import (
	"math"
	"slices"
)

// BM25 parameters, as in search.Index.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// bm25 is an in-memory BM25 index over the articles: an inverted index
// whose postings hold each term's finished BM25 weight in the document
// (IDF times the saturated, length-normalised term frequency), so that a
// query costs one addition per posting of its terms, whatever the number of
// articles.
type bm25 struct {
	voc  featTable // term hash to term index
	off  []int32   // postings of term t: post[off[t]:off[t+1]]
	post []posting
}

// posting is a document and a weight (a BM25 weight, or a TF-IDF
// component).
type posting struct {
	doc int32
	w   float32
}

// newBM25 indexes texts (documents in order) as cut into terms by fz;
// terms of more than maxDF documents are left out.
func newBM25(fz *featurizer, texts []string, maxDF int) *bm25 {
	vb := newVocabBuilder()
	for _, t := range texts {
		vb.add(fz, t)
	}
	d := &vb.docs
	nDocs := d.len()
	docLen := make([]float64, nDocs)
	var total float64
	for r := range nDocs {
		for _, c := range d.cnt[r] {
			docLen[r] += float64(c)
		}
		total += docLen[r]
	}
	avgdl := 1.0
	if nDocs > 0 {
		avgdl = max(total/float64(nDocs), 1)
	}
	b := &bm25{voc: vb.tab}
	b.off, b.post = transpose(d, len(vb.df), maxDF, func(r, j int) float32 {
		df := float64(vb.df[d.idx[r][j]])
		idf := math.Log(1 + (float64(nDocs)-df+0.5)/(df+0.5))
		tf := float64(d.cnt[r][j])
		return float32(idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*docLen[r]/avgdl)))
	})
	return b
}

// transpose turns rows of d into postings by feature (nFeat of them), each
// posting weighted by w(row, position in the row), documents in increasing
// order. Features of more than maxDF rows get no postings (see commonDF).
func transpose(d *docSet, nFeat, maxDF int, w func(r, j int) float32) (off []int32, post []posting) {
	df := make([]int32, nFeat)
	for _, idx := range d.idx {
		for _, f := range idx {
			df[f]++
		}
	}
	off = make([]int32, nFeat+1)
	for f, n := range df {
		if int(n) > maxDF {
			n = 0
		}
		off[f+1] = off[f] + n
	}
	post = make([]posting, off[nFeat])
	next := slices.Clone(off[:nFeat])
	for r, idx := range d.idx {
		for j, f := range idx {
			if next[f] < off[f+1] {
				post[next[f]] = posting{int32(r), w(r, j)}
				next[f]++
			}
		}
	}
	return off, post
}

// commonDF is the number of articles past which a feature of article text
// is left out of the text match's postings: a word or n-gram in more than
// half of a large base (stop words, the words every article's template
// repeats) adds nearly the same to every article's score, so it cannot
// change the ranking much, while its postings would make every query that
// uses it scan most of the base. Under 100 articles nothing is left out.
func commonDF(n int) int {
	if n < 100 {
		return n
	}
	return n / 2
}

// score calls add with each document's BM25 weight for each distinct term
// of text (a document may come several times) and reports whether any
// term matched.
func (b *bm25) score(fz *featurizer, text string, add func(doc int32, w float32)) bool {
	var terms []int32
	fz.each(text, func(k []byte) {
		if t, ok := b.voc.get(hashKey(k)); ok {
			terms = append(terms, t)
		}
	})
	slices.Sort(terms)
	terms = slices.Compact(terms)
	for _, t := range terms {
		for _, p := range b.post[b.off[t]:b.off[t+1]] {
			add(p.doc, p.w)
		}
	}
	return len(terms) > 0
}

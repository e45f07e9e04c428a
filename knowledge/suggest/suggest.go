// Package suggest ranks knowledge articles for a ticket's text and learns
// from the tickets already resolved with an article.
//
// It is pure: no database, no HTTP. The knowledge service loads the
// published articles and the ticket-to-article links (solved_by or
// referenced), calls Build, keeps the Model and swaps in a new one when the
// base changes; Rank then costs well under a millisecond of CPU.
//
// A Model has two parts, fused per article:
//
//   - the text match: the ticket against each article's title, summary,
//     body and tags, as BM25 over stemmed words plus the cosine of TF-IDF
//     vectors of words, word bigrams and character n-grams. It needs no
//     linked tickets, so a new article is suggested from its first day;
//   - the learned part: a multinomial logistic regression (softmax, averaged
//     SGD) over TF-IDF features of words, word bigrams and character
//     n-grams, trained on the linked tickets and the articles' own text. Each
//     resolved ticket teaches which wordings lead to its article.
//
// The text match weighs on an article in inverse proportion to how many
// linked tickets it has: it decides for articles nobody has linked yet and
// hardly matters for those the classifier knows well.
//
// Chinese, English and mixed text go through search.Tokenize (CJK bigrams,
// lowercased Latin words), as in ticket search; single CJK characters and
// character n-grams of Latin words are added as features, which also absorb
// typos and inflections. Measured figures: docs/BENCHMARKS.md, "Article
// suggestions on BANKING77 and CLINC150".
package suggest

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Article is a published article as the ranker sees it. Ranking ignores
// the article's language on purpose (requesters mix scripts): pass only the
// articles a requester may be shown.
type Article struct {
	ID      int64
	Title   string
	Summary string
	Body    string
	Tags    []string
}

// Example is a resolved ticket linked to an article (solved_by or
// referenced): Text is its subject, description and public comments.
type Example struct {
	ArticleID int64
	Text      string
}

// Suggestion is a ranked article. Score is in [0, 1]; the scores of all the
// model's articles for one text sum to 1, so it reads as the model's share
// of belief, comparable within one Rank call.
type Suggestion struct {
	ArticleID int64
	Score     float64
}

// Options tunes Build. The zero value is the measured default.
type Options struct {
	// Epochs of classifier training; 0 picks enough passes for about
	// 60,000 steps, between 3 and 40.
	Epochs int
	// Seed of the training order; results are deterministic for a seed.
	// 0 means 1.
	Seed uint64

	p *params // tests: experiments with the internal settings
}

// trainSteps is how many examples the classifier sees in training (the
// epochs are rounded up), unless Options.Epochs says otherwise: measured on
// BANKING77 and CLINC150, more passes gain nothing.
const trainSteps = 60_000

// bigBase is the number of training documents past which features seen in
// a single document are dropped: at 100,000 tickets they are mostly typos,
// and they would double the memory Build needs (measured neutral on
// accuracy at 18,000).
const bigBase = 50_000

// params are the internal settings; defaultParams holds the measured ones.
type params struct {
	fz     featurizer // classifier and text-cosine features
	lr     float64    // classifier SGD step
	prune  float32    // classifier weights smaller than this are dropped
	titleN int        // title terms count this many times in BM25

	// Fusion: P_text = softmax(bm25/textTemp + textCos*cosine); article a
	// scores P_clf(a) + textWeight*textK/(textK+n_a) * P_text(a), n_a its
	// linked tickets.
	textTemp   float64
	textCos    float64
	textWeight float64
	textK      float64
}

func defaultParams() params {
	return params{
		fz:         featurizer{stem: true, bigrams: true, charLo: 3, charHi: 4, cjkChars: true, keepStop: true},
		lr:         4,
		prune:      0.03,
		titleN:     2,
		textTemp:   4,
		textCos:    5,
		textWeight: 2,
		textK:      5,
	}
}

// Model ranks articles. It is immutable once built and safe for concurrent
// use by any number of goroutines.
type Model struct {
	p   params
	ids []int64 // article IDs by class index

	// Text match.
	bm25    *bm25
	artVoc  *vocab
	artPost [][]posting // by artVoc feature: articles and their TF-IDF weight

	// Classifier; nil when there were no examples.
	voc   *vocab
	clf   *linear
	textW []float64 // by article: weight of the text match in the fusion

	examples int
}

// Build makes a model of articles and the examples linked to them. Examples
// whose ArticleID is not among articles, and blank texts, are ignored; of
// two articles with one ID the first is kept. With no examples the model
// ranks by article text alone.
//
// Cost: Build is single-threaded, 0.6-2 s for 10,000 examples and 77
// articles on the project's 2-core box, 4-8 s for 100,000 examples and 150
// articles. Training holds a dense table of features x 2 x articles float32
// (about 100 MB at 86,000 features and 150 articles): a base with thousands
// of articles and 100,000 examples would need feature hashing or sparse
// training. The built model keeps only the weights that matter (0.6-1.4 M
// for those sizes).
func Build(articles []Article, examples []Example, opts Options) *Model {
	p := defaultParams()
	if opts.p != nil {
		p = *opts.p
	}
	m := &Model{p: p}
	class := map[int64]int32{}
	var arts []Article
	for _, a := range articles {
		if _, dup := class[a.ID]; dup {
			continue
		}
		class[a.ID] = int32(len(m.ids))
		m.ids = append(m.ids, a.ID)
		arts = append(arts, a)
	}

	// Text match: BM25 over stemmed words, title counted titleN times, and
	// TF-IDF vectors of the articles (IDF over articles).
	wordFz := featurizer{stem: p.fz.stem}
	docs := make([]map[string]int32, len(arts))
	artB := newVocabBuilder()
	for i, a := range arts {
		docs[i] = wordFz.counts(articleText(a))
		for range p.titleN - 1 {
			wordFz.each(a.Title, func(k []byte) { docs[i][string(k)]++ })
		}
		artB.add(&p.fz, articleText(a))
	}
	m.bm25 = newBM25(docs)
	var artVecs []vec
	m.artVoc, artVecs = artB.finish(1)
	m.artPost = make([][]posting, len(m.artVoc.idf))
	for i, x := range artVecs {
		for j, f := range x.idx {
			m.artPost[f] = append(m.artPost[f], posting{int32(i), x.val[j]})
		}
	}

	// Classifier: the linked tickets plus each article's own text (so an
	// article without tickets still has a class).
	b := newVocabBuilder()
	var ys []int32
	for _, e := range examples {
		c, ok := class[e.ArticleID]
		if !ok || strings.TrimSpace(e.Text) == "" {
			continue
		}
		b.add(&p.fz, e.Text)
		ys = append(ys, c)
	}
	m.examples = len(ys)
	if m.examples == 0 {
		return m
	}
	perArticle := make([]int, len(arts))
	for _, y := range ys {
		perArticle[y]++
	}
	m.textW = make([]float64, len(arts))
	for i, n := range perArticle {
		m.textW[i] = p.textWeight * p.textK / (p.textK + float64(n))
	}
	for i, a := range arts {
		b.add(&p.fz, articleText(a))
		ys = append(ys, int32(i))
	}
	minDF := 1
	if len(ys) > bigBase {
		minDF = 2
	}
	var xs []vec
	m.voc, xs = b.finish(minDF)
	epochs := opts.Epochs
	if epochs <= 0 {
		epochs = min(max((trainSteps+len(xs)-1)/len(xs), 3), 40)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	m.clf = trainLinear(xs, ys, len(m.voc.idf), len(arts), epochs, p.lr, seed, p.prune)
	return m
}

// articleText is the text of an article for matching.
func articleText(a Article) string {
	return a.Title + "\n" + a.Summary + "\n" + a.Body + "\n" + strings.Join(a.Tags, "\n")
}

// Articles is the number of articles in the model.
func (m *Model) Articles() int { return len(m.ids) }

// Examples is the number of linked tickets the model learned from.
func (m *Model) Examples() int { return m.examples }

// Rank returns up to k articles for a ticket's text, best first; equal
// scores put the lower article ID first. k <= 0 means all. A text sharing
// nothing with the model's articles and tickets gives no suggestions.
func (m *Model) Rank(text string, k int) []Suggestion {
	n := len(m.ids)
	if n == 0 {
		return nil
	}
	scores := m.scores(text)
	if scores == nil {
		return nil
	}
	out := make([]Suggestion, n)
	for i := range out {
		out[i] = Suggestion{ArticleID: m.ids[i], Score: scores[i]}
	}
	slices.SortFunc(out, func(a, b Suggestion) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ArticleID, b.ArticleID)
	})
	if k > 0 && k < n {
		out = out[:k]
	}
	return out
}

// scores returns the fused score of every article for text, or nil when
// nothing in text is known to the model.
func (m *Model) scores(text string) []float64 {
	n := len(m.ids)
	txt, textHit := m.textScores(text)
	if m.clf == nil {
		if !textHit {
			return nil
		}
		return txt
	}
	x := m.voc.vectorizeText(&m.p.fz, text)
	if len(x.idx) == 0 && !textHit {
		return nil
	}
	s := make([]float64, n)
	m.clf.scores(x, s)
	softmax(s)
	if textHit {
		var z float64
		for i := range s {
			s[i] += m.textW[i] * txt[i]
			z += s[i]
		}
		for i := range s {
			s[i] /= z
		}
	}
	return s
}

// textScores is P_text, the softmax over articles of the BM25 score (in
// units of textTemp) plus textCos times the TF-IDF cosine; ok is false when
// text shares no feature with any article.
func (m *Model) textScores(text string) (p []float64, ok bool) {
	n := len(m.ids)
	var terms []string
	seen := map[string]struct{}{}
	wordFz := featurizer{stem: m.p.fz.stem}
	wordFz.each(text, func(k []byte) {
		if _, dup := seen[string(k)]; !dup {
			seen[string(k)] = struct{}{}
			terms = append(terms, string(k))
		}
	})
	p = make([]float64, n)
	ok = m.bm25.score(terms, p)
	for i := range p {
		p[i] /= m.p.textTemp
	}
	q := m.artVoc.vectorizeText(&m.p.fz, text)
	for j, f := range q.idx {
		ok = true
		w := m.p.textCos * float64(q.val[j])
		for _, a := range m.artPost[f] {
			p[a.doc] += w * float64(a.w)
		}
	}
	softmax(p)
	return p, ok
}

// softmax turns scores into probabilities in place.
func softmax(s []float64) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var z float64
	for i, v := range s {
		e := math.Exp(v - mx)
		s[i] = e
		z += e
	}
	for i := range s {
		s[i] /= z
	}
}

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
//     n-grams, trained on the linked tickets and the articles' own text, with
//     a class for each article that has linked tickets. Each resolved ticket
//     teaches which wordings lead to its article.
//
// The text match weighs on an article in inverse proportion to how many
// linked tickets it has: it decides for articles nobody has linked yet
// (they have no class) and hardly matters for those the classifier knows
// well.
//
// Scale. Memory and time follow the data, not articles x features: features
// are 64-bit hashes in an open-addressing table (no strings kept), training
// documents are compact count rows, the classifier is trained sparse (see
// trainLinear: per-feature lists of at most 256 weighted classes, the
// likeliest wrong classes only), and Rank scores only the articles that
// the text's features reach, through inverted indexes. The classifier has
// at most 1,024 classes, the articles with the most links: past that, the
// other linked articles are left to the text match, whose BM25 documents
// then hold every linked article's tickets (the classifier's share of the
// belief is its articles' share of the links). Figures for 10,000 articles
// and 100,000 links are in docs/BENCHMARKS.md.
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
	"sync"
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

// MinScore is the score under which a suggestion is not worth showing:
// measured on CLINC150 (docs/BENCHMARKS.md), a first suggestion scoring
// under it is usually for a question no article answers, and rarely a right
// one. Rank does not apply it; callers drop suggestions with
// Score < MinScore, best applied to the first suggestion (show none when it
// scores under MinScore), since later ones have smaller shares by nature.
// Chosen on CLINC150's validation questions as the largest threshold that
// loses at most 1 % of the right first suggestions; on its test questions
// it withholds suggestions from 61 % of the out-of-scope queries and loses
// 1.0 % of the right first suggestions. Scores spread over near-duplicate
// articles, so in a base with many of them more right answers fall under it.
const MinScore = 0.2

// Options tunes Build. The zero value is the measured default.
type Options struct {
	// Epochs of classifier training; 0 picks enough passes for about
	// 60,000 steps, between 2 and 40.
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
	fz         featurizer // classifier and text-cosine features
	lr         float64    // classifier SGD step
	prune      float32    // classifier weights smaller than this are dropped
	maxNeg     int        // classifier: most wrong classes updated per step
	maxRow     int        // classifier: most classes weighted per feature
	maxClasses int        // classifier: most classes (articles with most links)
	newMin     float32    // classifier: smallest update making a new weight of a wrong class
	titleN     int        // title terms count this many times in BM25

	// Fusion: P_text = softmax(bm25/textTemp + textCos*cosine); article a
	// scores P_clf(a) + textWeight*textK/(textK+n_a) * P_text(a), n_a its
	// linked tickets.
	textTemp   float64
	textCos    float64
	textWeight float64
	textK      float64
	coldBoost  float64 // textW of an article without a class: textWeight times this

	allClasses bool // tests: a class for every article, linked or not (the former model)
}

func defaultParams() params {
	return params{
		fz:         featurizer{stem: true, bigrams: true, charLo: 3, charHi: 4, cjkChars: true, keepStop: true},
		lr:         4,
		prune:      0.03,
		maxNeg:     10,
		maxRow:     256,
		maxClasses: 1024,
		newMin:     0.03,
		titleN:     2,
		textTemp:   4,
		textCos:    5,
		textWeight: 2,
		textK:      5,
		coldBoost:  1,
	}
}

// Model ranks articles. It is immutable once built and safe for concurrent
// use by any number of goroutines.
type Model struct {
	p   params
	ids []int64 // article IDs by article index

	// Text match: BM25, and the articles' TF-IDF vectors as postings by
	// feature (artPost[artOff[f]:artOff[f+1]]).
	bm25    *bm25
	artVoc  *vocab
	artOff  []int32
	artPost []posting

	// Classifier over the articles that have linked tickets (its classes
	// are article indices); nil when there were no linked tickets.
	voc     *vocab
	clf     *linear
	isClass []bool    // by article: the classifier has a class for it
	textW   []float64 // by article: weight of the text match in the fusion
	sumTW   float64   // sum of textW
	// clfShare is the share of the linked tickets that the classifier's
	// articles hold (1 unless maxClasses left some out): the prior that a
	// ticket's article is among them, by which P_clf is weighed.
	clfShare float64

	// A text reaches few articles through its features; all the others
	// score alike within two groups, and these orders list them best
	// first without sorting: the classifier's articles by number of linked
	// tickets then ID (textW decreasing, grouped by equal textW in
	// groupEnd), and by ID; the other articles by ID.
	classOrder []int32
	groupEnd   []int32
	classByID  []int32
	otherOrder []int32

	scratch  sync.Pool // *scratch
	examples int
}

// Build makes a model of articles and the examples linked to them. Examples
// whose ArticleID is not among articles, and blank texts, are ignored; of
// two articles with one ID the first is kept. With no examples the model
// ranks by article text alone.
//
// The classifier has a class for each article with at least one linked
// ticket, at most 1,024 (those with the most links); the others are ranked
// by the text match (see the package doc).
//
// Cost on the project's 2-core box (docs/BENCHMARKS.md): 1.3-2.5 s and
// under 30 MB of heap at peak for 10,000-15,000 examples and 77-150
// articles; 7-10 s and under 90 MB for 100,000 examples and 10,000
// articles. The costliest shape measured is about 1,000 articles with 100
// links each (18-22 s, 155 MB). Build is single-threaded.
func Build(articles []Article, examples []Example, opts Options) *Model {
	p := defaultParams()
	if opts.p != nil {
		p = *opts.p
	}
	m := &Model{p: p}
	index := map[int64]int32{}
	var arts []Article
	for _, a := range articles {
		if _, dup := index[a.ID]; dup {
			continue
		}
		index[a.ID] = int32(len(m.ids))
		m.ids = append(m.ids, a.ID)
		arts = append(arts, a)
	}
	n := len(arts)

	// The linked tickets by article, and the classifier's classes: the
	// linked articles, or the maxClasses with the most links.
	var exs []Example
	var exArt []int32
	perArticle := make([]int, n)
	for _, e := range examples {
		a, ok := index[e.ArticleID]
		if !ok || strings.TrimSpace(e.Text) == "" {
			continue
		}
		exs = append(exs, e)
		exArt = append(exArt, a)
		perArticle[a]++
	}
	m.examples = len(exs)
	var classArt []int32 // by class: article, in article order
	for i, cnt := range perArticle {
		if cnt > 0 || p.allClasses && len(exs) > 0 {
			classArt = append(classArt, int32(i))
		}
	}
	if len(classArt) > p.maxClasses {
		slices.SortStableFunc(classArt, func(a, b int32) int { return cmp.Compare(perArticle[b], perArticle[a]) })
		classArt = classArt[:p.maxClasses]
		slices.Sort(classArt)
	}
	m.isClass = make([]bool, n)
	for _, a := range classArt {
		m.isClass[a] = true
	}

	// Text match: BM25 over stemmed words, title counted titleN times, and
	// TF-IDF vectors of the articles (IDF over articles). The BM25 document
	// of a linked article the classifier leaves out has its tickets too.
	texts := make([]string, n)
	for i, a := range arts {
		texts[i] = articleText(a) + strings.Repeat("\n"+a.Title, max(p.titleN-1, 0))
	}
	covered := 0
	for _, a := range exArt {
		if m.isClass[a] {
			covered++
		}
	}
	if covered < len(exs) {
		for i, e := range exs {
			texts[exArt[i]] += "\n" + e.Text
		}
		m.clfShare = float64(covered) / float64(len(exs))
	} else {
		m.clfShare = 1
	}
	wordFz := featurizer{stem: p.fz.stem}
	m.bm25 = newBM25(&wordFz, texts, commonDF(n))
	texts = nil
	ab := newVocabBuilder()
	for _, a := range arts {
		ab.add(&p.fz, articleText(a))
	}
	var ad *docSet
	m.artVoc, ad = ab.finish(1)
	m.artOff, m.artPost = transpose(ad, len(m.artVoc.idf), commonDF(n), func(r, j int) float32 { return ad.val(m.artVoc, r, j) })

	m.textW = make([]float64, n)
	if len(classArt) == 0 {
		for i := range m.textW {
			m.textW[i] = 1
		}
		m.finish(perArticle)
		return m
	}

	// Classifier: the tickets of its articles plus their own text.
	class := make([]int32, n) // by article: class, or -1
	for i := range class {
		class[i] = -1
	}
	for c, a := range classArt {
		class[a] = int32(c)
	}
	b := newVocabBuilder()
	var ys []int32
	for i, e := range exs {
		if c := class[exArt[i]]; c >= 0 {
			b.add(&p.fz, e.Text)
			ys = append(ys, c)
		}
	}
	for c, a := range classArt {
		b.add(&p.fz, articleText(arts[a]))
		ys = append(ys, int32(c))
	}
	minDF := 1
	if len(ys) > bigBase {
		minDF = 2
	}
	var xs *docSet
	m.voc, xs = b.finish(minDF)
	epochs := opts.Epochs
	if epochs <= 0 {
		epochs = min(max((trainSteps+xs.len()-1)/xs.len(), 2), 40)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	m.clf = trainLinear(m.voc, xs, ys, len(classArt), trainOpts{
		epochs: epochs, lr: p.lr, seed: seed, prune: p.prune, maxNeg: p.maxNeg, maxRow: p.maxRow, newMin: p.newMin,
	})
	for j, c := range m.clf.cls {
		m.clf.cls[j] = classArt[c]
	}
	for i, cnt := range perArticle {
		m.textW[i] = p.textWeight * p.textK / (p.textK + float64(cnt))
		if !m.isClass[i] {
			m.textW[i] = p.textWeight * p.coldBoost // left to the text match
		}
	}
	m.finish(perArticle)
	return m
}

// finish sets what Rank needs besides the two parts.
func (m *Model) finish(perArticle []int) {
	byID := func(a, b int32) int { return cmp.Compare(m.ids[a], m.ids[b]) }
	for i := range m.ids {
		m.sumTW += m.textW[i]
		if m.isClass[i] {
			m.classOrder = append(m.classOrder, int32(i))
		} else {
			m.otherOrder = append(m.otherOrder, int32(i))
		}
	}
	slices.SortFunc(m.otherOrder, byID)
	m.classByID = slices.Clone(m.classOrder)
	slices.SortFunc(m.classByID, byID)
	slices.SortFunc(m.classOrder, func(a, b int32) int {
		if c := cmp.Compare(perArticle[a], perArticle[b]); c != 0 {
			return c
		}
		return byID(a, b)
	})
	for i, a := range m.classOrder {
		if i+1 == len(m.classOrder) || perArticle[m.classOrder[i+1]] != perArticle[a] {
			m.groupEnd = append(m.groupEnd, int32(i+1))
		}
	}
	n := len(m.ids)
	m.scratch.New = func() any {
		return &scratch{seen: make([]uint32, n), txt: make([]float64, n), clf: make([]float64, n)}
	}
}

// articleText is the text of an article for matching.
func articleText(a Article) string {
	return a.Title + "\n" + a.Summary + "\n" + a.Body + "\n" + strings.Join(a.Tags, "\n")
}

// Articles is the number of articles in the model.
func (m *Model) Articles() int { return len(m.ids) }

// Examples is the number of linked tickets the model learned from.
func (m *Model) Examples() int { return m.examples }

// scratch is the per-call state of Rank, pooled: by article, the
// generation that last touched it and its text and classifier scores,
// valid for the touched articles only.
type scratch struct {
	seen     []uint32
	gen      uint32
	txt, clf []float64
	touched  []int32
	cand     []Suggestion // the touched articles' suggestions
}

func (sc *scratch) touch(a int32) {
	if sc.seen[a] != sc.gen {
		sc.seen[a] = sc.gen
		sc.txt[a], sc.clf[a] = 0, 0
		sc.touched = append(sc.touched, a)
	}
}

// Rank returns up to k articles for a ticket's text, best first; equal
// scores put the lower article ID first. k <= 0 means all. A text sharing
// nothing with the model's articles and tickets gives no suggestions.
//
// Only the articles that share a feature with text are scored, through
// inverted indexes (the BM25 and TF-IDF postings, the classifier's weights
// by feature); every other article scores the same as the others of its
// group, and those come from precomputed orders. The cost follows the
// postings of the text's features and k, not the number of articles.
func (m *Model) Rank(text string, k int) []Suggestion {
	n := len(m.ids)
	if n == 0 {
		return nil
	}
	sc := m.scratch.Get().(*scratch)
	defer m.scratch.Put(sc)
	if sc.gen++; sc.gen == 0 {
		clear(sc.seen)
		sc.gen = 1
	}
	sc.touched = sc.touched[:0]

	// Text match: raw scores of the touched articles, then P_text; qt is
	// P_text of an article the text does not reach.
	wordFz := featurizer{stem: m.p.fz.stem}
	textHit := m.bm25.score(&wordFz, text, func(a int32, w float32) {
		sc.touch(a)
		sc.txt[a] += float64(w) / m.p.textTemp
	})
	q := m.artVoc.vectorizeText(&m.p.fz, text)
	for j, f := range q.idx {
		textHit = true
		w := m.p.textCos * float64(q.val[j])
		for _, e := range m.artPost[m.artOff[f]:m.artOff[f+1]] {
			sc.touch(e.doc)
			sc.txt[e.doc] += w * float64(e.w)
		}
	}
	var qt float64
	if textHit {
		qt = softmaxSparse(sc.touched, sc.txt, n-len(sc.touched), nil)
	}

	// Classifier: P_clf over its classes; qc is that of an untouched class.
	var qc float64
	if m.clf == nil {
		if !textHit {
			return nil
		}
	} else {
		x := m.voc.vectorizeText(&m.p.fz, text)
		if len(x.idx) == 0 && !textHit {
			return nil
		}
		nt := len(sc.touched)
		for j, f := range x.idx {
			v := float64(x.val[j])
			lo, hi := m.clf.off[f], m.clf.off[f+1]
			for i, a := range m.clf.cls[lo:hi] {
				sc.touch(a)
				sc.clf[a] += v * float64(m.clf.w[int(lo)+i])
			}
		}
		if textHit {
			// Articles touched by the classifier only: P_text is qt.
			for _, a := range sc.touched[nt:] {
				sc.txt[a] = qt
			}
		}
		touchedClasses := 0
		for _, a := range sc.touched {
			if m.isClass[a] {
				touchedClasses++
			}
		}
		qc = softmaxSparse(sc.touched, sc.clf, m.clf.c-touchedClasses, m.isClass)
	}

	// Fusion: P_clf(a) + textW(a) * P_text(a), normalised over all articles.
	tw := func(a int32) float64 {
		if !textHit {
			return 0
		}
		return m.textW[a]
	}
	fused := func(a int32, pc, pt float64) float64 {
		if !m.isClass[a] {
			pc = 0
		}
		return m.clfShare*pc + tw(a)*pt
	}
	var z float64
	if m.clf != nil {
		z = m.clfShare
	}
	if textHit {
		z += qt * m.sumTW
		for _, a := range sc.touched {
			z += m.textW[a] * (sc.txt[a] - qt)
		}
	}
	if k <= 0 || k > n {
		k = n
	}
	touched := sc.cand[:0]
	for _, a := range sc.touched {
		touched = append(touched, Suggestion{ArticleID: m.ids[a], Score: fused(a, sc.clf[a], sc.txt[a]) / z})
	}
	sc.cand = touched
	touched = topK(touched, k)

	// The untouched articles: classes, grouped by textW (decreasing), and
	// the others.
	var classes []Suggestion
	if len(m.classOrder) > 0 {
		first := fused(m.classOrder[0], qc, qt) / z
		last := fused(m.classOrder[len(m.classOrder)-1], qc, qt) / z
		if first == last {
			for _, a := range m.classByID {
				if len(classes) == k {
					break
				}
				if sc.seen[a] != sc.gen {
					classes = append(classes, Suggestion{m.ids[a], first})
				}
			}
		} else {
			// Runs of groups with one score: several groups in a run are
			// put in ID order.
			lo, prev := 0, math.NaN()
			runStart := 0
			for _, hi := range m.groupEnd {
				s := fused(m.classOrder[lo], qc, qt) / z
				if s != prev {
					sortRun(classes[runStart:])
					if len(classes) >= k {
						break
					}
					runStart, prev = len(classes), s
				}
				// A group's first k suffice: the run's first k by ID are
				// among them.
				got := 0
				for _, a := range m.classOrder[lo:hi] {
					if got == k {
						break
					}
					if sc.seen[a] != sc.gen {
						classes = append(classes, Suggestion{m.ids[a], s})
						got++
					}
				}
				lo = int(hi)
			}
			sortRun(classes[runStart:])
		}
	}
	var others []Suggestion
	if len(m.otherOrder) > 0 {
		s := fused(m.otherOrder[0], qc, qt) / z
		for _, a := range m.otherOrder {
			if len(others) == k {
				break
			}
			if sc.seen[a] != sc.gen {
				others = append(others, Suggestion{m.ids[a], s})
			}
		}
	}
	return merge3(touched, classes, others, k)
}

// softmaxSparse turns raw scores s[a] of the touched articles (those with
// in[a], all when in is nil) into probabilities in place, with outside
// more items scoring 0, and returns the probability of one of those.
func softmaxSparse(touched []int32, s []float64, outside int, in []bool) float64 {
	mx := math.Inf(-1)
	if outside > 0 {
		mx = 0
	}
	for _, a := range touched {
		if in == nil || in[a] {
			mx = max(mx, s[a])
		}
	}
	var z float64
	for _, a := range touched {
		if in == nil || in[a] {
			s[a] = math.Exp(s[a] - mx)
			z += s[a]
		}
	}
	q := math.Exp(-mx)
	z += float64(outside) * q
	for _, a := range touched {
		if in == nil || in[a] {
			s[a] /= z
		}
	}
	return q / z
}

// better orders suggestions best first: higher score, then lower ID.
func better(a, b Suggestion) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return cmp.Compare(a.ArticleID, b.ArticleID)
}

func sortRun(s []Suggestion) { slices.SortFunc(s, better) }

// topK returns the k best of s, best first (s is reordered).
func topK(s []Suggestion, k int) []Suggestion {
	if len(s) <= 4*k {
		slices.SortFunc(s, better)
		return s[:min(k, len(s))]
	}
	// A heap of the k best so far, worst at the root.
	h := s[:0:0]
	h = append(h, s[:k]...)
	worse := func(i, j int) bool { return better(h[i], h[j]) > 0 }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && worse(r, l) {
				l = r
			}
			if !worse(l, i) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, x := range s[k:] {
		if better(x, h[0]) < 0 {
			h[0] = x
			down(0)
		}
	}
	slices.SortFunc(h, better)
	return h
}

// merge3 merges three lists sorted best first into the first k.
func merge3(a, b, c []Suggestion, k int) []Suggestion {
	out := make([]Suggestion, 0, min(k, len(a)+len(b)+len(c)))
	for len(out) < k {
		best := -1
		var x Suggestion
		for i, l := range [3][]Suggestion{a, b, c} {
			if len(l) > 0 && (best < 0 || better(l[0], x) < 0) {
				best, x = i, l[0]
			}
		}
		switch best {
		case -1:
			return out
		case 0:
			a = a[1:]
		case 1:
			b = b[1:]
		case 2:
			c = c[1:]
		}
		out = append(out, x)
	}
	return out
}

package search

import (
	"database/sql"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// Ranked retrieval without reading every posting.
//
// A query's top k is found by a threshold algorithm over postings read best
// first. Within one term, a posting's BM25 part
//
//	s = A·tf / (tf + c0 + c1·doc_len)    (A = idf·(k1+1))
//
// grows with tf and shrinks with doc_len, so the postings scoring at least
// θ are, for each tf = t, those with doc_len <= x_t(θ): one range of the
// index (doc_type, term, tf, doc_len) per tf value, whatever the corpus
// average length. Each term i gets a threshold θ_i and all its postings
// scoring at least θ_i are read, so a document none of whose postings was
// read scores less than U = Σθ_i. Documents that were read get their
// missing terms looked up; that makes their scores exact. Reading does it
// itself for a query of several terms (a primary-key probe per other term,
// joined to the read): one round trip a round instead of one per batch
// of look-ups, which cost more than the probes they would spare. settle
// can also look them up, best upper bound first and only while they could
// still reach the top k (an unread posting of a document of known length
// is bounded by the reading state: unreadBound). Once the k-th exact
// score is at least U, no unseen document can enter the top k, and the
// answer is the one scoring every posting gives, ties included (higher id
// first). A filter is checked on the candidates that matter, by primary
// key, in the same order; exact candidates about as many at a time as
// should give k passing, since a check reads rows of the filter's tables
// (wide, often not cached).
//
// Thresholds come from each term's cached distribution of postings over
// (tf, doc_len) (stats.go), which predicts how many postings a threshold
// reads and what the k-th best single-term score is. A greedy choice
// lowers first the thresholds that buy the most score per posting, so
// rare terms are read whole and common ones only at their best. The first
// round aims at U = Σ (k-th best score of term i), about k postings a
// term, enough when the best documents hold every term at their best.
// Each later round aims at the k-th exact score found so far (a bound
// there would end the search) but reads at most about twice what all
// rounds before it did: the k-th score rises as reading goes deeper, so
// the work stays within a small factor of what the final bound needs.
//
// Work is bounded by maxWork postings read or looked up. A search that
// runs out is scored whole in SQL (searchAll, exact) when its terms have
// at most exhaustiveMax postings or its filter rejects too many; otherwise
// it returns the best documents found, by their exact scores, possibly
// missing some of the true top k (common words of two or three terms that
// match half the corpus with the same few tf values get there: "how can
// i"). Long queries, pasted paragraphs, go to rankLong.

const (
	// workBase and workPerHit set the budget of postings read and looked up
	// by one search: workBase + workPerHit·k.
	workBase   = 6000
	workPerHit = 20
	// exhaustiveMax: a search that runs out of budget is scored whole in
	// SQL when its terms have at most this many postings.
	exhaustiveMax = 20000
	// maxRounds bounds the reading rounds.
	maxRounds = 12
	// maxRangesPerTerm bounds the per-tf ranges of one term in one round;
	// higher tf values are then read whole (they are rare).
	maxRangesPerTerm = 48
	// maxSpans bounds the index ranges read by one statement.
	maxSpans = 1000
	// settleBatch is the least number of candidates completed at a time.
	settleBatch = 512
	// docScanTerms: completing more terms than this per document walks the
	// document's postings instead of probing each term.
	docScanTerms = 6
	// longQuery: a query of more terms than this is long (rankLong);
	// longReads and longCandidates bound its work. At 12,000 and 150 a
	// pasted paragraph's hits are as often on its intents as at 20,000
	// and 200, for about 60 % of the time (docs/BENCHMARKS.md, "Pasted
	// paragraphs").
	longQuery      = 8
	longReads      = 12000
	longCandidates = 150
	// firstRound is added to each round's budget of postings.
	firstRound = 256
)

type rankTerm struct {
	term  string
	a     float64 // idf·(k1+1)
	df    int64
	max   float64      // upper bound of the term's part of any score
	dist  []scorePoint // predicted scores, best first
	theta float64      // every posting scoring >= theta has been read
	// Reading state: postings tf = t with doc_len <= readDL[t] are read,
	// and every posting with tf >= doneFrom.
	readDL   map[int64]int64
	doneFrom int64
	maxTF    int64          // highest tf the statistics saw
	present  map[int64]bool // tf values the statistics saw
}

// scorePoint: cum postings of the term score at least s (predicted).
type scorePoint struct {
	s   float64
	cum int64
}

func (t *rankTerm) done() bool { return t.doneFrom <= 1 }

// est predicts how many postings score at least theta.
func (t *rankTerm) est(theta float64) int64 {
	if theta <= 0 {
		return t.df
	}
	i := sort.Search(len(t.dist), func(i int) bool { return t.dist[i].s < theta })
	if i == 0 {
		return 0
	}
	return t.dist[i-1].cum
}

// thetaFor is the threshold predicted to read at least c postings (0: all).
func (t *rankTerm) thetaFor(c int64) float64 {
	i := sort.Search(len(t.dist), func(i int) bool { return t.dist[i].cum >= c })
	if i == len(t.dist) {
		return 0
	}
	return t.dist[i].s
}

type candidate struct {
	id    int64
	score float64 // sum of the known parts
	known uint32  // terms whose part is known (read or looked up)
	pass  int8    // filter: 0 unknown, 1 passes, -1 rejected
	dl    int64   // the document's length
	exact bool
	upper float64
}

type ranker struct {
	db      *gorm.DB
	docType string
	k       int
	filter  *gorm.DB
	c0, c1  float64
	stats   corpusStats
	terms   []*rankTerm
	cands   map[int64]*candidate
	order   []*candidate // every candidate, in arrival order
	reads   int64        // postings read
	lookups int64        // postings looked up by primary key (probes)
	rounds  int
	total   int64 // postings of all the terms
	maxWork int64
	mysql   bool
	byDoc   string // the hint for the per-document index
	// byKey is the hint for the primary key: MariaDB otherwise may read
	// all of a term's postings (ref on (doc_type, term)) to find a few.
	byKey string
	// termExpr is the term column as an expression no index seeks on, so
	// a document's range is walked rather than probed term by term.
	termExpr string
	termIdx  map[string]int
	// all scores every posting of terms in SQL (searchAll), best limit;
	// perTerm > 0 reads only each term's perTerm newest postings.
	all func(terms []string, limit int, perTerm int64) ([]Hit, error)
	// estimated: some document frequencies are estimates (longStats).
	estimated bool
}

func newRanker(db *gorm.DB, dialect database.Dialect, docType string, k int, filter *gorm.DB, stats corpusStats, terms []string, ts map[string]termStat) *ranker {
	r := &ranker{db: db, docType: docType, k: k, filter: filter, stats: stats,
		c0: bm25K1 * (1 - bm25B), c1: bm25K1 * bm25B / stats.avgdl, cands: map[int64]*candidate{},
		maxWork: int64(workBase + workPerHit*k), byDoc: "INDEXED BY search_postings_doc", termExpr: "+term"}
	if dialect == database.MySQL {
		r.mysql, r.byDoc, r.termExpr, r.byKey = true, "FORCE INDEX (search_postings_doc)", "CONCAT(term)", "FORCE INDEX (PRIMARY)"
	}
	r.termIdx = map[string]int{}
	for _, term := range terms {
		st := ts[term]
		if st.df == 0 || len(r.terms) == 32 {
			continue
		}
		a := idf(stats.n, st.df) * (bm25K1 + 1)
		t := &rankTerm{term: term, a: a, df: st.df, readDL: map[int64]int64{}, doneFrom: noLimit,
			maxTF: st.maxTF, present: map[int64]bool{}}
		for _, p := range st.pairs {
			t.present[p.tf] = true
		}
		// Predicted scores, best first and never increasing (the order was
		// fixed with the average length of its day).
		prev, cum := math.Inf(1), int64(0)
		for _, p := range st.pairs {
			cum += p.n
			prev = min(prev, r.part(t, p.tf, p.dl))
			t.dist = append(t.dist, scorePoint{prev, cum})
		}
		// The best any posting can score: the highest tf in the shortest
		// possible document (doc_len >= tf); the statistics may be stale,
		// so allow for twice their highest tf.
		m := float64(max(2*st.maxTF, 1))
		t.max = a*m/(m+r.c0+r.c1*m)*(1+1e-9) + 1e-12
		if len(t.dist) > 0 {
			t.max = max(t.max, t.dist[0].s)
		}
		t.theta = t.max
		r.termIdx[term] = len(r.terms)
		r.terms = append(r.terms, t)
		r.total += st.df
	}
	return r
}

// part is a posting's BM25 part, computed as the SQL of searchAll does.
func (r *ranker) part(t *rankTerm, tf, dl int64) float64 {
	f := float64(tf)
	return t.a * f / (f + r.c0 + r.c1*float64(dl))
}

// kth is the predicted k-th best score of term t alone (0 when it has
// fewer postings).
func (t *rankTerm) kth(k int64) float64 {
	if t.df < k {
		return 0
	}
	return t.thetaFor(k)
}

// unreadBound is the most term t can add to a document of length dl whose
// posting of t has not been read: the unread posting with the highest tf
// this length allows (everything with tf >= doneFrom is read, and tf = v
// only up to doc_len readDL[v]). Long documents get a bound well under
// theta, which spares most of their look-ups.
func (r *ranker) unreadBound(t *rankTerm, dl int64) float64 {
	if t.done() {
		return 0
	}
	for tf := min(t.doneFrom-1, dl); tf >= 1; tf-- {
		if x, ok := t.readDL[tf]; ok && x >= dl {
			continue // read at this length
		}
		return min(t.theta, r.part(t, tf, dl))
	}
	return 0
}

// unseenBound is what a document none of whose postings was read scores
// at most (strictly less).
func (r *ranker) unseenBound() float64 {
	u := 0.0
	for _, t := range r.terms {
		if !t.done() {
			u += t.theta
		}
	}
	return u
}

// plan lowers thresholds greedily, most score per posting first, until the
// unseen bound is at most target or the next step would take the predicted
// work (postings read and looked up, this round and before) past budget;
// it takes at least one step. reached says whether the target was met.
func (r *ranker) plan(target float64, budget int64) (reached bool) {
	p := make([]float64, len(r.terms))
	u, work := 0.0, r.lookups
	for i, t := range r.terms {
		p[i] = t.theta
		if t.done() {
			p[i] = 0
		}
		u += p[i]
		work += t.est(p[i])
	}
	last, lastFrom, steps := -1, 0.0, 0
	for u > target {
		best, bestGain, bestTheta, bestCost := -1, -1.0, 0.0, int64(0)
		for i, t := range r.terms {
			if p[i] <= 0 {
				continue
			}
			c := t.est(p[i])
			np := t.thetaFor(max(2*c, c+32))
			cost := t.est(np) - c
			if gain := (p[i] - np) / float64(max(cost, 1)); gain > bestGain {
				best, bestGain, bestTheta, bestCost = i, gain, np, cost
			}
		}
		if best < 0 || (steps > 0 && work+bestCost > budget) {
			break
		}
		steps++
		work += bestCost
		u -= p[best] - bestTheta
		last, lastFrom = best, p[best]
		p[best] = bestTheta
	}
	if last >= 0 && u < target {
		// The last step overshot: give the slack back to it.
		p[last] = min(lastFrom, p[last]+(target-u))
		u = target
	}
	for i, t := range r.terms {
		if !t.done() {
			t.theta = p[i]
		}
	}
	return u <= target
}

// span is one index range of a term's postings: tf = tf and doc_len in
// (lo, hi], or (tf 0) every posting with tf in [tfLo, tfHi).
type span struct {
	ti           int
	tf, lo, hi   int64
	tfLo, tfHi   int64
	wholeTFRange bool
}

const noLimit = math.MaxInt64

// tfBound is the largest doc_len a posting of tf t may have to score at
// least theta on term a, plus one against rounding (reading more is
// harmless): x < t means no posting of that tf qualifies (doc_len >= tf),
// all that every length does.
func (r *ranker) tfBound(a, theta float64, t int64) (x int64, all bool) {
	if theta <= 0 {
		return 0, true
	}
	tf := float64(t)
	v := (a*tf/theta - tf - r.c0) / r.c1
	if math.IsNaN(v) || v < 0 {
		return -1, false
	}
	if v >= float64(r.stats.maxDL) || v > math.MaxInt32 {
		return 0, true
	}
	return int64(v) + 1, false
}

// tfSpan is where term t's per-tf ranges lie at its threshold: no tf below
// from has a qualifying posting, from tAll up every posting qualifies.
// With x_t = α·t - β, a posting needs x_t >= t (doc_len >= tf).
func (r *ranker) tfSpan(t *rankTerm) (from, tAll int64, none bool) {
	if t.theta <= 0 {
		return 1, 1, false
	}
	alpha := (t.a/t.theta - 1) / r.c1
	beta := r.c0 / r.c1
	if !(alpha > 1) {
		return 0, 0, true
	}
	clamp := func(v float64) int64 {
		if math.IsNaN(v) || v < 1 {
			return 1
		}
		if v > math.MaxInt32 {
			return math.MaxInt32
		}
		return int64(v)
	}
	from = clamp(math.Floor(beta/(alpha-1)) - 1)
	return from, max(clamp(math.Ceil((float64(r.stats.maxDL)+beta)/alpha)+1), from), false
}

// spans are the index ranges that bring term i to its threshold, less what
// earlier rounds read. tf values the statistics saw no posting of are
// read whole (they hold only postings written since: few), so a term needs
// a range per tf value it has between its first qualifying tf and the one
// from which every length qualifies.
func (r *ranker) spans(i int, t *rankTerm) []span {
	if t.done() {
		return nil
	}
	whole := func(a, b int64) span { return span{ti: i, tfLo: a, tfHi: b, wholeTFRange: true} }
	if t.theta >= t.max {
		// Untouched: only a tf beyond the statistics can score that much.
		if t.doneFrom == noLimit {
			t.doneFrom = 2*t.maxTF + 1
			return []span{whole(t.doneFrom, noLimit)}
		}
		return nil
	}
	if t.theta <= 0 {
		out := r.rest(i, t, 1)
		t.doneFrom = 1
		return out
	}
	from, tAll, none := r.tfSpan(t)
	if none {
		return nil
	}
	var out []span
	gap := int64(-1) // start of a run of tf values read whole
	tf := from
	for ; tf < t.doneFrom && tf < tAll && tf < from+maxRangesPerTerm; tf++ {
		lo, seen := t.readDL[tf]
		if !t.present[tf] {
			if !seen && gap < 0 {
				gap = tf
			}
			if seen && gap >= 0 {
				out = append(out, whole(gap, tf))
				gap = -1
			}
			t.readDL[tf] = noLimit
			continue
		}
		if gap >= 0 {
			out = append(out, whole(gap, tf))
			gap = -1
		}
		if x, all := r.tfBound(t.a, t.theta, tf); all {
			break
		} else if x >= tf && x > lo && lo != noLimit {
			out = append(out, span{ti: i, tf: tf, lo: lo, hi: x})
			t.readDL[tf] = x
		}
	}
	if gap >= 0 {
		out = append(out, whole(gap, tf))
	}
	if tf < t.doneFrom {
		out = append(out, r.rest(i, t, tf)...)
		t.doneFrom = tf
	}
	return out
}

// rest reads every posting with tf in [from, doneFrom) not read yet:
// partly read tf values from where they stopped, untouched ones whole.
func (r *ranker) rest(i int, t *rankTerm, from int64) []span {
	var out []span
	var touched []int64
	for tf, x := range t.readDL {
		if tf >= from && tf < t.doneFrom {
			touched = append(touched, tf)
			if x != noLimit {
				out = append(out, span{ti: i, tf: tf, lo: x, hi: noLimit})
			}
		}
	}
	slices.Sort(touched)
	lo := from
	for _, tf := range touched {
		if lo < tf {
			out = append(out, span{ti: i, tfLo: lo, tfHi: tf, wholeTFRange: true})
		}
		lo = tf + 1
	}
	if lo < t.doneFrom {
		out = append(out, span{ti: i, tfLo: lo, tfHi: t.doneFrom, wholeTFRange: true})
	}
	return out
}

// read reads the spans and records the postings. MariaDB gets one SELECT
// whose WHERE is the OR of the ranges (its range optimizer reads each
// interval of the index); SQLite gets the ranges as a VALUES table joined
// to the index (it does not split an OR into ranges, and a UNION ALL
// branch per range costs a parse and a plan each).
func (r *ranker) read(ss []span) error {
	for len(ss) > 0 {
		chunk := ss[:min(len(ss), maxSpans)]
		ss = ss[len(chunk):]
		var sb strings.Builder
		var args []any
		// joined: each posting read brings the document's postings of every
		// query term (a primary-key probe per term inside the statement), so
		// its score is exact without a look-up round trip of its own.
		joined := r.joinComplete()
		if r.mysql {
			sb.WriteString("SELECT p.term, p.doc_id, p.tf, p.doc_len")
			if joined {
				for j := range r.terms {
					fmt.Fprintf(&sb, ", q%d.tf", j)
				}
			}
			sb.WriteString(" FROM search_postings p FORCE INDEX (search_postings_rank)")
			if joined {
				// The term read needs no probe: MariaDB checks p.term first.
				for j, t := range r.terms {
					fmt.Fprintf(&sb, " LEFT JOIN search_postings q%[1]d FORCE INDEX (PRIMARY) ON p.term <> ? AND q%[1]d.doc_type = p.doc_type AND q%[1]d.term = ? AND q%[1]d.doc_id = p.doc_id", j)
					args = append(args, t.term, t.term)
				}
			}
			sb.WriteString(" WHERE p.doc_type = ? AND (")
			args = append(args, r.docType)
			for j, s := range chunk {
				if j > 0 {
					sb.WriteString(" OR ")
				}
				if s.wholeTFRange {
					sb.WriteString("(p.term = ? AND p.tf >= ? AND p.tf < ?)")
					args = append(args, r.terms[s.ti].term, s.tfLo, s.tfHi)
				} else {
					sb.WriteString("(p.term = ? AND p.tf = ? AND p.doc_len > ? AND p.doc_len <= ?)")
					args = append(args, r.terms[s.ti].term, s.tf, s.lo, s.hi)
				}
			}
			sb.WriteString(")")
		} else {
			var one, whole []span
			for _, s := range chunk {
				if s.wholeTFRange {
					whole = append(whole, s)
				} else {
					one = append(one, s)
				}
			}
			var parts []string
			if len(one) > 0 {
				var v strings.Builder
				v.WriteString("r (i, term, tf, lo, hi) AS (VALUES ")
				for j, s := range one {
					if j > 0 {
						v.WriteByte(',')
					}
					v.WriteString("(?,?,?,?,?)")
					args = append(args, s.ti, r.terms[s.ti].term, s.tf, s.lo, s.hi)
				}
				v.WriteString(")")
				parts = append(parts, v.String())
			}
			if len(whole) > 0 {
				var v strings.Builder
				v.WriteString("w (i, term, a, b) AS (VALUES ")
				for j, s := range whole {
					if j > 0 {
						v.WriteByte(',')
					}
					v.WriteString("(?,?,?,?)")
					args = append(args, s.ti, r.terms[s.ti].term, s.tfLo, s.tfHi)
				}
				v.WriteString(")")
				parts = append(parts, v.String())
			}
			var body strings.Builder
			if len(one) > 0 {
				body.WriteString("SELECT r.i, p.doc_id, p.tf, p.doc_len FROM r JOIN search_postings p ON p.doc_type = ? AND p.term = r.term AND p.tf = r.tf AND p.doc_len > r.lo AND p.doc_len <= r.hi")
				args = append(args, r.docType)
			}
			if len(whole) > 0 {
				if len(one) > 0 {
					body.WriteString(" UNION ALL ")
				}
				body.WriteString("SELECT w.i, p.doc_id, p.tf, p.doc_len FROM w JOIN search_postings p ON p.doc_type = ? AND p.term = w.term AND p.tf >= w.a AND p.tf < w.b")
				args = append(args, r.docType)
			}
			if !joined {
				sb.WriteString("WITH " + strings.Join(parts, ", ") + " " + body.String())
			} else {
				parts = append(parts, "x (i, doc_id, tf, doc_len) AS ("+body.String()+")")
				sb.WriteString("WITH " + strings.Join(parts, ", ") + " SELECT x.i, x.doc_id, x.tf, x.doc_len")
				for j := range r.terms {
					fmt.Fprintf(&sb, ", q%d.tf", j)
				}
				sb.WriteString(" FROM x")
				for j, t := range r.terms {
					fmt.Fprintf(&sb, " LEFT JOIN search_postings q%[1]d ON x.i <> %[1]d AND q%[1]d.doc_type = ? AND q%[1]d.term = ? AND q%[1]d.doc_id = x.doc_id", j)
					args = append(args, r.docType, t.term)
				}
			}
		}
		rows, err := r.db.Raw(sb.String(), args...).Rows()
		if err != nil {
			return err
		}
		var ti int
		var term string
		var id, tf, dl int64
		other := make([]sql.NullInt64, len(r.terms))
		dest := []any{&ti, &id, &tf, &dl}
		if r.mysql {
			dest[0] = &term
		}
		if joined {
			for j := range other {
				dest = append(dest, &other[j])
			}
		}
		for rows.Next() {
			if err = rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			if r.mysql {
				ti = r.termIdx[term]
			}
			r.reads++
			r.add(ti, id, tf, dl)
			if joined {
				// Probes in the statement cost about half a look-up each.
				r.lookups += int64(len(r.terms)) / 2
				c := r.cands[id]
				for j, o := range other {
					if o.Valid {
						r.add(j, id, o.Int64, dl)
					}
				}
				if c != nil {
					c.known = uint32(1)<<len(r.terms) - 1
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// joinComplete says whether reads complete their documents' scores in the
// same statement: for a short query of several terms, a probe per term in
// the database costs less than a round trip per round of look-ups.
func (r *ranker) joinComplete() bool {
	return len(r.terms) > 1 && len(r.terms) <= longQuery
}

// add records that document id has term ti with tf in a document of
// length dl.
func (r *ranker) add(ti int, id, tf, dl int64) {
	if ti < 0 || ti >= len(r.terms) {
		return
	}
	c, ok := r.cands[id]
	if !ok {
		c = &candidate{id: id, dl: dl}
		if r.filter == nil {
			c.pass = 1
		}
		r.cands[id] = c
		r.order = append(r.order, c)
	}
	if bit := uint32(1) << ti; c.known&bit == 0 {
		c.known |= bit
		c.score += r.part(r.terms[ti], tf, dl)
	}
}

// applyFilter decides which of cs the filter keeps. EXISTS over the filter
// as a common table expression lets SQLite look each id up instead of
// building the whole list, and MariaDB drive a semi-join from the few ids.
func (r *ranker) applyFilter(cs []*candidate) error {
	for chunk := range chunks(cs, idBatch) {
		ids := make([]int64, len(chunk))
		for i, c := range chunk {
			ids[i] = c.id
		}
		var ok []int64
		if err := r.db.Raw("WITH f (id) AS (?) SELECT d.doc_id FROM search_docs d WHERE d.doc_type = ? AND d.doc_id IN ? AND EXISTS (SELECT 1 FROM f WHERE f.id = d.doc_id)",
			r.filter, r.docType, ids).Scan(&ok).Error; err != nil {
			return err
		}
		pass := make(map[int64]struct{}, len(ok))
		for _, id := range ok {
			pass[id] = struct{}{}
		}
		for _, c := range chunk {
			c.pass = -1
			if _, yes := pass[c.id]; yes {
				c.pass = 1
			}
		}
	}
	return nil
}

// complete looks up the parts still unknown of cs: candidates missing the
// same terms together, each group one primary-key probe per (term, id).
func (r *ranker) complete(cs []*candidate, doneMask uint32) error {
	groups := map[uint32][]*candidate{}
	for _, c := range cs {
		need := ^(c.known | doneMask) & (uint32(1)<<len(r.terms) - 1)
		groups[need] = append(groups[need], c)
	}
	masks := make([]uint32, 0, len(groups))
	for m := range groups {
		masks = append(masks, m)
	}
	slices.Sort(masks)
	for _, need := range masks {
		g := groups[need]
		var terms []string
		idx := map[string]int{}
		for i, t := range r.terms {
			if need&(1<<i) != 0 {
				terms = append(terms, t.term)
				idx[t.term] = i
			}
		}
		for chunk := range chunks(g, idBatch) {
			if len(terms) == 0 {
				break
			}
			ids := make([]int64, len(chunk))
			for i, c := range chunk {
				ids[i] = c.id
			}
			// Few terms: a probe per (term, id) on the primary key, where
			// a term's postings sit together. Many: each document's
			// postings, one short range of the covering per-document index.
			q := "SELECT term, doc_id, tf, doc_len FROM search_postings " + r.byKey + " WHERE doc_type = ? AND term IN ? AND doc_id IN ?"
			cost := int64(len(ids) * len(terms))
			if len(terms) > docScanTerms {
				q = "SELECT term, doc_id, tf, doc_len FROM search_postings " + r.byDoc + " WHERE doc_type = ? AND " + r.termExpr + " IN ? AND doc_id IN ?"
				cost = int64(len(ids) * docScanTerms)
			}
			r.lookups += cost
			rows, err := r.db.Raw(q, r.docType, terms, ids).Rows()
			if err != nil {
				return err
			}
			for rows.Next() {
				var term string
				var id, tf, dl int64
				if err := rows.Scan(&term, &id, &tf, &dl); err != nil {
					rows.Close()
					return err
				}
				if i, ok := idx[term]; ok {
					r.add(i, id, tf, dl)
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		for _, c := range g {
			c.known |= need
			c.exact = true
		}
	}
	return nil
}

// settle checks the filter and completes scores, best upper bound first,
// until no candidate of unknown standing could reach the top k. It returns
// the k-th best exact score (-Inf when fewer than k pass) and how many
// candidates are known to pass; complete is false when the work budget
// ran out first.
func (r *ranker) settle() (kth float64, passing int, complete bool, err error) {
	complete = true
	var done uint32
	for i, t := range r.terms {
		if t.done() {
			done |= 1 << i
		}
	}
	full := uint32(1)<<len(r.terms) - 1
	var open []*candidate
	var exact []float64
	for _, c := range r.order {
		if c.pass < 0 {
			continue
		}
		c.exact = (c.known|done)&full == full
		c.upper = c.score
		for i, t := range r.terms {
			if (c.known|done)&(1<<i) == 0 {
				c.upper += r.unreadBound(t, c.dl)
			}
		}
		if c.exact && c.pass == 1 {
			exact = append(exact, c.score)
		} else {
			open = append(open, c)
		}
	}
	// Best upper bound first.
	sort.Slice(open, func(i, j int) bool { return open[i].upper > open[j].upper })
	kthOf := func() float64 {
		if len(exact) < r.k {
			return math.Inf(-1)
		}
		sort.Float64s(exact)
		exact = exact[len(exact)-r.k:] // keep the best k
		return exact[0]
	}
	kth = kthOf()
	batch := max(2*r.k, settleBatch)
	checked, passed0 := 0, 0
	for _, c := range r.order {
		if c.pass != 0 {
			checked++
			if c.pass == 1 {
				passed0++
			}
		}
	}
	for len(open) > 0 && open[0].upper >= kth {
		n, limit := 0, batch
		if open[0].exact && len(exact) < r.k {
			// Exact candidates wait for the filter only, and a check costs
			// a row or two of the filter's tables each: check about as
			// many as should give k passing, at the rate seen so far.
			rate := float64(passed0+1) / float64(checked+1)
			limit = int(math.Ceil(float64(r.k-len(exact))*1.25/max(rate, 0.05))) + 8
		}
		for n < len(open) && n < limit && open[n].upper >= kth {
			n++
		}
		perDoc := int64(len(r.terms))
		if perDoc > docScanTerms {
			perDoc = docScanTerms
		}
		needWork := false
		for _, c := range open[:n] {
			needWork = needWork || !c.exact
		}
		if left := (r.maxWork - r.reads - r.lookups) / perDoc; needWork && int64(n) > left {
			// Out of budget: complete what it still pays for, best first.
			if left <= 0 {
				return kth, r.passing(), false, nil
			}
			n = int(left)
			complete = false
		}
		cs := open[:n]
		open = open[n:]
		var unknown, passed []*candidate
		for _, c := range cs {
			if c.pass == 0 {
				unknown = append(unknown, c)
			}
		}
		if len(unknown) > 0 {
			if err := r.applyFilter(unknown); err != nil {
				return 0, 0, false, err
			}
		}
		var incomplete []*candidate
		for _, c := range unknown {
			checked++
			if c.pass == 1 {
				passed0++
			}
		}
		for _, c := range cs {
			if c.pass != 1 {
				continue
			}
			passed = append(passed, c)
			if !c.exact {
				incomplete = append(incomplete, c)
			}
		}
		if len(incomplete) > 0 {
			if err := r.complete(incomplete, done); err != nil {
				return 0, 0, false, err
			}
		}
		for _, c := range passed {
			exact = append(exact, c.score)
		}
		kth = kthOf()
		if !complete {
			return kth, r.passing(), false, nil
		}
	}
	return kth, r.passing(), true, nil
}

func (r *ranker) passing() int {
	n := 0
	for _, c := range r.order {
		if c.pass == 1 {
			n++
		}
	}
	return n
}

// top returns the best k passing candidates, score then id descending.
func (r *ranker) top() []Hit {
	hs := []Hit{}
	for _, c := range r.order {
		if c.pass == 1 {
			hs = append(hs, Hit{DocID: c.id, Score: c.score})
		}
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].Score != hs[j].Score {
			return hs[i].Score > hs[j].Score
		}
		return hs[i].DocID > hs[j].DocID
	})
	if len(hs) > r.k {
		hs = hs[:r.k]
	}
	return hs
}

// rankResult says how a ranking ended.
type rankResult int

const (
	rankExact       rankResult = iota
	rankExhaustive             // better scored whole: searchAll
	rankApproximate            // the work budget ran out
)

// rank runs the rounds. Each round aims at a target for the unseen bound
// that would end the search (the k-th exact score so far), but reads at
// most about twice the postings of all rounds before it: the k-th score
// rises as reading goes deeper, so the work stays within a small factor of
// what the final bound needs.
func (r *ranker) rank() ([]Hit, rankResult, error) {
	if len(r.terms) > longQuery {
		return r.rankLong()
	}
	k := int64(r.k)
	lb0 := func(k int64) float64 { // the k-th best single-term score
		b := 0.0
		for _, t := range r.terms {
			b = max(b, t.kth(k))
		}
		return b
	}
	// First round: the bound if the best documents held every term at its
	// k-th best score.
	target := 0.0
	for _, t := range r.terms {
		target += t.kth(k)
	}
	// The first round reads about 4k postings: for a few terms the k best
	// of each, for a long query the best of its rarest terms.
	budget := int64(max(4*r.k, firstRound))
	for {
		budget = min(budget, r.maxWork)
		r.plan(target, budget)
		var bs []span
		for i, t := range r.terms {
			bs = append(bs, r.spans(i, t)...)
		}
		r.rounds++
		if err := r.read(bs); err != nil {
			return nil, 0, err
		}
		kth, passing, complete, err := r.settle()
		if err != nil {
			return nil, 0, err
		}
		u := r.unseenBound()
		if complete && (u == 0 || (passing >= r.k && kth >= u)) {
			return r.top(), rankExact, nil
		}
		if !complete || r.reads+r.lookups >= r.maxWork || r.rounds >= maxRounds {
			if r.total <= exhaustiveMax || (r.filter != nil && passing < r.k) {
				return nil, rankExhaustive, nil
			}
			return r.top(), rankApproximate, nil
		}
		switch {
		case passing >= r.k:
			// The k-th exact score bounds the true one from below: a
			// bound there ends the search.
			target = kth
		case r.filter == nil:
			// Fewer than k documents seen: at the k-th best score of the
			// best single term, at least k are.
			target = lb0(k)
		default:
			// The filter rejected too many: aim at as many more as its
			// rejection rate says.
			rate := float64(passing+1) / float64(len(r.order)+1)
			target = lb0(int64(math.Ceil(float64(r.k) / max(rate, 0.01))))
		}
		if target >= u {
			target = u * 0.7
		}
		budget = 2*(r.reads+r.lookups) + firstRound
	}
}

// rankLong ranks a long query (a pasted paragraph): its unseen bound sums
// the best scores of many terms, far above any document's, so no budget
// proves its top k. Instead it ranks on its most informative terms: the
// rarest ones (Chinese bigrams and two-letter words alike), scored whole
// in SQL while their postings fit longReads (summing in the database
// costs a fraction of sending every posting). Should even the rarest term
// have more postings than that (a paragraph of common words), only its
// longReads newest are read. The best longCandidates
// documents by that partial score get their other terms looked up and
// rank by their full BM25 scores, with the document frequencies the query
// was given (estimates for cold common words: longStats). What can be
// missed is a document that only the paragraph's common words lift.
func (r *ranker) rankLong() ([]Hit, rankResult, error) {
	order := make([]int, len(r.terms))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return r.terms[order[a]].df < r.terms[order[b]].df })
	var rare []string
	var mask uint32
	sum, perTerm := int64(0), int64(0)
	for _, i := range order {
		t := r.terms[i]
		if len(rare) > 0 && sum+t.df > longReads {
			break
		}
		rare = append(rare, t.term)
		mask |= 1 << i
		sum += t.df
	}
	if sum > longReads {
		perTerm, sum = longReads, longReads
	}
	limit := max(2*r.k, longCandidates)
	for {
		r.rounds++
		hits, err := r.all(rare, limit, perTerm)
		if err != nil {
			return nil, 0, err
		}
		r.reads += sum
		var fresh []*candidate
		for _, h := range hits {
			if _, ok := r.cands[h.DocID]; ok {
				continue
			}
			c := &candidate{id: h.DocID, score: h.Score, known: mask, pass: 1}
			if r.filter != nil {
				c.pass = 0
			}
			r.cands[c.id] = c
			r.order = append(r.order, c)
			fresh = append(fresh, c)
		}
		if err := r.complete(fresh, 0); err != nil {
			return nil, 0, err
		}
		// The filter, best first, on as few as give k.
		sort.SliceStable(fresh, func(a, b int) bool { return fresh[a].score > fresh[b].score })
		for len(fresh) > 0 && r.filter != nil {
			need := r.k - r.passing()
			if need <= 0 {
				break
			}
			n := min(len(fresh), max(2*need, 16))
			if err := r.applyFilter(fresh[:n]); err != nil {
				return nil, 0, err
			}
			fresh = fresh[n:]
		}
		if r.passing() >= r.k || len(hits) < limit || r.rounds >= 3 {
			if len(rare) == len(r.terms) && perTerm == 0 && !r.estimated && (r.passing() >= r.k || len(hits) < limit) {
				return r.top(), rankExact, nil // every posting was scored
			}
			return r.top(), rankApproximate, nil
		}
		limit *= 4
	}
}

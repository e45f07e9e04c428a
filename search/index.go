package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// BM25 parameters (the usual defaults).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

const (
	// maxTermsPerDoc bounds the postings of one huge document; the most
	// frequent terms are kept.
	maxTermsPerDoc = 8192
	// maxQueryTerms bounds the SQL built from one query: a longer query is
	// ranked on its maxQueryTerms most informative terms (queryStats).
	maxQueryTerms = 32
	// maxPastedTerms bounds the terms of a pasted paragraph whose document
	// frequencies are looked up to choose those; later ones are ignored.
	maxPastedTerms = 96
	// maxMatchTerms is how many of the rarest query terms MatchAll requires:
	// past that, more EXISTS probes cost time and hardly narrow the result.
	maxMatchTerms = 12
	// insertBatch rows per multi-row INSERT (5 parameters each).
	insertBatch = 500
	// idBatch ids per IN list.
	idBatch = 500
	// dfCacheMax bounds the document-frequency cache; it is cleared when full.
	dfCacheMax = 50000
)

// ErrDocType is returned by Put and Delete for an empty or over-long doc type.
var ErrDocType = errors.New("search: doc type must be 1-20 bytes")

// Field is a piece of a document's text; Weight multiplies the frequency of
// its terms (subject 3, body 1). A Weight below 1 counts as 1.
type Field struct {
	Text   string
	Weight int
}

// Doc is one document for PutMany.
type Doc struct {
	ID     int64
	Fields []Field
}

// Hit is a ranked search result.
type Hit struct {
	DocID int64
	Score float64
}

// Index reads and writes the search_docs and search_postings tables. It is
// safe for concurrent use. Corpus statistics (document count, average length,
// per-term document frequency and score distribution) are cached for
// statsTTL and then refreshed in the background while the stale figures
// keep serving (see stats.go): BM25 needs them only roughly, and counting
// on every query would cost more than the query.
type Index struct {
	db       *database.DB
	statsTTL time.Duration

	mu       sync.Mutex
	corpus   map[string]corpusStats
	df       map[dfKey]dfEntry   // document frequencies (MatchAll)
	est      map[dfKey]dfEntry   // estimated document frequencies (long queries)
	ts       map[dfKey]termEntry // document frequencies and score distributions (Search)
	tsPairs  int                 // pairs held by ts
	inFlight map[dfKey]bool      // background refreshes running (term "" is the corpus)

	// trace, when set (tests), sees how each ranked search went.
	trace func(rankTrace)
	// termScans counts the grouped scans of postings for term statistics.
	termScans atomic.Int64
}

// NewIndex returns an index over db's search tables.
func NewIndex(db *database.DB) *Index {
	return &Index{db: db, statsTTL: 30 * time.Second, corpus: map[string]corpusStats{}, df: map[dfKey]dfEntry{},
		ts: map[dfKey]termEntry{}, est: map[dfKey]dfEntry{}, inFlight: map[dfKey]bool{}}
}

// Put replaces the indexed text of one document inside the caller's
// transaction tx (nil means the index's own DB), so the index commits or rolls
// back with the change that caused it.
func (ix *Index) Put(ctx context.Context, tx *gorm.DB, docType string, docID int64, fields ...Field) error {
	return ix.PutMany(ctx, tx, docType, []Doc{{ID: docID, Fields: fields}})
}

type built struct {
	id     int64
	length int
	terms  []string
	tfs    []int
}

// PutMany replaces the indexed text of several documents in a few batched
// statements; it is Put for reindexing. A repeated ID keeps its last entry.
//
// Concurrency: callers serialise writes to the same document (tickets and
// articles do, through their row version). Documents are tested for existence
// with a plain read so that indexing a new document takes no gap locks on
// MySQL (concurrent creators would deadlock on them); if that read was stale,
// the duplicate-key error is caught and the old postings deleted then.
func (ix *Index) PutMany(ctx context.Context, tx *gorm.DB, docType string, docs []Doc) error {
	if err := checkDocType(docType); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	db := ix.conn(ctx, tx)
	byID := make(map[int64]int, len(docs))
	var bs []built
	for _, d := range docs {
		b := buildDoc(d)
		if i, ok := byID[d.ID]; ok {
			bs[i] = b
			continue
		}
		byID[d.ID] = len(bs)
		bs = append(bs, b)
	}
	ids := make([]int64, len(bs))
	for i, b := range bs {
		ids[i] = b.id
	}
	existing, err := ix.existing(db, docType, ids)
	if err != nil {
		return err
	}
	if err := deletePostings(db, docType, existing); err != nil {
		return err
	}
	if err := ix.upsertDocs(db, docType, bs); err != nil {
		return err
	}
	err = insertPostings(db, docType, bs)
	if err != nil && database.IsUniqueViolation(err) {
		// A document written by a transaction our snapshot predates. Both
		// dialects roll back only the failed statement, so retry in full.
		if err = deletePostings(db, docType, ids); err == nil {
			err = insertPostings(db, docType, bs)
		}
	}
	if err != nil {
		return fmt.Errorf("search: index %s: %w", docType, err)
	}
	return nil
}

// PutNew indexes documents that are not in the index yet, such as ones
// created in the caller's transaction tx: it writes the document rows and
// their postings (one statement each, batched like PutMany's) without
// first looking for old ones, two statements instead of Put's four. Should
// a document be indexed after all (its row exists), PutNew does what
// PutMany does.
func (ix *Index) PutNew(ctx context.Context, tx *gorm.DB, docType string, docs ...Doc) error {
	if err := checkDocType(docType); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	db := ix.conn(ctx, tx)
	bs := make([]built, len(docs))
	var sb strings.Builder
	args := make([]any, 0, 3*len(docs))
	sb.WriteString("INSERT INTO search_docs (doc_type, doc_id, length) VALUES ")
	for i, d := range docs {
		bs[i] = buildDoc(d)
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?,?)")
		args = append(args, docType, bs[i].id, bs[i].length)
	}
	err := db.Exec(sb.String(), args...).Error
	if database.IsUniqueViolation(err) {
		// Both dialects roll back only the failed statement.
		return ix.PutMany(ctx, tx, docType, docs)
	}
	if err == nil {
		err = insertPostings(db, docType, bs)
	}
	if err != nil {
		return fmt.Errorf("search: index %s: %w", docType, err)
	}
	return nil
}

// Delete removes a document from the index inside tx (nil: the index's DB).
func (ix *Index) Delete(ctx context.Context, tx *gorm.DB, docType string, docID int64) error {
	if err := checkDocType(docType); err != nil {
		return err
	}
	db := ix.conn(ctx, tx)
	if err := deletePostings(db, docType, []int64{docID}); err != nil {
		return err
	}
	if err := db.Exec("DELETE FROM search_docs WHERE doc_type = ? AND doc_id = ?", docType, docID).Error; err != nil {
		return fmt.Errorf("search: delete %s %d: %w", docType, docID, err)
	}
	return nil
}

func checkDocType(docType string) error {
	if docType == "" || len(docType) > 20 {
		return ErrDocType
	}
	return nil
}

func (ix *Index) conn(ctx context.Context, tx *gorm.DB) *gorm.DB {
	if tx == nil {
		tx = ix.db.DB
	}
	return tx.Session(&gorm.Session{NewDB: true, Context: ctx})
}

func buildDoc(d Doc) built {
	tf := map[string]int{}
	var order []string
	length := 0
	for _, f := range d.Fields {
		w := max(f.Weight, 1)
		scan(f.Text, indexMode, func(term string, _, _ int) {
			if _, ok := tf[term]; !ok {
				order = append(order, term)
			}
			tf[term] = satAdd(tf[term], w)
			length = satAdd(length, w)
		})
	}
	if len(order) > maxTermsPerDoc {
		sort.SliceStable(order, func(i, j int) bool { return tf[order[i]] > tf[order[j]] })
		order = order[:maxTermsPerDoc]
	}
	b := built{id: d.ID, length: length, terms: order, tfs: make([]int, len(order))}
	for i, t := range order {
		b.tfs[i] = tf[t]
	}
	return b
}

// satAdd adds without overflowing the INT columns.
func satAdd(a, b int) int {
	if a > math.MaxInt32-b {
		return math.MaxInt32
	}
	return a + b
}

func (ix *Index) existing(db *gorm.DB, docType string, ids []int64) ([]int64, error) {
	var out []int64
	for chunk := range chunks(ids, idBatch) {
		var got []int64
		if err := db.Raw("SELECT doc_id FROM search_docs WHERE doc_type = ? AND doc_id IN ?", docType, chunk).Scan(&got).Error; err != nil {
			return nil, fmt.Errorf("search: read %s docs: %w", docType, err)
		}
		out = append(out, got...)
	}
	return out, nil
}

func deletePostings(db *gorm.DB, docType string, ids []int64) error {
	for chunk := range chunks(ids, idBatch) {
		if err := db.Exec("DELETE FROM search_postings WHERE doc_type = ? AND doc_id IN ?", docType, chunk).Error; err != nil {
			return fmt.Errorf("search: delete %s postings: %w", docType, err)
		}
	}
	return nil
}

func (ix *Index) upsertDocs(db *gorm.DB, docType string, bs []built) error {
	conflict := " ON CONFLICT (doc_type, doc_id) DO UPDATE SET length = excluded.length"
	if ix.db.Dialect == database.MySQL {
		conflict = " ON DUPLICATE KEY UPDATE length = VALUES(length)"
	}
	for chunk := range chunks(bs, insertBatch) {
		var sb strings.Builder
		args := make([]any, 0, 3*len(chunk))
		sb.WriteString("INSERT INTO search_docs (doc_type, doc_id, length) VALUES ")
		for i, b := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?)")
			args = append(args, docType, b.id, b.length)
		}
		sb.WriteString(conflict)
		if err := db.Exec(sb.String(), args...).Error; err != nil {
			return fmt.Errorf("search: write %s docs: %w", docType, err)
		}
	}
	return nil
}

func insertPostings(db *gorm.DB, docType string, bs []built) error {
	var sb strings.Builder
	args := make([]any, 0, 5*insertBatch)
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		err := db.Exec(sb.String(), args...).Error
		sb.Reset()
		args = args[:0]
		rows = 0
		return err
	}
	for _, b := range bs {
		for i, t := range b.terms {
			if rows == 0 {
				sb.WriteString("INSERT INTO search_postings (doc_type, term, doc_id, tf, doc_len) VALUES ")
			} else {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?)")
			args = append(args, docType, t, b.id, b.tfs[i], b.length)
			rows++
			if rows == insertBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

func chunks[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// MatchAll returns a subquery selecting the doc_id of every docType document
// that contains all terms of query, for `WHERE tickets.id IN (?)` next to
// other filters and keyset pagination. ok is false when the query has no
// terms (only stop words, symbols or emoji): the caller decides, usually an
// empty result.
//
// Shape: the rarest term drives (one index range of the clustered primary
// key) and every other term is an EXISTS probe on that key, so the cost
// follows the shortest posting list, not the longest; both SQLite and
// MariaDB run it as nested index lookups. Only the maxMatchTerms rarest
// terms are required. db runs the frequency lookup and carries the caller's
// transaction and context; nil means the index's DB.
func (ix *Index) MatchAll(db *gorm.DB, docType, query string) (sub *gorm.DB, ok bool) {
	terms := queryTerms(query)
	if len(terms) == 0 {
		return nil, false
	}
	if db == nil {
		db = ix.db.DB
	}
	if len(terms) > maxQueryTerms {
		terms = terms[:maxQueryTerms]
	}
	if len(terms) > 1 {
		// Without frequencies (a failed lookup) the query order still gives a
		// correct, if slower, subquery.
		if df, err := ix.docFreqs(db.Session(&gorm.Session{NewDB: true}), docType, terms); err == nil {
			sort.SliceStable(terms, func(i, j int) bool { return df[terms[i]] < df[terms[j]] })
		}
	}
	if len(terms) > maxMatchTerms {
		terms = terms[:maxMatchTerms]
	}
	// CROSS JOIN keeps SQLite's join order as written (rarest first);
	// MySQL and MariaDB read it as an inner join and order it by their own
	// range estimates, which agree.
	var sb strings.Builder
	args := make([]any, 0, 2+len(terms))
	sb.WriteString("SELECT p0.doc_id FROM search_postings p0")
	for i := range terms[1:] {
		a := "p" + strconv.Itoa(i+1)
		fmt.Fprintf(&sb, " CROSS JOIN search_postings %[1]s ON %[1]s.doc_type = p0.doc_type AND %[1]s.term = ? AND %[1]s.doc_id = p0.doc_id", a)
		args = append(args, terms[i+1])
	}
	sb.WriteString(" WHERE p0.doc_type = ? AND p0.term = ?")
	args = append(args, docType, terms[0])
	return db.Session(&gorm.Session{NewDB: true}).Raw(sb.String(), args...), true
}

// Search ranks docType documents by BM25 (k1 1.2, b 0.75) over the OR of the
// query's terms, best first; equal scores put the newer (higher) id first.
// filter, if not nil, is a subquery of allowed doc_ids (permissions, status).
// A query without terms, or whose terms are in no document, gives an empty
// list. limit defaults to 20 and is capped at 1000.
//
// Most queries read only the postings that can reach the top and get the
// exact answer of scoring every posting (rank.go). Past a work budget, a
// query whose terms have few postings is scored whole in SQL; a query of
// two or three words that match half the corpus with the same few tf
// values returns the best documents it found instead, by their exact
// scores; a pasted paragraph (more than 8 terms) is ranked on its rarest
// terms and scored with estimated document frequencies for its common
// words (rankLong, longStats): an approximation of the top limit, never an
// error.
func (ix *Index) Search(ctx context.Context, docType, query string, limit int, filter *gorm.DB) ([]Hit, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	terms := queryTerms(query)
	if len(terms) == 0 {
		return []Hit{}, nil
	}
	db := ix.conn(ctx, nil)
	stats, err := ix.corpusStats(db, docType)
	if err != nil {
		return nil, err
	}
	terms, ts, exact, err := ix.queryStats(db, docType, terms, stats)
	if err != nil {
		return nil, err
	}
	r := newRanker(db, ix.db.Dialect, docType, limit, filter, stats, terms, ts)
	r.estimated = !exact
	r.all = func(terms []string, limit int, perTerm int64) ([]Hit, error) {
		return ix.score(db, docType, terms, ts, stats, limit, nil, perTerm)
	}
	if len(r.terms) == 0 {
		return []Hit{}, nil
	}
	hits, how, err := r.rank()
	if err != nil {
		return nil, fmt.Errorf("search: rank %s: %w", docType, err)
	}
	if ix.trace != nil {
		ix.trace(rankTrace{query: query, rounds: r.rounds, reads: r.reads, lookups: r.lookups, total: r.total,
			fallback: how == rankExhaustive, approximate: how == rankApproximate})
	}
	if how != rankExhaustive {
		return hits, nil
	}
	return ix.searchAll(db, docType, terms, ts, stats, limit, filter)
}

// queryStats returns the terms a query is ranked on and their statistics;
// exact says whether every document frequency is exact. A short query keeps
// its terms. A long one (a pasted paragraph) needs document frequencies
// only, and estimates of its common words' spare counting their postings
// (longStats); past maxQueryTerms it keeps its rarest terms, wherever they
// are in the text, as a person skimming it would: the first 32 words of an
// e-mail are mostly greetings and the first of several questions.
func (ix *Index) queryStats(db *gorm.DB, docType string, terms []string, stats corpusStats) ([]string, map[string]termStat, bool, error) {
	if len(terms) <= longQuery {
		ts, err := ix.termStats(db, docType, terms, stats.avgdl)
		return terms, ts, true, err
	}
	terms = terms[:min(len(terms), maxPastedTerms)]
	ts, exact, err := ix.longStats(db, docType, terms, stats)
	if err != nil {
		return nil, nil, false, err
	}
	return rarest(terms, ts, maxQueryTerms), ts, exact, nil
}

// rarest returns the n terms of lowest document frequency that are in some
// document, in their query order; ties keep the earlier term.
func rarest(terms []string, ts map[string]termStat, n int) []string {
	var in []int
	for i, t := range terms {
		if ts[t].df > 0 {
			in = append(in, i)
		}
	}
	if len(in) > n {
		sort.SliceStable(in, func(a, b int) bool { return ts[terms[in[a]]].df < ts[terms[in[b]]].df })
		in = in[:n]
		sort.Ints(in)
	}
	out := make([]string, len(in))
	for j, i := range in {
		out[j] = terms[i]
	}
	return out
}

// searchAll scores every posting of the query's terms in one statement.
func (ix *Index) searchAll(db *gorm.DB, docType string, terms []string, ts map[string]termStat, stats corpusStats, limit int, filter *gorm.DB) ([]Hit, error) {
	return ix.score(db, docType, terms, ts, stats, limit, filter, 0)
}

// score is searchAll reading, when perTerm > 0, only each term's perTerm
// newest postings.
func (ix *Index) score(db *gorm.DB, docType string, terms []string, ts map[string]termStat, stats corpusStats, limit int, filter *gorm.DB, perTerm int64) ([]Hit, error) {
	// One branch per term, each an index range of the primary key: a single
	// "term IN (...)" scan lets the planner walk (doc_type, doc_id) for the
	// GROUP BY instead, reading every posting of the doc type (seconds).
	// Scores are computed in SQL from constants we format ourselves; only
	// terms, the doc type and the limit travel as parameters.
	c0 := sqlFloat(bm25K1 * (1 - bm25B))
	c1 := sqlFloat(bm25K1 * bm25B / stats.avgdl)
	var sb strings.Builder
	var args []any
	sb.WriteString("SELECT doc_id, SUM(s) AS score FROM (")
	branches := 0
	for _, t := range terms {
		d := ts[t].df
		if d == 0 {
			continue
		}
		if branches > 0 {
			sb.WriteString(" UNION ALL ")
		}
		branches++
		from := "search_postings"
		if perTerm > 0 && perTerm < d {
			from = fmt.Sprintf("(SELECT doc_id, tf, doc_len FROM search_postings WHERE doc_type = ? AND term = ? ORDER BY doc_id DESC LIMIT %d) c%d", perTerm, branches)
			args = append(args, docType, t)
		}
		fmt.Fprintf(&sb, "SELECT doc_id, %s * tf / (tf + %s + %s * doc_len) AS s FROM %s", sqlFloat(idf(stats.n, d)*(bm25K1+1)), c0, c1, from)
		if from == "search_postings" {
			sb.WriteString(" WHERE doc_type = ? AND term = ?")
			args = append(args, docType, t)
		}
		if filter != nil {
			if from == "search_postings" {
				sb.WriteString(" AND doc_id IN (?)")
			} else {
				sb.WriteString(" WHERE doc_id IN (?)")
			}
			args = append(args, filter)
		}
	}
	if branches == 0 {
		return []Hit{}, nil
	}
	sb.WriteString(") m GROUP BY doc_id ORDER BY score DESC, doc_id DESC LIMIT ?")
	args = append(args, limit)
	hits := []Hit{}
	if err := db.Raw(sb.String(), args...).Scan(&hits).Error; err != nil {
		return nil, fmt.Errorf("search: rank %s: %w", docType, err)
	}
	return hits, nil
}

// idf is the BM25 inverse document frequency in Lucene's always-positive form.
func idf(n, df int64) float64 {
	n = max(n, df)
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// sqlFloat formats a float as a literal both dialects read as a double (a
// plain "2.2" is DECIMAL on MySQL, with its rounded division).
func sqlFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// docFreqs returns how many documents hold each term, from the cache or one
// grouped COUNT over the primary key.
func (ix *Index) docFreqs(db *gorm.DB, docType string, terms []string) (map[string]int64, error) {
	out := make(map[string]int64, len(terms))
	var missing []string
	now := time.Now()
	ix.mu.Lock()
	for _, t := range terms {
		if e, ok := ix.df[dfKey{docType, t}]; ok && now.Sub(e.at) < ix.statsTTL {
			out[t] = e.df
		} else {
			missing = append(missing, t)
		}
	}
	ix.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	var rows []struct {
		Term string
		N    int64
	}
	if err := db.Raw("SELECT term, COUNT(*) AS n FROM search_postings WHERE doc_type = ? AND term IN ? GROUP BY term", docType, missing).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("search: %s term frequencies: %w", docType, err)
	}
	for _, t := range missing {
		out[t] = 0
	}
	for _, r := range rows {
		out[r.Term] = r.N
	}
	ix.mu.Lock()
	if len(ix.df)+len(missing) > dfCacheMax {
		clear(ix.df)
	}
	for _, t := range missing {
		// A zero is not cached: the next Put may add the term, and Search
		// skips terms with no documents.
		if out[t] > 0 {
			ix.df[dfKey{docType, t}] = dfEntry{df: out[t], at: now}
		}
	}
	ix.mu.Unlock()
	return out, nil
}

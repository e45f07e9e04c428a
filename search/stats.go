package search

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Statistics Search needs, cached per doc type: the corpus's document
// count, average and largest length, and per term its document frequency
// and the distribution of its postings over (tf, doc_len), from which the
// ranker predicts how many postings a score threshold reads.
//
// An entry is fresh for statsTTL. After that it keeps serving while one
// background query refreshes it, up to staleFactor times the TTL (an hour
// by default); older entries (or a TTL of zero, in tests) are read in the
// query's path. So a term's frequencies cost one grouped scan of its
// postings when first searched, then one every TTL while it is searched,
// off the request path: as before, a search sees document frequencies at
// most a TTL (and one refresh) old.
//
// Computed term statistics are also kept in search_term_stats
// (stats_store.go) and read there before counting, with the same age
// rules: a replica or a restarted process starts from figures another
// computed, and a common word is counted once per TTL across the cluster
// while it is searched, not once per process.
//
// A long query (a pasted paragraph, rankLong) needs only document
// frequencies, and counting a paragraph's common words would cost more
// than ranking it: it takes cached statistics when it finds them and
// estimates the rest from a few postings each (longStats).

const (
	staleFactor = 120
	// tsPairsMax bounds the (tf, length) pairs held by the term cache
	// (about 24 bytes each); it is cleared when full.
	tsPairsMax = 1 << 20
	// refreshTimeout bounds a background refresh.
	refreshTimeout = time.Minute
)

// corpusStats describe one doc type.
type corpusStats struct {
	n            int64
	avgdl        float64
	maxDL        int64
	minID, maxID int64 // the doc_id range (estimateDF)
	at           time.Time
}

type dfKey struct{ docType, term string }

type dfEntry struct {
	df    int64
	at    time.Time
	exact bool // est: a complete count
}

// termStat is a term's document frequency and the distribution of its
// postings: pairs of (tf, doc_len) with their counts, best first (for the
// average length known when they were read), doc_len rounded up into
// buckets of about 3 % so a common term keeps a few hundred pairs.
type termStat struct {
	df    int64
	maxTF int64
	pairs []tfLen
}

type tfLen struct{ tf, dl, n int64 }

type termEntry struct {
	st termStat
	at time.Time
}

// rankTrace describes one Search: reading rounds, postings read and looked
// up, and how it ended.
type rankTrace struct {
	query          string
	rounds         int
	reads, lookups int64
	total          int64
	fallback       bool // scored every posting in SQL
	approximate    bool // stopped at the work budget
}

// age says whether an entry made at is fresh, stale but usable, or too old.
func (ix *Index) age(at time.Time) (fresh, usable bool) {
	d := time.Since(at)
	if d < ix.statsTTL {
		return true, true
	}
	return false, ix.statsTTL > 0 && d < staleFactor*ix.statsTTL
}

func (ix *Index) corpusStats(db *gorm.DB, docType string) (corpusStats, error) {
	ix.mu.Lock()
	c, ok := ix.corpus[docType]
	ix.mu.Unlock()
	if ok {
		fresh, usable := ix.age(c.at)
		if fresh {
			return c, nil
		}
		if usable {
			ix.refreshLater(docType, nil)
			return c, nil
		}
	}
	c, err := loadCorpus(db, docType)
	if err != nil {
		return c, err
	}
	ix.mu.Lock()
	ix.corpus[docType] = c
	ix.mu.Unlock()
	return c, nil
}

func loadCorpus(db *gorm.DB, docType string) (corpusStats, error) {
	var row struct {
		N     int64
		Total float64
		Max   int64
		MinID int64
		MaxID int64
	}
	if err := db.Raw("SELECT COUNT(*) AS n, COALESCE(SUM(length), 0) AS total, COALESCE(MAX(length), 0) AS max, COALESCE(MIN(doc_id), 0) AS min_id, COALESCE(MAX(doc_id), 0) AS max_id FROM search_docs WHERE doc_type = ?", docType).Scan(&row).Error; err != nil {
		return corpusStats{}, fmt.Errorf("search: %s stats: %w", docType, err)
	}
	c := corpusStats{n: row.N, avgdl: 1, maxDL: max(row.Max, 1), minID: row.MinID, maxID: row.MaxID, at: time.Now()}
	if row.N > 0 && row.Total > 0 {
		c.avgdl = row.Total / float64(row.N)
	}
	return c, nil
}

// termStats returns the statistics of terms, from the cache or one grouped
// scan of the rank index.
func (ix *Index) termStats(db *gorm.DB, docType string, terms []string, avgdl float64) (map[string]termStat, error) {
	out := make(map[string]termStat, len(terms))
	var missing, stale []string
	ix.mu.Lock()
	for _, t := range terms {
		e, ok := ix.ts[dfKey{docType, t}]
		fresh, usable := ix.age(e.at)
		switch {
		case ok && fresh:
			out[t] = e.st
		case ok && usable:
			out[t] = e.st
			stale = append(stale, t)
		default:
			missing = append(missing, t)
		}
	}
	ix.mu.Unlock()
	if len(missing) > 0 && ix.statsTTL > 0 {
		found, rest := ix.fromStore(db, docType, missing, avgdl, false)
		for t, e := range found {
			out[t] = e.st
			if fresh, _ := ix.age(e.at); !fresh {
				stale = append(stale, t)
			}
		}
		missing = rest
	}
	if len(stale) > 0 {
		ix.refreshLater(docType, stale)
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := ix.scanTerms(db, docType, missing, avgdl)
	if err != nil {
		return nil, err
	}
	for t, st := range got {
		out[t] = st
	}
	now := time.Now()
	ix.storeTerms(docType, got, now)
	if ix.statsTTL > 0 { // without caching (tests), nothing is kept either
		ix.saveLater(docType, got, now)
	}
	return out, nil
}

// fromStore takes the kept statistics of terms (stats_store.go) that are
// usable, or fresh only, into the cache and returns them, with the terms
// it did not find. A failure to read them only costs a scan.
func (ix *Index) fromStore(db *gorm.DB, docType string, terms []string, avgdl float64, freshOnly bool) (map[string]termEntry, []string) {
	stored, err := ix.loadStored(db, docType, terms, avgdl)
	if err != nil {
		return nil, terms
	}
	found := make(map[string]termEntry, len(stored))
	var rest []string
	for _, t := range terms {
		e, ok := stored[t]
		if ok && freshOnly {
			ok, _ = ix.age(e.at)
		}
		if !ok {
			rest = append(rest, t)
			continue
		}
		found[t] = e
		ix.storeTerms(docType, map[string]termStat{t: e.st}, e.at)
	}
	return found, rest
}

// scanTerms is loadTerms, counted (tests check which searches scanned).
func (ix *Index) scanTerms(db *gorm.DB, docType string, terms []string, avgdl float64) (map[string]termStat, error) {
	ix.termScans.Add(1)
	return loadTerms(db, docType, terms, avgdl)
}

// storeTerms caches got as computed at at.
func (ix *Index) storeTerms(docType string, got map[string]termStat, at time.Time) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for t, st := range got {
		// A zero is not cached: the next Put may add the term, and Search
		// skips terms with no documents.
		if st.df == 0 {
			if old, ok := ix.ts[dfKey{docType, t}]; ok {
				ix.tsPairs -= len(old.st.pairs)
				delete(ix.ts, dfKey{docType, t})
			}
			continue
		}
		if ix.tsPairs+len(st.pairs) > tsPairsMax || len(ix.ts) >= dfCacheMax {
			clear(ix.ts)
			ix.tsPairs = 0
		}
		k := dfKey{docType, t}
		if old, ok := ix.ts[k]; ok {
			ix.tsPairs -= len(old.st.pairs)
		}
		ix.ts[k] = termEntry{st, at}
		ix.tsPairs += len(st.pairs)
	}
}

// loadTerms reads the (tf, doc_len) distribution of terms: one ordered
// walk of the rank index (doc_type, term, tf, doc_len).
func loadTerms(db *gorm.DB, docType string, terms []string, avgdl float64) (map[string]termStat, error) {
	out := make(map[string]termStat, len(terms))
	for _, t := range terms {
		out[t] = termStat{}
	}
	rows, err := db.Raw("SELECT term, tf, doc_len, COUNT(*) AS n FROM search_postings WHERE doc_type = ? AND term IN ? GROUP BY term, tf, doc_len",
		docType, terms).Rows()
	if err != nil {
		return nil, fmt.Errorf("search: %s term frequencies: %w", docType, err)
	}
	defer rows.Close()
	type key struct {
		term   string
		tf, dl int64
	}
	merged := map[key]int64{}
	for rows.Next() {
		var term string
		var tf, dl, n int64
		if err := rows.Scan(&term, &tf, &dl, &n); err != nil {
			return nil, fmt.Errorf("search: %s term frequencies: %w", docType, err)
		}
		merged[key{term, tf, dlBucket(dl)}] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %s term frequencies: %w", docType, err)
	}
	for k, n := range merged {
		st, ok := out[k.term]
		if !ok {
			continue
		}
		st.df += n
		st.maxTF = max(st.maxTF, k.tf)
		st.pairs = append(st.pairs, tfLen{k.tf, k.dl, n})
		out[k.term] = st
	}
	for _, st := range out {
		sortPairs(st.pairs, avgdl)
	}
	return out, nil
}

// sortPairs orders a term's (tf, doc_len) pairs best first for avgdl.
func sortPairs(pairs []tfLen, avgdl float64) {
	c0, c1 := bm25K1*(1-bm25B), bm25K1*bm25B/avgdl
	g := func(p tfLen) float64 { f := float64(p.tf); return f / (f + c0 + c1*float64(p.dl)) }
	sort.Slice(pairs, func(i, j int) bool {
		gi, gj := g(pairs[i]), g(pairs[j])
		if gi != gj {
			return gi > gj
		}
		if pairs[i].tf != pairs[j].tf {
			return pairs[i].tf > pairs[j].tf
		}
		return pairs[i].dl < pairs[j].dl
	})
}

// dlBucket rounds a length up to the end of its bucket: exact under 64,
// then buckets of 1/32 to 1/64 of the length. The largest length of the
// bucket gives the lowest score, so estimates err on the side of
// thresholds that read enough.
func dlBucket(dl int64) int64 {
	if dl < 64 {
		return dl
	}
	shift := bits.Len64(uint64(dl)) - 6
	return ((dl>>shift)+1)<<shift - 1
}

// refreshLater reloads the corpus statistics (terms nil) or the given
// terms of docType in the background, unless a refresh of them runs.
func (ix *Index) refreshLater(docType string, terms []string) {
	var keys []dfKey
	ix.mu.Lock()
	if terms == nil {
		k := dfKey{docType, ""}
		if !ix.inFlight[k] {
			keys = append(keys, k)
		}
	}
	for _, t := range terms {
		k := dfKey{docType, t}
		if !ix.inFlight[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		ix.inFlight[k] = true
	}
	ix.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		defer func() {
			ix.mu.Lock()
			for _, k := range keys {
				delete(ix.inFlight, k)
			}
			ix.mu.Unlock()
		}()
		db := ix.conn(ctx, nil)
		if terms == nil {
			if c, err := loadCorpus(db, docType); err == nil {
				ix.mu.Lock()
				ix.corpus[docType] = c
				ix.mu.Unlock()
			}
			return
		}
		ts := make([]string, len(keys))
		for i, k := range keys {
			ts[i] = k.term
		}
		ix.mu.Lock()
		avgdl := ix.corpus[docType].avgdl
		ix.mu.Unlock()
		if avgdl <= 0 {
			avgdl = 1
		}
		// Another process may have counted them since: its figures, if
		// fresh, spare the scan.
		if _, ts = ix.fromStore(db, docType, ts, avgdl, true); len(ts) == 0 {
			return
		}
		if got, err := ix.scanTerms(db, docType, ts, avgdl); err == nil {
			now := time.Now()
			ix.storeTerms(docType, got, now)
			ix.saveStored(ctx, docType, got, now)
		}
	}()
}

// dfSample is how many of a term's newest postings estimate its document
// frequency for a long query (longStats).
const dfSample = 64

// longStats returns the document frequencies a long query (a pasted
// paragraph) is ranked with, without counting the postings of its common
// words: a term's cached statistics when usable, else an estimate from its
// dfSample newest postings, one short range of the primary key per term
// and one statement for all. Fewer postings than that are the exact count;
// otherwise the share of the doc_id range they span gives the frequency
// within about 1/sqrt(dfSample) (12 %), which moves the term's IDF by
// about 0.12. Estimates are served, like cached statistics, up to
// staleFactor x statsTTL old (an hour), then made again: otherwise a
// paragraph's 30-90 words are estimated again whenever searches using them
// come more than statsTTL apart. exact says whether every figure is exact
// (cached statistics or a complete count).
func (ix *Index) longStats(db *gorm.DB, docType string, terms []string, c corpusStats) (map[string]termStat, bool, error) {
	out := make(map[string]termStat, len(terms))
	exact := true
	var missing []string
	ix.mu.Lock()
	for _, t := range terms {
		k := dfKey{docType, t}
		if e, ok := ix.ts[k]; ok {
			if _, usable := ix.age(e.at); usable {
				out[t] = e.st
				continue
			}
		}
		if e, ok := ix.est[k]; ok {
			if _, usable := ix.age(e.at); usable {
				out[t] = termStat{df: e.df}
				exact = exact && e.exact
				continue
			}
		}
		missing = append(missing, t)
	}
	ix.mu.Unlock()
	if len(missing) == 0 {
		return out, exact, nil
	}
	var sb strings.Builder
	args := make([]any, 0, 2*len(missing))
	for i, t := range missing {
		if i > 0 {
			sb.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&sb, "SELECT %d AS i, COUNT(*) AS n, COALESCE(MIN(doc_id), 0) AS lo, COALESCE(MAX(doc_id), 0) AS hi FROM (SELECT doc_id FROM search_postings WHERE doc_type = ? AND term = ? ORDER BY doc_id DESC LIMIT %d) s%d",
			i, dfSample, i)
		args = append(args, docType, t)
	}
	var rows []struct {
		I         int
		N, Lo, Hi int64
	}
	if err := db.Raw(sb.String(), args...).Scan(&rows).Error; err != nil {
		return nil, false, fmt.Errorf("search: %s term frequencies: %w", docType, err)
	}
	now := time.Now()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.est)+len(rows) > dfCacheMax {
		clear(ix.est)
	}
	for _, row := range rows {
		if row.I < 0 || row.I >= len(missing) {
			continue
		}
		df, ok := estimateDF(row.N, row.Lo, row.Hi, c)
		out[missing[row.I]] = termStat{df: df}
		exact = exact && ok
		if df > 0 {
			ix.est[dfKey{docType, missing[row.I]}] = dfEntry{df: df, at: now, exact: ok}
		}
	}
	return out, exact, nil
}

// estimateDF estimates a term's document frequency from n of its newest
// postings, with doc_id in [lo, hi]: exact when n is under dfSample, else
// n over the share of the corpus's doc_id range those postings span
// (documents are assumed spread evenly over their ids).
func estimateDF(n, lo, hi int64, c corpusStats) (df int64, exact bool) {
	if n < dfSample {
		return n, true
	}
	top := max(c.maxID, hi)
	span := float64(top - min(c.minID, lo) + 1)
	window := float64(top - lo + 1)
	est := float64(n) * span / window
	if math.IsNaN(est) || est > float64(math.MaxInt32) {
		est = float64(math.MaxInt32)
	}
	return min(max(int64(est+0.5), n), max(c.n, n)), false
}

package search

import (
	"context"
	"encoding/binary"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// Term statistics kept in search_term_stats (migration 0013), shared by
// every process on the database. A row is a term's document frequency and
// its (tf, doc_len bucket, count) pairs, written after a process counted
// them and read by any process missing them in its cache, if no older
// than the cache would keep them (staleFactor × statsTTL). Rows are
// figures for planning and IDF, never the postings themselves: a stale
// row is no worse than a stale cache entry.

// saveTimeout bounds a background write of statistics.
const saveTimeout = 10 * time.Second

// encodePairs writes a term's statistics as uvarints: df, maxTF, then
// each pair's tf, doc_len and count.
func encodePairs(st termStat) []byte {
	b := make([]byte, 0, 4+len(st.pairs)*6)
	b = binary.AppendUvarint(b, uint64(st.df))
	b = binary.AppendUvarint(b, uint64(st.maxTF))
	for _, p := range st.pairs {
		b = binary.AppendUvarint(b, uint64(p.tf))
		b = binary.AppendUvarint(b, uint64(p.dl))
		b = binary.AppendUvarint(b, uint64(p.n))
	}
	return b
}

// decodePairs reads encodePairs' bytes; ok is false for anything else.
func decodePairs(b []byte) (st termStat, ok bool) {
	next := func() (int64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<53 {
			return 0, false
		}
		b = b[n:]
		return int64(v), true
	}
	if st.df, ok = next(); !ok {
		return termStat{}, false
	}
	if st.maxTF, ok = next(); !ok {
		return termStat{}, false
	}
	var sum int64
	for len(b) > 0 {
		var p tfLen
		var ok1, ok2, ok3 bool
		p.tf, ok1 = next()
		p.dl, ok2 = next()
		p.n, ok3 = next()
		if !ok1 || !ok2 || !ok3 || p.tf < 1 || p.n < 1 {
			return termStat{}, false
		}
		sum += p.n
		st.pairs = append(st.pairs, p)
	}
	if sum != st.df {
		return termStat{}, false
	}
	return st, true
}

type storedStat struct {
	Term       string
	DF         int64
	Pairs      []byte
	ComputedAt time.Time
}

// loadStored returns the kept statistics of terms that are still usable,
// as cache entries stamped with when they were computed; pairs are
// ordered for avgdl.
func (ix *Index) loadStored(db *gorm.DB, docType string, terms []string, avgdl float64) (map[string]termEntry, error) {
	var rows []storedStat
	if err := db.Raw("SELECT term, df, pairs, computed_at FROM search_term_stats WHERE doc_type = ? AND term IN ?", docType, terms).
		Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]termEntry, len(rows))
	for _, r := range rows {
		if _, usable := ix.age(r.ComputedAt); !usable {
			continue
		}
		st, ok := decodePairs(r.Pairs)
		if !ok || st.df != r.DF || st.df == 0 {
			continue // unreadable: counted again and rewritten
		}
		sortPairs(st.pairs, avgdl)
		out[r.Term] = termEntry{st: st, at: r.ComputedAt}
	}
	return out, nil
}

// saveLater keeps got in search_term_stats without holding the search.
func (ix *Index) saveLater(docType string, got map[string]termStat, at time.Time) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
		defer cancel()
		ix.saveStored(ctx, docType, got, at)
	}()
}

// saveStored upserts got (terms with documents only). Best effort: a
// failure only means the next process counts again.
func (ix *Index) saveStored(ctx context.Context, docType string, got map[string]termStat, at time.Time) {
	var args []any
	n := 0
	for t, st := range got {
		if st.df == 0 {
			continue
		}
		args = append(args, docType, t, st.df, encodePairs(st), at.UTC())
		n++
	}
	if n == 0 {
		return
	}
	sql := "INSERT INTO search_term_stats (doc_type, term, df, pairs, computed_at) VALUES (?,?,?,?,?)"
	for i := 1; i < n; i++ {
		sql += ",(?,?,?,?,?)"
	}
	if ix.db.Dialect == database.MySQL {
		sql += " ON DUPLICATE KEY UPDATE df = VALUES(df), pairs = VALUES(pairs), computed_at = VALUES(computed_at)"
	} else {
		sql += " ON CONFLICT (doc_type, term) DO UPDATE SET df = excluded.df, pairs = excluded.pairs, computed_at = excluded.computed_at"
	}
	ix.conn(ctx, nil).Exec(sql, args...)
}

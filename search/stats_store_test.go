package search

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestPairsRoundTripAndRejects(t *testing.T) {
	st := termStat{df: 7, maxTF: 3, pairs: []tfLen{{3, 40, 1}, {1, 12, 4}, {2, 1000, 2}}}
	got, ok := decodePairs(encodePairs(st))
	if !ok || got.df != st.df || got.maxTF != st.maxTF || !slices.Equal(got.pairs, st.pairs) {
		t.Fatalf("round trip: %+v %v, want %+v", got, ok, st)
	}
	b := encodePairs(st)
	for name, bad := range map[string][]byte{
		"empty":                      nil,
		"truncated":                  b[:len(b)-1],
		"counts do not add up to df": encodePairs(termStat{df: 8, maxTF: 3, pairs: st.pairs}),
		"zero tf":                    encodePairs(termStat{df: 1, maxTF: 1, pairs: []tfLen{{0, 5, 1}}}),
		"garbage":                    []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, ok := decodePairs(bad); ok {
			t.Errorf("%s: decoded", name)
		}
	}
}

// A second process (a new Index on the same database) starts from the
// statistics the first one counted: same answer, no scan of postings. Rows
// older than the cache would keep are counted again and rewritten.
func TestTermStatsAreSharedAcrossProcesses(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		var docs []Doc
		for i := 1; i <= 60; i++ {
			docs = append(docs, Doc{ID: int64(i), Fields: []Field{{Text: fmt.Sprintf("card %s arrived late %d", []string{"never", "finally", "still not"}[i%3], i), Weight: 1}}})
		}
		first := NewIndex(db)
		first.statsTTL = time.Hour
		if err := first.PutMany(ctx, nil, "article", docs); err != nil {
			t.Fatal(err)
		}
		const q = "card arrived"
		want, err := first.Search(ctx, "article", q, 10, nil)
		if err != nil || len(want) != 10 {
			t.Fatalf("first search: %v %v", want, err)
		}
		if n := first.termScans.Load(); n != 1 {
			t.Fatalf("first process scanned %d times, want 1", n)
		}
		kept := func() int64 {
			var n int64
			db.Raw("SELECT COUNT(*) FROM search_term_stats WHERE doc_type = 'article' AND term IN ('card', 'arrived')").Scan(&n)
			return n
		}
		for deadline := time.Now().Add(5 * time.Second); kept() < 2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the counted statistics were not kept")
			}
		}

		second := NewIndex(db)
		second.statsTTL = time.Hour
		got, err := second.Search(ctx, "article", q, 10, nil)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("second process: %v %v, want %v", got, err, want)
		}
		if n := second.termScans.Load(); n != 0 {
			t.Fatalf("second process scanned %d times, want 0 (kept statistics)", n)
		}

		// Kept rows past the cache's limit are not used.
		old := time.Now().Add(-2 * staleFactor * time.Hour).UTC()
		if err := db.Exec("UPDATE search_term_stats SET computed_at = ? WHERE doc_type = 'article'", old).Error; err != nil {
			t.Fatal(err)
		}
		third := NewIndex(db)
		third.statsTTL = time.Hour
		if got, err := third.Search(ctx, "article", q, 10, nil); err != nil || !slices.Equal(got, want) {
			t.Fatalf("third process: %v %v, want %v", got, err, want)
		}
		if n := third.termScans.Load(); n != 1 {
			t.Fatalf("third process scanned %d times with only too-old rows, want 1", n)
		}

		// A process refreshing a stale entry takes another's fresh figures
		// instead of counting again.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var n int64
			db.Raw("SELECT COUNT(*) FROM search_term_stats WHERE doc_type = 'article' AND computed_at > ?", old).Scan(&n)
			if n >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the third process's figures were not kept")
			}
		}
		fifth := NewIndex(db)
		fifth.statsTTL = time.Hour
		if _, err := fifth.Search(ctx, "article", q, 10, nil); err != nil {
			t.Fatal(err)
		}
		fifth.mu.Lock()
		for k, e := range fifth.ts {
			e.at = time.Now().Add(-2 * time.Hour) // stale, still usable
			fifth.ts[k] = e
		}
		fifth.mu.Unlock()
		if got, err := fifth.Search(ctx, "article", q, 10, nil); err != nil || !slices.Equal(got, want) {
			t.Fatalf("fifth process: %v %v, want %v", got, err, want)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			fifth.mu.Lock()
			busy := len(fifth.inFlight) > 0
			e := fifth.ts[dfKey{"article", "card"}]
			fifth.mu.Unlock()
			if !busy && time.Since(e.at) < time.Hour {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the stale entry was not refreshed")
			}
		}
		if n := fifth.termScans.Load(); n != 0 {
			t.Fatalf("refreshing with fresh kept figures scanned %d times, want 0", n)
		}

		// Without caching (statsTTL 0) nothing kept is read.
		fourth := NewIndex(db)
		fourth.statsTTL = 0
		if _, err := fourth.Search(ctx, "article", q, 10, nil); err != nil {
			t.Fatal(err)
		}
		if n := fourth.termScans.Load(); n != 1 {
			t.Fatalf("uncached process scanned %d times, want 1", n)
		}
	})
}

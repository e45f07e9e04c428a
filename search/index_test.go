package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// matchIDs runs MatchAll as a caller would: inside an outer query with other
// filters and keyset pagination, here over search_docs itself.
func matchIDs(t testing.TB, ix *Index, db *gorm.DB, docType, q string) []int64 {
	t.Helper()
	sub, ok := ix.MatchAll(db, docType, q)
	if !ok {
		return nil
	}
	ids := []int64{}
	if err := db.Raw("SELECT doc_id FROM search_docs WHERE doc_type = ? AND doc_id IN (?) ORDER BY doc_id", docType, sub).Scan(&ids).Error; err != nil {
		t.Fatalf("MatchAll(%q): %v", q, err)
	}
	return ids
}

func put(t testing.TB, ix *Index, tx *gorm.DB, id int64, subject, body string) {
	t.Helper()
	if err := ix.Put(context.Background(), tx, "ticket", id, Field{subject, 3}, Field{body, 1}); err != nil {
		t.Fatal(err)
	}
}

func TestIndexPutDeleteMatch(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ix := NewIndex(db)
		ix.statsTTL = 0
		put(t, ix, nil, 1, "申请退款", "我的iPhone 15无法开机 error E52")
		put(t, ix, nil, 2, "什么时候发货", "订单已付款，还没有发货")
		put(t, ix, nil, 3, "Reset PIN", "I can't reset my PIN on Wi-Fi")
		put(t, ix, nil, 4, "Café wifi", "refund please")
		// Another doc type with the same id must not leak in.
		if err := ix.Put(context.Background(), nil, "article", 1, Field{Text: "退款 pin wifi"}); err != nil {
			t.Fatal(err)
		}

		for q, want := range map[string][]int64{
			"退款":               {1},
			"iphone e52":       {1},
			"iphone 发货":        {},
			"发货":               {2},
			"ＰＩＮ reset":        {3},
			"wifi":             {3, 4},
			"wi-fi":            {3, 4},
			"cafe":             {},
			"café":             {4},
			"CAN'T pin":        {3},
			"' OR 1=1; --":     {},
			"refund pin 退款":    {},
			"无法开机":             {1},
			"error E52 iphone": {1},
		} {
			if got := matchIDs(t, ix, db.DB, "ticket", q); !slices.Equal(got, want) {
				t.Errorf("MatchAll(%q) = %v, want %v", q, got, want)
			}
		}
		if _, ok := ix.MatchAll(db.DB, "ticket", "the 😀 !!"); ok {
			t.Error("a query of stop words and emoji must report ok=false")
		}

		// Replace: old terms disappear, new ones appear.
		put(t, ix, nil, 1, "换货", "screen broken")
		if got := matchIDs(t, ix, db.DB, "ticket", "退款"); len(got) != 0 {
			t.Errorf("after replace, 退款 still matches %v", got)
		}
		if got := matchIDs(t, ix, db.DB, "ticket", "screen 换货"); !slices.Equal(got, []int64{1}) {
			t.Errorf("after replace: %v", got)
		}
		var length int
		db.Raw("SELECT length FROM search_docs WHERE doc_type = 'ticket' AND doc_id = 1").Scan(&length)
		if length != 3*1+2 { // subject term ×3, two body terms
			t.Errorf("length %d, want 5", length)
		}

		if err := ix.Delete(context.Background(), nil, "ticket", 2); err != nil {
			t.Fatal(err)
		}
		if err := ix.Delete(context.Background(), nil, "ticket", 99); err != nil {
			t.Fatalf("deleting an unknown doc: %v", err)
		}
		if got := matchIDs(t, ix, db.DB, "ticket", "发货"); len(got) != 0 {
			t.Errorf("deleted doc still matches: %v", got)
		}
		var n int64
		db.Raw("SELECT COUNT(*) FROM search_postings WHERE doc_type = 'ticket' AND doc_id = 2").Scan(&n)
		if n != 0 {
			t.Errorf("%d postings left for a deleted doc", n)
		}
		if got := matchIDs(t, ix, db.DB, "article", "pin"); !slices.Equal(got, []int64{1}) {
			t.Errorf("article index: %v", got)
		}
		if err := ix.Put(context.Background(), nil, "", 1); !errors.Is(err, ErrDocType) {
			t.Errorf("empty doc type: %v", err)
		}
	})
}

// PutNew skips the look for old postings; given a document that is indexed
// after all, it still replaces it (and the call's other documents are
// written), inside the caller's transaction.
func TestIndexPutNew(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ix := NewIndex(db)
		put(t, ix, nil, 1, "申请退款", "refund please")
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := ix.PutNew(context.Background(), tx, "ticket", Doc{ID: 2, Fields: []Field{{"Reset PIN", 3}, {"on Wi-Fi", 1}}}); err != nil {
				return err
			}
			// Not new: the duplicate is caught and the old text replaced.
			return ix.PutNew(context.Background(), tx, "ticket", Doc{ID: 1, Fields: []Field{{"换货", 3}, {"screen broken", 1}}})
		})
		if err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string][]int64{"pin wifi": {2}, "退款": {}, "refund": {}, "screen 换货": {1}} {
			if got := matchIDs(t, ix, db.DB, "ticket", q); !slices.Equal(got, want) {
				t.Errorf("MatchAll(%q) = %v, want %v", q, got, want)
			}
		}
		// The same rows Put writes.
		if err := ix.Put(context.Background(), nil, "article", 2, Field{"Reset PIN", 3}, Field{"on Wi-Fi", 1}); err != nil {
			t.Fatal(err)
		}
		type posting struct {
			Term       string
			TF, DocLen int
		}
		rowsOf := func(docType string) (int, []posting) {
			var length int
			var ps []posting
			db.Raw("SELECT length FROM search_docs WHERE doc_type = ? AND doc_id = 2", docType).Scan(&length)
			db.Raw("SELECT term, tf, doc_len FROM search_postings WHERE doc_type = ? AND doc_id = 2 ORDER BY term", docType).Scan(&ps)
			return length, ps
		}
		nl, np := rowsOf("ticket")
		pl, pp := rowsOf("article")
		if nl == 0 || nl != pl || len(np) == 0 || !slices.Equal(np, pp) {
			t.Errorf("PutNew wrote %d %v, Put writes %d %v", nl, np, pl, pp)
		}
		var length int
		db.Raw("SELECT length FROM search_docs WHERE doc_type = 'ticket' AND doc_id = 1").Scan(&length)
		if length != 3*1+2 {
			t.Errorf("replaced length %d, want 5", length)
		}
		// Several documents in one call; in the second, one is indexed
		// already, and every document of the call ends up as given.
		if err := ix.PutNew(context.Background(), nil, "ticket", Doc{ID: 5, Fields: []Field{{"card arrived late", 3}}},
			Doc{ID: 6, Fields: []Field{{"card never arrived", 3}}}); err != nil {
			t.Fatal(err)
		}
		if err := ix.PutNew(context.Background(), nil, "ticket", Doc{ID: 7, Fields: []Field{{"exchange rate", 3}}},
			Doc{ID: 5, Fields: []Field{{"exchange fee", 3}}}); err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string][]int64{"card arrived": {6}, "exchange": {5, 7}, "late": {}, "fee": {5}} {
			if got := matchIDs(t, ix, db.DB, "ticket", q); !slices.Equal(got, want) {
				t.Errorf("after batched PutNew: MatchAll(%q) = %v, want %v", q, got, want)
			}
		}
		if err := ix.PutNew(context.Background(), nil, "", Doc{ID: 3}); !errors.Is(err, ErrDocType) {
			t.Errorf("empty doc type: %v", err)
		}
	})
}

func TestIndexRollsBackWithTransaction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ix := NewIndex(db)
		put(t, ix, nil, 1, "退款", "refund")
		boom := errors.New("boom")
		err := db.Transaction(func(tx *gorm.DB) error {
			put(t, ix, tx, 1, "发货", "shipping")
			put(t, ix, tx, 2, "登录", "login")
			if err := ix.Delete(context.Background(), tx, "ticket", 1); err != nil {
				return err
			}
			// Visible inside the transaction...
			if got := matchIDs(t, ix, tx, "ticket", "login"); !slices.Equal(got, []int64{2}) {
				t.Errorf("inside tx: %v", got)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// ...and gone with the rollback, the old text intact.
		if got := matchIDs(t, ix, db.DB, "ticket", "refund 退款"); !slices.Equal(got, []int64{1}) {
			t.Errorf("after rollback refund: %v", got)
		}
		for _, q := range []string{"shipping", "发货", "login"} {
			if got := matchIDs(t, ix, db.DB, "ticket", q); len(got) != 0 {
				t.Errorf("after rollback %q: %v", q, got)
			}
		}
		// A committed transaction keeps its index changes.
		if err := db.Transaction(func(tx *gorm.DB) error {
			return ix.Put(context.Background(), tx, "ticket", 1, Field{Text: "发货"})
		}); err != nil {
			t.Fatal(err)
		}
		if got := matchIDs(t, ix, db.DB, "ticket", "发货"); !slices.Equal(got, []int64{1}) {
			t.Errorf("after commit: %v", got)
		}
	})
}

func TestSearchBM25(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ix := NewIndex(db)
		ix.statsTTL = 0
		filler := " order status update please check thanks"
		docs := []Doc{
			{1, []Field{{"refund", 1}, {filler, 1}}},                 // common term only
			{2, []Field{{"refund 退款 refund", 1}, {filler, 1}}},       // both terms, rare one too
			{3, []Field{{"退款", 1}, {filler + filler + filler, 1}}},   // rare term, long doc
			{4, []Field{{"退款", 1}, {"", 1}}},                         // rare term, short doc
			{5, []Field{{"login error", 1}, {filler, 1}}},            // no match
			{6, []Field{{"refund", 3}, {filler, 1}}},                 // common term in subject
			{7, []Field{{"refund policy", 1}, {"refund refund", 1}}}, // common term, tf 3
			{8, []Field{{"shipping", 1}, {"refund" + filler, 1}}},    // common term
		}
		if err := ix.PutMany(context.Background(), nil, "ticket", docs); err != nil {
			t.Fatal(err)
		}
		hits, err := ix.Search(context.Background(), "ticket", "Refund 退款", 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(hits))
		for i, h := range hits {
			ids[i] = h.DocID
			if i > 0 && h.Score > hits[i-1].Score {
				t.Errorf("not sorted by score: %v", hits)
			}
		}
		if len(hits) != 7 || slices.Contains(ids, 5) {
			t.Fatalf("hits %v", hits)
		}
		if ids[0] != 2 {
			t.Errorf("doc with both terms must rank first: %v", ids)
		}
		pos := func(id int64) int { return slices.Index(ids, id) }
		if pos(4) > pos(3) {
			t.Errorf("short doc must beat long doc for the same term: %v", ids)
		}
		if pos(4) > pos(1) || pos(3) > pos(1) {
			t.Errorf("rare term (退款, 3 docs) must outweigh common term (refund, 5 docs): %v", ids)
		}
		if pos(6) > pos(1) || pos(7) > pos(1) {
			t.Errorf("higher weighted tf must rank higher: %v", ids)
		}

		// Limit and filter.
		hits, err = ix.Search(context.Background(), "ticket", "refund 退款", 2, nil)
		if err != nil || len(hits) != 2 || hits[0].DocID != 2 {
			t.Errorf("limit 2: %v %v", hits, err)
		}
		filter := db.Raw("SELECT doc_id FROM search_docs WHERE doc_type = ? AND doc_id IN ?", "ticket", []int64{1, 3, 5})
		hits, err = ix.Search(context.Background(), "ticket", "refund 退款", 10, filter)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 2 || hits[0].DocID != 3 || hits[1].DocID != 1 {
			t.Errorf("filtered: %v", hits)
		}
		for _, q := range []string{"", "the", "😀", "nothingmatches", "' OR 1=1 --", strings.Repeat("退款x ", 2000)} {
			hits, err := ix.Search(context.Background(), "ticket", q, 10, nil)
			if err != nil || hits == nil {
				t.Errorf("Search(%.20q) = %v, %v: want a list, no error", q, hits, err)
			}
		}
	})
}

func TestSnippet(t *testing.T) {
	cases := []struct {
		text, query string
		width       int
		want        string
	}{
		{"我要申请退款，谢谢", "退款", 20, "我要申请«退款»，谢谢"},
		{"Cannot reset my PIN today", "ＰＩＮ", 40, "Cannot reset my «PIN» today"},
		{"no match here", "退款", 40, "no match here"},
		{"a  b\n\nline «quoted»", "line", 40, "a b «line» \"quoted\""},
		{strings.Repeat("x ", 50) + "the refund is late" + strings.Repeat(" y", 50), "refund", 20, "…x the «refund» is late…"},
		{"无法开机，一直无法开机", "无法开机", 40, "«无法开机»，一直«无法开机»"},
		{"Wi-Fi down", "wifi", 40, "«Wi-Fi» down"},
	}
	for _, c := range cases {
		if got := Snippet(c.text, c.query, c.width); got != c.want {
			t.Errorf("Snippet(%q, %q, %d)\n got %q\nwant %q", c.text, c.query, c.width, got, c.want)
		}
	}
	long := strings.Repeat("很长的文本", 2000) + "退款"
	got := Snippet(long, "退款", 30)
	if !strings.Contains(got, "«退款»") || utf8Len(got) > 40 {
		t.Errorf("long CJK: %q", got)
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

// A pasted paragraph of more than maxQueryTerms words is ranked on its
// rarest ones wherever they are: the question at the end of a long e-mail
// counts, the greeting's common words give way.
func TestSearchLongQueryKeepsRareWordsAnywhere(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		ix := NewIndex(db)
		var common []string
		for i := 0; i < 40; i++ {
			common = append(common, fmt.Sprintf("word%02d", i))
		}
		var docs []Doc
		for i := 1; i <= 60; i++ {
			// Every document holds every common word; document 7 alone
			// also says "chargeback", document 9 "escrow".
			text := strings.Join(common, " ")
			switch i {
			case 7:
				text += " chargeback"
			case 9:
				text += " escrow"
			}
			docs = append(docs, Doc{ID: int64(i), Fields: []Field{{text, 1}}})
		}
		if err := ix.PutMany(ctx, nil, "t", docs); err != nil {
			t.Fatal(err)
		}
		q := strings.Join(common, " ") + " why was there a chargeback"
		if n := len(queryTerms(q)); n <= maxQueryTerms {
			t.Fatalf("the query has %d terms: it must be longer than %d", n, maxQueryTerms)
		}
		hits, err := ix.Search(ctx, "t", q, 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 || hits[0].DocID != 7 {
			t.Fatalf("hits %v: document 7, the only one with the rare word at the end of the paragraph, must come first", hits)
		}
		if got := rarest([]string{"a", "b", "c", "d"}, map[string]termStat{"a": {df: 9}, "b": {df: 1}, "c": {df: 0}, "d": {df: 5}}, 2); !slices.Equal(got, []string{"b", "d"}) {
			t.Errorf("rarest = %v, want [b d]: the two rarest present terms, in query order", got)
		}
	})
}

package search

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

// FuzzSearch sends arbitrary query text through MatchAll and Search on
// SQLite: never an error, never a panic, and MatchAll results all hold every
// query term.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		"", "退款", "refund 退款", "' OR 1=1; --", "\"; DROP TABLE search_postings; --", "%", "_", "\\",
		"a AND b OR NOT c", "title:foo*", "😀👍🏽", "?", "$1", "NULL", strings.Repeat("退款 refund ", 500),
		"\x00", "ab\xffcd", "ＰＩＮ码", "wi-fi", "e52", "(", ")", "--", "/*", "*/",
	} {
		f.Add(s)
	}
	db := testenv.SQLite(f)
	ix := NewIndex(db)
	ctx := context.Background()
	for i, text := range []string{"申请退款 refund e52", "发货 shipping wifi", "' OR 1=1 % _ \\ ＰＩＮ码", "NULL drop table 😀"} {
		if err := ix.Put(ctx, nil, "ticket", int64(i+1), Field{Text: text}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		hits, err := ix.Search(ctx, "ticket", q, 10, nil)
		if err != nil || hits == nil {
			t.Fatalf("Search(%q): %v %v", q, hits, err)
		}
		sub, ok := ix.MatchAll(db.DB, "ticket", q)
		if !ok {
			if len(queryTerms(q)) != 0 {
				t.Fatalf("ok=false for %q with terms", q)
			}
			return
		}
		var ids []int64
		if err := db.Raw("SELECT doc_id FROM search_docs WHERE doc_type = ? AND doc_id IN (?)", "ticket", sub).Scan(&ids).Error; err != nil {
			t.Fatalf("MatchAll(%q): %v", q, err)
		}
		for _, id := range ids {
			var n int64
			terms := queryTerms(q)
			db.Raw("SELECT COUNT(*) FROM search_postings WHERE doc_type = 'ticket' AND doc_id = ? AND term IN ?", id, terms).Scan(&n)
			if int(n) != min(len(terms), maxMatchTerms) && len(terms) <= maxMatchTerms {
				t.Fatalf("doc %d matched %q with %d of %d terms", id, q, n, len(terms))
			}
		}
		if s := Snippet("申请退款 refund e52 发货", q, 10); !utf8.ValidString(s) {
			t.Fatalf("invalid snippet %q", s)
		}
	})
}

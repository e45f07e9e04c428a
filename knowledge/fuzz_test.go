package knowledge_test

import (
	"os"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
)

// FuzzArticleSearch: any query text (quotes, operators, SQL fragments,
// emoji, control characters, invalid UTF-8, 10,000 characters) gives
// results or an empty list for readers and staff, never an error or a
// panic, on SQLite and, when configured, MySQL/MariaDB.
func FuzzArticleSearch(f *testing.F) {
	seeds := []string{
		"退款", "发货", "PIN", "IC card", "iPhone 无法开机", "“退款”？！", "ＰＩＮ",
		`"refund" AND NOT "pin"`, "refund OR 1=1", "' OR '1'='1", "'; DROP TABLE articles; --", "%", "_", "\\", "\\%",
		"+refund -pin", "title:refund", "refund*", "(refund)", "NEAR(refund pin)", "MATCH (title) AGAINST ('x')",
		"🙂🙃🤷‍♀️", "\x00\x01\x02", "\xff\xfe", "a\u0301", "ｆｕｌｌ－ｗｉｄｔｈ", "e52\u200b", "\t\n\r ", "",
		strings.Repeat("退款", 5000), strings.Repeat("refund pin ", 910), strings.Repeat("a", 10000),
		strings.Repeat("🙂", 2500), strings.Repeat("x y ", 2500),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	var envs []*env
	sqlite := newEnv(f, testenv.SQLite(f))
	envs = append(envs, sqlite)
	if os.Getenv(testenv.MySQLEnv) != "" {
		envs = append(envs, newEnv(f, testenv.MySQL(f)))
	}
	for _, e := range envs {
		seedCorpus(e)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, e := range envs {
			for _, who := range []*env{e} {
				for _, u := range []struct {
					name string
					id   int
				}{{"customer", 0}, {"agent", 1}} {
					actor := who.customer
					if u.id == 1 {
						actor = who.agent
					}
					p, err := who.kb.List(ctx, actor, knowledge.Filter{Q: q}, "", 20)
					if err != nil {
						t.Fatalf("%s on %s: query %q: %v", u.name, dialect(who.db), clipQ(q), err)
					}
					if p.Items == nil {
						t.Fatalf("nil items for %q", clipQ(q))
					}
					if p.NextCursor != "" {
						if _, err := who.kb.List(ctx, actor, knowledge.Filter{Q: q}, p.NextCursor, 20); err != nil {
							t.Fatalf("next page of %q: %v", clipQ(q), err)
						}
					}
				}
			}
		}
	})
}

func dialect(db *database.DB) string { return string(db.Dialect) }

func clipQ(q string) string {
	if len(q) > 80 {
		return q[:80] + "…"
	}
	return q
}

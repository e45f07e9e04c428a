package tickets_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// article inserts a row into the knowledge tables directly (tickets knows
// them only by name) and returns its id.
func (e *env) article(category string) int64 {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := e.db.Exec(`INSERT INTO articles (title, summary, body, category, tags, language, audience, owner_id, status, status_category,
 workflow_version, state_entered_at, revision_number, version, flagged_outdated_reason, created_at, updated_at)
 VALUES ('t', '', 'b', '', '[]', 'en', 'public', ?, 'published', ?, 1, ?, 1, 1, '', ?, ?)`, e.admin.ID, category, now, now, now).Error; err != nil {
		e.t.Fatal(err)
	}
	var id int64
	if err := e.db.Raw("SELECT MAX(id) FROM articles").Scan(&id).Error; err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) reuseCount(id int64) int {
	e.t.Helper()
	var n int
	if err := e.db.Raw("SELECT reuse_count FROM articles WHERE id = ?", id).Scan(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func fieldError(err error, field string) bool {
	var ve *accounts.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// The resolve step links fields.article_id in its own transaction before
// the knowledge guard counts links; refusals leave nothing behind.
func TestResolveLinksArticle(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		art := e.article(string(workflow.CategoryResolved))
		archived := e.article(string(workflow.CategoryClosed))
		tk := e.create(e.cust, tickets.NewTicket{Subject: "PIN locked", Description: "three wrong PINs"})
		fire := func(actor accounts.User, fields map[string]string) (tickets.Ticket, error) {
			return e.svc.Fire(ctx, actor, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: fields})
		}
		for _, tc := range []struct {
			fields map[string]string
			field  string
		}{
			{map[string]string{"resolution": "x", "article_id": "0"}, "fields.article_id"},
			{map[string]string{"resolution": "x", "article_id": "12abc"}, "fields.article_id"},
			{map[string]string{"resolution": "x", "article_id": "987654"}, "fields.article_id"},
			{map[string]string{"resolution": "x", "article_id": strconv.FormatInt(archived, 10)}, "fields.article_id"},
			{map[string]string{"resolution": "x", "article_id": strconv.FormatInt(art, 10), "link_kind": "helped"}, "fields.link_kind"},
		} {
			if _, err := fire(e.agent, tc.fields); !fieldError(err, tc.field) {
				t.Fatalf("%v: %v", tc.fields, err)
			}
		}
		// A guard failing after the link (missing resolution) rolls it back.
		if _, err := fire(e.agent, map[string]string{"article_id": strconv.FormatInt(art, 10)}); err == nil {
			t.Fatal("resolve without resolution")
		}
		if n, _ := e.svc.LinkCount(ctx, e.agent, tk.ID); n != 0 || e.reuseCount(art) != 0 {
			t.Fatalf("links %d reuse %d after refusals", n, e.reuseCount(art))
		}
		done, err := fire(e.agent, map[string]string{"resolution": "reset in app", "article_id": strconv.FormatInt(art, 10)})
		if err != nil || done.Status != "resolved" || done.LinkedArticles != 1 || e.reuseCount(art) != 1 {
			t.Fatalf("resolve: %+v %v reuse %d", done, err, e.reuseCount(art))
		}
		links, err := e.svc.ArticleLinks(ctx, e.agent, tk.ID)
		if err != nil || len(links) != 1 || links[0].Kind != tickets.LinkSolvedBy || links[0].ArticleID != art {
			t.Fatalf("links %+v %v", links, err)
		}
		// Reopen and resolve again referencing the same article: a second kind of link.
		e.fire(e.cust, tk.ID, "reopen", nil)
		if _, err := fire(e.agent, map[string]string{"resolution": "again", "article_id": strconv.FormatInt(art, 10), "link_kind": "referenced"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.svc.LinkCount(ctx, e.agent, tk.ID); n != 2 || e.reuseCount(art) != 2 {
			t.Fatalf("after referenced: %d links, reuse %d", n, e.reuseCount(art))
		}
		// Requesters cannot link; unlinking moves the count back.
		if _, _, err := e.svc.LinkArticle(ctx, e.cust, tk.ID, art, tickets.LinkReferenced); !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("requester links: %v", err)
		}
		if err := e.svc.UnlinkArticle(ctx, e.agent, tk.ID, art, tickets.LinkReferenced); err != nil {
			t.Fatal(err)
		}
		if e.reuseCount(art) != 1 {
			t.Fatalf("reuse after unlink %d", e.reuseCount(art))
		}
		kinds := map[string]int{}
		hist, _ := e.svc.History(ctx, e.agent, tk.ID)
		for _, h := range hist {
			if h.Kind == tickets.KindLink {
				kinds[h.Note+":"+h.From+">"+h.To]++
			}
		}
		a := strconv.FormatInt(art, 10)
		if kinds["solved_by:>"+a] != 1 || kinds["referenced:>"+a] != 1 || kinds["referenced:"+a+">"] != 1 {
			t.Fatalf("link history %v", kinds)
		}
	})
}

package tickets_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

// A change answers with the ticket built from what it read under the row
// lock and what it wrote, without reading it again: the answer must be
// what a fresh Get returns.
func TestChangeAnswerMatchesGet(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		check := func(what string, got tickets.Ticket) {
			t.Helper()
			want, err := e.svc.Get(ctx, e.agent, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s answered\n%+v\nGet reads\n%+v", what, got, want)
			}
		}
		tk := e.create(e.agent, tickets.NewTicket{Subject: "answer", Tags: []string{"zeta", "Alpha", "中文"}})
		check("create", tk)
		// A knowledge link written behind the service's back (knowledge owns links).
		if err := db.Exec("INSERT INTO ticket_article_links (ticket_id, article_id, kind, created_at) VALUES (?, 7, 'used', ?)",
			tk.ID, e.clk.Now().UTC().Truncate(1e6)).Error; err != nil {
			t.Fatal(err)
		}
		tk = e.fire(e.agent, tk.ID, "open", nil)
		if tk.LinkedArticles != 1 || !eqStrings(tk.Tags, []string{"alpha", "zeta", "中文"}) {
			t.Fatalf("after open: links %d, tags %v", tk.LinkedArticles, tk.Tags)
		}
		check("open", tk)
		tk, err := e.svc.Update(ctx, e.agent, tk.ID, tk.Version, tickets.Patch{Tags: ptr([]string{"beta"}), Priority: ptr("P1")})
		if err != nil {
			t.Fatal(err)
		}
		check("update", tk)
		tk, err = e.svc.Update(ctx, e.agent, tk.ID, tk.Version, tickets.Patch{Tags: ptr([]string{})})
		if err != nil {
			t.Fatal(err)
		}
		if len(tk.Tags) != 0 {
			t.Fatalf("tags %v after clearing", tk.Tags)
		}
		check("clear tags", tk)
		// The linked article satisfies the knowledge guard of resolve.
		tk, err = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version, tickets.Transition{Event: "resolve", Fields: map[string]string{"resolution": "fixed"}})
		if err != nil {
			t.Fatalf("resolve with a linked article: %v", err)
		}
		check("resolve", tk)
		if tk.ResolvedAt == nil {
			t.Fatal("resolved_at not set")
		}
		tk = e.fire(e.agent, tk.ID, "reopen", nil)
		check("reopen", tk)
		if tk.ResolvedAt != nil {
			t.Fatal("resolved_at kept after reopen")
		}
	})
}

// Concurrent tag changes wait for each other's row lock, and each reads the
// tags the previous one committed: the history is one unbroken chain.
func TestConcurrentTagChangesChainHistory(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		tk := e.create(e.agent, tickets.NewTicket{Subject: "tag race"})
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tag := fmt.Sprint("t", i)
				got, err := e.svc.Update(ctx, e.agent, tk.ID, 0, tickets.Patch{Tags: ptr([]string{tag})})
				if err != nil {
					t.Error(err)
					return
				}
				if !eqStrings(got.Tags, []string{tag}) {
					t.Errorf("update to %s answered tags %v", tag, got.Tags)
				}
			}()
		}
		wg.Wait()
		hist, err := e.svc.History(ctx, e.agent, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		prev, changes := "", 0
		for _, h := range hist {
			if h.Field != "tags" {
				continue
			}
			changes++
			if h.From != prev {
				t.Fatalf("tag change %d: from %q, but the tags were %q", changes, h.From, prev)
			}
			prev = h.To
		}
		if changes != n {
			t.Fatalf("%d tag changes recorded, want %d", changes, n)
		}
		got, err := e.svc.Get(ctx, e.agent, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !eqStrings(got.Tags, []string{prev}) || got.Version != 1+n {
			t.Fatalf("final tags %v version %d, want [%s] and %d", got.Tags, got.Version, prev, 1+n)
		}
	})
}

package tickets_test

import (
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

// Text that is not UTF-8 (a form post with "%C2" alone, a broken client)
// is a 4xx naming the field on both backends: MariaDB would refuse it at
// the INSERT, which used to surface as a 500.
func TestNonUTF8TextIsRefused(t *testing.T) {
	const bad = "card \xc2, and more"
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		before := e.outboxCount()
		_, err := e.svc.Create(ctx, e.agent, tickets.NewTicket{Subject: bad, Description: bad, Category: bad,
			Tags: []string{"ok", bad}, CustomFields: map[string]string{"order": bad}})
		want := []string{"category", "custom_fields.order", "description", "subject", "tags[1]"}
		if got := fieldsOf(t, err); !eqStrings(got, want) {
			t.Fatalf("create: fields %v, want %v", got, want)
		}
		if n := e.outboxCount(); n != before {
			t.Fatalf("a refused create wrote %d outbox events", n-before)
		}

		tk := e.create(e.agent, tickets.NewTicket{Subject: "Card not arrived"})
		if _, err := e.svc.Update(ctx, e.agent, tk.ID, tk.Version, tickets.Patch{Subject: ptr(bad)}); !eqStrings(fieldsOf(t, err), []string{"subject"}) {
			t.Fatalf("update: %v", err)
		}
		if _, err := e.svc.AddComment(ctx, e.agent, tk.ID, tickets.NewComment{Body: bad}); !eqStrings(fieldsOf(t, err), []string{"body"}) {
			t.Fatalf("comment: %v", err)
		}
		_, err = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version, tickets.Transition{Event: "open", Fields: map[string]string{"note": bad}})
		if !eqStrings(fieldsOf(t, err), []string{"fields.note"}) {
			t.Fatalf("fire with a field: %v", err)
		}
		_, err = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version, tickets.Transition{Event: "open", Comment: bad})
		if !eqStrings(fieldsOf(t, err), []string{"comment"}) {
			t.Fatalf("fire with a comment: %v", err)
		}
		got, err := e.svc.Get(ctx, e.agent, tk.ID)
		if err != nil || got.Version != tk.Version || got.Subject != "Card not arrived" {
			t.Fatalf("the ticket changed after refused calls: %+v %v", got, err)
		}
	})
}

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// TestSeedDemoLoadsAUsableDesk: `seed --demo` (run twice: it is
// idempotent) leaves users, SLA policies, published articles in both
// languages and tickets, one resolved with a linked article.
func TestSeedDemoLoadsAUsableDesk(t *testing.T) {
	dir := t.TempDir()
	args := []string{"seed", "--demo", "--data-dir", dir, "--database-url", "", "--log-level", "warn"}
	out := cli(t, "", args...)
	if !strings.Contains(out, "agent@demo.loopdesk") {
		t.Fatalf("seed output does not say how to sign in: %q", out)
	}
	cli(t, "", args...)

	ctx := context.Background()
	db, err := database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc := accounts.New(db)
	tk := tickets.New(db, acc)
	kb := knowledge.New(db, tk)
	customer, err := acc.GetUserByEmail(ctx, "customer@demo.loopdesk")
	if err != nil {
		t.Fatal(err)
	}
	arts, err := kb.List(ctx, customer, knowledge.Filter{}, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts.Items) != len(demoArticles) {
		t.Fatalf("the customer sees %d published articles, want %d", len(arts.Items), len(demoArticles))
	}
	hits, err := kb.List(ctx, customer, knowledge.Filter{Q: "退款"}, "", 10)
	if err != nil || len(hits.Items) == 0 {
		t.Fatalf("search 退款: %v, %d hits", err, len(hits.Items))
	}
	mine, err := tk.List(ctx, customer, tickets.Filter{}, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Items) != len(demoTickets) {
		t.Fatalf("%d demo tickets, want %d (seeding twice must not duplicate)", len(mine.Items), len(demoTickets))
	}
	resolved := 0
	for _, it := range mine.Items {
		if it.StatusCategory == "resolved" {
			resolved++
			if it.LinkedArticles != 1 {
				t.Errorf("resolved demo ticket has %d article links, want 1", it.LinkedArticles)
			}
		}
	}
	if resolved != 1 {
		t.Fatalf("%d resolved demo tickets, want 1", resolved)
	}
	ps, err := sla.New(db, tk).Policies(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("demo SLA policies: %d (%v), want 2", len(ps), err)
	}
}

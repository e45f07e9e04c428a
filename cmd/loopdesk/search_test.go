package main

import (
	"context"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/migrations"
	"github.com/loopdesk/loopdesk/tickets"
)

// TestSearchReindexRebuildsALostIndex: with the index tables emptied,
// `loopdesk search reindex` makes a Chinese and an English ticket findable
// again.
func TestSearchReindexRebuildsALostIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	acc := accounts.New(db)
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := acc.CreateUser(ctx, accounts.NewUser{Email: "a@example.com", Name: "A", Roles: []accounts.Role{accounts.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"退款还没有到账", "PIN blocked after three tries"} {
		if _, err := tk.Create(ctx, u, tickets.NewTicket{Subject: s, Description: s}); err != nil {
			t.Fatal(err)
		}
	}
	find := func(q string) int {
		page, err := tk.List(ctx, u, tickets.Filter{Q: q}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	if find("退款") != 1 || find("PIN") != 1 {
		t.Fatal("tickets not found before the index was lost")
	}
	for _, table := range []string{"search_postings", "search_docs"} {
		if err := db.Exec("DELETE FROM " + table).Error; err != nil {
			t.Fatal(err)
		}
	}
	if find("退款") != 0 {
		t.Fatal("the index was not emptied")
	}
	db.Close()

	out := cli(t, "", "search", "reindex", "--data-dir", dir, "--database-url", "", "--log-level", "warn")
	if !strings.Contains(out, "reindexed 2 tickets and 0 articles") {
		t.Fatalf("reindex said %q", out)
	}
	db, err = database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tk = tickets.New(db, accounts.New(db))
	if find("退款") != 1 || find("PIN") != 1 {
		t.Fatal("tickets not found after reindex")
	}
}

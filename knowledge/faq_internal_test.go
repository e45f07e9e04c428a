package knowledge

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

// Two miners that read the same state: the first applies, the second
// finds the generation moved and must start over (then finds nothing to
// do). An editor's decision between a miner's read and its write has the
// same effect. This is the mechanism behind "no duplicates across
// workers", made deterministic.
func TestFAQStalePlansStartOver(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
		tk := tickets.New(db, acc)
		if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
			t.Fatal(err)
		}
		agent, err := acc.CreateUser(ctx, accounts.NewUser{Email: "a@example.com", Name: "a", Roles: []accounts.Role{accounts.RoleAgent}})
		if err != nil {
			t.Fatal(err)
		}
		editor, err := acc.CreateUser(ctx, accounts.NewUser{Email: "e@example.com", Name: "e", Roles: []accounts.Role{accounts.RoleKnowledgeEditor}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"退款还没到账，钱没有退回来", "申请退款后一直没收到退款的钱", "退款什么时候到账，还没收到退款"} {
			x, err := tk.Create(ctx, agent, tickets.NewTicket{Subject: s, Description: s})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tk.Fire(ctx, agent, x.ID, 0, tickets.Transition{Event: "resolve",
				Fields: map[string]string{"resolution": "退款已原路退回，1-3个工作日到账。", "no_article_reason": "n/a"}}); err != nil {
				t.Fatal(err)
			}
		}
		f := New(db, tk).FAQ()
		read := func() (*mineSnapshot, *minePlan) {
			s, err := f.snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.load(ctx, s); err != nil {
				t.Fatal(err)
			}
			p, err := f.plan(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			return s, p
		}
		s1, p1 := read()
		s2, p2 := read()
		if len(p1.creates) != 1 || len(p2.creates) != 1 {
			t.Fatalf("plans %d %d", len(p1.creates), len(p2.creates))
		}
		if err := f.apply(ctx, s1, p1); err != nil {
			t.Fatal(err)
		}
		if err := f.apply(ctx, s2, p2); !errors.Is(err, errStale) {
			t.Fatalf("second apply: %v", err)
		}
		res, err := f.Mine(ctx)
		if err != nil || res.Created != 0 {
			t.Fatalf("mine after %+v %v", res, err)
		}

		// An editor decides between a miner's read and write.
		var id int64
		if err := db.Table("faq_proposals").Select("id").Scan(&id).Error; err != nil {
			t.Fatal(err)
		}
		s3, p3 := read()
		if _, err := f.Reject(ctx, editor, id, 0, "not now"); err != nil {
			t.Fatal(err)
		}
		if err := f.apply(ctx, s3, p3); !errors.Is(err, errStale) {
			t.Fatalf("apply after a decision: %v", err)
		}
		var n int64
		if err := db.Table("faq_proposals").Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("proposals %d %v", n, err)
		}
	})
}

package knowledge_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

var ctx = context.Background()

type env struct {
	t   testing.TB
	db  *database.DB
	acc *accounts.Service
	tk  *tickets.Service
	kb  *knowledge.Service

	admin, agent, agent2, editor, editor2, customer accounts.User
	n                                               int
}

func newEnv(t testing.TB, db *database.DB) *env {
	t.Helper()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, acc: acc, tk: tk, kb: knowledge.New(db, tk, knowledge.WithSuggestRefresh(0))}
	e.admin = e.user("admin", accounts.RoleAdmin)
	e.agent = e.user("agent", accounts.RoleAgent)
	e.agent2 = e.user("agent2", accounts.RoleAgent)
	e.editor = e.user("editor", accounts.RoleKnowledgeEditor)
	e.editor2 = e.user("editor2", accounts.RoleKnowledgeEditor)
	e.customer = e.user("customer", accounts.RoleRequester)
	return e
}

func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) { fn(t, newEnv(t, db)) })
}

func (e *env) user(name string, roles ...accounts.Role) accounts.User {
	e.t.Helper()
	e.n++
	u, err := e.acc.CreateUser(ctx, accounts.NewUser{Email: name + strconv.Itoa(e.n) + "@example.com", Name: name, Roles: roles})
	if err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func (e *env) create(by accounts.User, in knowledge.NewArticle) knowledge.Article {
	e.t.Helper()
	if in.Body == "" {
		in.Body = in.Title
	}
	a, err := e.kb.Create(ctx, by, in)
	if err != nil {
		e.t.Fatalf("create %q: %v", in.Title, err)
	}
	return a
}

func (e *env) fire(by accounts.User, id int64, event, comment string) (knowledge.Article, error) {
	return e.kb.Fire(ctx, by, id, 0, knowledge.Transition{Event: event, Comment: comment})
}

func (e *env) mustFire(by accounts.User, id int64, event, comment string) knowledge.Article {
	e.t.Helper()
	a, err := e.fire(by, id, event, comment)
	if err != nil {
		e.t.Fatalf("%s article %d: %v", event, id, err)
	}
	return a
}

// publish takes a draft written by someone other than editor through review.
func (e *env) publish(id int64) knowledge.Article {
	e.t.Helper()
	e.mustFire(e.agent, id, "submit", "")
	return e.mustFire(e.editor, id, "approve", "")
}

// published creates and publishes an article written by the agent.
func (e *env) published(in knowledge.NewArticle) knowledge.Article {
	e.t.Helper()
	return e.publish(e.create(e.agent, in).ID)
}

func (e *env) ticket(by accounts.User, subject, description string) tickets.Ticket {
	e.t.Helper()
	t, err := e.tk.Create(ctx, by, tickets.NewTicket{Subject: subject, Description: description})
	if err != nil {
		e.t.Fatalf("create ticket: %v", err)
	}
	return t
}

func (e *env) reuse(id int64) int {
	e.t.Helper()
	a, err := e.kb.Get(ctx, e.admin, id, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ReuseCount
}

func isNotFound(err error) bool { return errors.Is(err, accounts.ErrNotFound) }

func fieldErr(err error, field string) string {
	var ve *accounts.ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

func guardKind(err error) workflow.GuardKind {
	var ge *workflow.GuardError
	if errors.As(err, &ge) {
		return ge.Kind
	}
	return ""
}

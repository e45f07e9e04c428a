package knowledge_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/workflow"
)

func ptr[T any](v T) *T { return &v }

func optionNames(opts []workflow.Option) []string {
	out := []string{}
	for _, o := range opts {
		out = append(out, o.Event)
	}
	return out
}

func TestArticleLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.create(e.editor, knowledge.NewArticle{Title: "如何申请退款", Summary: "退款步骤", Body: "## 步骤\n\n1. 打开订单\n2. 点击申请退款\n",
			Tags: []string{"Refund", "退款", "refund"}, Audience: knowledge.AudiencePublic})
		if a.Status != "draft" || a.Revision != 1 || a.Version != 1 || a.Language != knowledge.LanguageZh || a.PublishedRevisionID != nil ||
			!slices.Equal(a.Tags, []string{"refund", "退款"}) || a.AuthorID != e.editor.ID || a.View != knowledge.ViewWorking {
			t.Fatalf("created %+v", a)
		}
		// Readers see nothing until it is published.
		if _, err := e.kb.Get(ctx, e.customer, a.ID, ""); !isNotFound(err) {
			t.Fatalf("customer reads a draft: %v", err)
		}

		// The author submits; the author (an editor) may not approve.
		e.mustFire(e.editor, a.ID, "submit", "")
		opts, _, _, err := e.kb.Transitions(ctx, e.editor, a.ID)
		if err != nil || slices.Contains(optionNames(opts), "approve") || !slices.Contains(optionNames(opts), "reject") {
			t.Fatalf("author's options %v %v", optionNames(opts), err)
		}
		_, err = e.fire(e.editor, a.ID, "approve", "")
		if guardKind(err) != workflow.GuardForbidden || !strings.Contains(err.Error(), "you wrote revision 1") {
			t.Fatalf("self-approval: %v", err)
		}
		// Agents may not approve at all (role guard).
		if _, err := e.fire(e.agent, a.ID, "approve", ""); guardKind(err) != workflow.GuardForbidden {
			t.Fatalf("agent approves: %v", err)
		}
		// Reject needs a comment.
		if _, err := e.fire(e.editor2, a.ID, "reject", ""); guardKind(err) != workflow.GuardMissingFields {
			t.Fatalf("reject without comment: %v", err)
		}
		r := e.mustFire(e.editor2, a.ID, "reject", "步骤2不清楚")
		if r.Status != "draft" {
			t.Fatalf("rejected: %+v", r)
		}
		e.mustFire(e.editor, a.ID, "submit", "")
		p := e.mustFire(e.editor2, a.ID, "approve", "")
		if p.Status != "published" || p.PublishedRevisionID == nil || *p.PublishedRevisionID != p.CurrentRevisionID || p.PublishedAt == nil {
			t.Fatalf("approved %+v", p)
		}

		// Readers see it now.
		c, err := e.kb.Get(ctx, e.customer, a.ID, "")
		if err != nil || c.View != knowledge.ViewPublished || c.Title != "如何申请退款" || c.Revision != 1 {
			t.Fatalf("customer view %+v %v", c, err)
		}

		// An agent's edit starts a new draft; the published revision stays live.
		ed, err := e.kb.Update(ctx, e.agent, a.ID, p.Version, knowledge.Patch{Title: ptr("如何申请退款（新版）"), Note: "新标题"})
		if err != nil || ed.Status != "draft" || ed.Revision != 2 || *ed.PublishedRevision != 1 || ed.AuthorID != e.agent.ID {
			t.Fatalf("edit of published: %+v %v", ed, err)
		}
		c, err = e.kb.Get(ctx, e.customer, a.ID, "")
		if err != nil || c.Title != "如何申请退款" || c.Revision != 1 {
			t.Fatalf("customer view during edit %+v %v", c, err)
		}
		pub, err := e.kb.Get(ctx, e.agent, a.ID, knowledge.ViewPublished)
		if err != nil || pub.Title != "如何申请退款" || pub.View != knowledge.ViewPublished {
			t.Fatalf("staff published view %+v %v", pub, err)
		}
		// The editor who approved before may approve the agent's revision.
		e.mustFire(e.agent, a.ID, "submit", "")
		p2 := e.mustFire(e.editor, a.ID, "approve", "")
		if *p2.PublishedRevision != 2 {
			t.Fatalf("second publish %+v", p2)
		}
		if c, _ = e.kb.Get(ctx, e.customer, a.ID, ""); c.Title != "如何申请退款（新版）" {
			t.Fatalf("customer sees %q", c.Title)
		}

		// Archive: editors only; then readers lose it and edits are refused.
		if _, err := e.fire(e.agent, a.ID, "archive", ""); guardKind(err) != workflow.GuardForbidden {
			t.Fatalf("agent archives: %v", err)
		}
		ar := e.mustFire(e.editor2, a.ID, "archive", "replaced by FAQ 12")
		if ar.Status != "archived" || ar.PublishedRevisionID != nil {
			t.Fatalf("archived %+v", ar)
		}
		if _, err := e.kb.Get(ctx, e.customer, a.ID, ""); !isNotFound(err) {
			t.Fatalf("customer reads archived: %v", err)
		}
		if _, err := e.kb.Update(ctx, e.agent, a.ID, 0, knowledge.Patch{Summary: ptr("x")}); !knowledge.IsStateError(err) {
			t.Fatalf("edit archived: %v", err)
		}
		var na *workflow.NotAllowedError
		if _, err := e.fire(e.editor, a.ID, "submit", ""); !errors.As(err, &na) || !slices.Contains(na.Allowed, "restore") {
			t.Fatalf("submit archived: %v", err)
		}
		rs := e.mustFire(e.editor, a.ID, "restore", "")
		if rs.Status != "draft" || rs.PublishedRevisionID != nil {
			t.Fatalf("restored %+v", rs)
		}

		// History: who, when, from, to, comment.
		_, _, hist, err := e.kb.Transitions(ctx, e.editor, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var evs []string
		for _, h := range hist {
			evs = append(evs, h.Event+":"+h.From+">"+h.To)
		}
		want := []string{"create:>draft", "submit:draft>in_review", "reject:in_review>draft", "submit:draft>in_review",
			"approve:in_review>published", "edit:published>draft", "submit:draft>in_review", "approve:in_review>published",
			"archive:published>archived", "restore:archived>draft"}
		if !slices.Equal(evs, want) {
			t.Fatalf("history\n%v\nwant\n%v", evs, want)
		}
		if hist[2].Comment != "步骤2不清楚" || *hist[2].ActorID != e.editor2.ID || hist[5].Revision != 2 || hist[8].Comment != "replaced by FAQ 12" {
			t.Fatalf("history details %+v", hist)
		}

		// Stale versions are conflicts.
		if _, err := e.kb.Fire(ctx, e.editor, a.ID, 1, knowledge.Transition{Event: "submit"}); !errors.Is(err, accounts.ErrVersionConflict) {
			t.Fatalf("stale fire: %v", err)
		}
		// Requesters may not write or fire.
		if _, err := e.kb.Create(ctx, e.customer, knowledge.NewArticle{Title: "x", Body: "y"}); !errors.Is(err, knowledge.ErrForbidden) {
			t.Fatalf("customer creates: %v", err)
		}
	})
}

func TestRevisionsAndDiff(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.create(e.agent, knowledge.NewArticle{Title: "PIN reset", Body: "Step 1\nStep 2\nStep 3\n", Language: "en"})
		if _, err := e.kb.Update(ctx, e.agent2, a.ID, a.Version, knowledge.Patch{Body: ptr("Step 1\nStep two\nStep 3\nStep 4\n"), Tags: &[]string{"pin"}, Note: "clearer"}); err != nil {
			t.Fatal(err)
		}
		// A patch that changes nothing makes no revision.
		same, err := e.kb.Update(ctx, e.agent2, a.ID, 0, knowledge.Patch{Title: ptr("PIN reset")})
		if err != nil || same.Revision != 2 || same.Version != 2 {
			t.Fatalf("no-op patch %+v %v", same, err)
		}
		revs, err := e.kb.Revisions(ctx, e.editor, a.ID)
		if err != nil || len(revs) != 2 || revs[0].Number != 2 || revs[0].AuthorID != e.agent2.ID || revs[0].Note != "clearer" || !revs[0].Current || revs[1].AuthorID != e.agent.ID {
			t.Fatalf("revisions %+v %v", revs, err)
		}
		d, err := e.kb.Compare(ctx, e.editor, a.ID, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		wantDiff := "--- revision 1/body\n+++ revision 2/body\n@@ -1,3 +1,4 @@\n Step 1\n-Step 2\n+Step two\n Step 3\n+Step 4\n"
		if d.Unified != wantDiff || d.Added != 2 || d.Removed != 1 || len(d.Changes) != 1 || d.Changes[0].Field != "tags" || d.Changes[0].To != "pin" {
			t.Fatalf("diff %+v\n%s", d, d.Unified)
		}
		if _, err := e.kb.Compare(ctx, e.editor, a.ID, 1, 9); fieldErr(err, "to") == "" {
			t.Fatalf("unknown revision: %v", err)
		}
		one, err := e.kb.GetRevision(ctx, e.editor, a.ID, 1)
		if err != nil || one.Body != "Step 1\nStep 2\nStep 3\n" {
			t.Fatalf("revision 1 %+v %v", one, err)
		}
		if _, err := e.kb.Revisions(ctx, e.customer, a.ID); !errors.Is(err, knowledge.ErrForbidden) {
			t.Fatalf("customer revisions: %v", err)
		}
	})
}

// Concurrent edits from one version: exactly one wins, the rest get a
// version conflict, and no revision is lost or duplicated. Without a
// precondition every edit becomes its own revision.
func TestConcurrentEdits(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.create(e.agent, knowledge.NewArticle{Title: "Wi-Fi setup", Body: "v1"})
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = e.kb.Update(ctx, e.agent2, a.ID, a.Version, knowledge.Patch{Body: ptr("edit " + string(rune('A'+i)))})
			}(i)
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, accounts.ErrVersionConflict):
				conflicts++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Fatalf("%d ok, %d conflicts", ok, conflicts)
		}
		revs, _ := e.kb.Revisions(ctx, e.agent, a.ID)
		if len(revs) != 2 {
			t.Fatalf("%d revisions after one winning edit", len(revs))
		}

		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = e.kb.Update(ctx, e.agent2, a.ID, 0, knowledge.Patch{Body: ptr("blind " + string(rune('A'+i)))})
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("unconditional edit: %v", err)
			}
		}
		revs, _ = e.kb.Revisions(ctx, e.agent, a.ID)
		got, _ := e.kb.Get(ctx, e.agent, a.ID, "")
		if len(revs) != 2+n || got.Revision != 2+n || got.Version != 2+n {
			t.Fatalf("%d revisions, current %d, version %d", len(revs), got.Revision, got.Version)
		}
		for i, r := range revs {
			if r.Number != 2+n-i {
				t.Fatalf("revision numbers %+v", revs)
			}
		}
	})
}

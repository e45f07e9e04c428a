package tickets

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// A panic while a batch runs becomes the error of each of its calls, and
// the queue keeps serving calls after it; a call whose context ended
// before its batch started is answered with that error and not run.
func TestGroupSurvivesPanicsAndDropsEndedCalls(t *testing.T) {
	db := testenv.SQLite(t)
	s := New(db, accounts.New(db))
	var g group[*fireCall]
	release := make(chan struct{})
	var ran sync.Map // call id -> ran
	alone := func(c *fireCall) (Ticket, error) {
		ran.Store(c.id, true)
		if c.id == 1 {
			<-release // holds the flusher while the next calls queue
		}
		return Ticket{ID: c.id}, nil
	}
	batch := func(ctx context.Context, tx *gorm.DB, calls []*fireCall, out []outcome) error {
		for _, c := range calls {
			ran.Store(c.id, true)
		}
		panic("boom")
	}
	type result struct {
		t   Ticket
		err error
	}
	results := make([]chan result, 5)
	submit := func(id int64, ctx context.Context) {
		results[id] = make(chan result, 1)
		go func() {
			tk, err := g.run(s, &fireCall{call: call{ctx: ctx}, id: id}, batch, alone)
			results[id] <- result{tk, err}
		}()
	}
	submit(1, context.Background())
	waitFor(t, func() bool { _, ok := ran.Load(int64(1)); return ok })
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	submit(2, context.Background())
	submit(3, context.Background())
	submit(4, ended)
	waitFor(t, func() bool { return g.q.Len() == 3 })
	close(release)

	if r := <-results[1]; r.err != nil || r.t.ID != 1 {
		t.Fatalf("call 1: %+v", r)
	}
	for _, id := range []int64{2, 3} {
		if r := <-results[id]; r.err == nil || !strings.Contains(r.err.Error(), "panic in a grouped change: boom") {
			t.Fatalf("call %d: %+v", id, r)
		}
	}
	if r := <-results[4]; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("call 4: %+v", r)
	}
	if _, ok := ran.Load(int64(4)); ok {
		t.Fatal("call 4 ran although its context had ended")
	}
	submit(0, context.Background()) // the queue still works
	if r := <-results[0]; r.err != nil {
		t.Fatalf("after the panic: %+v", r)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

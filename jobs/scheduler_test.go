package jobs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/loopdesk/loopdesk/internal/database"
)

// taskLog records the task IDs a handler ran.
type taskLog struct {
	mu  sync.Mutex
	ids map[string]int
}

func (l *taskLog) handler(ctx context.Context, t *asynq.Task) error {
	id, _ := asynq.GetTaskID(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string]int{}
	}
	l.ids[id]++
	return nil
}

func (l *taskLog) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.ids))
	for k, v := range l.ids {
		m[k] = v
	}
	return m
}

func (l *taskLog) total() int {
	n := 0
	for _, v := range l.snapshot() {
		n += v
	}
	return n
}

func newScheduler(t *testing.T, db *database.DB, redisURL, instance string) *Scheduler {
	t.Helper()
	return NewScheduler(db, newClient(t, redisURL), SchedulerConfig{Logger: testLogger(t), Instance: instance})
}

func TestSchedulerOncePerSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var ran taskLog
		startWorker(t, redisURL, nil, func(w *Worker) { w.HandleFunc("sla:sweep", ran.handler) })
		in := newInspector(t, redisURL)
		replicas := []*Scheduler{newScheduler(t, db, redisURL, "a"), newScheduler(t, db, redisURL, "b")}
		for _, s := range replicas {
			if err := s.Add("sla-sweep", "0 * * * * *", "sla:sweep", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}

		base := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
		slots := []time.Time{base, base.Add(time.Minute), base.Add(2 * time.Minute)}
		var claims atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for _, slot := range slots {
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Same instant in another zone names the same slot.
					sl := slot
					if i%2 == 1 {
						sl = slot.In(time.FixedZone("CST", 8*3600))
					}
					ok, err := replicas[i%2].ClaimAndEnqueue(context.Background(), "sla-sweep", sl)
					if err != nil {
						errs <- err
						return
					}
					if ok {
						claims.Add(1)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if c := claims.Load(); c != int64(len(slots)) {
			t.Fatalf("claims = %d, want one per slot (%d)", c, len(slots))
		}
		eventually(t, 5*time.Second, "every slot ran", func() bool { return ran.total() >= len(slots) })
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })
		got := ran.snapshot()
		for _, slot := range slots {
			id := "sla-sweep:" + slot.Format(SlotLayout)
			if got[id] != 1 {
				t.Fatalf("task %s ran %d times; all: %v", id, got[id], got)
			}
		}
		if len(got) != len(slots) {
			t.Fatalf("tasks run = %v", got)
		}

		var owners int64
		db.Raw("SELECT COUNT(DISTINCT claimed_by) FROM job_slots").Scan(&owners)
		if owners < 1 {
			t.Fatal("no claims recorded")
		}
		if ok, err := replicas[0].ClaimAndEnqueue(context.Background(), "nope", base); err == nil || ok {
			t.Fatal("unknown job claimed")
		}
	})
}

// TestSchedulerCron lets the real cron fire every second on two replicas:
// each claimed slot runs exactly once.
func TestSchedulerCron(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var ran taskLog
		startWorker(t, redisURL, nil, func(w *Worker) { w.HandleFunc("test:tick", ran.handler) })
		in := newInspector(t, redisURL)
		var replicas []*Scheduler
		for _, name := range []string{"a", "b"} {
			s := newScheduler(t, db, redisURL, name)
			if err := s.Add("tick", "* * * * * *", "test:tick", nil); err != nil {
				t.Fatal(err)
			}
			s.Start()
			replicas = append(replicas, s)
		}
		eventually(t, 5*time.Second, "a cron tick processed", func() bool { return ran.total() >= 1 })
		for _, s := range replicas {
			select {
			case <-s.Stop().Done():
			case <-time.After(5 * time.Second):
				t.Fatal("scheduler did not stop")
			}
		}
		var claimed int64
		if err := db.Raw("SELECT COUNT(*) FROM job_slots WHERE job = 'tick'").Scan(&claimed).Error; err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "claimed slots processed", func() bool {
			return int64(ran.total()) >= claimed && queueSettled(t, in)
		})
		got := ran.snapshot()
		if int64(len(got)) != claimed {
			t.Fatalf("claimed %d slots, ran %v", claimed, got)
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("%s ran %d times", id, n)
			}
		}
	})
}

func TestSchedulerAddValidates(t *testing.T) {
	s := NewScheduler(nil, nil, SchedulerConfig{})
	cases := []struct{ name, spec, typ string }{
		{"", "* * * * *", "a:b"},
		{"x", "not a spec", "a:b"},
		{"x", "* * * * *", "nocolon"},
		{"x", "@every 1m", "a:b"},
		{"x", "61 * * * * *", "a:b"},
	}
	for _, c := range cases {
		if err := s.Add(c.name, c.spec, c.typ, nil); err == nil {
			t.Errorf("Add(%q, %q, %q) accepted", c.name, c.spec, c.typ)
		}
	}
	for i, spec := range []string{"*/5 * * * *", "*/10 * * * * *", "@hourly"} {
		if err := s.Add(fmt.Sprint("ok", i), spec, "a:b", nil); err != nil {
			t.Errorf("Add(%q): %v", spec, err)
		}
	}
	if err := s.Add("ok0", "@daily", "a:b", nil); err == nil {
		t.Error("duplicate name accepted")
	}
}

func TestSchedulerPrune(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
		s := NewScheduler(db, newClient(t, redisURL), SchedulerConfig{Instance: "a", Clock: func() time.Time { return now }})
		for _, age := range []time.Duration{8 * 24 * time.Hour, time.Hour} {
			if err := db.Exec("INSERT INTO job_slots (job, slot, claimed_by, claimed_at) VALUES (?, ?, ?, ?)",
				"j", now.Add(-age).Format(SlotLayout), "a", now.Add(-age)).Error; err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.Prune(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v; want 1", n, err)
		}
	})
}

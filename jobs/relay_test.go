package jobs

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// forEachBackend runs fn on every database x Redis pairing configured, each
// with a fresh database and a fresh Redis: task IDs retained by one run must
// not meet the same outbox IDs of the next.
func forEachBackend(t *testing.T, fn func(t *testing.T, redisURL string, db *database.DB)) {
	dbs := map[string]func(testing.TB) *database.DB{"sqlite": testenv.SQLite, "mysql": testenv.MySQL}
	redises := map[string]func(testing.TB) string{"embedded": testenv.EmbeddedRedis, "redis": testenv.RealRedis}
	for _, d := range []string{"sqlite", "mysql"} {
		for _, r := range []string{"embedded", "redis"} {
			t.Run(d+"/"+r, func(t *testing.T) {
				db := dbs[d](t)
				fn(t, redises[r](t), db)
			})
		}
	}
}

func writeEvent(t *testing.T, db *database.DB, ctx context.Context, ev outbox.Event) {
	t.Helper()
	if err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return outbox.Write(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
}

func record(t *testing.T, db *database.DB, id int64) outbox.Record {
	t.Helper()
	var r outbox.Record
	if err := db.First(&r, id).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

// deliveries collects the envelopes a handler received.
type deliveries struct {
	mu   sync.Mutex
	envs []Envelope
	rids []string
}

func (d *deliveries) handler(ctx context.Context, env Envelope) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.envs = append(d.envs, env)
	d.rids = append(d.rids, outbox.RequestID(ctx))
	return nil
}

func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.envs)
}

func newRelay(t *testing.T, db *database.DB, c *Client) *Relay {
	t.Helper()
	r, err := NewRelay(db, c, RelayConfig{Logger: testLogger(t), EnqueueTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRelayDeliversEnvelope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var got deliveries
		startWorker(t, redisURL, nil, func(w *Worker) { w.Handle("user:created", got.handler) })
		relay := newRelay(t, db, newClient(t, redisURL))

		ctx := outbox.WithRequestID(context.Background(), "req-42")
		writeEvent(t, db, ctx, outbox.Event{Type: "user:created", AggregateType: "user", AggregateID: "7",
			Payload: map[string]any{"email": "li@example.com", "name": "李雷"}})

		n, err := relay.RelayOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("RelayOnce = %d, %v; want 1, nil", n, err)
		}
		eventually(t, 5*time.Second, "delivery", func() bool { return got.count() == 1 })

		env := got.envs[0]
		if env.EventID == 0 || env.Type != "user:created" || env.AggregateType != "user" ||
			env.AggregateID != "7" || env.RequestID != "req-42" {
			t.Fatalf("envelope = %+v", env)
		}
		var p struct{ Email, Name string }
		if err := env.Decode(&p); err != nil || p.Email != "li@example.com" || p.Name != "李雷" {
			t.Fatalf("payload = %+v, %v (raw %s)", p, err, env.Payload)
		}
		if got.rids[0] != "req-42" {
			t.Fatalf("handler context request ID = %q", got.rids[0])
		}
		if rec := record(t, db, env.EventID); rec.PublishedAt == nil {
			t.Fatal("record not marked published")
		}
		if n, err := relay.Backlog(ctx); err != nil || n != 0 {
			t.Fatalf("backlog = %d, %v", n, err)
		}
	})
}

// TestRelayRedisDown cuts the relay's path to Redis, checks the event is
// kept with the failed attempt recorded, then restores it and checks the
// event is delivered exactly once.
func TestRelayRedisDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var got deliveries
		startWorker(t, redisURL, nil, func(w *Worker) { w.Handle("ticket:opened", got.handler) })
		in := newInspector(t, redisURL)
		px := startProxy(t, redisAddr(t, redisURL))
		relay := newRelay(t, db, newClient(t, px.proxiedURL(redisURL)))
		ctx := context.Background()

		// Warm the client's pool so Down also exercises cut connections.
		writeEvent(t, db, ctx, outbox.Event{Type: "ticket:opened", AggregateType: "ticket", AggregateID: "0", Payload: 0})
		if n, err := relay.RelayOnce(ctx); err != nil || n != 1 {
			t.Fatalf("warm-up RelayOnce = %d, %v", n, err)
		}
		eventually(t, 5*time.Second, "warm-up delivery", func() bool { return got.count() == 1 })

		px.Down()
		writeEvent(t, db, outbox.WithRequestID(ctx, "req-down"),
			outbox.Event{Type: "ticket:opened", AggregateType: "ticket", AggregateID: "1", Payload: map[string]int{"n": 1}})
		n, err := relay.RelayOnce(ctx)
		if err == nil {
			t.Fatalf("RelayOnce with Redis unreachable: published %d, no error", n)
		}
		if n != 0 {
			t.Fatalf("published %d with Redis unreachable", n)
		}
		var pending []outbox.Record
		if err := db.Where("published_at IS NULL").Find(&pending).Error; err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 || pending[0].Attempts < 1 || pending[0].LastError == "" {
			t.Fatalf("pending after failure = %+v; want one record with attempts>0 and last_error", pending)
		}
		id := pending[0].ID

		px.Up()
		eventually(t, 10*time.Second, "relay after Redis is back", func() bool {
			n, err := relay.RelayOnce(ctx)
			return err == nil && n == 1
		})
		eventually(t, 5*time.Second, "delivery after recovery", func() bool { return got.count() == 2 })
		// Relay again and let the queue drain: still exactly one delivery.
		if n, err := relay.RelayOnce(ctx); err != nil || n != 0 {
			t.Fatalf("extra RelayOnce = %d, %v", n, err)
		}
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })
		if c := got.count(); c != 2 {
			t.Fatalf("deliveries = %d, want 2 (warm-up + the event once)", c)
		}
		if env := got.envs[1]; env.EventID != id || env.RequestID != "req-down" || env.AggregateID != "1" {
			t.Fatalf("delivered %+v, want event %d", env, id)
		}
		if rec := record(t, db, id); rec.PublishedAt == nil {
			t.Fatal("record not published after recovery")
		}
	})
}

// TestRelayCrashBeforeMarkPublished simulates a relay that enqueued but
// died before MarkPublished: relaying again must not run the handler twice.
func TestRelayCrashBeforeMarkPublished(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var got deliveries
		startWorker(t, redisURL, nil, func(w *Worker) { w.Handle("article:approved", got.handler) })
		in := newInspector(t, redisURL)
		relay := newRelay(t, db, newClient(t, redisURL))
		ctx := context.Background()

		writeEvent(t, db, ctx, outbox.Event{Type: "article:approved", AggregateType: "article", AggregateID: "9", Payload: nil})
		if n, err := relay.RelayOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RelayOnce = %d, %v", n, err)
		}
		eventually(t, 5*time.Second, "delivery", func() bool { return got.count() == 1 })
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })

		if err := db.Exec("UPDATE outbox SET published_at = NULL").Error; err != nil {
			t.Fatal(err)
		}
		n, err := relay.RelayOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("re-relay = %d, %v; want the duplicate counted as delivered", n, err)
		}
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })
		if c := got.count(); c != 1 {
			t.Fatalf("deliveries = %d after re-relay, want 1", c)
		}
		if string(got.envs[0].Payload) != "null" {
			t.Fatalf("payload = %s", got.envs[0].Payload)
		}
	})
}

// TestRelayRun checks the background loop publishes and stops with ctx.
func TestRelayRun(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, redisURL string) {
		db := testenv.SQLite(t)
		var got deliveries
		startWorker(t, redisURL, nil, func(w *Worker) { w.Handle("user:updated", got.handler) })
		r, err := NewRelay(db, newClient(t, redisURL), RelayConfig{Interval: 20 * time.Millisecond, Batch: 3, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()

		for i := range 10 {
			writeEvent(t, db, context.Background(), outbox.Event{Type: "user:updated", AggregateType: "user",
				AggregateID: strconv.Itoa(i), Payload: i})
		}
		eventually(t, 10*time.Second, "10 deliveries", func() bool { return got.count() == 10 })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		seen := map[int64]bool{}
		for _, e := range got.envs {
			if seen[e.EventID] {
				t.Fatalf("event %d delivered twice", e.EventID)
			}
			seen[e.EventID] = true
		}
	})
}

// TestRelayReplicas runs two relays over the same outbox at once (SKIP
// LOCKED batches on MySQL, overlapping reads on SQLite): every event is
// handled exactly once and the published counter adds up.
func TestRelayReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, redisURL string, db *database.DB) {
		var got deliveries
		startWorker(t, redisURL, nil, func(w *Worker) { w.Handle("ticket:commented", got.handler) })
		in := newInspector(t, redisURL)
		reg := prometheus.NewRegistry()
		var relays []*Relay
		for range 2 {
			r, err := NewRelay(db, newClient(t, redisURL), RelayConfig{Batch: 7, Logger: testLogger(t), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			relays = append(relays, r)
		}
		const events = 60
		for i := range events {
			writeEvent(t, db, context.Background(), outbox.Event{Type: "ticket:commented", AggregateType: "ticket",
				AggregateID: strconv.Itoa(i), Payload: i})
		}
		var wg sync.WaitGroup
		for _, r := range relays {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := r.RelayOnce(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						if b, _ := r.Backlog(context.Background()); b == 0 {
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		eventually(t, 10*time.Second, "all events handled", func() bool { return got.count() >= events })
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })
		seen := map[int64]int{}
		for _, e := range got.envs {
			seen[e.EventID]++
		}
		if len(seen) != events || got.count() != events {
			t.Fatalf("%d deliveries of %d distinct events, want %d once each", got.count(), len(seen), events)
		}
		if v := counter(t, reg, "loopdesk_outbox_published_total", nil); v < events {
			t.Fatalf("published_total = %v, want >= %d", v, events)
		}
		if v := counter(t, reg, "loopdesk_outbox_backlog", nil); v != 0 {
			t.Fatalf("backlog gauge = %v", v)
		}
	})
}

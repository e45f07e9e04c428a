package jobs

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// counter reads a counter series from reg, 0 if absent.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestWorkerPanicIsAFailure(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, redisURL string) {
		reg := prometheus.NewRegistry()
		var ok atomic.Int64
		startWorker(t, redisURL, reg, func(w *Worker) {
			w.HandleFunc("test:panic", func(context.Context, *asynq.Task) error { panic("boom") })
			w.HandleFunc("test:ok", func(context.Context, *asynq.Task) error { ok.Add(1); return nil })
		})
		c := newClient(t, redisURL)
		ctx := context.Background()
		if _, err := c.Enqueue(ctx, asynq.NewTask("test:panic", nil), asynq.MaxRetry(0)); err != nil {
			t.Fatal(err)
		}
		failed := map[string]string{"type": "test:panic", "outcome": OutcomeFailed}
		eventually(t, 5*time.Second, "panic counted as failed", func() bool {
			return counter(t, reg, "loopdesk_jobs_processed_total", failed) == 1
		})
		// The process and the worker are still alive.
		if _, err := c.Enqueue(ctx, asynq.NewTask("test:ok", nil)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "next task processed", func() bool { return ok.Load() == 1 })
		if v := counter(t, reg, "loopdesk_jobs_processed_total", map[string]string{"type": "test:ok", "outcome": OutcomeSuccess}); v != 1 {
			t.Fatalf("success count = %v", v)
		}
		if v := counter(t, reg, "loopdesk_job_duration_seconds", map[string]string{"type": "test:panic"}); v != 1 {
			t.Fatalf("duration samples = %v", v)
		}
		in := newInspector(t, redisURL)
		eventually(t, 5*time.Second, "panicking task archived", func() bool {
			qi, err := in.GetQueueInfo(DefaultQueue)
			return err == nil && qi.Archived == 1
		})
	})
}

func TestWorkerUnknownEventsAcknowledged(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, redisURL string) {
		reg := prometheus.NewRegistry()
		var got deliveries
		startWorker(t, redisURL, reg, func(w *Worker) { w.Handle("user:created", got.handler) })
		c := newClient(t, redisURL)
		in := newInspector(t, redisURL)
		ctx := context.Background()

		// A type nobody handles, and one the mux would match by prefix only.
		for i, typ := range []string{"nobody:cares", "user:created_by_import"} {
			task, err := NewEventTask(Envelope{EventID: int64(i + 1), Type: typ, AggregateType: "x", AggregateID: "1", Payload: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Enqueue(ctx, task); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 5*time.Second, "unknown events acknowledged", func() bool {
			return counter(t, reg, "loopdesk_jobs_processed_total", map[string]string{"type": "nobody:cares", "outcome": OutcomeIgnored}) == 1 &&
				counter(t, reg, "loopdesk_jobs_processed_total", map[string]string{"type": "user:created_by_import", "outcome": OutcomeIgnored}) == 1
		})
		eventually(t, 5*time.Second, "queue settled", func() bool { return queueSettled(t, in) })
		qi, err := in.GetQueueInfo(DefaultQueue)
		if err != nil {
			t.Fatal(err)
		}
		if qi.Archived != 0 || qi.Retry != 0 {
			t.Fatalf("queue = %+v; unknown events must not be retried or archived", qi)
		}
		if got.count() != 0 {
			t.Fatal("prefix-matching handler ran for another type")
		}

		// A raw task without a handler is a wiring bug: archived, not retried forever.
		if _, err := c.Enqueue(ctx, asynq.NewTask("nobody:timer", []byte("x"))); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "unknown raw task archived", func() bool {
			qi, err := in.GetQueueInfo(DefaultQueue)
			return err == nil && qi.Archived == 1
		})
	})
}

func TestEnvelopeRoundTrip(t *testing.T) {
	rec := outbox.Record{ID: 5, EventType: "ticket:escalated", AggregateType: "ticket", AggregateID: "12",
		Payload: `{"to":"tier2"}`, RequestID: "r1"}
	task, err := NewEventTask(NewEnvelope(rec))
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != "ticket:escalated" {
		t.Fatalf("type = %s", task.Type())
	}
	env, err := DecodeEnvelope(task)
	if err != nil {
		t.Fatal(err)
	}
	if env.EventID != 5 || env.AggregateID != "12" || env.RequestID != "r1" || string(env.Payload) != `{"to":"tier2"}` {
		t.Fatalf("env = %+v", env)
	}
	if _, err := DecodeEnvelope(asynq.NewTask("x:y", []byte(`{"a":1}`))); err == nil {
		t.Fatal("non-envelope decoded")
	}
	if _, err := NewEventTask(Envelope{EventID: 1}); err == nil {
		t.Fatal("event without type accepted")
	}
}

func TestRedisOpt(t *testing.T) {
	if _, err := RedisOpt("redis://127.0.0.1:6379/3"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "http://x", "redis://h/notanumber", "redis://user:secret@h/x"} {
		_, err := RedisOpt(bad)
		if err == nil {
			t.Fatalf("RedisOpt(%q) accepted", bad)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	c, err := NewRedisClient(testenv.EmbeddedRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestValidTaskType(t *testing.T) {
	for _, s := range []string{"user:created", "sla:sweep", "ticket:status_changed", "faq:proposal.created"} {
		if !ValidTaskType(s) {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range []string{"", "user", ":x", "User:created", "user:", "user created:x"} {
		if ValidTaskType(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestWorkerShutdownWaits checks Shutdown lets a running handler finish.
func TestWorkerShutdownWaits(t *testing.T) {
	redisURL := testenv.EmbeddedRedis(t)
	started := make(chan struct{})
	var finished atomic.Bool
	w := startWorker(t, redisURL, nil, func(w *Worker) {
		w.HandleFunc("test:slow", func(ctx context.Context, _ *asynq.Task) error {
			close(started)
			time.Sleep(300 * time.Millisecond)
			finished.Store(true)
			return nil
		})
	})
	if _, err := newClient(t, redisURL).Enqueue(context.Background(), asynq.NewTask("test:slow", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("handler never started")
	}
	w.Shutdown()
	if !finished.Load() {
		t.Fatal("Shutdown returned before the running handler finished")
	}
}

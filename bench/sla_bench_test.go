package bench_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// The SLA benchmarks seed tickets and clocks with bulk SQL (the ticket and
// SLA services would take hours for 1M rows), then run the real engine:
// asynq timers scheduled exactly as `serve` does, a real jobs.Worker
// calling sla.Service.Fire, and sla.Service.Sweep.
//
//	LOOPDESK_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//	LOOPDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	go test ./bench -run '^$' -bench SLA -benchtime 1x -timeout 60m
//
// Knobs (defaults are the figures):
//
//	LOOPDESK_BENCH_SLA_TICKETS      open tickets with a timer (100000)
//	LOOPDESK_BENCH_SLA_WINDOW       due instants spread over (10m)
//	LOOPDESK_BENCH_SLA_LEAD         window start after the run starts (2m)
//	LOOPDESK_BENCH_SLA_GRACE        wait after the window ends (2m)
//	LOOPDESK_BENCH_SLA_SWEEP_LIMIT  bound on the final catch-up sweep (5m)
//	LOOPDESK_BENCH_SLA_TASK_CHECK   worker TaskCheckInterval (100ms, as serve)
//	LOOPDESK_BENCH_SLA_CONCURRENCY  worker concurrency, comma-separated list
//	                                for several runs (0: the jobs default, as serve)
//	LOOPDESK_BENCH_SLA_HORIZON      sla.WithTimerHorizon (default sla.DefaultTimerHorizon;
//	                                0: every timer armed up front, the engine before horizons)
//	LOOPDESK_BENCH_SLA_CLOCKS       stored clocks for the sweep (1000000)
//	LOOPDESK_BENCH_SLA_DUE          of which already due (1000)

// As cmd/loopdesk/sla.go.
const (
	slaFireTask      = "sla:fire"
	slaSweepTask     = "sla:sweep"
	slaSweepSchedule = "*/30 * * * * *"
)

// slaFirePayload and slaTimer mirror cmd/loopdesk/sla.go (package main
// cannot be imported).
type slaFirePayload struct {
	TicketID int64     `json:"ticket_id"`
	At       time.Time `json:"at"`
}

type slaTimer struct{ t *jobs.Timers }

func (s slaTimer) Schedule(ctx context.Context, id string, at time.Time, ticketID int64) error {
	b, err := json.Marshal(slaFirePayload{TicketID: ticketID, At: at})
	if err != nil {
		return err
	}
	// As serve: armed a second early (asynq keeps whole seconds), Fire
	// waits out the rest.
	return s.t.Schedule(ctx, id, at.Add(-time.Second), b)
}

func (s slaTimer) Cancel(ctx context.Context, id string) error { return s.t.Cancel(ctx, id) }

// countLog counts warnings and errors by message (keeping the first
// record's attributes) and discards everything else.
type countLog struct {
	mu     *sync.Mutex
	counts map[string]int
	first  map[string]string
}

func newCountLog() countLog {
	return countLog{mu: &sync.Mutex{}, counts: map[string]int{}, first: map[string]string{}}
}

func (h countLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countLog) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countLog) WithGroup(string) slog.Handler                { return h }
func (h countLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.Message]++
	if _, ok := h.first[r.Message]; !ok {
		var sb strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value); return true })
		h.first[r.Message] = sb.String()
	}
	return nil
}

func (h countLog) report(b *testing.B, label string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for msg, n := range h.counts {
		slaSay(b, "%s log: %d x %q, first:%s", label, n, msg, h.first[msg])
	}
}

// slaSay prints progress to stderr as it happens (b.Logf output waits for
// the end of the benchmark) and keeps it in the benchmark log.
func slaSay(b *testing.B, format string, args ...any) {
	b.Helper()
	fmt.Fprintf(os.Stderr, "%s load %s %s: %s\n", time.Now().Format("15:04:05"), loadAvg(), b.Name(), fmt.Sprintf(format, args...))
	b.Logf(format, args...)
}

// loadAvg is the 1-minute load average: the box is shared, and a busy
// neighbour shows up in every figure here.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// loadSampler averages the 1-minute load average over a run.
type loadSampler struct {
	sum float64
	n   int
	max float64
}

func (l *loadSampler) sample() {
	if v, err := strconv.ParseFloat(loadAvg(), 64); err == nil {
		l.sum += v
		l.n++
		l.max = max(l.max, v)
	}
}

func (l *loadSampler) mean() float64 {
	if l.n == 0 {
		return 0
	}
	return l.sum / float64(l.n)
}

func slaEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func slaEnvDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// slaBackends runs fn on SQLite + the in-process server, and on MariaDB +
// Redis (skipped with the reason when the variables are unset).
func slaBackends(b *testing.B, fn func(b *testing.B, db *database.DB, redisURL string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, testenv.SQLite(b), testenv.EmbeddedRedis(b)) })
	b.Run("mariadb", func(b *testing.B) {
		if os.Getenv(testenv.MySQLEnv) == "" || os.Getenv(testenv.RedisEnv) == "" {
			b.Skipf("%s and %s not both set: MariaDB + Redis run skipped", testenv.MySQLEnv, testenv.RedisEnv)
		}
		db := testenv.MySQL(b)
		redisURL := testenv.RealRedis(b)
		keepRedisLease(b, redisURL)
		fn(b, db, redisURL)
	})
}

// keepRedisLease renews testenv.RealRedis's reservation of the database
// number (a key "loopdesk:testdb:N" in db 0 with a 10-minute TTL) while a
// benchmark runs: these runs take longer than 10 minutes, and a test
// process that takes over a lapsed number flushes it, timers and all.
func keepRedisLease(b *testing.B, redisURL string) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	key := "loopdesk:testdb:" + strconv.Itoa(opt.DB)
	opt.DB = 0
	c := redis.NewClient(opt)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.Expire(context.Background(), key, 10*time.Minute)
			}
		}
	}()
	b.Cleanup(func() { close(stop); <-done; c.Close() })
}

// slaFixture is what both benchmarks need before seeding.
type slaFixture struct {
	db        *database.DB
	raw       *sql.DB
	tk        *tickets.Service
	requester int64
	wfVersion int
	firstID   int64
}

func newSLAFixture(b testing.TB, db *database.DB) *slaFixture {
	ctx := context.Background()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		b.Fatal(err)
	}
	u, err := acc.CreateUser(ctx, accounts.NewUser{Email: "sla-requester@example.com", Name: "SLA requester",
		Password: "bench-password", Roles: []accounts.Role{accounts.RoleRequester}})
	if err != nil {
		b.Fatal(err)
	}
	def, err := tk.GetWorkflow(ctx, "support", 0)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := db.DB.DB()
	if err != nil {
		b.Fatal(err)
	}
	var maxID sql.NullInt64
	if err := raw.QueryRowContext(ctx, "SELECT MAX(id) FROM tickets").Scan(&maxID); err != nil {
		b.Fatal(err)
	}
	return &slaFixture{db: db, raw: raw, tk: tk, requester: u.ID, wfVersion: def.Version, firstID: maxID.Int64 + 1}
}

// slaRow is one seeded ticket and its resolution clock.
type slaRow struct {
	created time.Time
	nextAt  *time.Time // nil: stopped clock
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// preparedTx prepares each distinct statement once in a transaction.
type preparedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, ok := p.stmts[query]
	if !ok {
		var err error
		if st, err = p.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		p.stmts[query] = st
	}
	return st.ExecContext(ctx, args...)
}

// seed inserts n tickets with ids firstID.. and their resolution clocks
// under policyID, rows(i) describing ticket i, in multi-row INSERTs: one
// transaction of prepared 100-row statements on SQLite (the glebarez driver
// binds parameters in quadratic time, so 1000-row statements cost 5x
// more), 4 concurrent autocommit writers of 1000-row statements on MariaDB.
// Tickets whose clock is stopped are resolved.
func (f *slaFixture) seed(b testing.TB, n int, policyID int64, target time.Duration, rows func(i int) slaRow) {
	ctx := context.Background()
	batch := 1000
	if f.db.Dialect == database.SQLite {
		batch = 100
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ticketSQL := func(k int) string {
		return "INSERT INTO tickets (id, subject, description, status, status_category, priority, workflow_key, workflow_version," +
			" category, channel, custom_fields, requester_id, version, state_entered_at, created_at, updated_at) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, '', ?, ?, 'P3', 'support', ?, '', 'api', '{}', ?, 1, ?, ?, ?),", k), ",")
	}
	clockSQL := func(k int) string {
		return "INSERT INTO sla_clocks (ticket_id, metric, policy_id, target_ms, cycle, state, started_at, elapsed_ms," +
			" due_at, met_at, next_at, updated_at) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, 'resolution', ?, ?, 1, ?, ?, ?, ?, ?, ?, ?),", k), ",")
	}
	chunk := func(ex execer, lo, hi int) error {
		k := hi - lo
		targs := make([]any, 0, k*9)
		cargs := make([]any, 0, k*10)
		for i := lo; i < hi; i++ {
			r := rows(i)
			id := f.firstID + int64(i)
			status, elapsed := "new", int64(0)
			var met, due any
			if r.nextAt == nil {
				status = "resolved"
				m := r.created.Add(target / 2)
				met, elapsed = m, (target / 2).Milliseconds()
			} else {
				due = *r.nextAt
			}
			state, next := "stopped", any(nil)
			if r.nextAt != nil {
				state, next = "running", *r.nextAt
			}
			targs = append(targs, id, "SLA bench ticket "+strconv.FormatInt(id, 10), status, status, f.wfVersion, f.requester,
				r.created, r.created, now)
			cargs = append(cargs, id, policyID, target.Milliseconds(), state, r.created, elapsed, due, met, next, now)
		}
		if _, err := ex.ExecContext(ctx, ticketSQL(k), targs...); err != nil {
			return fmt.Errorf("insert tickets: %w", err)
		}
		if _, err := ex.ExecContext(ctx, clockSQL(k), cargs...); err != nil {
			return fmt.Errorf("insert clocks: %w", err)
		}
		return nil
	}
	if f.db.Dialect == database.SQLite {
		// A bigger page cache for the bulk load only (random index inserts
		// spill a 2 MB cache to the WAL), restored afterwards so the
		// measured runs see the pool as serve configures it.
		conn, err := f.raw.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		var cacheSize int
		if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cacheSize); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
			b.Fatal(err)
		}
		defer conn.ExecContext(ctx, "PRAGMA cache_size = "+strconv.Itoa(cacheSize))
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ptx := &preparedTx{tx: tx, stmts: map[string]*sql.Stmt{}}
		for lo := 0; lo < n; lo += batch {
			if err := chunk(ptx, lo, min(lo+batch, n)); err != nil {
				tx.Rollback()
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		return
	}
	next := make(chan int)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				if err := chunk(f.raw, lo, min(lo+batch, n)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var failed error
feed:
	for lo := 0; lo < n; lo += batch {
		select {
		case next <- lo:
		case failed = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if failed == nil && len(errs) > 0 {
		failed = <-errs
	}
	if failed != nil {
		b.Fatal(failed)
	}
}

// settle writes the bulk load's dirty pages out before a timed run and
// says what that took. Right after seeding 1M rows MariaDB's buffer pool
// (128 MB on the bench box) is mostly dirty, and its page cleaner, idle
// below innodb_max_dirty_pages_pct, leaves it so for minutes: every page a
// query then reads first costs a dirty page written out (with the
// doublewrite buffer). That is the seed's debt, not the cost of what is
// timed next. FLUSH TABLES ... FOR EXPORT writes out the seeded tables'
// pages (and only theirs). SQLite: a WAL checkpoint.
func (f *slaFixture) settle(b testing.TB) string {
	ctx := context.Background()
	t0 := time.Now()
	conn, err := f.raw.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if f.db.Dialect == database.SQLite {
		if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		return fmt.Sprintf("WAL checkpoint in %v", time.Since(t0).Round(time.Millisecond))
	}
	status := func(name string) float64 {
		var k string
		var v float64
		if err := conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
	total := status("Innodb_buffer_pool_pages_total")
	before := status("Innodb_buffer_pool_pages_dirty")
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES tickets, sla_clocks FOR EXPORT"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("buffer pool %.0f MB, dirty pages %.0f%% -> %.0f%% in %v", total*16/1024, 100*before/total,
		100*status("Innodb_buffer_pool_pages_dirty")/total, time.Since(t0).Round(time.Millisecond))
}

func (f *slaFixture) count(b testing.TB, query string, args ...any) int {
	var n int
	if err := f.raw.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)) * p)
	return d[min(i, len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkSLATimerLateness seeds LOOPDESK_BENCH_SLA_TICKETS open tickets
// whose resolution clocks fall due uniformly over a 10-minute window, arms
// their asynq timers exactly as serve does (a second early, within the
// timer horizon, the sweep's cron every 30 s arming the next ones), runs a
// real worker (delayed and idle task checks every 100 ms, as serve) and
// measures lateness = recorded_at - due_at of each breach, plus missing and
// doubled breaches and what a final sweep still had to catch.
func BenchmarkSLATimerLateness(b *testing.B) {
	n := slaEnvInt("LOOPDESK_BENCH_SLA_TICKETS", 100000)
	window := slaEnvDur("LOOPDESK_BENCH_SLA_WINDOW", 10*time.Minute)
	lead := slaEnvDur("LOOPDESK_BENCH_SLA_LEAD", 2*time.Minute)
	grace := slaEnvDur("LOOPDESK_BENCH_SLA_GRACE", 2*time.Minute)
	sweepLimit := slaEnvDur("LOOPDESK_BENCH_SLA_SWEEP_LIMIT", 5*time.Minute)
	taskCheck := slaEnvDur("LOOPDESK_BENCH_SLA_TASK_CHECK", 100*time.Millisecond)
	concs := []int{0}
	if v := os.Getenv("LOOPDESK_BENCH_SLA_CONCURRENCY"); v != "" {
		concs = concs[:0]
		for _, s := range strings.Split(v, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || c < 0 {
				b.Fatalf("LOOPDESK_BENCH_SLA_CONCURRENCY=%q: a comma-separated list of worker concurrencies (0: default)", v)
			}
			concs = append(concs, c)
		}
	}
	horizon := sla.DefaultTimerHorizon
	if v := os.Getenv("LOOPDESK_BENCH_SLA_HORIZON"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			b.Fatalf("LOOPDESK_BENCH_SLA_HORIZON=%q: a duration (0: arm every timer up front)", v)
		}
		horizon = d
	}
	slaBackends(b, func(b *testing.B, db *database.DB, redisURL string) {
		for i, conc := range concs {
			name := "conc=default"
			if conc > 0 {
				name = "conc=" + strconv.Itoa(conc)
			}
			b.Run(name, func(b *testing.B) {
				if i > 0 {
					// Each run gets fresh stores: the first one's rows and
					// tasks would distort the second.
					if db.Dialect == database.SQLite {
						db, redisURL = testenv.SQLite(b), testenv.EmbeddedRedis(b)
					} else {
						db, redisURL = testenv.MySQL(b), testenv.RealRedis(b)
					}
				}
				slaLateness(b, db, redisURL, n, window, lead, grace, sweepLimit, taskCheck, conc, horizon)
			})
		}
	})
}

func slaLateness(b *testing.B, db *database.DB, redisURL string, n int, window, lead, grace, sweepLimit, taskCheck time.Duration, conc int, horizon time.Duration) {
	ctx := context.Background()
	const target = time.Hour // every created_at is in the past
	t0 := time.Now()
	windowStart := t0.Add(lead).UTC().Truncate(time.Millisecond)
	windowEnd := windowStart.Add(window)

	redisOpt, err := jobs.RedisOpt(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	client := jobs.NewClient(redisOpt)
	defer client.Close()
	timer := slaTimer{jobs.NewTimers(client, slaFireTask)}
	svcLog := newCountLog()
	f := newSLAFixture(b, db)
	svc := sla.New(db, f.tk, sla.WithTimer(timer), sla.WithLogger(slog.New(svcLog)), sla.WithTimerHorizon(horizon))
	pol, err := svc.CreatePolicy(ctx, sla.Policy{Name: "bench", Active: true,
		Targets: []sla.Target{{Metric: sla.Resolution, Within: sla.Duration(target)}}})
	if err != nil {
		b.Fatal(err)
	}
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()

	due := make([]time.Time, n)
	for i := range due {
		due[i] = windowStart.Add(time.Duration(int64(window) * int64(i) / int64(n))).Truncate(time.Millisecond)
	}
	f.seed(b, n, pol.ID, target, func(i int) slaRow {
		return slaRow{created: due[i].Add(-target), nextAt: &due[i]}
	})
	seeded := time.Since(t0)
	slaSay(b, "seeded %d tickets + clocks in %v", n, seeded.Round(time.Millisecond))

	// Arm the timers as Recompute does: TimerID(ticket, resolution, due).
	// With a horizon that is the first sweep's work (serve's cron runs one
	// within 30 s of start, and every 30 s after); without one, every
	// timer up front.
	t1 := time.Now()
	armed := n
	if horizon > 0 {
		if _, err := svc.Sweep(ctx); err != nil {
			b.Fatal(err)
		}
		armed = int(rdb.ZCard(ctx, "asynq:{default}:scheduled").Val())
	} else {
		var wg sync.WaitGroup
		var schedErr error
		var mu sync.Mutex
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 16 {
					id := f.firstID + int64(i)
					if err := timer.Schedule(ctx, sla.TimerID(id, sla.Resolution, due[i]), due[i], id); err != nil {
						mu.Lock()
						schedErr = err
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		if schedErr != nil {
			b.Fatal(schedErr)
		}
	}
	schedRate := float64(armed) / time.Since(t1).Seconds()
	slaSay(b, "armed %d timers at %.0f/s (horizon %v); window starts in %v", armed, schedRate, horizon, time.Until(windowStart).Round(time.Second))

	// The worker, wired like serve: DelayedTaskCheckInterval 100 ms, and
	// TaskCheckInterval (how long an idle worker sleeps before polling the
	// pending queue again) 100 ms unless the knob says.
	wlog := newCountLog()
	w, err := jobs.NewWorker(redisOpt, jobs.WorkerConfig{Concurrency: conc, Logger: slog.New(wlog),
		DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: taskCheck})
	if err != nil {
		b.Fatal(err)
	}
	type fired struct{ start, end time.Duration }
	var firedMu sync.Mutex
	var fires []fired
	w.HandlePayload(slaFireTask, func(ctx context.Context, payload []byte) error {
		start := time.Now()
		var p slaFirePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return fmt.Errorf("sla timer payload: %w", err)
		}
		err := svc.Fire(ctx, p.TicketID, p.At)
		end := time.Now()
		firedMu.Lock()
		fires = append(fires, fired{start.Sub(p.At), end.Sub(p.At)})
		firedMu.Unlock()
		return err
	})
	var sweeps, sweepVisits, sweepErrs int
	var sweepTime time.Duration
	w.HandlePayload(slaSweepTask, func(ctx context.Context, _ []byte) error {
		t := time.Now()
		v, err := svc.Sweep(ctx)
		firedMu.Lock()
		sweeps++
		sweepVisits += v
		sweepTime += time.Since(t)
		if err != nil {
			sweepErrs++
		}
		firedMu.Unlock()
		return err
	})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Shutdown()
	// The sweep's cron, as serve wires it (once per slot across replicas).
	sched := jobs.NewScheduler(db, client, jobs.SchedulerConfig{Logger: slog.New(wlog)})
	if err := sched.Add(slaSweepTask, slaSweepSchedule, slaSweepTask, nil); err != nil {
		b.Fatal(err)
	}
	sched.Start()
	stopSched := func() { <-sched.Stop().Done() }
	if late := time.Since(windowStart); late > 0 {
		slaSay(b, "WARNING: set-up overran the window start by %v; raise LOOPDESK_BENCH_SLA_LEAD", late.Round(time.Millisecond))
		b.ReportMetric(late.Seconds(), "setup-overrun-s")
	}

	// Wait for every breach, or the window end plus grace.
	deadline := windowEnd.Add(grace)
	lastSay := time.Now()
	recorded := 0
	var load loadSampler
	maxScheduled, maxKeys := int64(0), int64(0)
	for {
		load.sample()
		maxScheduled = max(maxScheduled, rdb.ZCard(ctx, "asynq:{default}:scheduled").Val())
		maxKeys = max(maxKeys, rdb.DBSize(ctx).Val())
		recorded = f.count(b, "SELECT COUNT(*) FROM sla_events WHERE kind = 'breach'")
		if recorded >= n || time.Now().After(deadline) {
			break
		}
		if time.Since(lastSay) >= 30*time.Second {
			lastSay = time.Now()
			dueSoFar := 0
			if now := time.Now(); now.After(windowStart) {
				dueSoFar = min(n, int(float64(n)*float64(now.Sub(windowStart))/float64(window))+1)
			}
			slaSay(b, "recorded %d breaches; %d due so far (backlog %d)", recorded, dueSoFar, max(dueSoFar-recorded, 0))
		}
		time.Sleep(time.Second)
	}
	doneAt := time.Now()
	stopSched()
	w.Shutdown()
	slaSay(b, "worker stopped %v after the window end; %d of %d breaches recorded", doneAt.Sub(windowEnd).Round(time.Millisecond), recorded, n)
	firedMu.Lock()
	slaSay(b, "cron sweeps %d (%d failed): %d tickets recomputed, %v in all; Redis at most %d scheduled tasks, %d keys",
		sweeps, sweepErrs, sweepVisits, sweepTime.Round(time.Millisecond), maxScheduled, maxKeys)
	firedMu.Unlock()

	// Lateness per breach as the database recorded it.
	rows, err := f.raw.QueryContext(ctx, "SELECT ticket_id, due_at, recorded_at FROM sla_events WHERE kind = 'breach'")
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	perTicket := map[int64]int{}
	type bucket struct{ lat []time.Duration }
	buckets := make([]bucket, int(window/time.Minute)+1)
	for rows.Next() {
		var id int64
		var dueAt, recAt time.Time
		if err := rows.Scan(&id, &dueAt, &recAt); err != nil {
			b.Fatal(err)
		}
		perTicket[id]++
		l := recAt.Sub(dueAt)
		lat = append(lat, l)
		if k := int(dueAt.Sub(windowStart) / time.Minute); k >= 0 && k < len(buckets) {
			buckets[k].lat = append(buckets[k].lat, l)
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	rows.Close()
	doubled, early := 0, 0
	for _, c := range perTicket {
		if c > 1 {
			doubled++
		}
	}
	slices.Sort(lat)
	for _, l := range lat {
		if l < 0 {
			early++
		}
	}
	missing := n - len(perTicket)
	for k, bk := range buckets {
		if len(bk.lat) == 0 {
			continue
		}
		slices.Sort(bk.lat)
		slaSay(b, "due minute %2d: %6d breaches, lateness p50 %8.1f ms, p99 %8.1f ms, max %8.1f ms", k, len(bk.lat),
			ms(pct(bk.lat, .5)), ms(pct(bk.lat, .99)), ms(bk.lat[len(bk.lat)-1]))
	}
	// Handler view: when asynq started the handler, and when Fire returned
	// (after the commit and the timer calls), relative to the due instant.
	firedMu.Lock()
	starts := make([]time.Duration, 0, len(fires))
	ends := make([]time.Duration, 0, len(fires))
	for _, fr := range fires {
		starts = append(starts, fr.start)
		ends = append(ends, fr.end)
	}
	firedMu.Unlock()
	slices.Sort(starts)
	slices.Sort(ends)
	earlyStarts := 0
	for _, s := range starts {
		if s < 0 {
			earlyStarts++
		}
	}
	if len(starts) > 0 {
		slaSay(b, "handler calls %d: start-due p50 %.1f ms, p99 %.1f ms, min %.1f ms (%.0f%% started early); return-due p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			len(starts), ms(pct(starts, .5)), ms(pct(starts, .99)), ms(starts[0]), 100*float64(earlyStarts)/float64(len(starts)),
			ms(pct(ends, .5)), ms(pct(ends, .99)), ms(ends[len(ends)-1]))
	}
	svcLog.report(b, "sla")
	wlog.report(b, "worker")

	// The safety net: what the sweep still finds.
	// Bounded: after a run that fell far behind, catching up could take
	// longer than the run itself.
	sctx, cancel := context.WithTimeout(ctx, sweepLimit)
	t2 := time.Now()
	caught, err := svc.Sweep(sctx)
	limited := sctx.Err() != nil
	cancel()
	sweepDur := time.Since(t2)
	if err != nil && !limited {
		b.Fatal(err)
	}
	if limited {
		slaSay(b, "final sweep stopped at its %v limit", sweepLimit)
	}
	after := f.count(b, "SELECT COUNT(DISTINCT ticket_id) FROM sla_events WHERE kind = 'breach'")
	slaSay(b, "final sweep visited %d tickets in %v; breached tickets now %d of %d", caught, sweepDur.Round(time.Millisecond), after, n)

	var p50, p99, maxL, minL time.Duration
	if len(lat) > 0 {
		p50, p99, maxL, minL = pct(lat, .5), pct(lat, .99), lat[len(lat)-1], lat[0]
	}
	backend := "sqlite+embedded"
	if db.Dialect == database.MySQL {
		backend = "mariadb+redis"
	}
	fmt.Printf("SLA lateness %s conc=%d task-check=%v horizon=%v: n=%d recorded=%d missing=%d doubled=%d early=%d p50=%.1fms p99=%.1fms max=%.1fms min=%.1fms seed=%.1fs timers=%.0f/s max-scheduled=%d max-keys=%d cron-sweeps=%d cron-recomputed=%d sweep-caught=%d in %v load mean %.1f max %.1f\n",
		backend, conc, taskCheck, horizon, n, len(perTicket), missing, doubled, early, ms(p50), ms(p99), ms(maxL), ms(minL),
		seeded.Seconds(), schedRate, maxScheduled, maxKeys, sweeps, sweepVisits, caught, sweepDur.Round(time.Millisecond), load.mean(), load.max)
	b.ReportMetric(load.mean(), "loadavg")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(maxL), "max-ms")
	b.ReportMetric(ms(minL), "min-ms")
	b.ReportMetric(float64(len(perTicket)), "recorded")
	b.ReportMetric(float64(missing), "missing")
	b.ReportMetric(float64(doubled), "doubled")
	b.ReportMetric(float64(early), "early")
	b.ReportMetric(float64(caught), "sweep-caught")
	b.ReportMetric(seeded.Seconds(), "seed-s")
	b.ReportMetric(schedRate, "timers-scheduled/s")
	b.ReportMetric(float64(maxScheduled), "max-scheduled")
	b.ReportMetric(0, "ns/op")
	if doubled > 0 || early > 0 {
		b.Errorf("%d tickets breached twice, %d breaches recorded before their due instant", doubled, early)
	}
}

// BenchmarkSLASweep stores LOOPDESK_BENCH_SLA_CLOCKS clocks (20 % stopped,
// LOOPDESK_BENCH_SLA_DUE due a minute to an hour ago, the rest due over the
// next 30 days)
// and times the due-clock query alone and Sweep, first with the due clocks
// to record, then again with nothing left to do.
func BenchmarkSLASweep(b *testing.B) {
	n := slaEnvInt("LOOPDESK_BENCH_SLA_CLOCKS", 1000000)
	nDue := slaEnvInt("LOOPDESK_BENCH_SLA_DUE", 1000)
	slaBackends(b, func(b *testing.B, db *database.DB, redisURL string) {
		ctx := context.Background()
		const target = 30 * 24 * time.Hour // every created_at is in the past
		redisOpt, err := jobs.RedisOpt(redisURL)
		if err != nil {
			b.Fatal(err)
		}
		client := jobs.NewClient(redisOpt)
		defer client.Close()
		svcLog := newCountLog()
		f := newSLAFixture(b, db)
		svc := sla.New(db, f.tk, sla.WithTimer(slaTimer{jobs.NewTimers(client, slaFireTask)}), sla.WithLogger(slog.New(svcLog)))
		pol, err := svc.CreatePolicy(ctx, sla.Policy{Name: "bench", Active: true,
			Targets: []sla.Target{{Metric: sla.Resolution, Within: sla.Duration(target)}}})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		stride := max(n/nDue, 2)
		t0 := time.Now()
		f.seed(b, n, pol.ID, target, func(i int) slaRow {
			// Deterministic spread: i%5 == 0 stopped; every stride-th (i%5
			// == 1 when stride is a multiple of 5) due a minute to an hour ago;
			// the rest from an hour to 30 days ahead (seeding never
			// makes them due).
			h := uint64(i)*0x9E3779B97F4A7C15 + 1
			h ^= h >> 29
			switch {
			case i%stride == 1 && i/stride < nDue:
				// A minute to an hour ago: the sweep leaves the last
				// seconds' instants to their timers.
				at := now.Add(-time.Minute - time.Duration(h%uint64(59*time.Minute))).Truncate(time.Millisecond)
				return slaRow{created: at.Add(-target), nextAt: &at}
			case i%5 == 0:
				return slaRow{created: now.Add(-time.Duration(h % uint64(target)))}
			default:
				at := now.Add(time.Hour + time.Duration(h%uint64(target-time.Hour))).Truncate(time.Millisecond)
				return slaRow{created: at.Add(-target), nextAt: &at}
			}
		})
		seeded := time.Since(t0)
		stored := f.count(b, "SELECT COUNT(*) FROM sla_clocks")
		running := f.count(b, "SELECT COUNT(*) FROM sla_clocks WHERE next_at IS NOT NULL")
		dueNow := f.count(b, "SELECT COUNT(*) FROM sla_clocks WHERE next_at <= ?", time.Now().UTC().Truncate(time.Millisecond))
		slaSay(b, "seeded %d clocks (%d running, %d due) in %v (%.0f tickets+clocks/s)", stored, running, dueNow,
			seeded.Round(time.Millisecond), float64(n)/seeded.Seconds())
		if db.Dialect == database.MySQL {
			f.db.Exec("ANALYZE TABLE sla_clocks")
		}
		slaSay(b, "settled: %s", f.settle(b))

		// The sweep's own query, alone (as Sweep builds it, through gorm).
		dueQuery := func() (time.Duration, int) {
			var ids []int64
			t := time.Now()
			if err := db.WithContext(ctx).Table("sla_clocks").Where("next_at <= ?", time.Now().UTC().Truncate(time.Millisecond)).
				Order("next_at").Limit(500).Pluck("ticket_id", &ids).Error; err != nil {
				b.Fatal(err)
			}
			return time.Since(t), len(ids)
		}
		median := func(k int) (time.Duration, int) {
			var ds []time.Duration
			var got int
			for range k {
				d, m := dueQuery()
				ds = append(ds, d)
				got = m
			}
			slices.Sort(ds)
			return ds[len(ds)/2], got
		}
		plan := ""
		if db.Dialect == database.MySQL {
			var rows []map[string]any
			db.Raw("EXPLAIN SELECT ticket_id FROM sla_clocks WHERE next_at <= ? ORDER BY next_at LIMIT 500", now).Scan(&rows)
			for _, r := range rows {
				plan += fmt.Sprintf("type=%v key=%v rows=%v extra=%v ", r["type"], r["key"], r["rows"], r["Extra"])
			}
		} else {
			var rows []map[string]any
			db.Raw("EXPLAIN QUERY PLAN SELECT ticket_id FROM sla_clocks WHERE next_at <= ? ORDER BY next_at LIMIT 500", now).Scan(&rows)
			for _, r := range rows {
				plan += fmt.Sprint(r["detail"]) + "; "
			}
		}
		slaSay(b, "due query plan: %s", plan)
		qDue, got := median(21)
		slaSay(b, "due query with %d due: %d ids, median %v", dueNow, got, qDue)

		loadAtSweep, _ := strconv.ParseFloat(loadAvg(), 64)
		t1 := time.Now()
		visited, err := svc.Sweep(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sweepDue := time.Since(t1)
		breaches := f.count(b, "SELECT COUNT(*) FROM sla_events WHERE kind = 'breach'")
		slaSay(b, "sweep with %d due: visited %d, %d breaches recorded, %v (%.2f ms per ticket)", dueNow, visited, breaches,
			sweepDue.Round(time.Millisecond), ms(sweepDue)/float64(max(visited, 1)))

		qIdle, got := median(21)
		slaSay(b, "due query with nothing due: %d ids, median %v", got, qIdle)
		t2 := time.Now()
		visitedIdle, err := svc.Sweep(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sweepIdle := time.Since(t2)
		slaSay(b, "sweep with nothing due: visited %d, %v", visitedIdle, sweepIdle)
		svcLog.report(b, "sla")

		backend := "sqlite+embedded"
		if db.Dialect == database.MySQL {
			backend = "mariadb+redis"
		}
		fmt.Printf("SLA sweep %s: clocks=%d due=%d seed=%.1fs due-query=%.2fms sweep=%v (visited %d, breaches %d) idle-query=%.2fms idle-sweep=%v\n",
			backend, stored, dueNow, seeded.Seconds(), ms(qDue), sweepDue.Round(time.Millisecond), visited, breaches, ms(qIdle), sweepIdle)
		b.ReportMetric(loadAtSweep, "loadavg")
		b.ReportMetric(seeded.Seconds(), "seed-s")
		b.ReportMetric(ms(qDue), "due-query-ms")
		b.ReportMetric(ms(sweepDue), "sweep-ms")
		b.ReportMetric(float64(visited), "swept")
		b.ReportMetric(ms(qIdle), "idle-query-ms")
		b.ReportMetric(ms(sweepIdle), "idle-sweep-ms")
		b.ReportMetric(0, "ns/op")
		if breaches != dueNow || visited != dueNow || visitedIdle != 0 {
			b.Errorf("sweep: %d due, visited %d, %d breaches recorded, %d visited on the idle sweep", dueNow, visited, breaches, visitedIdle)
		}
	})
}

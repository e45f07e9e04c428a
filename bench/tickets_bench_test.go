package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/bench"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/tickets"
)

// site is the real engine behind a loopback TCP listener.
type site struct {
	base   string
	token  string
	client *http.Client
	tk     *tickets.Service
	admin  accounts.User
}

func newSite(b *testing.B, db *database.DB, redisURL string) *site {
	rdb, err := jobs.NewRedisClient(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		b.Fatal(err)
	}
	eng := api.NewEngine(api.Deps{Accounts: acc, Tickets: tk, DB: db, Redis: rdb,
		Throttle: accounts.NewLoginThrottle(ratelimit.New(rdb, "bench:")),
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(eng)
	b.Cleanup(srv.Close)
	admin, err := acc.CreateUser(ctx, accounts.NewUser{Email: "bench@example.com", Name: "Bench", Password: "bench-password", Roles: []accounts.Role{accounts.RoleAdmin}})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := acc.IssueToken(ctx, admin.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	return &site{base: srv.URL, token: tok, client: &http.Client{Transport: tr}, tk: tk, admin: admin}
}

func (s *site) do(method, path string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		bs, _ := json.Marshal(body)
		rd = bytes.NewReader(bs)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return out, fmt.Errorf("%s %s = %d: %s", method, path, resp.StatusCode, out)
	}
	return out, nil
}

// backends yields SQLite + in-process server always, MariaDB + Redis when configured.
func backends(b *testing.B, fn func(b *testing.B, db *database.DB, redisURL string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, testenv.SQLite(b), testenv.EmbeddedRedis(b)) })
	if os.Getenv(testenv.MySQLEnv) != "" && os.Getenv(testenv.RedisEnv) != "" {
		b.Run("mariadb", func(b *testing.B) { fn(b, testenv.MySQL(b), testenv.RealRedis(b)) })
	}
}

// parallel runs n calls of fn over workers goroutines and returns calls/s.
func parallel(b *testing.B, n, workers int, fn func(i int) error) float64 {
	var next atomic.Int64
	// The first error wins; atomic.Value would panic on a second error of
	// another concrete type.
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return float64(n) / time.Since(start).Seconds()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkTicketsHTTP reports ticket creates/s and transitions/s through the
// HTTP API (16 concurrent keep-alive clients, bearer auth, JSON), on each
// backend, with the CPU spent per operation by this process (server and
// clients) and, on MySQL, by a local server and the statements it received
// per operation (both server-wide: other clients of that server count too).
// Run:
//
//	go test ./bench -run '^$' -bench TicketsHTTP -benchtime 1x
//	LOOPDESK_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test LOOPDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./bench -run '^$' -bench TicketsHTTP -benchtime 1x
func BenchmarkTicketsHTTP(b *testing.B) {
	corpus, err := bench.Corpus()
	if err != nil {
		b.Fatal(err)
	}
	n := envInt("LOOPDESK_BENCH_OPS", 5000)
	backends(b, func(b *testing.B, db *database.DB, redisURL string) {
		s := newSite(b, db, redisURL)
		ids := make([]int64, n)
		q0, c0 := questions(b, db), readCPU()
		createRate := parallel(b, n, 16, func(i int) error {
			out, err := s.do("POST", "/api/v1/tickets", map[string]any{
				"subject": bench.Subject(corpus[i%len(corpus)]), "description": corpus[(i+7)%len(corpus)], "priority": "P3", "tags": []string{"bench"},
			}, 201)
			if err != nil {
				return err
			}
			var t struct{ ID int64 }
			if err := json.Unmarshal(out, &t); err != nil {
				return err
			}
			ids[i] = t.ID
			return nil
		})
		q1, c1 := questions(b, db), readCPU()
		// Move every ticket to open, then measure a pair of events that can
		// cycle for ever: wait_customer and customer_replied.
		if _, err := bench.Fire(s.base, s.token, s.client, ids, "open"); err != nil {
			b.Fatal(err)
		}
		events := []string{"wait_customer", "customer_replied"}
		q2, c2 := questions(b, db), readCPU()
		transRate := parallel(b, 2*n, 16, func(i int) error {
			// Each worker takes whole tickets so one ticket's events stay in order.
			id := ids[i%n]
			ev := events[i/n]
			_, err := s.do("POST", "/api/v1/tickets/"+strconv.FormatInt(id, 10)+"/transitions", map[string]any{"event": ev}, 200)
			return err
		})
		q3, c3 := questions(b, db), readCPU()
		b.ReportMetric(createRate, "creates/s")
		b.ReportMetric(transRate, "transitions/s")
		if db.Dialect == database.MySQL {
			b.ReportMetric(float64(q1-q0)/float64(n), "stmts/create")
			b.ReportMetric(float64(q3-q2)/float64(2*n), "stmts/transition")
		}
		c1.sub(c0).report(b, db, n, "create")
		c3.sub(c2).report(b, db, 2*n, "transition")
		b.ReportMetric(0, "ns/op")
	})
}

// cpuTimes is CPU time used so far, in clock ticks, by this process (the
// server and the clients) and by a local MariaDB/MySQL server; -1 when
// /proc does not say (not Linux, or no local server). CPU per operation
// moves less than throughput when other work shares the machine, though
// the server's figure includes its other clients.
type cpuTimes struct{ self, db int64 }

func readCPU() cpuTimes {
	c := cpuTimes{self: procTicks("self"), db: -1}
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil {
				if name := strings.TrimSpace(string(comm)); name == "mariadbd" || name == "mysqld" {
					c.db = procTicks(e.Name())
					break
				}
			}
		}
	}
	return c
}

// procTicks returns utime+stime of /proc/<pid>/stat, or -1.
func procTicks(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return ut + st
}

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	d := cpuTimes{self: -1, db: -1}
	if c.self >= 0 && o.self >= 0 {
		d.self = c.self - o.self
	}
	if c.db >= 0 && o.db >= 0 {
		d.db = c.db - o.db
	}
	return d
}

// report adds µs of CPU per operation, assuming USER_HZ = 100 (Linux); the
// server's only on MySQL.
func (c cpuTimes) report(b *testing.B, db *database.DB, ops int, what string) {
	if c.self >= 0 {
		b.ReportMetric(float64(c.self)*1e4/float64(ops), "go-cpu-µs/"+what)
	}
	if c.db >= 0 && db.Dialect == database.MySQL {
		b.ReportMetric(float64(c.db)*1e4/float64(ops), "db-cpu-µs/"+what)
	}
}

// questions reads MariaDB's server-wide Questions counter (statements sent
// by clients); 0 on SQLite. Other clients of the same server inflate it.
func questions(b *testing.B, db *database.DB) int64 {
	if db.Dialect != database.MySQL {
		return 0
	}
	var row struct {
		VariableName string
		Value        int64
	}
	if err := db.Raw("SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&row).Error; err != nil {
		b.Fatal(err)
	}
	return row.Value
}

// BenchmarkTicketListSearch seeds LOOPDESK_BENCH_TICKETS tickets (default
// 100k) through the service and reports p50/p99 latency of list and
// full-text search requests through the HTTP API, one request at a time.
//
//	go test ./bench -run '^$' -bench TicketListSearch -benchtime 1x -timeout 60m
func BenchmarkTicketListSearch(b *testing.B) {
	corpus, err := bench.Corpus()
	if err != nil {
		b.Fatal(err)
	}
	total := envInt("LOOPDESK_BENCH_TICKETS", 100000)
	backends(b, func(b *testing.B, db *database.DB, redisURL string) {
		s := newSite(b, db, redisURL)
		ctx := context.Background()
		seedRate := parallel(b, total, 8, func(i int) error {
			_, err := s.tk.Create(ctx, s.admin, tickets.NewTicket{Subject: bench.Subject(corpus[i%len(corpus)]),
				Description: corpus[(i*7+3)%len(corpus)], Priority: tickets.Priorities[i%4], Tags: []string{"t" + strconv.Itoa(i%50)}})
			return err
		})
		b.ReportMetric(seedRate, "seed-creates/s")
		queries := map[string][]string{
			"list-newest":   {""},
			"list-filtered": {"priority=P1&tag=t7", "status=new&sort=oldest", "priority=P2&sort=updated"},
			"search-en":     {"q=card", "q=refund", "q=card+arrived", "q=exchange+rate", "q=PIN"},
			"search-zh":     {"q=退款", "q=发货", "q=无法开机", "q=E52", "q=iPhone"},
		}
		for _, name := range []string{"list-newest", "list-filtered", "search-en", "search-zh"} {
			var lat []time.Duration
			for i := 0; i < 300; i++ {
				q := queries[name][i%len(queries[name])]
				path := "/api/v1/tickets?limit=50"
				if q != "" {
					vals, _ := url.ParseQuery(q)
					path += "&" + vals.Encode()
				}
				t0 := time.Now()
				if _, err := s.do("GET", path, nil, 200); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, name+"-p99-ms")
		}
		b.ReportMetric(0, "ns/op")
	})
}

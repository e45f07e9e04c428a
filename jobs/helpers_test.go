package jobs

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("LOOPDESK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func mustOpt(t *testing.T, redisURL string) asynq.RedisConnOpt {
	t.Helper()
	opt, err := RedisOpt(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// startWorker starts a worker tuned for tests (fast polling) after register
// has added its handlers; it is shut down when the test ends.
func startWorker(t *testing.T, redisURL string, reg prometheus.Registerer, register func(w *Worker)) *Worker {
	t.Helper()
	w, err := NewWorker(mustOpt(t, redisURL), WorkerConfig{
		Concurrency:              4,
		Logger:                   testLogger(t),
		Registerer:               reg,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		TaskCheckInterval:        20 * time.Millisecond,
		ShutdownTimeout:          2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

func newClient(t *testing.T, redisURL string) *Client {
	t.Helper()
	c := NewClient(mustOpt(t, redisURL))
	t.Cleanup(func() { c.Close() })
	return c
}

func newInspector(t *testing.T, redisURL string) *asynq.Inspector {
	t.Helper()
	in := asynq.NewInspector(mustOpt(t, redisURL))
	t.Cleanup(func() { in.Close() })
	return in
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queueSettled reports whether the default queue has nothing left to run:
// no pending, active, scheduled or retry tasks.
func queueSettled(t *testing.T, in *asynq.Inspector) bool {
	t.Helper()
	qi, err := in.GetQueueInfo(DefaultQueue)
	if err != nil {
		return false
	}
	return qi.Pending == 0 && qi.Active == 0 && qi.Scheduled == 0 && qi.Retry == 0
}

// proxy is a TCP forwarder standing in for the network between a client
// and Redis. Down closes the listener (new connections are refused) and
// cuts every open connection; Up listens again on the same port.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.Down(); p.wg.Wait() })
	return p
}

// proxiedURL returns redisURL with its host replaced by the proxy.
func (p *proxy) proxiedURL(redisURL string) string {
	u, err := url.Parse(redisURL)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, up) {
				continue
			}
			p.wg.Add(2)
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
}

// track registers a connection pair unless the proxy went down meanwhile.
func (p *proxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		a.Close()
		b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) Up() {
	p.t.Helper()
	var (
		ln  net.Listener
		err error
	)
	// The port was just ours; a listener in TIME_WAIT may need a moment.
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// redisAddr extracts host:port from a redis:// URL.
func redisAddr(t *testing.T, redisURL string) string {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

// syncBuffer is an io.Writer the server goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var readyLine = regexp.MustCompile(`ready at (http://[^ ]+)`)

// cli runs one loopdesk command in-process and returns its stdout.
func cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	if code != 0 {
		t.Fatalf("loopdesk %v exited %d: %s", args, code, errb.String())
	}
	return out.String()
}

// TestServeEndToEnd is the acceptance path: serve answers /readyz, a
// token from `admin token` works on /api/v1/me, no token is 401, a role
// without the permission is 403. It runs on the embedded default and on
// MariaDB + Redis.
func TestServeEndToEnd(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { serveScenario(t, "", "") })
	t.Run("mysql+redis", func(t *testing.T) {
		serveScenario(t, testenv.MySQLURL(t), testenv.RealRedis(t))
	})
}

// serveInProcess runs `loopdesk serve` in-process on a fresh data dir until the
// test ends and returns its base URL, the store flags for CLI commands
// against the same data, and its stdout.
func serveInProcess(t *testing.T, dbURL, redisURL string) (base string, store []string, stdout *syncBuffer) {
	t.Helper()
	dataDir := t.TempDir()
	store = []string{"--data-dir", dataDir, "--database-url", dbURL, "--log-level", "warn"}
	ctx, cancel := context.WithCancel(context.Background())
	stdout = &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--redis-url", redisURL,
		"--admin-email", "root@example.com", "--admin-password", "correct horse battery"}, store...)
	go func() { done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d on shutdown: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of the signal")
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := readyLine.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], store, stdout
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before ready: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 30s; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serveScenario(t *testing.T, dbURL, redisURL string) {
	base, store, stdout := serveInProcess(t, dbURL, redisURL)
	if !strings.Contains(stdout.String(), "First admin created: root@example.com") {
		t.Errorf("first start should say how to log in, got %q", stdout.String())
	}

	get := func(path, token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return do(t, req)
	}
	if code, body := get("/readyz", ""); code != 200 {
		t.Fatalf("/readyz = %d %v", code, body)
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}

	token := strings.TrimSpace(cli(t, "", append([]string{"admin", "token", "--email", "root@example.com"}, store...)...))
	if strings.Contains(token, "\n") || token == "" {
		t.Fatalf("admin token must print exactly one line, got %q", token)
	}
	if code, body := get("/api/v1/me", ""); code != 401 || body["status"] != float64(401) {
		t.Fatalf("/me without token = %d %v, want 401 problem", code, body)
	}
	if code, body := get("/api/v1/me", "ldk_not-a-real-token"); code != 401 {
		t.Fatalf("/me with a bad token = %d %v, want 401", code, body)
	}
	code, me := get("/api/v1/me", token)
	if code != 200 || !strings.Contains(toJSON(me), "root@example.com") || !strings.Contains(toJSON(me), "admin") {
		t.Fatalf("/me = %d %v", code, me)
	}

	cli(t, "requester-pass\n", append([]string{"admin", "create-user", "--email", "Req@Example.com", "--name", "Req", "--role", "requester"}, store...)...)
	reqToken := strings.TrimSpace(cli(t, "", append([]string{"admin", "token", "--email", "req@example.com"}, store...)...))
	req, _ := http.NewRequest("POST", base+"/api/v1/users", strings.NewReader(`{"email":"x@example.com","name":"X","roles":["agent"],"password":"long-enough"}`))
	req.Header.Set("Authorization", "Bearer "+reqToken)
	req.Header.Set("Content-Type", "application/json")
	if code, body := do(t, req); code != 403 {
		t.Fatalf("requester POST /users = %d %v, want 403", code, body)
	}
	req, _ = http.NewRequest("POST", base+"/api/v1/users", strings.NewReader(`{"email":"x@example.com","name":"X","roles":["agent"],"password":"long-enough"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if code, body := do(t, req); code != 201 {
		t.Fatalf("admin POST /users = %d %v, want 201", code, body)
	}

}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHelpListsEveryFlagWithItsVariable(t *testing.T) {
	for _, c := range [][]string{{"serve", "--help"}, {"worker", "--help"}, {"migrate", "--help"}, {"seed", "--help"}, {"admin", "create-user", "--help"}, {"admin", "token", "--help"}, {"search", "--help"}, {"faq", "--help"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, c)
		if code != 0 {
			t.Errorf("%v exited %d: %s", c, code, errb.String())
		}
		text := out.String()
		for _, want := range []string{"-data-dir", "LOOPDESK_DATA_DIR", "-database-url", "LOOPDESK_DATABASE_URL"} {
			if !strings.Contains(text, want) {
				t.Errorf("%v help lacks %s:\n%s", c, want, text)
			}
		}
		if c[0] == "serve" || c[0] == "worker" {
			for _, want := range []string{"LOOPDESK_ADDR", "LOOPDESK_REDIS_URL", "-roles", "LOOPDESK_ROLES", "LOOPDESK_SMTP_URL", "LOOPDESK_TRUSTED_PROXIES"} {
				if !strings.Contains(text, want) {
					t.Errorf("%v help lacks %s", c, want)
				}
			}
		}
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	if code := run(context.Background(), e, []string{"frobnicate"}); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q", errb.String())
	}
	if code := run(context.Background(), e, []string{"serve", "--roles", "web,wrker", "--data-dir", t.TempDir()}); code != 1 || !strings.Contains(errb.String(), "unknown role") {
		t.Fatalf("bad role: exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), e, []string{"serve", "--trusted-proxies", "10.0.0.0/8,lb.internal", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}); code != 1 || !strings.Contains(errb.String(), "IP address or a CIDR") {
		t.Fatalf("bad trusted proxy: exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), e, []string{"worker", "--data-dir", t.TempDir(), "--redis-url", ""}); code != 1 || !strings.Contains(errb.String(), "LOOPDESK_REDIS_URL") {
		t.Fatalf("worker without redis: exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), e, []string{"admin", "create-user", "--data-dir", t.TempDir(), "--email", "a@b.co", "--name", "A", "--role", "agent"}); code != 1 || !strings.Contains(errb.String(), "standard input") {
		t.Fatalf("create-user without password: exit %d, stderr %q", code, errb.String())
	}
}

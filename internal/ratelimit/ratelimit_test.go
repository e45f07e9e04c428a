package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func client(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func hits(t *testing.T, l *ratelimit.Limiter, key string, n, limit int, window time.Duration) (allowed int, lastRetry time.Duration) {
	t.Helper()
	for i := 0; i < n; i++ {
		ok, retry, err := l.Allow(context.Background(), key, limit, window)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
			if retry != 0 {
				t.Fatalf("allowed hit has retryAfter %v", retry)
			}
		} else {
			lastRetry = retry
		}
	}
	return allowed, lastRetry
}

func TestLimitReached(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, url string) {
		l := ratelimit.New(client(t, url), "t:")
		allowed, retry := hits(t, l, "login:a", 8, 5, time.Minute)
		if allowed != 5 {
			t.Fatalf("allowed %d of 8 with limit 5", allowed)
		}
		if retry <= 50*time.Second || retry > time.Minute {
			t.Fatalf("retryAfter %v, want just under 1m", retry)
		}
	})
}

func TestWindowExpires(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, url string) {
		l := ratelimit.New(client(t, url), "t:")
		start := time.Now()
		if allowed, _ := hits(t, l, "k", 3, 2, time.Second); allowed != 2 {
			t.Fatalf("allowed %d, want 2", allowed)
		}
		// The in-process server's clock moves every 250 ms.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, _, err := l.Allow(context.Background(), "k", 2, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("window never expired")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The embedded clock ticks every 250 ms, so expiry may come that early.
		if waited := time.Since(start); waited < 700*time.Millisecond {
			t.Fatalf("window of 1s ended after %v", waited)
		}
		if allowed, _ := hits(t, l, "k", 2, 2, time.Second); allowed != 1 {
			t.Fatalf("new window allowed %d more, want 1 (one already used)", allowed)
		}
	})
}

func TestKeysAndPrefixesAreIsolated(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, url string) {
		c := client(t, url)
		a, b := ratelimit.New(c, "a:"), ratelimit.New(c, "b:")
		if n, _ := hits(t, a, "x", 3, 1, time.Minute); n != 1 {
			t.Fatalf("a:x allowed %d, want 1", n)
		}
		if n, _ := hits(t, a, "y", 1, 1, time.Minute); n != 1 {
			t.Fatal("a:y was limited by a:x")
		}
		if n, _ := hits(t, b, "x", 1, 1, time.Minute); n != 1 {
			t.Fatal("b:x was limited by a:x")
		}
	})
}

func TestReset(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, url string) {
		l := ratelimit.New(client(t, url), "t:")
		hits(t, l, "k", 2, 1, time.Minute)
		if err := l.Reset(context.Background(), "k"); err != nil {
			t.Fatal(err)
		}
		if n, _ := hits(t, l, "k", 1, 1, time.Minute); n != 1 {
			t.Fatal("still limited after Reset")
		}
	})
}

func TestSharedAcrossClients(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, url string) {
		r1, r2 := ratelimit.New(client(t, url), "t:"), ratelimit.New(client(t, url), "t:")
		n1, _ := hits(t, r1, "k", 3, 4, time.Minute)
		n2, _ := hits(t, r2, "k", 3, 4, time.Minute)
		if n1+n2 != 4 {
			t.Fatalf("two replicas allowed %d in all, want 4", n1+n2)
		}
	})
}

func TestRejectsBadArguments(t *testing.T) {
	l := ratelimit.New(client(t, testenv.EmbeddedRedis(t)), "t:")
	if _, _, err := l.Allow(context.Background(), "k", 0, time.Second); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if _, _, err := l.Allow(context.Background(), "k", 1, 0); err == nil {
		t.Fatal("window 0 accepted")
	}
}

package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/jobs"
)

func TestLoginThrottle(t *testing.T) {
	testenv.ForEachRedis(t, func(t *testing.T, redisURL string) {
		rdb, err := jobs.NewRedisClient(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		th := accounts.NewLoginThrottle(ratelimit.New(rdb, "t:"))
		ctx := context.Background()
		for i := 0; i < accounts.LoginPerAccount; i++ {
			if err := th.Attempt(ctx, "Ana@Example.com", "10.0.0.1"); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		// The account key ignores case, so a capitalised email is no way round.
		err = th.Attempt(ctx, "ana@example.com", "10.0.0.2")
		var tm *accounts.TooManyAttemptsError
		if !errors.As(err, &tm) || tm.Seconds() < 1 || tm.Seconds() > int(accounts.LoginWindow.Seconds()) {
			t.Fatalf("attempt past the account limit: %v", err)
		}
		if err := th.Attempt(ctx, "bo@example.com", "10.0.0.2"); err != nil {
			t.Fatalf("another account is not limited: %v", err)
		}
		th.Succeeded(ctx, "ana@example.com")
		if err := th.Attempt(ctx, "ana@example.com", "10.0.0.3"); err != nil {
			t.Fatalf("after a success the account count restarts: %v", err)
		}
		rdb.Close()
		if err := th.Attempt(ctx, "cy@example.com", "10.0.0.4"); !errors.Is(err, accounts.ErrThrottleUnavailable) {
			t.Fatalf("with Redis gone sign-in must fail closed, got %v", err)
		}
	})
}

func TestNilThrottleAllows(t *testing.T) {
	var th *accounts.LoginThrottle
	if err := th.Attempt(context.Background(), "a@b.co", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
}

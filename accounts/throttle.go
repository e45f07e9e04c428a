package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limiter counts attempts per key in a window shared by all replicas;
// internal/ratelimit implements it over Redis.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
	Reset(ctx context.Context, key string) error
}

// Sign-in limits: per account slows guessing one user's password, per IP
// slows spraying a common password across many users.
const (
	LoginWindow     = 15 * time.Minute
	LoginPerAccount = 10
	LoginPerIP      = 50
)

// ErrThrottleUnavailable means attempts cannot be counted right now. Sign-in
// fails closed then: without the count, password guessing is unbounded.
var ErrThrottleUnavailable = errors.New("sign-in is temporarily unavailable; retry shortly")

// TooManyAttemptsError says when the caller may try again.
type TooManyAttemptsError struct{ RetryAfter time.Duration }

func (e *TooManyAttemptsError) Error() string {
	return fmt.Sprintf("too many sign-in attempts; retry in %d seconds", e.Seconds())
}

// Seconds is RetryAfter rounded up, at least 1.
func (e *TooManyAttemptsError) Seconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// LoginThrottle is the one sign-in rate-limit policy, used by the API's token
// endpoint and the login page alike. A nil Limiter disables it.
type LoginThrottle struct{ l Limiter }

// NewLoginThrottle applies the sign-in limits over l.
func NewLoginThrottle(l Limiter) *LoginThrottle { return &LoginThrottle{l: l} }

// Attempt counts one sign-in attempt for email from ip. It returns a
// *TooManyAttemptsError past a limit, or ErrThrottleUnavailable.
func (t *LoginThrottle) Attempt(ctx context.Context, email, ip string) error {
	if t == nil || t.l == nil {
		return nil
	}
	for _, k := range []struct {
		key   string
		limit int
	}{{"login:ip:" + ip, LoginPerIP}, {accountKey(email), LoginPerAccount}} {
		ok, wait, err := t.l.Allow(ctx, k.key, k.limit, LoginWindow)
		if err != nil {
			return fmt.Errorf("%w (%v)", ErrThrottleUnavailable, err)
		}
		if !ok {
			return &TooManyAttemptsError{RetryAfter: wait}
		}
	}
	return nil
}

// Succeeded restarts the account's count: whoever knows the password is not
// guessing it, and a busy script should not lock its owner out.
func (t *LoginThrottle) Succeeded(ctx context.Context, email string) {
	if t == nil || t.l == nil {
		return
	}
	_ = t.l.Reset(ctx, accountKey(email))
}

func accountKey(email string) string { return "login:acct:" + NormalizeEmail(email) }

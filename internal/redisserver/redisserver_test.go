package redisserver

import (
	"testing"
	"time"
)

func TestNextTickStretchesWithCost(t *testing.T) {
	for _, c := range []struct{ cost, want time.Duration }{
		{0, minTick},
		{time.Millisecond, minTick},
		{50 * time.Millisecond, time.Second},
		{time.Second, maxTick},
	} {
		if got := nextTick(c.cost); got != c.want {
			t.Errorf("nextTick(%v) = %v, want %v", c.cost, got, c.want)
		}
	}
}

// Package redisserver runs the in-process Redis-compatible server used by the
// embedded default, so asynq and rate limits work with no external process.
package redisserver

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Server is a running in-process server.
type Server struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
}

// Clock ticks: miniredis moves TTLs only when told, and each FastForward
// visits (and sorts) every key under the server's single lock, so its cost
// grows with the keyspace: about 5 ms at 10k keys, 0.2 s at 100k on a busy
// 2-core box. The tick is every minTick while that is cheap and stretches
// so the clock never holds the lock more than 1/tickCostShare of the time
// (up to maxTick). TTLs then lapse up to one tick early or late; the
// short-window rate limits this serves see 250 ms at normal sizes.
const (
	minTick       = 250 * time.Millisecond
	maxTick       = 2 * time.Second
	tickCostShare = 20
)

// Start listens on a free loopback port. miniredis only expires keys when
// told time has passed, so a ticker moves its clock with the wall clock:
// asynq's heartbeats and unique locks, and rate-limit windows, depend on
// expiry.
func Start() (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	s := &Server{mr: mr, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.tick()
	return s, nil
}

func (s *Server) tick() {
	defer s.wg.Done()
	t := time.NewTimer(minTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		s.mr.SetTime(now)
		s.mr.FastForward(now.Sub(last))
		last = now
		t.Reset(nextTick(time.Since(now)))
	}
}

// nextTick is the wait before the next clock advance after one that took
// cost.
func nextTick(cost time.Duration) time.Duration {
	return min(max(cost*tickCostShare, minTick), maxTick)
}

// Addr is host:port for Redis clients.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.mr.Addr() + "/0" }

// Close stops the clock and the listener.
func (s *Server) Close() {
	close(s.stop)
	s.wg.Wait()
	s.mr.Close()
}

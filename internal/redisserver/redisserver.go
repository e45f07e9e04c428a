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

// Start listens on a free loopback port. miniredis only expires keys when
// told time has passed, so a ticker moves its clock with the wall clock:
// asynq's leases, heartbeats and unique locks depend on expiry.
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
	const every = 250 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mr.SetTime(now)
			s.mr.FastForward(now.Sub(last))
			last = now
		}
	}
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

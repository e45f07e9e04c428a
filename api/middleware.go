package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loopdesk/loopdesk/internal/outbox"
)

// Gin context keys owned by this package.
const (
	ctxRequestID = "loopdesk.request_id"
	ctxLogger    = "loopdesk.logger"
	ctxUser      = "loopdesk.user"
	ctxResource  = "loopdesk.resource"
	ctxBody      = "loopdesk.body"
)

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-ID"

// RequestID returns the ID of the current request ("" outside the engine).
func RequestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func loggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// validRequestID accepts what a proxy or client would plausibly send and
// nothing that could break a log line or a header.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestIDMiddleware runs first so everything after it, including events
// written to the outbox, carries the ID.
func requestIDMiddleware(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxLogger, logger)
		c.Header(RequestIDHeader, id)
		c.Request = c.Request.WithContext(outbox.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// routeLabel is the route template, never the raw path, so metrics and logs
// cannot grow a series per URL.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loopdesk_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loopdesk_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	m.requests = registerOrExisting(reg, m.requests)
	m.duration = registerOrExisting(reg, m.duration)
	return m
}

// registerOrExisting lets several engines share one registry (tests, or a
// second listener) without a duplicate-registration panic.
func registerOrExisting[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("api: register metric: %v", err))
	}
	return c
}

// observe logs and measures every request after the handler chain is done,
// including requests that panicked (recovery sits inside it).
func observe(m *httpMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		d := time.Since(start)
		status := c.Writer.Status()
		route := routeLabel(c)
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(c.Request.Method, route).Observe(d.Seconds())

		attrs := []slog.Attr{
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", d),
		}
		if u, ok := CurrentUser(c); ok {
			attrs = append(attrs, slog.Int64("user_id", u.ID))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		loggerFrom(c).LogAttrs(context.WithoutCancel(c.Request.Context()), level, "http request", attrs...)
	}
}

// recovery turns a panic into a logged 500 problem; a panic is a bug, so the
// stack goes to the log, never to the client.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // net/http's own signal to drop the connection
			}
			loggerFrom(c).ErrorContext(c.Request.Context(), "panic serving request",
				slog.String("request_id", RequestID(c)),
				slog.String("route", routeLabel(c)),
				slog.Any("panic", r),
				slog.String("stack", string(debug.Stack())))
			WriteProblem(c, http.StatusInternalServerError,
				"an internal error occurred; it has been logged under request id "+RequestID(c))
		}()
		c.Next()
	}
}

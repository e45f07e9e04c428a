// Package api is Loopdesk's JSON HTTP API on gin: middleware, problem+json
// errors, strict decoding, pagination, ETags, idempotency, and an OpenAPI
// 3.1 document generated from the same route table that registers handlers.
package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// Deps is everything the API needs; cmd wires it.
type Deps struct {
	Accounts *accounts.Service
	// Tickets serves /tickets and /workflows; nil leaves those routes
	// answering 503 (accounts-only tests and tools).
	Tickets *tickets.Service
	// SLA serves /sla, /reports/sla and /tickets/{id}/sla, and the sla
	// member of ticket bodies; nil leaves those routes answering 503 and
	// ticket bodies with an empty sla list.
	SLA *sla.Service
	// Knowledge serves /articles, /tickets/{id}/articles and
	// /tickets/{id}/suggested-articles; nil leaves those routes answering 503.
	Knowledge *knowledge.Service
	// Notify serves /notifications; nil leaves those routes answering 503.
	Notify *notify.Service
	DB     *database.DB
	Redis  redis.UniversalClient
	// Throttle rate-limits sign-in; nil disables limiting (tests of other things only).
	Throttle *accounts.LoginThrottle
	Registry *prometheus.Registry // HTTP metrics are registered here and /metrics serves it
	Logger   *slog.Logger
	Version  string
	Ready    []Check // extra named readiness checks (e.g. jobs) for /readyz
}

// NewEngine returns a gin engine with the global middleware and every API
// route installed. cmd mounts it in an http.Server; web adds its pages to
// the same engine afterwards (they get request IDs, logs, metrics, recovery
// and problem+json 404/405s for free).
//
// Client IPs come from the TCP peer only: X-Forwarded-For is ignored until
// the caller names trusted proxies (TrustProxies), because the per-IP
// sign-in limit must not be spoofable.
func NewEngine(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Handlers may pass c itself as a context.Context; with the fallback it
	// still carries the request ID and cancellation of c.Request.
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil)
	e.Use(requestIDMiddleware(d.Logger), observe(newHTTPMetrics(d.Registry)), recovery())
	e.NoRoute(func(c *gin.Context) {
		WriteProblem(c, http.StatusNotFound, "there is no "+c.Request.Method+" "+c.Request.URL.Path+"; the API is described at /api/docs")
	})
	e.NoMethod(func(c *gin.Context) {
		WriteProblem(c, http.StatusMethodNotAllowed, c.Request.Method+" is not supported on "+c.Request.URL.Path+"; see the Allow header")
	})

	h := &handlers{d: d}
	idem := &idempotency{db: d.DB}
	routes := append(append(append(h.routes(), h.knowledgeRoutes()...), h.faqRoutes()...), h.notificationRoutes()...)
	doc := buildOpenAPI(routes, d.Version)
	h.setDocs(doc)
	for _, r := range routes {
		e.Handle(r.Method, r.Path, r.chain(d, idem)...)
	}
	return e
}

// TrustProxies makes the client IP of requests from the listed proxies
// (comma-separated IPs or CIDRs) the one their X-Forwarded-For names, as a
// load balancer in front of several replicas needs for the per-IP sign-in
// limit. Empty trusts none. A malformed entry is an error naming it.
func TrustProxies(e *gin.Engine, list string) error {
	var proxies []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, p)
		}
	}
	if err := e.SetTrustedProxies(proxies); err != nil {
		return fmt.Errorf("trusted proxies %q: each entry must be an IP address or a CIDR such as 10.0.0.0/8: %w", list, err)
	}
	return nil
}

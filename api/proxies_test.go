package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/api"
)

// TestTrustProxies: X-Forwarded-For names the client only when the peer is
// a listed proxy; a malformed entry is refused with a message naming it.
func TestTrustProxies(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	clientIP := func(list, peer string) string {
		t.Helper()
		e := gin.New()
		if err := api.TrustProxies(e, list); err != nil {
			t.Fatal(err)
		}
		e.GET("/ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
		req := httptest.NewRequest(http.MethodGet, "/ip", nil)
		req.RemoteAddr = peer + ":40000"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	cases := []struct{ list, peer, want string }{
		{"", "10.1.2.3", "10.1.2.3"},                          // none trusted: the peer, never the header
		{"10.0.0.0/8", "10.1.2.3", "203.0.113.9"},             // a listed proxy
		{"10.0.0.0/8, 192.0.2.7", "192.0.2.7", "203.0.113.9"}, // a listed address, spaces allowed
		{"10.0.0.0/8", "198.51.100.4", "198.51.100.4"},        // not a proxy: the header is ignored
		{" , 10.0.0.0/8 ,", "10.1.2.3", "203.0.113.9"},        // empty entries skipped
	}
	for _, c := range cases {
		if got := clientIP(c.list, c.peer); got != c.want {
			t.Errorf("proxies %q, peer %s: client IP %s, want %s", c.list, c.peer, got, c.want)
		}
	}
	err := api.TrustProxies(gin.New(), "10.0.0.0/8,lb.internal")
	if err == nil || !strings.Contains(err.Error(), "IP address or a CIDR") {
		t.Fatalf("malformed entry: %v, want a refusal that says what is expected", err)
	}
}

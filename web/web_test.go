package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/web"
)

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func newSite(t *testing.T, db *database.DB) (*httptest.Server, *accounts.Service) {
	gin.SetMode(gin.ReleaseMode)
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	rdb, err := jobs.NewRedisClient(testenv.EmbeddedRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	r := gin.New()
	if err := web.Mount(r, web.Deps{Accounts: acc, Throttle: accounts.NewLoginThrottle(ratelimit.New(rdb, "t:"))}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	if _, err := acc.CreateUser(t.Context(), accounts.NewUser{Email: "ana@example.com", Name: "Ana <b>", Password: "password-1", Roles: []accounts.Role{accounts.RoleAgent}}); err != nil {
		t.Fatal(err)
	}
	return srv, acc
}

func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLoginLogout(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		srv, _ := newSite(t, db)
		c := browser(t)

		// Signed out, the home page sends the browser to the login form.
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		if resp.Request.URL.Path != "/login" || !strings.Contains(page, "Sign in") {
			t.Fatalf("signed-out home ended at %s", resp.Request.URL)
		}
		if h := resp.Header.Get("X-Frame-Options"); h != "DENY" {
			t.Errorf("X-Frame-Options = %q", h)
		}
		tok := csrfField.FindStringSubmatch(page)
		if tok == nil {
			t.Fatal("login form has no CSRF token")
		}

		// A form posted without the token (another site's form) is refused.
		resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"password-1"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("login without CSRF = %d, want 403", resp.StatusCode)
		}
		body(t, resp)

		// Wrong password: 401 and the form again, with the email kept.
		resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"nope"}, "csrf_token": {tok[1]}})
		page = body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Email or password is wrong") || !strings.Contains(page, `value="ana@example.com"`) {
			t.Fatalf("wrong password = %d", resp.StatusCode)
		}

		resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ANA@example.com"}, "password": {"password-1"}, "csrf_token": {tok[1]}, "next": {"//evil.example/"}})
		page = body(t, resp)
		if resp.StatusCode != 200 || resp.Request.URL.Host != strings.TrimPrefix(srv.URL, "http://") || resp.Request.URL.Path != "/" {
			t.Fatalf("login landed on %s (%d)", resp.Request.URL, resp.StatusCode)
		}
		if !strings.Contains(page, "Welcome, Ana &lt;b&gt;") {
			t.Fatalf("home page does not greet the user (escaped): %s", page)
		}
		var session *http.Cookie
		u, _ := url.Parse(srv.URL)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "loopdesk_session" {
				session = ck
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}

		// Logout needs the session's CSRF token.
		resp, _ = c.PostForm(srv.URL+"/logout", url.Values{})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("logout without CSRF = %d, want 403", resp.StatusCode)
		}
		body(t, resp)
		sessTok := csrfField.FindStringSubmatch(page)
		resp, _ = c.PostForm(srv.URL+"/logout", url.Values{"csrf_token": {sessTok[1]}})
		body(t, resp)
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("logout landed on %s", resp.Request.URL)
		}
		resp, _ = c.Get(srv.URL + "/")
		body(t, resp)
		if resp.Request.URL.Path != "/login" {
			t.Fatal("still signed in after logout")
		}
	})
}

func TestSessionCookieFlags(t *testing.T) {
	srv, _ := newSite(t, testenv.SQLite(t))
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := c.Get(srv.URL + "/login")
	page := body(t, resp)
	tok := csrfField.FindStringSubmatch(page)[1]
	resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"password-1"}, "csrf_token": {tok}})
	body(t, resp)
	var setCookie string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "loopdesk_session=") {
			setCookie = h
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("session cookie %q lacks %s", setCookie, want)
		}
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	srv, _ := newSite(t, testenv.SQLite(t))
	c := browser(t)
	resp, _ := c.Get(srv.URL + "/login")
	tok := csrfField.FindStringSubmatch(body(t, resp))[1]
	for i := 0; i < accounts.LoginPerAccount; i++ {
		resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"guess"}, "csrf_token": {tok}})
		body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	// Even the right password is refused once the account's limit is reached.
	resp, _ = c.PostForm(srv.URL+"/login", url.Values{"email": {"ana@example.com"}, "password": {"password-1"}, "csrf_token": {tok}})
	page := body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many sign-in attempts") {
		t.Fatalf("attempt past the limit = %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

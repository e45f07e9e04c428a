package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// FuzzDecodeKnowledge drives arbitrary bytes through Decode with the
// knowledge request types: never a panic, only "accepted" or a 4xx with a
// detail.
func FuzzDecodeKnowledge(f *testing.F) {
	for _, s := range []string{
		`{"title":"如何申请退款","body":"## 步骤\n<script>alert(1)</script>","tags":["退款"],"language":"zh","audience":"public"}`,
		`{"from_ticket_id":12}`, `{"from_ticket_id":-1}`, `{"from_ticket_id":null}`, `{"title":"x"}`,
		`{"title":null,"body":7}`, `{"tags":"a"}`, `{"language":"fr"}`, `{"audience":["public"]}`,
		`{"event":"approve","comment":"ok","fields":{"a":"b"}}`, `{"event":""}`, `{"helpful":"yes"}`, `{"helpful":true,"ticket_id":1e99}`,
		`{"reason":"","ticket_id":0}`, `{"article_id":1,"kind":"solved_by"}`, `{"article_id":"1"}`, `{"article_id":0,"kind":"x"}`,
		`{"Title":"x"}`, `{}`, `[]`, `null`, "{\"title\":\"\xff\"}", strings.Repeat(`{"a":`, 1000),
	} {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.ReleaseMode)
	targets := []func() any{
		func() any { return new(CreateArticleRequest) },
		func() any { return new(UpdateArticleRequest) },
		func() any { return new(ArticleTransitionRequest) },
		func() any { return new(FeedbackRequest) },
		func() any { return new(FlagRequest) },
		func() any { return new(LinkRequest) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range targets {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest("POST", "/fuzz", bytes.NewReader(body))
			c.Request.Header.Set("Content-Type", "application/json")
			ok := Decode(c, mk())
			status := c.Writer.Status()
			if ok && status != http.StatusOK {
				t.Fatalf("accepted but wrote %d", status)
			}
			if !ok && (status < 400 || status > 499 || !strings.Contains(w.Body.String(), `"detail"`)) {
				t.Fatalf("rejected with %d for %q: %s", status, body, w.Body.String())
			}
		}
	})
}

func TestSnippetHTML(t *testing.T) {
	got := snippetHTML(`<b>«退款»</b> & "«PIN»"`)
	if want := `&lt;b&gt;<mark>退款</mark>&lt;/b&gt; &amp; &#34;<mark>PIN</mark>&#34;`; got != want {
		t.Fatalf("got %s", got)
	}
}

package workflow

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAvailableOnSupport(t *testing.T) {
	d := builtin(t, "support")
	withArticle := agent()
	withArticle.LinkedArticles = 1
	late := requester()
	late.Now = t0.Add(200 * time.Hour)
	dept := Subject{Roles: []string{RoleDepartmentMember}, StateEnteredAt: t0, Now: t0}

	cases := []struct {
		name  string
		state string
		s     Subject
		want  []Option
	}{
		{"requester on a new ticket", "new", requester(), []Option{}},
		{"agent on a new ticket", "new", agent(), []Option{
			{Event: "open", Label: "Open", To: "open"},
			{Event: "pick_up", Label: "Pick up", To: "in_progress"},
			{Event: "escalate", Label: "Escalate", To: "escalated", RequireFields: []string{"reason"}},
			{Event: "resolve", Label: "Resolve", To: "resolved", RequireFields: []string{"resolution", NoArticleReasonField}},
			{Event: "cancel", Label: "Cancel", To: "closed", RequireFields: []string{"reason"}},
		}},
		{"agent with a linked article", "escalated", withArticle, []Option{
			{Event: "pick_up", Label: "Pick up", To: "in_progress"},
			{Event: "wait_customer", Label: "Wait for customer", To: "pending_customer"},
			{Event: "resolve", Label: "Resolve", To: "resolved", RequireFields: []string{"resolution"}},
		}},
		{"requester waiting", "pending_customer", requester(), []Option{
			{Event: "customer_replied", Label: "Customer replied", To: "open"},
		}},
		{"admin waiting", "pending_customer", admin(), []Option{
			{Event: "customer_replied", Label: "Customer replied", To: "open"},
			{Event: "resolve", Label: "Resolve", To: "resolved", RequireFields: []string{"resolution", NoArticleReasonField}},
			{Event: "cancel", Label: "Cancel", To: "closed", RequireFields: []string{"reason"}},
		}},
		{"requester after resolution", "resolved", requester(), []Option{
			{Event: "close", Label: "Close", To: "closed"},
			{Event: "reopen", Label: "Reopen", To: "open"},
		}},
		{"requester after the reopen window", "resolved", late, []Option{
			{Event: "close", Label: "Close", To: "closed"},
		}},
		{"department member on a resolved ticket", "resolved", dept, []Option{
			{Event: "close", Label: "Close", To: "closed"},
			{Event: "reopen", Label: "Reopen", To: "open"},
		}},
		{"nobody leaves closed", "closed", admin(), []Option{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Available(tc.state, tc.s)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Available(%s):\n got  %+v\n want %+v", tc.state, got, tc.want)
			}
		})
	}
	if got := d.Available("limbo", admin()); got != nil {
		t.Fatalf("unknown state has options %v", got)
	}
}

func TestAvailablePreconditionsHideEvents(t *testing.T) {
	cr := builtin(t, "change_request")
	if names := optionNames(cr.Available("approved", agent())); !reflect.DeepEqual(names, []string{"cancel"}) {
		t.Fatalf("without an assignee: %v", names)
	}
	s := agent()
	s.HasAssignee = true
	if names := optionNames(cr.Available("approved", s)); !reflect.DeepEqual(names, []string{"start_implementation", "cancel"}) {
		t.Fatalf("with an assignee: %v", names)
	}
	if names := optionNames(cr.Available("awaiting_approval", admin())); !reflect.DeepEqual(names, []string{"approve", "reject"}) {
		t.Fatalf("admin awaiting approval: %v", names)
	}
}

// The package must stay pure: no other loopdesk package, no database, no HTTP.
func TestImportsStayPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/loopdesk/") || strings.HasPrefix(path, "database/") ||
				strings.HasPrefix(path, "net/") || strings.Contains(path, "gorm") || strings.Contains(path, "gin-gonic") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

package loopdesk_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Domain packages must stay free of transport and job plumbing so they can be
// tested alone and reused from HTTP, jobs and the CLI alike (DESIGN.md).
var domainPackages = []string{"accounts", "tickets", "workflow", "sla", "knowledge", "notify", "reports", "search"}

var forbiddenForDomain = []string{
	"github.com/gin-gonic/gin",
	"github.com/hibiken/asynq",
	"github.com/robfig/cron",
	"github.com/loopdesk/loopdesk/api",
	"github.com/loopdesk/loopdesk/web",
	"github.com/loopdesk/loopdesk/cmd",
	"github.com/loopdesk/loopdesk/jobs",
}

// Pure packages may not touch storage or HTTP at all.
var purePackages = map[string][]string{
	"workflow": {"gorm.io/gorm", "net/http", "github.com/loopdesk/loopdesk/internal/database"},
	"search":   {"net/http", "github.com/loopdesk/loopdesk/accounts", "github.com/loopdesk/loopdesk/tickets", "github.com/loopdesk/loopdesk/knowledge"},
}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func TestLayering(t *testing.T) {
	const mod = "github.com/loopdesk/loopdesk/"
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, mod)
		top, _, _ := strings.Cut(rel, "/")
		if top != "jobs" {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "github.com/hibiken/asynq") || strings.HasPrefix(imp, "github.com/robfig/cron") {
					t.Errorf("%s imports %s: only jobs talks to asynq and cron", p.ImportPath, imp)
				}
			}
		}
		if !contains(domainPackages, top) {
			continue
		}
		checked++
		forbidden := append(append([]string{}, forbiddenForDomain...), purePackages[top]...)
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: domain packages must not (see DESIGN.md, Layout)", p.ImportPath, dep)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no domain package found: the layering test checked nothing")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

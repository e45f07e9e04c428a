package api

import (
	"reflect"
	"slices"
	"testing"

	"github.com/loopdesk/loopdesk/workflow"
)

// PublishWorkflowRequest only documents what workflow.Parse reads; it must
// name the same fields or the document lies.
func TestPublishWorkflowRequestMatchesDefinition(t *testing.T) {
	names := func(t reflect.Type) []string {
		var out []string
		for _, f := range fieldsOf(t).list {
			out = append(out, f.name)
		}
		slices.Sort(out)
		return out
	}
	doc, real := names(reflect.TypeFor[PublishWorkflowRequest]()), names(reflect.TypeFor[workflow.Definition]())
	if !slices.Equal(doc, real) {
		t.Fatalf("PublishWorkflowRequest %v, workflow.Definition %v", doc, real)
	}
}

func TestClosestQueryName(t *testing.T) {
	allowed := ticketListQuery()
	var names []string
	for _, p := range allowed {
		names = append(names, p.Name)
	}
	for in, want := range map[string]string{"stauts": "status", "Status": "status", "priorty": "priority", "tags": "tag",
		"assignee": "", "department": "", "xyz": "", "limt": "limit", "curser": "cursor", "qq": "q"} {
		if got := closest(in, append(names, "limit", "cursor")); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

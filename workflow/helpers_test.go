package workflow

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var allRoles = []string{RoleAdmin, RoleAgent, RoleDepartmentMember, RoleKnowledgeEditor, RoleRequester}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func builtin(t testing.TB, key string) *Definition {
	t.Helper()
	for _, d := range Builtin() {
		if d.Key == key {
			return d
		}
	}
	t.Fatalf("no builtin %q", key)
	return nil
}

func agent() Subject {
	return Subject{Roles: []string{RoleAgent}, StateEnteredAt: t0, Now: t0.Add(time.Hour)}
}

func admin() Subject {
	return Subject{Roles: []string{RoleAdmin}, StateEnteredAt: t0, Now: t0.Add(time.Hour)}
}

func requester() Subject {
	return Subject{Roles: []string{RoleRequester}, IsRequester: true, StateEnteredAt: t0, Now: t0.Add(time.Hour)}
}

// everything passes every guard of every builtin.
func everything() Subject {
	return Subject{
		Roles: allRoles, Can: func(string) bool { return true }, IsRequester: true,
		HasAssignee: true, HasDepartment: true, LinkedArticles: 1,
		Fields:         map[string]string{"reason": "r", "resolution": "r", "comment": "c", NoArticleReasonField: "n"},
		StateEnteredAt: t0, Now: t0,
	}
}

func withFields(s Subject, kv ...string) Subject {
	s.Fields = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Fields[kv[i]] = kv[i+1]
	}
	return s
}

func optionNames(opts []Option) []string {
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.Event
	}
	return names
}

func guardError(t *testing.T, err error) *GuardError {
	t.Helper()
	var ge *GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("want *GuardError, got %T: %v", err, err)
	}
	return ge
}

func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %T: %v", err, err)
	}
	paths := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		paths[i] = p.Path
	}
	return paths
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

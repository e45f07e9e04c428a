package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var testOpts = ValidateOptions{
	Roles:       allRoles,
	Permissions: []string{"tickets:approve", "tickets:close"},
}

// small is a valid definition each invalid case breaks in one way.
func small() *Definition {
	return &Definition{
		Key: "small", Name: "Small", Initial: "new",
		States: []State{
			{Name: "new", Category: CategoryNew, SLA: SLARunning},
			{Name: "open", Category: CategoryOpen, SLA: SLARunning},
			{Name: "closed", Category: CategoryClosed, SLA: SLAStopped},
		},
		Events: []Event{
			{Name: "start", From: []string{"new"}, To: "open", Guards: Guards{Roles: []string{RoleAgent}}},
			{Name: "finish", From: []string{"new", "open"}, To: "closed",
				Actions: []Action{{Type: ActionNotify, Notify: "requester"}}},
		},
	}
}

func TestSmallAndBuiltinsValidate(t *testing.T) {
	if err := small().Validate(testOpts); err != nil {
		t.Fatalf("small: %v", err)
	}
	keys := []string{}
	for _, d := range Builtin() {
		keys = append(keys, d.Key)
		if err := d.Validate(ValidateOptions{Roles: allRoles}); err != nil {
			t.Errorf("builtin %s: %v", d.Key, err)
		}
		if err := d.Validate(ValidateOptions{}); err != nil {
			t.Errorf("builtin %s without opts: %v", d.Key, err)
		}
	}
	if want := []string{"support", "change_request", "article"}; !slices.Equal(keys, want) {
		t.Fatalf("builtin keys %v, want %v", keys, want)
	}
}

func TestBuiltinReturnsFreshCopies(t *testing.T) {
	a := Builtin()[0]
	a.States[0].Name = "mutated"
	a.Events[0].Guards.Roles[0] = "mutated"
	b := Builtin()[0]
	if b.States[0].Name != "new" || b.Events[0].Guards.Roles[0] != RoleAdmin {
		t.Fatalf("Builtin shares memory between calls: %+v", b.Events[0])
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d *Definition)
		paths  []string
		msg    string // a substring of the first expected path's message
	}{
		{"empty key", func(d *Definition) { d.Key = "" }, []string{"key"}, "required"},
		{"key with upper case", func(d *Definition) { d.Key = "Support" }, []string{"key"}, "must match"},
		{"key of one letter", func(d *Definition) { d.Key = "s" }, []string{"key"}, "must match"},
		{"key too long", func(d *Definition) { d.Key = strings.Repeat("k", 41) }, []string{"key"}, "must match"},
		{"negative version", func(d *Definition) { d.Version = -1 }, []string{"version"}, "negative"},
		{"blank name", func(d *Definition) { d.Name = "  " }, []string{"name"}, "required"},
		{"no states", func(d *Definition) { d.States = nil }, []string{"states", "initial", "events[0].to", "events[0].from[0]"}, "at least one state"},
		{"initial missing", func(d *Definition) { d.Initial = "" }, []string{"initial"}, "required"},
		{"initial unknown", func(d *Definition) { d.Initial = "nowhere" }, []string{"initial"}, `"nowhere"`},
		{"duplicate state", func(d *Definition) {
			d.States = append(d.States, State{Name: "open", Category: CategoryOpen, SLA: SLARunning})
		}, []string{"states[3].name"}, "duplicates states[1].name"},
		{"duplicate event", func(d *Definition) {
			d.Events = append(d.Events, Event{Name: "start", From: []string{"open"}, To: "closed"})
		}, []string{"events[2].name"}, "duplicates events[0].name"},
		{"state and event share a name", func(d *Definition) { d.Events[0].Name = "closed" }, []string{"events[0].name"}, "also the name of states[2]"},
		{"unknown category", func(d *Definition) { d.States[1].Category = "active" }, []string{"states[1].category"}, `"active" is not a category`},
		{"missing category", func(d *Definition) { d.States[1].Category = "" }, []string{"states[1].category"}, "not a category"},
		{"unknown sla", func(d *Definition) { d.States[1].SLA = "ticking" }, []string{"states[1].sla"}, "not an SLA behaviour"},
		{"event without from", func(d *Definition) { d.Events[0].From = nil }, []string{"events[0].from", "states[1]"}, "at least one source"},
		{"from unknown state", func(d *Definition) { d.Events[1].From = []string{"new", "limbo"} }, []string{"events[1].from[1]"}, `unknown state "limbo"`},
		{"to unknown state", func(d *Definition) { d.Events[0].To = "limbo" }, []string{"events[0].to"}, `unknown state "limbo"`},
		{"to missing", func(d *Definition) { d.Events[0].To = "" }, []string{"events[0].to"}, "required"},
		{"duplicate from", func(d *Definition) { d.Events[1].From = []string{"new", "open", "new"} }, []string{"events[1].from[2]"}, "duplicates from[0]"},
		{"unreachable state", func(d *Definition) {
			d.States = append(d.States, State{Name: "island", Category: CategoryClosed, SLA: SLAStopped})
		}, []string{"states[3]"}, "unreachable"},
		{"trap state", func(d *Definition) {
			d.States = append(d.States, State{Name: "trap", Category: CategoryOpen, SLA: SLARunning})
			d.Events = append(d.Events, Event{Name: "fall", From: []string{"open"}, To: "trap"})
		}, []string{"states[3]"}, "no path"},
		{"no closed state", func(d *Definition) { d.States[2].Category = CategoryResolved }, []string{"states"}, `category "closed"`},
		{"unknown role", func(d *Definition) { d.Events[0].Guards.Roles = []string{"wizard"} }, []string{"events[0].guards.roles[0]"}, `unknown role "wizard"`},
		{"bad role name", func(d *Definition) { d.Events[0].Guards.Roles = []string{"agent", "Bad Role"} }, []string{"events[0].guards.roles[1]"}, "must match"},
		{"unknown permission", func(d *Definition) { d.Events[0].Guards.Permissions = []string{"tickets:explode"} }, []string{"events[0].guards.permissions[0]"}, "unknown permission"},
		{"malformed permission", func(d *Definition) { d.Events[0].Guards.Permissions = []string{"tickets:approve", "approve"} }, []string{"events[0].guards.permissions[1]"}, "resource:action"},
		{"bad within", func(d *Definition) { d.Events[0].Guards.Within = "a week" }, []string{"events[0].guards.within"}, "Go duration"},
		{"zero within", func(d *Definition) { d.Events[0].Guards.Within = "0s" }, []string{"events[0].guards.within"}, "positive"},
		{"negative within", func(d *Definition) { d.Events[0].Guards.Within = "-1h" }, []string{"events[0].guards.within"}, "positive"},
		{"bad require field", func(d *Definition) { d.Events[0].Guards.RequireFields = []string{"Reason"} }, []string{"events[0].guards.require_fields[0]"}, "must match"},
		{"unknown action", func(d *Definition) { d.Events[0].Actions = []Action{{Type: "explode"}} }, []string{"events[0].actions[0].type"}, `"explode" is not an action`},
		{"set_priority P5", func(d *Definition) { d.Events[0].Actions = []Action{{Type: ActionSetPriority, Priority: "P5"}} }, []string{"events[0].actions[0].priority"}, `"P5"`},
		{"set_priority without priority", func(d *Definition) { d.Events[0].Actions = []Action{{Type: ActionSetPriority}} }, []string{"events[0].actions[0].priority"}, "not a priority"},
		{"assign_department without id", func(d *Definition) { d.Events[0].Actions = []Action{{Type: ActionAssignDepartment}} }, []string{"events[0].actions[0].department_id"}, "required"},
		{"notify nobody", func(d *Definition) { d.Events[1].Actions[0].Notify = "everyone" }, []string{"events[1].actions[0].notify"}, "not a notify target"},
		{"field on the wrong action", func(d *Definition) { d.Events[1].Actions[0].Priority = "P1" }, []string{"events[1].actions[0].priority"}, "only applies to set_priority"},
		{"bad state name", func(d *Definition) { d.States[1].Name = "Open"; d.Events[0].To = "Open" }, []string{"states[1].name"}, "must match"},
		{"empty state name", func(d *Definition) { d.States[1].Name = "" }, []string{"states[1].name", "events[0].to"}, "required"},
		{"bad event name", func(d *Definition) { d.Events[0].Name = "pick-up" }, []string{"events[0].name"}, "must match"},
		{"too many states", func(d *Definition) {
			for i := range MaxStates {
				name := fmt.Sprintf("s%d", i)
				d.States = append(d.States, State{Name: name, Category: CategoryOpen, SLA: SLARunning})
				d.Events = append(d.Events, Event{Name: "go_" + name, From: []string{"new"}, To: name},
					Event{Name: "done_" + name, From: []string{name}, To: "closed"})
			}
		}, []string{"states", "events"}, "more than the 100 allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := small()
			tc.mutate(d)
			err := d.Validate(testOpts)
			paths := problemPaths(t, err)
			if !hasAll(paths, tc.paths) {
				t.Fatalf("problems %v; want all of %v\n%v", paths, tc.paths, err)
			}
			var ve *ValidationError
			errors.As(err, &ve)
			for _, p := range ve.Problems {
				if p.Path == tc.paths[0] && strings.Contains(p.Message, tc.msg) {
					return
				}
			}
			t.Fatalf("no problem at %s says %q: %v", tc.paths[0], tc.msg, err)
		})
	}
}

func TestEventMayShareTheNameOfItsTarget(t *testing.T) {
	d := small()
	d.Events[0].Name = "open" // new -> open, like the builtin support event
	if err := d.Validate(testOpts); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesOnlyCheckedWhenListed(t *testing.T) {
	d := small()
	d.Events[0].Guards.Roles = []string{"wizard"}
	d.Events[0].Guards.Permissions = []string{"spells:cast"}
	if err := d.Validate(ValidateOptions{}); err != nil {
		t.Fatalf("without lists, any well-formed role or permission is fine: %v", err)
	}
}

func TestValidateListsEveryProblemAtOnce(t *testing.T) {
	d := &Definition{
		Key: "Bad-Key", Version: -3, Name: "", Initial: "start",
		States: []State{
			{Name: "new", Category: "fresh", SLA: SLARunning},               // 0
			{Name: "new", Category: CategoryOpen, SLA: "ticking"},           // 1
			{Name: "work", Category: CategoryOpen, SLA: SLARunning},         // 2
			{Name: "Orphan", Category: CategoryPending, SLA: SLAPaused},     // 3
			{Name: "resolved", Category: CategoryResolved, SLA: SLAStopped}, // 4
		},
		Events: []Event{
			{Name: "resolved", From: []string{"new"}, To: "work", // 0
				Guards: Guards{Roles: []string{"wizard"}, Permissions: []string{"nope"}, Within: "soon"}},
			{Name: "resolve", From: nil, To: "resolved", // 1
				Actions: []Action{{Type: ActionSetPriority, Priority: "P9"}, {Type: "teleport"}}},
			{Name: "resolve", From: []string{"work", "work", "limbo"}, To: "nowhere", // 2
				Actions: []Action{{Type: ActionAssignDepartment}, {Type: ActionNotify, Notify: "boss"}}},
		},
	}
	err := d.Validate(testOpts)
	want := []string{
		"key", "version", "name",
		"states[0].category", "states[1].name", "states[1].sla", "states[3].name",
		"events[0].name",
		"events[0].guards.roles[0]", "events[0].guards.permissions[0]", "events[0].guards.within",
		"events[1].from",
		"events[1].actions[0].priority", "events[1].actions[1].type",
		"events[2].name", "events[2].from[1]", "events[2].from[2]", "events[2].to",
		"events[2].actions[0].department_id", "events[2].actions[1].notify",
		"initial", "states",
	}
	got := problemPaths(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n got  %q\n want %q\n%v", got, want, err)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("workflow: invalid definition (%d problems): key: ", len(want))) {
		t.Fatalf("Error() = %q", err)
	}
}

func TestValidateNil(t *testing.T) {
	var d *Definition
	if err := d.Validate(testOpts); err == nil {
		t.Fatal("nil definition validated")
	}
}

package workflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits keep a definition something a person can review and keep Fire and
// Available cheap.
const (
	MaxStates = 100
	MaxEvents = 200
)

var (
	keyPattern        = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)
	namePattern       = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	permissionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}:[a-z][a-z0-9_]{0,39}$`)
)

var (
	categories    = []Category{CategoryNew, CategoryOpen, CategoryPending, CategoryResolved, CategoryClosed}
	slaBehaviours = []SLABehaviour{SLARunning, SLAPaused, SLAStopped}
	actionTypes   = []string{ActionAssignDepartment, ActionUnassign, ActionAssignActor, ActionSetPriority, ActionNotify}
	priorities    = []string{"P1", "P2", "P3", "P4"}
	notifyTargets = []string{"requester", "assignee", "department", "lead"}
)

// ValidateOptions lists the names guards may refer to. An empty list means
// "do not check names" (the format is still checked).
type ValidateOptions struct {
	Roles       []string
	Permissions []string
}

// Problem is one thing wrong with a definition. Path points at the field in
// the document, e.g. "states[2].name" or "events[3].guards.roles[0]".
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every problem of a definition, so an admin can fix
// them in one round.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Message
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("workflow: invalid definition (%d %s): %s", len(parts), noun, strings.Join(parts, "; "))
}

type validator struct {
	opts     ValidateOptions
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) name(path, name string) {
	switch {
	case name == "":
		v.add(path, "is required")
	case !namePattern.MatchString(name):
		v.add(path, "%q must match %s (lower case letters, digits, underscores)", name, namePattern)
	}
}

// Validate returns nil or a *ValidationError listing every problem at once.
func (d *Definition) Validate(opts ValidateOptions) error {
	if d == nil {
		return &ValidationError{Problems: []Problem{{Path: "", Message: "definition is missing"}}}
	}
	v := &validator{opts: opts}
	switch {
	case d.Key == "":
		v.add("key", "is required")
	case !keyPattern.MatchString(d.Key):
		v.add("key", "%q must match %s", d.Key, keyPattern)
	}
	if d.Version < 0 {
		v.add("version", "must not be negative (got %d)", d.Version)
	}
	if strings.TrimSpace(d.Name) == "" {
		v.add("name", "is required")
	}

	states := v.states(d)
	v.events(d, states)
	if len(d.Events) > MaxEvents {
		v.add("events", "has %d events, more than the %d allowed", len(d.Events), MaxEvents)
	}

	switch _, ok := states[d.Initial]; {
	case d.Initial == "":
		v.add("initial", "is required")
	case !ok:
		v.add("initial", "names unknown state %q", d.Initial)
	}
	v.graph(d, states)

	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// states checks each state and returns the index of the first state of
// each name.
func (v *validator) states(d *Definition) map[string]int {
	if len(d.States) == 0 {
		v.add("states", "needs at least one state")
	}
	if len(d.States) > MaxStates {
		v.add("states", "has %d states, more than the %d allowed", len(d.States), MaxStates)
	}
	index := make(map[string]int, len(d.States))
	for i, st := range d.States {
		p := fmt.Sprintf("states[%d]", i)
		v.name(p+".name", st.Name)
		if j, dup := index[st.Name]; dup && st.Name != "" {
			v.add(p+".name", "duplicates states[%d].name %q", j, st.Name)
		} else if st.Name != "" {
			index[st.Name] = i
		}
		if !slices.Contains(categories, st.Category) {
			v.add(p+".category", "%q is not a category; use one of %s", st.Category, join(categories))
		}
		if !slices.Contains(slaBehaviours, st.SLA) {
			v.add(p+".sla", "%q is not an SLA behaviour; use one of %s", st.SLA, join(slaBehaviours))
		}
	}
	return index
}

func (v *validator) events(d *Definition, states map[string]int) {
	seen := make(map[string]int, len(d.Events))
	for i, ev := range d.Events {
		p := fmt.Sprintf("events[%d]", i)
		v.name(p+".name", ev.Name)
		if j, dup := seen[ev.Name]; dup && ev.Name != "" {
			v.add(p+".name", "duplicates events[%d].name %q", j, ev.Name)
		} else if ev.Name != "" {
			seen[ev.Name] = i
		}
		// An event may share its name only with the state it leads to (the
		// builtin "open" event enters the "open" state); any other clash
		// makes transitions and statuses easy to confuse. Fire registers
		// only the generic before_event callback, so looplab/fsm's
		// name-based callback lookup is not ambiguous either way.
		if j, clash := states[ev.Name]; clash && ev.Name != "" && ev.Name != ev.To {
			v.add(p+".name", "%q is also the name of states[%d]; an event may only share the name of the state it leads to", ev.Name, j)
		}

		if len(ev.From) == 0 {
			v.add(p+".from", "needs at least one source state")
		}
		from := make(map[string]int, len(ev.From))
		for k, src := range ev.From {
			fp := fmt.Sprintf("%s.from[%d]", p, k)
			if j, dup := from[src]; dup {
				v.add(fp, "duplicates from[%d] %q", j, src)
				continue
			}
			from[src] = k
			if _, ok := states[src]; !ok {
				v.add(fp, "names unknown state %q", src)
			}
		}
		if ev.To == "" {
			v.add(p+".to", "is required")
		} else if _, ok := states[ev.To]; !ok {
			v.add(p+".to", "names unknown state %q", ev.To)
		}
		v.guards(p+".guards", ev.Guards)
		for k, a := range ev.Actions {
			v.action(fmt.Sprintf("%s.actions[%d]", p, k), a)
		}
	}
}

func (v *validator) guards(p string, g Guards) {
	for k, r := range g.Roles {
		rp := fmt.Sprintf("%s.roles[%d]", p, k)
		v.name(rp, r)
		if len(v.opts.Roles) > 0 && r != "" && !slices.Contains(v.opts.Roles, r) {
			v.add(rp, "unknown role %q; known roles: %s", r, strings.Join(v.opts.Roles, ", "))
		}
	}
	for k, perm := range g.Permissions {
		pp := fmt.Sprintf("%s.permissions[%d]", p, k)
		switch {
		case !permissionPattern.MatchString(perm):
			v.add(pp, "%q must look like resource:action (e.g. tickets:approve)", perm)
		case len(v.opts.Permissions) > 0 && !slices.Contains(v.opts.Permissions, perm):
			v.add(pp, "unknown permission %q", perm)
		}
	}
	for k, f := range g.RequireFields {
		v.name(fmt.Sprintf("%s.require_fields[%d]", p, k), f)
	}
	if g.Within != "" {
		if dur, err := time.ParseDuration(g.Within); err != nil {
			v.add(p+".within", "%q is not a Go duration such as \"168h\" or \"30m\"", g.Within)
		} else if dur <= 0 {
			v.add(p+".within", "must be positive (got %q)", g.Within)
		}
	}
}

func (v *validator) action(p string, a Action) {
	if !slices.Contains(actionTypes, a.Type) {
		v.add(p+".type", "%q is not an action; use one of %s", a.Type, strings.Join(actionTypes, ", "))
		return
	}
	// A field set on the wrong action is almost always a typo in the type.
	if a.Type == ActionSetPriority {
		if !slices.Contains(priorities, a.Priority) {
			v.add(p+".priority", "%q is not a priority; use one of %s", a.Priority, strings.Join(priorities, ", "))
		}
	} else if a.Priority != "" {
		v.add(p+".priority", "only applies to %s", ActionSetPriority)
	}
	if a.Type == ActionAssignDepartment {
		if a.DepartmentID <= 0 {
			v.add(p+".department_id", "is required for %s", ActionAssignDepartment)
		}
	} else if a.DepartmentID != 0 {
		v.add(p+".department_id", "only applies to %s", ActionAssignDepartment)
	}
	if a.Type == ActionNotify {
		if !slices.Contains(notifyTargets, a.Notify) {
			v.add(p+".notify", "%q is not a notify target; use one of %s", a.Notify, strings.Join(notifyTargets, ", "))
		}
	} else if a.Notify != "" {
		v.add(p+".notify", "only applies to %s", ActionNotify)
	}
}

// graph checks that every state is reachable from the initial state and can
// reach a closed state, so no ticket is born orphaned or trapped.
func (v *validator) graph(d *Definition, states map[string]int) {
	n := len(d.States)
	if n == 0 {
		return
	}
	next := make([][]int, n)
	prev := make([][]int, n)
	for _, ev := range d.Events {
		to, ok := states[ev.To]
		if !ok {
			continue
		}
		for _, src := range ev.From {
			if from, ok := states[src]; ok {
				next[from] = append(next[from], to)
				prev[to] = append(prev[to], from)
			}
		}
	}

	// Only the first state of each name is a node; duplicates are reported
	// already and would only repeat the same graph problems.
	node := func(i int) bool { j, ok := states[d.States[i].Name]; return ok && j == i }

	if start, ok := states[d.Initial]; ok {
		reached := walk(n, []int{start}, next)
		for i := range n {
			if node(i) && !reached[i] {
				v.add(fmt.Sprintf("states[%d]", i), "%q is unreachable from the initial state %q", d.States[i].Name, d.Initial)
			}
		}
	}

	var closed []int
	for i := range n {
		if node(i) && d.States[i].Category == CategoryClosed {
			closed = append(closed, i)
		}
	}
	if len(closed) == 0 {
		v.add("states", "needs at least one state with category %q", CategoryClosed)
		return
	}
	canClose := walk(n, closed, prev)
	for i := range n {
		if node(i) && !canClose[i] {
			v.add(fmt.Sprintf("states[%d]", i), "%q has no path to a %q state", d.States[i].Name, CategoryClosed)
		}
	}
}

func walk(n int, starts []int, edges [][]int) []bool {
	seen := make([]bool, n)
	queue := slices.Clone(starts)
	for _, s := range starts {
		seen[s] = true
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, nx := range edges[cur] {
			if !seen[nx] {
				seen[nx] = true
				queue = append(queue, nx)
			}
		}
	}
	return seen
}

func join[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

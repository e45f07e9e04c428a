package workflow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func drawSubject(t *rapid.T) Subject {
	var roles []string
	for _, r := range allRoles {
		if rapid.Bool().Draw(t, "role_"+r) {
			roles = append(roles, r)
		}
	}
	fields := map[string]string{}
	for _, f := range []string{"reason", "resolution", "comment", NoArticleReasonField} {
		fields[f] = rapid.SampledFrom([]string{"", " \t", "given"}).Draw(t, "field_"+f)
	}
	var can func(string) bool
	if rapid.Bool().Draw(t, "can_all") {
		can = func(string) bool { return true }
	}
	return Subject{
		Roles:          roles,
		Can:            can,
		IsRequester:    rapid.Bool().Draw(t, "is_requester"),
		HasAssignee:    rapid.Bool().Draw(t, "has_assignee"),
		HasDepartment:  rapid.Bool().Draw(t, "has_department"),
		LinkedArticles: rapid.IntRange(0, 2).Draw(t, "linked_articles"),
		Fields:         fields,
		StateEnteredAt: t0,
		Now:            t0.Add(time.Duration(rapid.IntRange(0, 400).Draw(t, "hours_in_state")) * time.Hour),
	}
}

// TestFireProperties fires random events by random subjects at each builtin
// and checks that Fire agrees with the definition and with Available.
func TestFireProperties(t *testing.T) {
	for _, d := range Builtin() {
		t.Run(d.Key, func(t *testing.T) {
			names := []string{"", "bogus"}
			for _, ev := range d.Events {
				names = append(names, ev.Name)
			}
			rapid.Check(t, func(t *rapid.T) {
				ctx := context.Background()
				state := d.Initial
				var fired []string
				steps := rapid.IntRange(1, 40).Draw(t, "steps")
				for range steps {
					name := rapid.SampledFrom(names).Draw(t, "event")
					s := drawSubject(t)
					opts := d.Available(state, s)

					// Fire succeeds exactly when Available lists the event and
					// the request carries every field the option names.
					i := slices.IndexFunc(opts, func(o Option) bool { return o.Event == name })
					expectOK := i >= 0
					if expectOK {
						for _, f := range opts[i].RequireFields {
							if blank(s.Fields, f) {
								expectOK = false
							}
						}
					}

					res, err := d.Fire(ctx, state, name, s)
					if err != nil {
						if expectOK {
							t.Fatalf("%s from %s: Available listed it with its fields, Fire said %v", name, state, err)
						}
						var na *NotAllowedError
						var ge *GuardError
						switch {
						case errors.As(err, &na):
							if !slices.Equal(na.Allowed, optionNames(opts)) {
								t.Fatalf("Allowed %v, Available %v", na.Allowed, optionNames(opts))
							}
						case errors.As(err, &ge):
							if ge.Event != name || ge.Message == "" {
								t.Fatalf("bad guard error %+v", ge)
							}
						default:
							t.Fatalf("%s from %s: unexpected error %T %v", name, state, err, err)
						}
						continue
					}
					if !expectOK {
						t.Fatalf("%s from %s fired although Available = %+v and fields %v", name, state, opts, s.Fields)
					}
					ev, _ := d.Event(name)
					to, ok := d.State(res.To)
					if !ok || res.To != ev.To || res.From != state || res.Category != to.Category || res.SLA != to.SLA {
						t.Fatalf("%s from %s: result %+v, event goes to %s", name, state, res, ev.To)
					}
					state = res.To
					fired = append(fired, name)
				}

				replay := d.Initial
				for _, name := range fired {
					res, err := d.Fire(ctx, replay, name, everything())
					if err != nil {
						t.Fatalf("replaying %v: %s from %s: %v", fired, name, replay, err)
					}
					replay = res.To
				}
				if replay != state {
					t.Fatalf("replaying %v ends in %s, not %s", fired, replay, state)
				}
			})
		})
	}
}

package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParseValidate feeds arbitrary bytes through Parse, Validate,
// Available and Fire: bad input must come back as an error, never a panic.
// Run: go test -run '^$' -fuzz FuzzParseValidate -fuzztime 30s ./workflow/
// Add -fuzzminimizetime 2000x for a productive short run: Go minimises
// each new input with a pass quadratic in its length, and inputs grown
// from the ~2 KB builtin seeds otherwise spend the whole 30 s there.
func FuzzParseValidate(f *testing.F) {
	for _, d := range Builtin() {
		js, _ := json.Marshal(d)
		ym, _ := yaml.Marshal(d)
		f.Add(js, "resolve")
		f.Add(ym, "approve")
	}
	for _, doc := range []string{
		``, `{`, `}`, `[]`, `null`, `{"key":1}`, `{"states":[{"name":"a"}]}`, "{\"key\":\"x\"}\n{}",
		`{"key":"ab","name":"n","initial":"a","states":[{"name":"a","category":"closed","sla":"stopped"}],"events":[{"name":"e","from":["a","a"],"to":"a","guards":{"within":"-5s"}}]}`,
		`{"key":"ab","name":"n","initial":"a","states":[{"name":"a","category":"new","sla":"running"},{"name":"b","category":"closed","sla":"stopped"}],"events":[{"name":"e","from":["a"],"to":"b","guards":{"within":"1ns","knowledge":true,"require_fields":["x"]}}]}`,
		"key: x\nstates: [\n", "- a\n- b\n", "key: &a x\nname: *a\n", "states:\n  - name: a\n    colour: red\n",
		"key: x\n---\nkey: y\n", "\ufeff{\"key\": \"x\"}", "key: [1, 2]\n", "version: 99999999999999999999\n",
		"events:\n  - from: [a, a, a]\n    guards: {within: 1h, permissions: [':', 'a:b:c']}\n",
	} {
		f.Add([]byte(doc), "e")
	}

	// Few subjects and states per input keep each run cheap: the fuzzer
	// minimises every new input by re-running it thousands of times.
	subjects := []Subject{{}, requester(), everything()}
	f.Fuzz(func(t *testing.T, data []byte, event string) {
		d, err := Parse(data)
		if err != nil {
			if d != nil {
				t.Fatalf("Parse returned a definition and an error: %v", err)
			}
			return
		}
		verr := d.Validate(ValidateOptions{Roles: allRoles})
		_ = d.Validate(ValidateOptions{})
		if verr != nil {
			var ve *ValidationError
			if !errors.As(verr, &ve) || len(ve.Problems) == 0 || ve.Error() == "" {
				t.Fatalf("Validate returned %T %v", verr, verr)
			}
		}
		// Exercise unvalidated definitions too: callers may skip Validate.
		ctx := context.Background()
		for _, st := range d.States[:min(len(d.States), 10)] {
			for _, s := range subjects {
				events := []string{event}
				if opts := d.Available(st.Name, s); len(opts) > 0 {
					events = append(events, opts[len(opts)-1].Event)
				}
				for _, ev := range events {
					res, err := d.Fire(ctx, st.Name, ev, s)
					if err == nil && verr == nil {
						if _, ok := d.State(res.To); !ok {
							t.Fatalf("%s from %s reached unknown state %q", ev, st.Name, res.To)
						}
					}
				}
			}
		}
		_, _ = d.Fire(ctx, d.Initial, event, everything())
		_ = d.Available(event, everything())
	})
}

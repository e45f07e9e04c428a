package workflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseRoundTripsBuiltins(t *testing.T) {
	for _, d := range Builtin() {
		js, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		ym, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		for format, data := range map[string][]byte{"json": js, "yaml": ym} {
			got, err := Parse(data)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", d.Key, format, err, data)
			}
			if !reflect.DeepEqual(got, d) {
				t.Errorf("%s %s round trip differs:\n got  %+v\n want %+v", d.Key, format, got, d)
			}
			if err := got.Validate(ValidateOptions{Roles: allRoles}); err != nil {
				t.Errorf("%s %s: parsed builtin invalid: %v", d.Key, format, err)
			}
		}
	}
}

func TestParseYAMLByHand(t *testing.T) {
	doc := `
# a comment is fine
key: tiny
name: Tiny
initial: new
states:
  - {name: new, category: new, sla: running}
  - {name: closed, category: closed, sla: stopped}
events:
  - name: close
    from: [new]
    to: closed
    guards: {roles: [agent], within: 24h, require_fields: [reason]}
    actions: [{type: set_priority, priority: P2}]
`
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(ValidateOptions{Roles: allRoles}); err != nil {
		t.Fatal(err)
	}
	ev, ok := d.Event("close")
	if !ok || ev.Guards.Within != "24h" || ev.Actions[0].Priority != "P2" || ev.Guards.RequireFields[0] != "reason" {
		t.Fatalf("event parsed as %+v", ev)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string // substrings of the error
	}{
		{"empty", "  \n\t", []string{"empty"}},
		{"json unknown field", "{\n  \"key\": \"x\",\n  \"colour\": \"red\"\n}", []string{"unknown field", `"colour"`, "line 3"}},
		{"json nested unknown field", `{"states": [{"name": "a", "kind": "b"}]}`, []string{"unknown field", `"kind"`}},
		{"json syntax", "{\n  \"key\": \"x\",\n  \"name\" \"y\"\n}", []string{"line 3", "column 10", "offset"}},
		{"json truncated", `{"key": "x", "states": [`, []string{"line 1", "unexpected EOF"}},
		{"json wrong type", "{\n\"version\": \"one\"}", []string{"line 2", "version"}},
		{"json trailing value", `{"key": "x"} {"key": "y"}`, []string{"unexpected data after the definition"}},
		{"yaml unknown field", "key: x\nname: y\ncolour: red\n", []string{"line 3", "colour", "not found"}},
		{"yaml nested unknown field", "key: x\nevents:\n  - name: a\n    guards:\n      rolez: [agent]\n", []string{"line 5", "rolez"}},
		{"yaml syntax", "key: x\nstates: [\n  {name: a\n", []string{"invalid YAML", "line"}},
		{"yaml wrong type", "key: x\nversion: many\n", []string{"line 2"}},
		{"yaml two documents", "key: x\n---\nkey: y\n", []string{"more than one document"}},
		{"yaml scalar", "just words", []string{"invalid YAML"}},
		{"too big", "key: x\nname: " + strings.Repeat("y", MaxDefinitionBytes), []string{"more than the"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("parsed %+v", d)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

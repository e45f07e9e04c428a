package sla

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// FuzzCalendarJSON feeds arbitrary documents through the path an API
// request takes (decode, validate, compile) and then does arithmetic with
// whatever compiled. Nothing may panic or run long, and the JSON and the
// arithmetic must stay consistent.
func FuzzCalendarJSON(f *testing.F) {
	for _, doc := range []string{
		`{"name":"Shanghai","time_zone":"Asia/Shanghai","hours":{"mon":["09:00-12:00","13:00-18:00"],"fri":["09:00-17:00"]},"holidays":["2025-10-01","2025-10-02"]}`,
		`{"name":"NY","time_zone":"America/New_York","hours":{"sun":["00:00-24:00"],"sat":["01:30-03:30"]}}`,
		`{"name":"Berlin","time_zone":"Europe/Berlin","hours":{"sun":["02:00-03:00"],"mon":["00:00-00:01"]},"holidays":["2025-03-31"]}`,
		`{"name":"Sao Paulo","time_zone":"America/Sao_Paulo","hours":{"sat":["00:00-24:00"],"sun":["00:00-00:01"]}}`,
		`{"name":"24x7","always_open":true}`,
		`{"name":"utc","hours":{"wed":["23:59-24:00"]},"id":3,"version":2,"created_at":"2025-01-01T00:00:00Z"}`,
		`{"name":"bad","hours":{"mon":["9:00-17:00"]}}`,
		`{"name":"bad","hours":{"funday":["09:00-17:00"]}}`,
		`{"name":"bad","hours":{"mon":["17:00-09:00","08:00-10:00","09:30-11:00"]}}`,
		`{"name":"bad","time_zone":"Mars/Olympus","holidays":["2025-02-30","x","2025-01-01","2025-01-01"]}`,
		`{"name":"x","extra":true}`,
		`{"hours":null}`,
		`[]`,
		`{`,
	} {
		f.Add([]byte(doc), int64(1735689600), int64(8*3600))
	}
	f.Add([]byte(`{"name":"n","time_zone":"Pacific/Apia","hours":{"fri":["00:00-24:00"]}}`), int64(1325030400), int64(3600))

	f.Fuzz(func(t *testing.T, doc []byte, fromUnix, dSeconds int64) {
		var c Calendar
		if err := json.Unmarshal(doc, &c); err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message cannot help the client")
			}
			return
		}
		ve := c.Validate()
		s, err := NewSchedule(c)
		if (ve == nil) != (err == nil) {
			t.Fatalf("Validate = %v but NewSchedule = %v", ve, err)
		}
		if ve != nil {
			for _, fe := range ve.Fields {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("empty field error %+v", fe)
				}
			}
			return
		}

		// A valid calendar survives a JSON round trip unchanged.
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Calendar
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("cannot read back %s: %v", b, err)
		}
		if fmt.Sprint(back.Hours) != fmt.Sprint(c.Hours) || back.Validate() != nil {
			t.Fatalf("round trip changed hours: %v -> %s -> %v", c.Hours, b, back.Hours)
		}

		// Bounded inputs: 1970-2070, and at most ~3 years of working weeks
		// (the API caps targets far below that).
		const century = 100 * 366 * 24 * 3600
		from := time.Unix(mod(fromUnix, century), 0)
		d := time.Duration(mod(dSeconds, 3*366*24*3600)) * time.Second
		if !s.always {
			d = calBound(s, d)
		}
		start := time.Now()
		got, err := s.Add(from, d)
		switch {
		case errors.Is(err, ErrNoWorkingTime):
		case err != nil:
			t.Fatalf("Add: %v", err)
		default:
			if got.Before(from) {
				t.Fatalf("Add(%v, %v) = %v, before from", from, d, got)
			}
			if e := s.Elapsed(from, got); e != d {
				t.Fatalf("Elapsed(from, Add(from, %v)) = %v", d, e)
			}
		}
		span := time.Duration(mod(dSeconds^fromUnix, 20*366*24*3600)) * time.Second
		if e := s.Elapsed(from, from.Add(span)); e < 0 || e > span {
			t.Fatalf("Elapsed over %v = %v", span, e)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("arithmetic took %v", took)
		}
	})
}

// mod is a non-negative remainder, so any fuzzed int64 maps into [0, m).
func mod(v, m int64) int64 {
	r := v % m
	if r < 0 {
		r += m
	}
	return r
}

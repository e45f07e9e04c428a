package sla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// calendarFields is Calendar without its methods, so (un)marshalling it
// inside MarshalJSON/UnmarshalJSON does not recurse.
type calendarFields Calendar

// weekJSON is Hours as the API shows it, days in reading order.
type weekJSON struct {
	Mon []string `json:"mon"`
	Tue []string `json:"tue"`
	Wed []string `json:"wed"`
	Thu []string `json:"thu"`
	Fri []string `json:"fri"`
	Sat []string `json:"sat"`
	Sun []string `json:"sun"`
}

// MarshalJSON writes Hours as "hours": {"mon": ["09:00-12:00", ...], ...},
// every day present (an empty list is a day off).
func (c Calendar) MarshalJSON() ([]byte, error) {
	day := func(wd int) []string {
		out := make([]string, len(c.Hours[wd]))
		for i, iv := range c.Hours[wd] {
			out[i] = iv.String()
		}
		return out
	}
	return json.Marshal(struct {
		calendarFields
		Hours weekJSON `json:"hours"`
	}{
		calendarFields: calendarFields(c),
		Hours:          weekJSON{Mon: day(1), Tue: day(2), Wed: day(3), Thu: day(4), Fri: day(5), Sat: day(6), Sun: day(0)},
	})
}

// UnmarshalJSON reads the form MarshalJSON writes. A missing day has no
// working time; "hours" absent leaves Hours as it was. Unknown fields are
// rejected (the API's decoder asks for that, but its setting does not reach
// a custom unmarshaller). Bad interval strings and day keys are named in
// the error, since the API reports it to the client as is.
func (c *Calendar) UnmarshalJSON(b []byte) error {
	var w struct {
		*calendarFields
		Hours json.RawMessage `json:"hours"`
	}
	w.calendarFields = (*calendarFields)(c)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if w.Hours == nil {
		return nil
	}
	var days map[string][]string
	if err := json.Unmarshal(w.Hours, &days); err != nil {
		return fmt.Errorf("hours must be an object of day lists such as {\"mon\": [\"09:00-17:00\"]}")
	}
	var hours [7][]Interval
	var bad []string
	for key, spans := range days {
		wd := -1
		for i, k := range dayKeys {
			if k == key {
				wd = i
			}
		}
		if wd < 0 {
			bad = append(bad, fmt.Sprintf("hours has an unknown day %q; use mon, tue, wed, thu, fri, sat, sun", key))
			continue
		}
		for i, span := range spans {
			iv, ok := parseInterval(span)
			if !ok {
				bad = append(bad, fmt.Sprintf("hours.%s[%d] %q is not a time range; write it as \"HH:MM-HH:MM\" in 24-hour time, e.g. \"09:00-17:30\" (\"24:00\" may end a day)", key, i, span))
				continue
			}
			hours[wd] = append(hours[wd], iv)
		}
	}
	if len(bad) > 0 {
		// Map order is random; keep the message stable.
		slices.Sort(bad)
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	c.Hours = hours
	return nil
}

// parseInterval reads "HH:MM-HH:MM". It checks only the form and the clock
// ranges; an end before the start is left for Validate to explain.
func parseInterval(s string) (Interval, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Interval{}, false
	}
	start, ok1 := parseClock(a)
	end, ok2 := parseClock(b)
	if !ok1 || !ok2 || start == minutesPerDay {
		return Interval{}, false
	}
	return Interval{Start: start, End: end}, true
}

// parseClock reads "HH:MM" (exactly five characters), 00:00 to 24:00.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

package sla

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/accounts"
)

// Interval is a span of working time within one day, in minutes since local
// midnight: [Start, End), 0 <= Start < End <= 1440.
type Interval struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Calendar is a business calendar as stored and as the API takes it.
type Calendar struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"` // IANA name, e.g. "Asia/Shanghai"
	// AlwaysOpen makes the calendar 24x7: Hours and Holidays are ignored.
	AlwaysOpen bool `json:"always_open"`
	// Hours[d] are the working intervals of time.Weekday d, sorted and
	// non-overlapping after Validate.
	Hours    [7][]Interval `json:"-"`
	Holidays []string      `json:"holidays"` // "2006-01-02" dates in TimeZone
	Version  int           `json:"version"`
	Created  time.Time     `json:"created_at"`
	Updated  time.Time     `json:"updated_at"`
}

const (
	minutesPerDay  = 24 * 60
	maxNameLen     = 100
	maxHolidays    = 1000
	holidayLayout  = "2006-01-02"
	maxIdleDays    = 400 // days without working time before Add gives up
	week           = 7 * 24 * time.Hour
	secondsPerDay  = 24 * 60 * 60
	unixEpochWkday = int64(time.Thursday) // 1970-01-01
)

// dayKeys are the JSON and field-path names of time.Weekday values.
var dayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekOrder lists weekdays the way people read a week, so problems are
// reported in that order.
var weekOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// hm formats minutes since midnight as "HH:MM"; out-of-range values are
// shown as raw minutes so a message never hides the bad number.
func hm(m int) string {
	if m < 0 || m > minutesPerDay {
		return fmt.Sprintf("%d minutes", m)
	}
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

func (iv Interval) String() string { return hm(iv.Start) + "-" + hm(iv.End) }

// Validate lists every problem with c at once (field paths such as
// "hours.mon[1]", "holidays[3]", "time_zone").
func (c Calendar) Validate() *accounts.ValidationError {
	ve := &accounts.ValidationError{}
	switch name := strings.TrimSpace(c.Name); {
	case name == "":
		ve.Add("name", "is required; give the calendar a name such as \"Shanghai office hours\"")
	case utf8.RuneCountInString(c.Name) > maxNameLen:
		ve.Add("name", fmt.Sprintf("must be at most %d characters (it has %d)", maxNameLen, utf8.RuneCountInString(c.Name)))
	}
	if _, err := loadZone(c.TimeZone); err != nil {
		ve.Add("time_zone", err.Error())
	}

	total := 0
	for _, wd := range weekOrder {
		total += validateDay(ve, dayKeys[wd], c.Hours[wd])
	}
	if !c.AlwaysOpen && total == 0 {
		ve.Add("hours", "has no working time in any day; add at least one interval such as \"mon\": [\"09:00-17:00\"], or set always_open")
	}

	if len(c.Holidays) > maxHolidays {
		ve.Add("holidays", fmt.Sprintf("lists %d dates; at most %d are allowed, remove past ones", len(c.Holidays), maxHolidays))
	}
	seen := make(map[string]int, len(c.Holidays))
	for i, h := range c.Holidays {
		field := fmt.Sprintf("holidays[%d]", i)
		if t, err := time.Parse(holidayLayout, h); err != nil || t.Format(holidayLayout) != h {
			ve.Add(field, fmt.Sprintf("%q is not a date; write it as YYYY-MM-DD, e.g. \"2025-10-01\"", h))
			continue
		}
		if j, dup := seen[h]; dup {
			ve.Add(field, fmt.Sprintf("%s is already listed as holidays[%d]; remove one", h, j))
			continue
		}
		seen[h] = i
	}
	if len(ve.Fields) == 0 {
		return nil // a typed nil pointer in an error interface would look non-nil to callers
	}
	return ve
}

// validateDay checks one weekday's intervals and returns its working minutes
// (counting only valid intervals).
func validateDay(ve *accounts.ValidationError, key string, ivs []Interval) int {
	type indexed struct {
		Interval
		i int
	}
	var ok []indexed
	for i, iv := range ivs {
		field := fmt.Sprintf("hours.%s[%d]", key, i)
		switch {
		case iv.Start < 0 || iv.Start >= minutesPerDay:
			ve.Add(field, fmt.Sprintf("starts at %s; a start must be between 00:00 and 23:59", hm(iv.Start)))
		case iv.End > minutesPerDay || iv.End < 0:
			ve.Add(field, fmt.Sprintf("ends at %s; an end must be at most 24:00 (intervals cannot cross midnight, split them over two days)", hm(iv.End)))
		case iv.End == iv.Start:
			ve.Add(field, fmt.Sprintf("%s is empty; remove it or give it a later end", iv))
		case iv.End < iv.Start:
			ve.Add(field, fmt.Sprintf("%s ends before it starts; intervals cannot cross midnight, split it into %s-24:00 today and 00:00-%s the next day", iv, hm(iv.Start), hm(iv.End)))
		default:
			ok = append(ok, indexed{iv, i})
		}
	}
	slices.SortStableFunc(ok, func(a, b indexed) int { return a.Start - b.Start })
	total := 0
	var reach *indexed // the interval so far that ends latest
	for j := range ok {
		x := &ok[j]
		if reach != nil && x.Start < reach.End {
			ve.Add(fmt.Sprintf("hours.%s[%d]", key, x.i),
				fmt.Sprintf("%s overlaps %s (hours.%s[%d]); merge them or move one", x.Interval, reach.Interval, key, reach.i))
		}
		// Count the union so overlaps are not counted twice.
		from := x.Start
		if reach != nil {
			from = max(from, reach.End)
		}
		total += max(x.End-from, 0)
		if reach == nil || x.End > reach.End {
			reach = x
		}
	}
	return total
}

// loadZone resolves a calendar time zone; "" means UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		// time.LoadLocation accepts it, but it depends on the server's settings.
		return nil, fmt.Errorf("\"Local\" depends on the server's settings; use an IANA name such as \"Asia/Shanghai\" or \"Europe/Berlin\"")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone; use an IANA name such as \"Asia/Shanghai\", \"Europe/Berlin\" or \"UTC\"", name)
	}
	return loc, nil
}

// Schedule is a validated calendar ready for arithmetic. It is immutable and
// safe for concurrent use. The zero Schedule has no working time.
type Schedule struct {
	loc    *time.Location
	always bool
	hours  [7][]Interval // per weekday, sorted, adjacent and overlapping intervals merged
	// holidays are local dates as days since 1970-01-01, sorted, so the
	// next holiday after a day is a binary search away.
	holidays []int64
	// weekly is the nominal working time of a week without holidays or
	// clock changes; it lets Add and Elapsed skip whole weeks.
	weekly time.Duration
}

var alwaysOpen = &Schedule{loc: time.UTC, always: true}

// AlwaysOpenSchedule is the 24x7 schedule in UTC, used when a policy names
// no calendar.
func AlwaysOpenSchedule() *Schedule { return alwaysOpen }

// NewSchedule compiles c; it fails with c.Validate()'s error.
func NewSchedule(c Calendar) (*Schedule, error) {
	if ve := c.Validate(); ve != nil {
		return nil, ve
	}
	loc, _ := loadZone(c.TimeZone) // Validate checked it
	if c.AlwaysOpen {
		return &Schedule{loc: loc, always: true}, nil
	}
	s := &Schedule{loc: loc}
	for wd, ivs := range c.Hours {
		sorted := slices.Clone(ivs) // leave the caller's calendar untouched
		slices.SortFunc(sorted, func(a, b Interval) int { return a.Start - b.Start })
		var out []Interval
		for _, iv := range sorted {
			if n := len(out); n > 0 && iv.Start <= out[n-1].End {
				out[n-1].End = max(out[n-1].End, iv.End)
				continue
			}
			out = append(out, iv)
		}
		s.hours[wd] = out
		for _, iv := range out {
			s.weekly += time.Duration(iv.End-iv.Start) * time.Minute
		}
	}
	for _, h := range c.Holidays {
		t, _ := time.Parse(holidayLayout, h)
		y, m, d := t.Date()
		s.holidays = append(s.holidays, daysFromCivil(y, m, d))
	}
	slices.Sort(s.holidays)
	return s, nil
}

func (s *Schedule) location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Add returns the instant at which d of business time has passed counting
// from 'from'. Add(from, 0) is from if from is inside working time, else
// the next start of working time. It returns ErrNoWorkingTime rather than
// looping when the calendar has no working time in the next 400 days.
// (Precisely: it gives up after 400 days in a row without working time, so
// a target longer than 400 days still completes.)
//
// Working intervals are wall-clock times in the calendar's zone: on a day
// the clocks change, 09:00-17:00 still means 09:00 to 17:00 local, and the
// business time counted is the real time elapsed between those instants.
// A wall time that does not exist (skipped by a clock change) means the
// instant the clocks jump; one that occurs twice means its first occurrence.
func (s *Schedule) Add(from time.Time, d time.Duration) (time.Time, error) {
	d = max(d, 0)
	if s.always {
		return from.Add(d).UTC(), nil
	}
	loc := s.location()
	day := dayOf(from.In(loc))
	cursor := from // business time before cursor is already counted
	for idle := 0; idle <= maxIdleDays; {
		if s.weekly > 0 && d > s.weekly {
			// Skip whole weeks while they are plain: no holiday and no
			// clock change, so each holds exactly s.weekly.
			if m0 := s.instant(day, 0); !m0.Before(cursor) {
				if k := min(s.plainWeeks(day, m0), int64((d-1)/s.weekly)); k > 0 {
					d -= time.Duration(k) * s.weekly
					day += 7 * k
					cursor = m0.Add(time.Duration(k) * week)
					idle = 0
					continue
				}
			}
		}
		worked := false
		if !s.isHoliday(day) {
			for _, iv := range s.hours[weekdayOf(day)] {
				start, end := s.instant(day, iv.Start), s.instant(day, iv.End)
				if start.Before(cursor) {
					start = cursor
				}
				if !end.After(start) {
					continue
				}
				worked = true
				avail := end.Sub(start)
				if d <= avail {
					return start.Add(d).UTC(), nil
				}
				d -= avail
				cursor = end
			}
		}
		if worked {
			idle = 0
		} else {
			idle++
		}
		day++
	}
	return time.Time{}, ErrNoWorkingTime
}

// Elapsed returns the business time between from and to (0 if to <= from).
func (s *Schedule) Elapsed(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	if s.always {
		return to.Sub(from)
	}
	if s.weekly == 0 {
		return 0
	}
	loc := s.location()
	day, last := dayOf(from.In(loc)), dayOf(to.In(loc))
	// One more day: where clocks fall back across midnight, the next local
	// date can begin before 'to'.
	last++
	cursor := from
	var total time.Duration
	for ; day <= last; day++ {
		if last-day >= 7 {
			if m0 := s.instant(day, 0); !m0.Before(cursor) {
				k := min(s.plainWeeks(day, m0), int64(to.Sub(m0)/week))
				if k > 0 {
					total = addSat(total, time.Duration(k)*s.weekly)
					day += 7*k - 1
					cursor = m0.Add(time.Duration(k) * week)
					continue
				}
			}
		}
		if s.isHoliday(day) {
			continue
		}
		for _, iv := range s.hours[weekdayOf(day)] {
			start, end := s.instant(day, iv.Start), s.instant(day, iv.End)
			if start.Before(cursor) {
				start = cursor
			}
			if end.After(to) {
				end = to
			}
			if end.After(start) {
				total = addSat(total, end.Sub(start))
				cursor = end
			}
		}
	}
	return total
}

func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// plainWeeks is how many whole weeks starting at local date day (whose
// first instant is m0) contain no holiday and no change of UTC offset.
func (s *Schedule) plainWeeks(day int64, m0 time.Time) int64 {
	if _, off := m0.Zone(); m0.Unix()+int64(off) != day*secondsPerDay {
		return 0 // midnight was skipped: the day starts short
	}
	k := int64(math.MaxInt64 / week) // k weeks must fit in a Duration
	if i, _ := slices.BinarySearch(s.holidays, day); i < len(s.holidays) {
		k = (s.holidays[i] - day) / 7
	}
	// While the offset stays the same, wall time and real time advance
	// together, so every interval lasts its nominal length. The offset must
	// hold past the last midnight too: if clocks go back at that midnight,
	// the day before ends an hour later.
	if _, end := m0.ZoneBounds(); !end.IsZero() {
		k = min(k, int64((end.Sub(m0)-1)/week))
	}
	return k
}

func (s *Schedule) isHoliday(day int64) bool {
	_, ok := slices.BinarySearch(s.holidays, day)
	return ok
}

// instant returns the first instant at which the wall clock in the
// schedule's zone reads at least 'minute' minutes past the start of local
// date day. Unlike time.Date, whose choice around clock changes is unspecified,
// this is monotonic, so intervals never overlap or run backwards.
func (s *Schedule) instant(day int64, minute int) time.Time {
	loc := s.location()
	y, m, d := civilFromDays(day)
	t := time.Date(y, m, d, minute/60, minute%60, 0, 0, loc)
	wall := day*secondsPerDay + int64(minute)*60
	_, off := t.Zone()
	if got := t.Unix() + int64(off); got != wall {
		// The wall time was skipped: the first instant at or past it is
		// the jump itself, at one edge of t's zone period.
		start, end := t.ZoneBounds()
		if got < wall && !end.IsZero() {
			return end
		}
		if got > wall && !start.IsZero() {
			return start
		}
		return t
	}
	// The wall time may also have happened earlier, before the clocks were
	// set back; prefer that first occurrence.
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return t
	}
	_, prevOff := start.Add(-time.Second).Zone()
	if prevOff <= off {
		return t
	}
	if u := time.Unix(wall-int64(prevOff), 0).In(loc); u.Before(start) {
		if _, o := u.Zone(); o == prevOff {
			return u
		}
	}
	return t
}

// dayOf is the local date of t (already in the wanted zone) as days since
// 1970-01-01.
func dayOf(t time.Time) int64 {
	y, m, d := t.Date()
	return daysFromCivil(y, m, d)
}

func weekdayOf(day int64) time.Weekday {
	return time.Weekday(((day+unixEpochWkday)%7 + 7) % 7)
}

// daysFromCivil and civilFromDays convert proleptic Gregorian dates to and
// from days since 1970-01-01 without allocating (H. Hinnant's algorithms);
// the day loops call them for every day they visit.
func daysFromCivil(year int, month time.Month, day int) int64 {
	y, m, d := int64(year), int64(month), int64(day)
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (int, time.Month, int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

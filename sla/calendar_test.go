package sla

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loopdesk/loopdesk/accounts"
)

// calIv parses "HH:MM-HH:MM" for test tables.
func calIv(t testing.TB, s string) Interval {
	t.Helper()
	iv, ok := parseInterval(s)
	if !ok {
		t.Fatalf("bad test interval %q", s)
	}
	return iv
}

// calWeekdays is a calendar working spans on Monday to Friday.
func calWeekdays(t testing.TB, tz string, spans ...string) Calendar {
	t.Helper()
	c := Calendar{Name: "test", TimeZone: tz}
	for wd := time.Monday; wd <= time.Friday; wd++ {
		for _, s := range spans {
			c.Hours[wd] = append(c.Hours[wd], calIv(t, s))
		}
	}
	return c
}

func calSchedule(t testing.TB, c Calendar) *Schedule {
	t.Helper()
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatalf("NewSchedule: %v", err)
	}
	return s
}

// calAt is a wall time in zone tz ("2006-01-02 15:04").
func calAt(t testing.TB, tz, wall string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func calUTC(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type calAddCase struct {
	name string
	from time.Time
	d    time.Duration
	want time.Time
}

func calCheckAdd(t *testing.T, s *Schedule, cases []calAddCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := s.Add(tc.from, tc.d)
		if err != nil {
			t.Errorf("%s: Add(%v, %v): %v", tc.name, tc.from, tc.d, err)
			continue
		}
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: Add(%v, %v) = %v, want %v (UTC)", tc.name, tc.from, tc.d, got, tc.want.UTC())
		}
		d := max(tc.d, 0)
		if e := s.Elapsed(tc.from, got); e != d {
			t.Errorf("%s: Elapsed(from, Add) = %v, want %v", tc.name, e, d)
		}
	}
}

func TestCalendarAddBusinessWeek(t *testing.T) {
	const tz = "Asia/Shanghai"
	at := func(w string) time.Time { return calAt(t, tz, w) }
	// 2025-01-03 is a Friday.
	s := calSchedule(t, calWeekdays(t, tz, "09:00-17:00"))
	calCheckAdd(t, s, []calAddCase{
		{"weekend skip", at("2025-01-03 16:00"), 2 * time.Hour, at("2025-01-06 10:00")},
		{"inside the day", at("2025-01-06 09:30"), 3 * time.Hour, at("2025-01-06 12:30")},
		{"exactly to the end of the day stays on that day", at("2025-01-03 16:00"), time.Hour, at("2025-01-03 17:00")},
		{"before opening", at("2025-01-06 07:00"), time.Hour, at("2025-01-06 10:00")},
		{"after closing", at("2025-01-06 20:00"), time.Hour, at("2025-01-07 10:00")},
		{"from Saturday", at("2025-01-04 12:00"), 8 * time.Hour, at("2025-01-06 17:00")},
		{"zero inside working time is from", at("2025-01-06 10:15"), 0, at("2025-01-06 10:15")},
		{"zero at closing is the next opening", at("2025-01-06 17:00"), 0, at("2025-01-07 09:00")},
		{"zero on Sunday", at("2025-01-05 10:00"), 0, at("2025-01-06 09:00")},
		{"negative counts as zero", at("2025-01-05 10:00"), -time.Hour, at("2025-01-06 09:00")},
		{"two weeks", at("2025-01-06 09:00"), 80 * time.Hour, at("2025-01-17 17:00")},
		{"a year of work", at("2025-01-06 09:00"), 52 * 40 * time.Hour, at("2026-01-02 17:00")},
		{"seconds", at("2025-01-03 16:59").Add(30 * time.Second), 45 * time.Second, at("2025-01-06 09:00").Add(15 * time.Second)},
	})

	hol := calWeekdays(t, tz, "09:00-17:00")
	hol.Holidays = []string{"2025-01-06"}
	calCheckAdd(t, calSchedule(t, hol), []calAddCase{
		{"holiday Monday", at("2025-01-03 16:00"), 2 * time.Hour, at("2025-01-07 10:00")},
		{"zero on a holiday", at("2025-01-06 10:00"), 0, at("2025-01-07 09:00")},
	})

	// The Chinese National Day week, with make-up working days ignored.
	nd := calWeekdays(t, tz, "09:00-17:00")
	for d := 1; d <= 7; d++ {
		nd.Holidays = append(nd.Holidays, fmt.Sprintf("2025-10-%02d", d))
	}
	calCheckAdd(t, calSchedule(t, nd), []calAddCase{
		{"golden week", at("2025-09-30 16:00"), 2 * time.Hour, at("2025-10-08 10:00")},
		// 16 weeks of 40h from a Monday, one week of which is holidays
		// (Wed 1 to Tue 7 October: 5 working days lost).
		{"weeks across holidays", at("2025-09-01 09:00"), 16 * 40 * time.Hour, at("2025-12-26 17:00")},
	})
}

func TestCalendarLunchBreak(t *testing.T) {
	const tz = "Asia/Shanghai"
	at := func(w string) time.Time { return calAt(t, tz, w) }
	s := calSchedule(t, calWeekdays(t, tz, "09:00-12:00", "13:00-18:00"))
	calCheckAdd(t, s, []calAddCase{
		{"across lunch", at("2025-01-06 11:00"), 2 * time.Hour, at("2025-01-06 14:00")},
		{"to the start of lunch", at("2025-01-06 11:00"), time.Hour, at("2025-01-06 12:00")},
		{"from lunch", at("2025-01-06 12:30"), time.Hour, at("2025-01-06 14:00")},
		{"zero at lunch", at("2025-01-06 12:00"), 0, at("2025-01-06 13:00")},
		{"full day", at("2025-01-06 09:00"), 8 * time.Hour, at("2025-01-06 18:00")},
		{"across the night", at("2025-01-06 17:00"), 2 * time.Hour, at("2025-01-07 10:00")},
		{"through Friday lunch into Monday", at("2025-01-10 11:00"), 8 * time.Hour, at("2025-01-13 11:00")},
	})
	if got := s.Elapsed(at("2025-01-06 00:00"), at("2025-01-13 00:00")); got != 40*time.Hour {
		t.Errorf("a week holds %v, want 40h", got)
	}
	if got := s.Elapsed(at("2025-01-06 11:30"), at("2025-01-06 13:30")); got != time.Hour {
		t.Errorf("across lunch %v, want 1h", got)
	}
}

func TestCalendarElapsed(t *testing.T) {
	const tz = "Asia/Shanghai"
	at := func(w string) time.Time { return calAt(t, tz, w) }
	c := calWeekdays(t, tz, "09:00-17:00")
	c.Holidays = []string{"2025-01-06", "2025-05-01", "2030-02-04"}
	s := calSchedule(t, c)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		{"empty", at("2025-01-03 10:00"), at("2025-01-03 10:00"), 0},
		{"backwards", at("2025-01-03 11:00"), at("2025-01-03 10:00"), 0},
		{"weekend and holiday", at("2025-01-03 16:00"), at("2025-01-07 10:00"), 2 * time.Hour},
		{"night", at("2025-01-07 17:00"), at("2025-01-08 09:00"), 0},
		{"partial both ends", at("2025-01-07 16:30"), at("2025-01-08 09:15"), 45 * time.Minute},
		// 2025: 261 weekdays, 2 of them holidays.
		{"year", at("2025-01-01 00:00"), at("2026-01-01 00:00"), 259 * 8 * time.Hour},
	} {
		if got := s.Elapsed(tc.from, tc.to); got != tc.want {
			t.Errorf("%s: Elapsed = %v, want %v", tc.name, got, tc.want)
		}
		if got := calRefElapsed(s, tc.from, tc.to); got != tc.want {
			t.Errorf("%s: reference = %v, want %v", tc.name, got, tc.want)
		}
	}

	// Long spans use the week skipping; they must agree with a plain day
	// walk and be quick.
	from, to := at("2024-03-05 10:00"), at("2034-07-09 11:00")
	start := time.Now()
	got := s.Elapsed(from, to)
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("Elapsed over 10 years took %v", took)
	}
	if want := calRefElapsed(s, from, to); got != want {
		t.Errorf("Elapsed over 10 years = %v, reference %v", got, want)
	}
	start = time.Now()
	_ = s.Elapsed(at("1900-01-01 00:00"), at("2150-01-01 00:00"))
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("Elapsed over 250 years took %v", took)
	}
}

// TestCalendarDST pins exact instants around both clock changes in a zone
// west and one east of Greenwich, with hours that include the changeover
// and hours that do not.
func TestCalendarDST(t *testing.T) {
	type elapsedCase struct {
		name     string
		from, to time.Time
		want     time.Duration
	}
	for _, z := range []struct {
		tz string
		// Sundays with a clock change in 2025.
		spring, autumn string
		// Mondays after them.
		springMon, autumnMon string
		// UTC instants of local midnight starting and ending each Sunday.
		springSun0, springMon0, autumnSun0, autumnMon0 string
		// The skipped hour's start (repeated hour's start).
		gapFrom, overlapFrom string
		// the changes in UTC
		springUTC, autumnUTC string
	}{
		{
			tz: "America/New_York", spring: "2025-03-09", autumn: "2025-11-02", springMon: "2025-03-10", autumnMon: "2025-11-03",
			springSun0: "2025-03-09T05:00:00Z", springMon0: "2025-03-10T04:00:00Z",
			autumnSun0: "2025-11-02T04:00:00Z", autumnMon0: "2025-11-03T05:00:00Z",
			gapFrom: "02:00", overlapFrom: "01:00",
			springUTC: "2025-03-09T07:00:00Z", autumnUTC: "2025-11-02T06:00:00Z",
		},
		{
			tz: "Europe/Berlin", spring: "2025-03-30", autumn: "2025-10-26", springMon: "2025-03-31", autumnMon: "2025-10-27",
			springSun0: "2025-03-29T23:00:00Z", springMon0: "2025-03-30T22:00:00Z",
			autumnSun0: "2025-10-25T22:00:00Z", autumnMon0: "2025-10-26T23:00:00Z",
			gapFrom: "02:00", overlapFrom: "02:00",
			springUTC: "2025-03-30T01:00:00Z", autumnUTC: "2025-10-26T01:00:00Z",
		},
	} {
		t.Run(z.tz, func(t *testing.T) {
			u := func(s string) time.Time { return calUTC(t, s) }
			at := func(w string) time.Time { return calAt(t, z.tz, w) }

			// All of Sunday plus Monday 09:00-17:00.
			c := Calendar{Name: "dst", TimeZone: z.tz}
			c.Hours[time.Sunday] = []Interval{calIv(t, "00:00-24:00")}
			c.Hours[time.Monday] = []Interval{calIv(t, "09:00-17:00")}
			s := calSchedule(t, c)
			// Monday 10:00 local in UTC.
			springMon10 := at(z.springMon + " 10:00").UTC()
			autumnMon10 := at(z.autumnMon + " 10:00").UTC()
			calCheckAdd(t, s, []calAddCase{
				{"short Sunday is 23h", u(z.springSun0), 23 * time.Hour, u(z.springMon0)},
				{"short Sunday then Monday", u(z.springSun0), 24 * time.Hour, springMon10},
				{"across the jump", u(z.springUTC).Add(-30 * time.Minute), time.Hour, u(z.springUTC).Add(30 * time.Minute)},
				{"long Sunday is 25h", u(z.autumnSun0), 25 * time.Hour, u(z.autumnMon0)},
				{"long Sunday 24h", u(z.autumnSun0), 24 * time.Hour, u(z.autumnMon0).Add(-time.Hour)},
				{"long Sunday then Monday", u(z.autumnSun0), 26 * time.Hour, autumnMon10},
				{"across the repeat", u(z.autumnUTC).Add(-30 * time.Minute), time.Hour, u(z.autumnUTC).Add(30 * time.Minute)},
			})
			for _, tc := range []elapsedCase{
				{"short Sunday", u(z.springSun0), u(z.springMon0), 23 * time.Hour},
				{"long Sunday", u(z.autumnSun0), u(z.autumnMon0), 25 * time.Hour},
				{"long week", u(z.autumnSun0).Add(-6 * 24 * time.Hour), u(z.autumnMon0).Add(7 * 24 * time.Hour), 8*time.Hour + 25*time.Hour + 8*time.Hour + 24*time.Hour},
			} {
				if got := s.Elapsed(tc.from, tc.to); got != tc.want {
					t.Errorf("%s: Elapsed = %v, want %v", tc.name, got, tc.want)
				}
			}

			// Office hours away from the change are wall-clock hours on
			// either side of it.
			office := calSchedule(t, calWeekdays(t, z.tz, "09:00-17:00"))
			springFri := at(z.springMon+" 16:00").AddDate(0, 0, -3)
			autumnFri := at(z.autumnMon+" 16:00").AddDate(0, 0, -3)
			calCheckAdd(t, office, []calAddCase{
				{"office hours over the spring weekend", springFri, 2 * time.Hour, springMon10},
				{"office hours over the autumn weekend", autumnFri, 2 * time.Hour, autumnMon10},
			})

			// An interval containing the skipped hour counts the real hour
			// that passes; one containing the repeated hour counts both.
			gap := Calendar{Name: "gap", TimeZone: z.tz}
			gapStart := calIv(t, z.gapFrom+"-"+z.gapFrom).Start
			gap.Hours[time.Sunday] = []Interval{{gapStart - 60, gapStart + 120}} // e.g. 01:00-04:00 wall
			gap.Hours[time.Monday] = []Interval{calIv(t, "09:00-10:00")}
			gs := calSchedule(t, gap)
			sp := u(z.springUTC)
			calCheckAdd(t, gs, []calAddCase{
				{"interval over the skipped hour", sp.Add(-time.Hour), 2 * time.Hour, sp.Add(time.Hour)},
				{"2h then Monday", sp.Add(-time.Hour), 2*time.Hour + time.Minute, at(z.springMon + " 09:01").UTC()},
			})
			if got := gs.Elapsed(sp.Add(-2*time.Hour), sp.Add(2*time.Hour)); got != 2*time.Hour {
				t.Errorf("Elapsed over the skipped hour = %v, want 2h", got)
			}
			au := u(z.autumnUTC)
			// The repeated hour starts 1h before the change in UTC terms.
			if got := gs.Elapsed(au.Add(-3*time.Hour), au.Add(3*time.Hour)); got != 4*time.Hour {
				t.Errorf("Elapsed over the repeated hour = %v, want 4h", got)
			}

			// An interval lying wholly in the skipped hour is no time; one
			// starting in it starts when the clocks jump.
			in := Calendar{Name: "in gap", TimeZone: z.tz}
			in.Hours[time.Sunday] = []Interval{{gapStart + 15, gapStart + 45}, {gapStart + 50, gapStart + 90}}
			is := calSchedule(t, in)
			calCheckAdd(t, is, []calAddCase{
				{"skipped interval is empty", sp.Add(-time.Hour), 0, sp},
				{"starts at the jump", sp.Add(-time.Hour), 30 * time.Minute, sp.Add(30 * time.Minute)},
			})
			if got := is.Elapsed(at(z.spring+" 00:00"), at(z.springMon+" 00:00")); got != 30*time.Minute {
				t.Errorf("Elapsed of a skipped interval = %v, want 30m", got)
			}
			// In autumn the same intervals each run from their first
			// occurrence, the second one through the repeat.
			ov := calIv(t, z.overlapFrom+"-"+z.overlapFrom).Start
			rep := Calendar{Name: "repeat", TimeZone: z.tz}
			rep.Hours[time.Sunday] = []Interval{{ov + 15, ov + 45}, {ov + 50, ov + 70}}
			rs := calSchedule(t, rep)
			first := au.Add(-time.Hour) // first occurrence of the repeated hour's start
			calCheckAdd(t, rs, []calAddCase{
				{"first occurrence", first.Add(-time.Hour), 0, first.Add(15 * time.Minute)},
				{"second interval spans the repeat", first.Add(-time.Hour), 40 * time.Minute, first.Add(60 * time.Minute)},
				{"end after the repeat", first.Add(-time.Hour), 110 * time.Minute, first.Add(130 * time.Minute)},
			})
		})
	}
}

// TestCalendarMidnightClockChanges covers zones whose clocks change at
// midnight (Sao Paulo until 2019), which the week skipping must not treat as
// plain weeks: found by the property tests.
func TestCalendarMidnightClockChanges(t *testing.T) {
	const tz = "America/Sao_Paulo"
	u := func(s string) time.Time { return calUTC(t, s) }
	// 2010-02-21 00:00 -02 became 2010-02-20 23:00 -03: Saturday the 20th
	// lasted 25 hours and Sunday began at 03:00Z.
	sat := Calendar{Name: "sat", TimeZone: tz}
	sat.Hours[time.Saturday] = []Interval{{0, minutesPerDay}}
	sat.Holidays = []string{"2010-01-02"}
	s := calSchedule(t, sat)
	from := u("2010-01-01T00:00:00Z")
	if got := s.Elapsed(from, u("2010-02-21T02:00:01Z")); got != 6*24*time.Hour+24*time.Hour+time.Second {
		t.Errorf("Elapsed to the repeated hour = %v", got)
	}
	if got := s.Elapsed(from, u("2010-02-22T00:00:00Z")); got != 6*24*time.Hour+25*time.Hour {
		t.Errorf("Elapsed over the long Saturday = %v", got)
	}
	calCheckAdd(t, s, []calAddCase{
		{"into the long Saturday", from, 6*24*time.Hour + 24*time.Hour + 30*time.Minute, u("2010-02-21T02:30:00Z")},
		{"to the end of the long Saturday", from, 6*24*time.Hour + 25*time.Hour, u("2010-02-21T03:00:00Z")},
		{"the Saturday after", from, 6*24*time.Hour + 25*time.Hour + time.Hour, u("2010-02-27T04:00:00Z")},
	})

	// 2010-10-17 00:00 -03 became 01:00 -02: the first minute of that
	// Sunday never happened.
	sun := Calendar{Name: "sun", TimeZone: tz}
	sun.Hours[time.Sunday] = []Interval{{0, 1}}
	s = calSchedule(t, sun)
	from = u("2010-09-01T00:00:00Z")
	if got := s.Elapsed(from, u("2010-12-01T00:00:00Z")); got != 12*time.Minute {
		t.Errorf("Elapsed over Sundays with a skipped one = %v, want 12m (13 Sundays, one skipped)", got)
	}
	calCheckAdd(t, s, []calAddCase{
		{"skips the missing minute", u("2010-10-11T00:00:00Z"), 30 * time.Second, u("2010-10-24T02:00:30Z")},
	})
	// Skipping weeks from that short Sunday would count its missing minute;
	// without a holiday the error happens to cancel out six weeks later.
	sun.Holidays = []string{"2010-11-28"}
	s = calSchedule(t, sun)
	if got := s.Elapsed(from, u("2010-12-01T00:00:00Z")); got != 11*time.Minute {
		t.Errorf("Elapsed over Sundays with a skipped one and a holiday = %v, want 11m", got)
	}
}

// TestCalendarInstantRules checks the wall-clock rule on every minute of the
// days around many clock changes: monotonic, reads at least the wall time
// asked for, and is the first such instant.
func TestCalendarInstantRules(t *testing.T) {
	zones := []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo",
		"America/Havana", "Pacific/Apia", "Africa/Casablanca", "Pacific/Chatham", "Asia/Tehran"}
	if testing.Short() {
		zones = zones[:2]
	}
	for _, tz := range zones {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		s := &Schedule{loc: loc}
		wallOf := func(x time.Time) int64 { _, o := x.Zone(); return x.Unix() + int64(o) }
		checked := 0
		for at := time.Date(1995, 1, 1, 0, 0, 0, 0, loc); at.Year() < 2035; {
			_, end := at.ZoneBounds()
			if end.IsZero() {
				break
			}
			at = end
			mid := dayOf(end.In(loc))
			prev := time.Time{}
			for day := mid - 1; day <= mid+1; day++ {
				for m := 0; m <= minutesPerDay; m++ {
					got := s.instant(day, m)
					w := day*secondsPerDay + int64(m)*60
					if got.Before(prev) {
						t.Fatalf("%s day %d minute %d: %v before %v", tz, day, m, got, prev)
					}
					if wallOf(got) < w {
						t.Fatalf("%s day %d minute %d: %v reads before the wall time", tz, day, m, got)
					}
					if wallOf(got.Add(-time.Second)) >= w {
						t.Fatalf("%s day %d minute %d: %v is not the first instant reading it", tz, day, m, got)
					}
					prev = got
				}
			}
			checked++
		}
		if checked == 0 && tz != "Asia/Tehran" {
			t.Errorf("%s: no clock changes found", tz)
		}
	}
}

func TestCalendarAlwaysOpen(t *testing.T) {
	c := Calendar{Name: "24x7", TimeZone: "America/New_York", AlwaysOpen: true, Holidays: []string{"2025-03-09"}}
	for _, s := range []*Schedule{AlwaysOpenSchedule(), calSchedule(t, c)} {
		from := calAt(t, "America/New_York", "2025-03-08 23:17")
		for _, d := range []time.Duration{0, time.Second, 3 * time.Hour, 49*time.Hour + 7*time.Minute, 400 * 24 * time.Hour} {
			got, err := s.Add(from, d)
			if err != nil || !got.Equal(from.Add(d)) || got.Location() != time.UTC {
				t.Errorf("Add(%v) = %v, %v; want %v", d, got, err, from.Add(d).UTC())
			}
			if e := s.Elapsed(from, from.Add(d)); e != d {
				t.Errorf("Elapsed = %v, want %v", e, d)
			}
		}
		if got, _ := s.Add(from, -time.Hour); !got.Equal(from) {
			t.Errorf("negative Add = %v", got)
		}
	}
}

func TestCalendarNoWorkingTime(t *testing.T) {
	// Only Monday 09:00-10:00, and every Monday for 60 weeks (420 days) is
	// a holiday.
	c := Calendar{Name: "never", TimeZone: "Europe/Berlin"}
	c.Hours[time.Monday] = []Interval{calIv(t, "09:00-10:00")}
	first := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		c.Holidays = append(c.Holidays, first.AddDate(0, 0, 7*i).Format(holidayLayout))
	}
	s := calSchedule(t, c)
	from := calAt(t, "Europe/Berlin", "2025-01-01 12:00")
	for _, d := range []time.Duration{0, time.Minute, time.Hour, 1000 * time.Hour} {
		start := time.Now()
		got, err := s.Add(from, d)
		if !errors.Is(err, ErrNoWorkingTime) {
			t.Errorf("Add(%v) = %v, %v; want ErrNoWorkingTime", d, got, err)
		}
		if took := time.Since(start); took > 20*time.Millisecond {
			t.Errorf("Add(%v) took %v to give up", d, took)
		}
	}
	if got := s.Elapsed(from, from.AddDate(1, 0, 0)); got != 0 {
		t.Errorf("Elapsed = %v, want 0", got)
	}

	// 50 holiday Mondays (350 days) leave the 51st Monday to work on.
	c.Holidays = c.Holidays[:50]
	s = calSchedule(t, c)
	got, err := s.Add(from, 30*time.Minute)
	if want := calAt(t, "Europe/Berlin", "2025-12-22 09:30"); err != nil || !got.Equal(want) {
		t.Errorf("after 50 holidays: %v, %v; want %v", got, err, want)
	}

	// The zero Schedule has no working time and says so.
	if _, err := (&Schedule{}).Add(from, time.Hour); !errors.Is(err, ErrNoWorkingTime) {
		t.Errorf("zero Schedule Add: %v", err)
	}
	if got := (&Schedule{}).Elapsed(from, from.Add(time.Hour)); got != 0 {
		t.Errorf("zero Schedule Elapsed: %v", got)
	}
}

func TestCalendarHugeTargets(t *testing.T) {
	c := calWeekdays(t, "America/New_York", "08:30-12:00", "12:45-17:15")
	c.Holidays = []string{"2025-07-04", "2025-12-25", "2026-01-01", "2030-01-01", "2100-12-24"}
	s := calSchedule(t, c)
	from := calAt(t, "America/New_York", "2025-06-30 10:07")
	for _, d := range []time.Duration{1000 * time.Hour, 50 * 365 * 24 * time.Hour, 1<<63 - 1} {
		start := time.Now()
		got, err := s.Add(from, d)
		// A bound on loops, not a performance target (those live in
		// BenchmarkScheduleAdd): generous for a loaded CI box.
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Add(%v) took %v", d, took)
		}
		if err != nil {
			t.Errorf("Add(%v): %v", d, err)
			continue
		}
		if e := s.Elapsed(from, got); e != d {
			t.Errorf("Elapsed(from, Add(%v)) = %v", d, e)
		}
	}

	// A minute a week: the largest Duration lands millions of years ahead.
	c = Calendar{Name: "tiny", TimeZone: "UTC"}
	c.Hours[time.Monday] = []Interval{{0, 1}}
	s = calSchedule(t, c)
	start := time.Now()
	got, err := s.Add(from, 1<<63-1)
	if err != nil || got.Year() < 2_000_000 {
		t.Fatalf("Add(max) = %v, %v", got, err)
	}
	if e := s.Elapsed(from, got); e != 1<<63-1 {
		t.Errorf("Elapsed(from, Add(max)) = %v", e)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("took %v", took)
	}
}

func TestCalendarValidate(t *testing.T) {
	valid := func() Calendar {
		c := calWeekdays(t, "Asia/Shanghai", "09:00-12:00", "13:00-18:00")
		c.Name = "Shanghai office"
		c.Holidays = []string{"2025-01-01", "2025-10-01"}
		return c
	}
	if ve := valid().Validate(); ve != nil {
		t.Fatalf("valid calendar: %v", ve)
	}
	// A nil *ValidationError must come back as a nil error.
	if _, err := NewSchedule(valid()); err != nil {
		t.Fatalf("NewSchedule(valid) = %v", err)
	}

	manyHolidays := make([]string, maxHolidays+1)
	for i := range manyHolidays {
		manyHolidays[i] = time.Date(2025, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(holidayLayout)
	}
	type want struct{ field, contains string }
	for _, tc := range []struct {
		name   string
		mutate func(*Calendar)
		want   []want
	}{
		{"ok: empty zone is UTC", func(c *Calendar) { c.TimeZone = "" }, nil},
		{"ok: always open needs no hours", func(c *Calendar) { c.Hours = [7][]Interval{}; c.AlwaysOpen = true }, nil},
		{"ok: adjacent and unsorted", func(c *Calendar) {
			c.Hours[time.Saturday] = []Interval{{720, 1440}, {0, 720}}
		}, nil},
		{"ok: exactly 1000 holidays", func(c *Calendar) { c.Holidays = manyHolidays[:maxHolidays] }, nil},
		{"name missing", func(c *Calendar) { c.Name = "  " }, []want{{"name", "is required"}}},
		{"name long", func(c *Calendar) { c.Name = strings.Repeat("日", 101) }, []want{{"name", "at most 100"}}},
		{"name 100 runes ok", func(c *Calendar) { c.Name = strings.Repeat("日", 100) }, nil},
		{"zone unknown", func(c *Calendar) { c.TimeZone = "Mars/Olympus" }, []want{{"time_zone", `"Mars/Olympus" is not a known time zone`}}},
		{"zone local", func(c *Calendar) { c.TimeZone = "Local" }, []want{{"time_zone", "server"}}},
		{"zone path", func(c *Calendar) { c.TimeZone = "../../etc/passwd" }, []want{{"time_zone", "not a known"}}},
		{"backwards", func(c *Calendar) { c.Hours[time.Monday] = []Interval{{540, 480}} }, []want{{"hours.mon[0]", "09:00-08:00 ends before it starts"}}},
		{"empty interval", func(c *Calendar) { c.Hours[time.Tuesday][1] = Interval{600, 600} }, []want{{"hours.tue[1]", "10:00-10:00 is empty"}}},
		{"negative start", func(c *Calendar) { c.Hours[time.Sunday] = []Interval{{-30, 60}} }, []want{{"hours.sun[0]", "-30 minutes"}}},
		{"start at 24:00", func(c *Calendar) { c.Hours[time.Sunday] = []Interval{{1440, 1440}} }, []want{{"hours.sun[0]", "00:00 and 23:59"}}},
		{"past midnight", func(c *Calendar) { c.Hours[time.Friday] = []Interval{{1320, 1500}} }, []want{{"hours.fri[0]", "at most 24:00"}}},
		{"overlap", func(c *Calendar) {
			c.Hours[time.Wednesday] = []Interval{{780, 1080}, {540, 720}, {660, 800}}
		}, []want{{"hours.wed[2]", "11:00-13:20 overlaps 09:00-12:00 (hours.wed[1])"}, {"hours.wed[0]", "13:00-18:00 overlaps 11:00-13:20 (hours.wed[2])"}}},
		{"no working time", func(c *Calendar) { c.Hours = [7][]Interval{} }, []want{{"hours", "no working time"}}},
		{"only broken intervals", func(c *Calendar) { c.Hours = [7][]Interval{1: {{600, 500}}} }, []want{{"hours.mon[0]", "ends before"}, {"hours", "no working time"}}},
		{"bad holiday", func(c *Calendar) { c.Holidays = []string{"2025-01-01", "2025-13-01", "2025-1-2", "tomorrow"} },
			[]want{{"holidays[1]", `"2025-13-01" is not a date`}, {"holidays[2]", `"2025-1-2"`}, {"holidays[3]", "YYYY-MM-DD"}}},
		{"duplicate holiday", func(c *Calendar) { c.Holidays = []string{"2025-01-01", "2025-02-01", "2025-01-01"} },
			[]want{{"holidays[2]", "2025-01-01 is already listed as holidays[0]"}}},
		{"too many holidays", func(c *Calendar) { c.Holidays = manyHolidays }, []want{{"holidays", "at most 1000"}}},
		{"everything at once", func(c *Calendar) {
			c.Name = ""
			c.TimeZone = "Nowhere"
			c.Hours[time.Monday] = []Interval{{540, 480}}
			c.Holidays = []string{"x"}
		}, []want{{"name", ""}, {"time_zone", ""}, {"hours.mon[0]", ""}, {"holidays[0]", ""}}},
	} {
		c := valid()
		tc.mutate(&c)
		ve := c.Validate()
		if len(tc.want) == 0 {
			if ve != nil {
				t.Errorf("%s: unexpected %v", tc.name, ve)
			}
			continue
		}
		if ve == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if len(ve.Fields) != len(tc.want) {
			t.Errorf("%s: got %d problems, want %d: %v", tc.name, len(ve.Fields), len(tc.want), ve)
		}
		for _, w := range tc.want {
			i := slices.IndexFunc(ve.Fields, func(f accounts.FieldError) bool {
				return f.Field == w.field && strings.Contains(f.Message, w.contains)
			})
			if i < 0 {
				t.Errorf("%s: no %s problem containing %q in %v", tc.name, w.field, w.contains, ve)
			}
		}
		if _, err := NewSchedule(c); !errors.As(err, new(*accounts.ValidationError)) {
			t.Errorf("%s: NewSchedule = %v, want the ValidationError", tc.name, err)
		}
	}
}

func TestCalendarNewScheduleMerges(t *testing.T) {
	c := Calendar{Name: "m", TimeZone: "UTC"}
	c.Hours[time.Monday] = []Interval{{780, 1080}, {720, 780}, {540, 720}}
	keep := slices.Clone(c.Hours[time.Monday])
	s := calSchedule(t, c)
	if want := []Interval{{540, 1080}}; !slices.Equal(s.hours[time.Monday], want) {
		t.Errorf("merged %v, want %v", s.hours[time.Monday], want)
	}
	if !slices.Equal(c.Hours[time.Monday], keep) {
		t.Errorf("NewSchedule changed the calendar: %v", c.Hours[time.Monday])
	}
	if s.weekly != 9*time.Hour {
		t.Errorf("weekly %v", s.weekly)
	}
}

func TestCalendarJSON(t *testing.T) {
	c := calWeekdays(t, "Asia/Shanghai", "09:00-12:00", "13:00-18:00")
	c.Hours[time.Saturday] = []Interval{calIv(t, "10:00-24:00")}
	c.ID, c.Name, c.Version, c.Holidays = 7, "Shanghai", 3, []string{"2025-10-01"}
	c.Created = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Updated = c.Created.Add(time.Hour)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	hours, _ := json.Marshal(generic["hours"])
	wantHours := `{"fri":["09:00-12:00","13:00-18:00"],"mon":["09:00-12:00","13:00-18:00"],"sat":["10:00-24:00"],"sun":[],` +
		`"thu":["09:00-12:00","13:00-18:00"],"tue":["09:00-12:00","13:00-18:00"],"wed":["09:00-12:00","13:00-18:00"]}`
	if string(hours) != wantHours {
		t.Errorf("hours JSON %s\nwant %s", hours, wantHours)
	}
	if !bytes.Contains(b, []byte(`"hours":{"mon":`)) || !bytes.Contains(b, []byte(`"time_zone":"Asia/Shanghai"`)) {
		t.Errorf("JSON %s", b)
	}
	var back Calendar
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != c.Name || back.ID != c.ID || back.Version != c.Version || back.TimeZone != c.TimeZone ||
		!slices.Equal(back.Holidays, c.Holidays) || !back.Created.Equal(c.Created) || !back.Updated.Equal(c.Updated) {
		t.Errorf("round trip %+v\nwant %+v", back, c)
	}
	for wd := range 7 {
		if !slices.Equal(back.Hours[wd], c.Hours[wd]) {
			t.Errorf("day %d: %v, want %v", wd, back.Hours[wd], c.Hours[wd])
		}
	}

	// A day left out has no work; "hours" left out keeps what was there.
	var partial Calendar
	if err := json.Unmarshal([]byte(`{"name":"x","hours":{"wed":["08:00-09:30"]}}`), &partial); err != nil {
		t.Fatal(err)
	}
	if want := [7][]Interval{3: {{480, 570}}}; fmt.Sprint(partial.Hours) != fmt.Sprint(want) {
		t.Errorf("partial hours %v", partial.Hours)
	}
	if err := json.Unmarshal([]byte(`{"name":"y"}`), &partial); err != nil || partial.Name != "y" || len(partial.Hours[3]) != 1 {
		t.Errorf("no hours: %v %+v", err, partial)
	}
	if err := json.Unmarshal([]byte(`{"hours":null}`), &partial); err != nil || fmt.Sprint(partial.Hours) != fmt.Sprint([7][]Interval{}) {
		t.Errorf("null hours: %v %+v", err, partial.Hours)
	}
	// Semantic problems parse and are left for Validate to explain.
	var backwards Calendar
	if err := json.Unmarshal([]byte(`{"name":"b","hours":{"mon":["09:00-08:00"]}}`), &backwards); err != nil {
		t.Fatal(err)
	}
	if ve := backwards.Validate(); ve == nil || !strings.Contains(ve.Error(), "09:00-08:00 ends before it starts") {
		t.Errorf("Validate after JSON: %v", ve)
	}

	for _, tc := range []struct{ doc, names string }{
		{`{"hours":{"mon":["9:00-17:00"]}}`, `hours.mon[0] "9:00-17:00" is not a time range`},
		{`{"hours":{"tue":["09:00-12:00","13:00-25:00"]}}`, `hours.tue[1] "13:00-25:00"`},
		{`{"hours":{"mon":["24:00-24:00"]}}`, `"24:00-24:00"`},
		{`{"hours":{"mon":["09:00 - 17:00"]}}`, `"09:00 - 17:00"`},
		{`{"hours":{"mon":["09:60-17:00"]}}`, `"09:60-17:00"`},
		{`{"hours":{"mon":["0900-1700"]}}`, `"0900-1700"`},
		{`{"hours":{"funday":["09:00-17:00"]}}`, `unknown day "funday"`},
		{`{"hours":{"Mon":["09:00-17:00"]}}`, `unknown day "Mon"`},
		{`{"hours":["09:00-17:00"]}`, `hours must be an object`},
		{`{"hours":{"mon":"09:00-17:00"}}`, `hours must be an object`},
		{`{"name":"x","colour":"red"}`, `unknown field "colour"`},
		{`{"name":5}`, `cannot unmarshal number`},
	} {
		var got Calendar
		err := json.Unmarshal([]byte(tc.doc), &got)
		if err == nil || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("%s: error %v, want one containing %s", tc.doc, err, tc.names)
		}
	}
	// The API's decoder setting and ours agree.
	dec := json.NewDecoder(strings.NewReader(`{"name":"x","hours":{},"extra":1}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(new(Calendar)); err == nil || !strings.HasPrefix(err.Error(), "json: unknown field ") {
		t.Errorf("decoder with unknown field: %v", err)
	}
}

// calRefElapsed is Elapsed the slow way: every day, every interval, no week
// skipping.
func calRefElapsed(s *Schedule, from, to time.Time) time.Duration {
	if s.always {
		return max(to.Sub(from), 0)
	}
	var total time.Duration
	for day := dayOf(from.In(s.location())) - 1; day <= dayOf(to.In(s.location()))+1; day++ {
		if s.isHoliday(day) {
			continue
		}
		for _, iv := range s.hours[weekdayOf(day)] {
			a, b := s.instant(day, iv.Start), s.instant(day, iv.End)
			if a.Before(from) {
				a = from
			}
			if b.After(to) {
				b = to
			}
			if b.After(a) {
				total += b.Sub(a)
			}
		}
	}
	return total
}

var calZones = []string{"UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
	"America/Sao_Paulo", "America/Havana", "Pacific/Apia", "Africa/Casablanca", "Asia/Kathmandu", "Pacific/Chatham"}

var calEpoch = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)

// drawCalSchedule draws a valid calendar in a random zone with random hours
// and holidays around 2010-2030.
func drawCalSchedule(t *rapid.T) *Schedule {
	c := Calendar{Name: "prop", TimeZone: rapid.SampledFrom(calZones).Draw(t, "zone")}
	step := rapid.SampledFrom([]int{1, 15, 30, 60}).Draw(t, "step")
	for wd := range 7 {
		n := rapid.IntRange(0, 3).Draw(t, "intervals")
		pts := make([]int, 2*n)
		for i := range pts {
			pts[i] = rapid.IntRange(0, minutesPerDay/step).Draw(t, "minute") * step
		}
		slices.Sort(pts)
		for i := 0; i+1 < len(pts); i += 2 {
			if pts[i] < pts[i+1] {
				c.Hours[wd] = append(c.Hours[wd], Interval{pts[i], pts[i+1]})
			}
		}
	}
	if c.Validate() != nil {
		c.Hours[time.Monday] = append(c.Hours[time.Monday], Interval{0, 1})
	}
	for range rapid.IntRange(0, 40).Draw(t, "holidays") {
		h := calEpoch.AddDate(0, 0, rapid.IntRange(0, 20*366).Draw(t, "holiday")).Format(holidayLayout)
		if !slices.Contains(c.Holidays, h) {
			c.Holidays = append(c.Holidays, h)
		}
	}
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatalf("drawn calendar invalid: %v", err)
	}
	return s
}

func drawCalTime(t *rapid.T, label string) time.Time {
	return calEpoch.Add(time.Duration(rapid.Int64Range(0, 20*366*24*3600).Draw(t, label)) * time.Second)
}

func drawCalDuration(t *rapid.T, label string) time.Duration {
	switch rapid.IntRange(0, 3).Draw(t, label+"_kind") {
	case 0:
		return 0
	case 1: // minutes to a few weeks of working time, to the second
		return time.Duration(rapid.Int64Range(1, 500*3600).Draw(t, label)) * time.Second
	case 2:
		return time.Duration(rapid.Int64Range(1, 60*8).Draw(t, label)) * time.Minute
	default: // long enough to take the week-skipping path
		return time.Duration(rapid.Int64Range(1, 3*366*24).Draw(t, label)) * time.Hour
	}
}

// calBound keeps d within about three years of s's working weeks, so a
// calendar with a minute a week does not send Add thousands of years ahead.
func calBound(s *Schedule, d time.Duration) time.Duration {
	if limit := 156 * s.weekly; d > limit {
		return d % limit
	}
	return d
}

func TestCalendarProperties(t *testing.T) {
	t.Run("Add inverts Elapsed and is the first such instant", rapid.MakeCheck(func(t *rapid.T) {
		s := drawCalSchedule(t)
		from, d := drawCalTime(t, "from"), drawCalDuration(t, "d")
		d = calBound(s, d)
		got, err := s.Add(from, d)
		if errors.Is(err, ErrNoWorkingTime) {
			t.Skip("no working time")
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Before(from) {
			t.Fatalf("Add went backwards: %v < %v", got, from)
		}
		if e := s.Elapsed(from, got); e != d {
			t.Fatalf("Elapsed(from, Add(from, %v)) = %v (Add = %v)", d, e, got)
		}
		if d > 0 {
			if e := s.Elapsed(from, got.Add(-time.Nanosecond)); e >= d {
				t.Fatalf("Add(from, %v) = %v is not the first instant with that much business time", d, got)
			}
		} else if again, err := s.Add(got, 0); err != nil || !again.Equal(got) {
			// Add(from, 0) lands in working time, where Add(., 0) stays.
			t.Fatalf("Add(from, 0) = %v, but Add(that, 0) = %v, %v", got, again, err)
		}
		if got.Sub(from) < 3*366*24*time.Hour {
			if ref := calRefElapsed(s, from, got); ref != d {
				t.Fatalf("reference Elapsed(from, Add(from, %v)) = %v", d, ref)
			}
		}
	}))

	t.Run("Elapsed is additive and matches a plain day walk", rapid.MakeCheck(func(t *rapid.T) {
		s := drawCalSchedule(t)
		ts := []time.Time{drawCalTime(t, "a"), drawCalTime(t, "b"), drawCalTime(t, "c")}
		if rapid.Bool().Draw(t, "close") { // keep spans short sometimes, to land inside days
			ts[1] = ts[0].Add(time.Duration(rapid.Int64Range(0, 10*24*3600).Draw(t, "ab")) * time.Second)
			ts[2] = ts[1].Add(time.Duration(rapid.Int64Range(0, 10*24*3600).Draw(t, "bc")) * time.Second)
		}
		slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
		a, b, c := ts[0], ts[1], ts[2]
		ab, bc, ac := s.Elapsed(a, b), s.Elapsed(b, c), s.Elapsed(a, c)
		if ab+bc != ac {
			t.Fatalf("Elapsed(a,b)+Elapsed(b,c) = %v + %v != Elapsed(a,c) = %v", ab, bc, ac)
		}
		if ref := calRefElapsed(s, a, c); ref != ac {
			t.Fatalf("Elapsed(a,c) = %v, reference %v", ac, ref)
		}
		if ac > c.Sub(a) {
			t.Fatalf("more business time (%v) than real time (%v)", ac, c.Sub(a))
		}
		if s.Elapsed(c, a) != 0 && a.Before(c) {
			t.Fatal("backwards span has business time")
		}
	}))

	t.Run("Add is monotonic in d", rapid.MakeCheck(func(t *rapid.T) {
		s := drawCalSchedule(t)
		from := drawCalTime(t, "from")
		d1, d2 := calBound(s, drawCalDuration(t, "d1")), calBound(s, drawCalDuration(t, "d2"))
		if d1 > d2 {
			d1, d2 = d2, d1
		}
		r1, err1 := s.Add(from, d1)
		r2, err2 := s.Add(from, d2)
		if err1 != nil || err2 != nil {
			t.Skip("no working time")
		}
		if r2.Before(r1) {
			t.Fatalf("Add(from, %v) = %v after Add(from, %v) = %v", d1, r1, d2, r2)
		}
		// Counting on from an intermediate result gives the same end. (Not
		// for d2 == d1: Add(r1, 0) moves from the end of an interval to the
		// next start.)
		if d2 > d1 {
			r3, err := s.Add(r1, d2-d1)
			if err != nil || !r3.Equal(r2) {
				t.Fatalf("Add(Add(from, d1), d2-d1) = %v, %v; want %v", r3, err, r2)
			}
		}
	}))
}

func BenchmarkScheduleAdd(b *testing.B) {
	c := calWeekdays(b, "Asia/Shanghai", "09:00-12:00", "13:00-18:00")
	c.Name = "bench"
	for _, h := range []string{"2025-01-01", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-03",
		"2025-04-04", "2025-05-01", "2025-05-02", "2025-05-05", "2025-06-02", "2025-10-01", "2025-10-02",
		"2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"} {
		c.Holidays = append(c.Holidays, h)
	}
	s := calSchedule(b, c)
	froms := make([]time.Time, 997)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range froms {
		froms[i] = base.Add(time.Duration(i)*8*time.Hour + time.Duration(i*37)*time.Minute)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Add(froms[i%len(froms)], 8*time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkScheduleElapsedMonth(b *testing.B) {
	c := calWeekdays(b, "Europe/Berlin", "09:00-17:00")
	c.Name = "bench"
	s := calSchedule(b, c)
	from := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Elapsed(from, from.AddDate(0, 1, 0))
	}
}

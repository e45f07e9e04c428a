package sla

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loopdesk/loopdesk/workflow"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func TestReplayPausedTimeNeverCounts(t *testing.T) {
	tl := Timeline{Created: t0, Initial: workflow.SLARunning, Steps: []Step{
		{At: t0.Add(time.Hour), Kind: StepState, SLA: workflow.SLAPaused},
		{At: t0.Add(5 * time.Hour), Kind: StepState, SLA: workflow.SLARunning},
	}}
	c, err := Replay(tl, Target{Metric: Resolution, Within: Duration(3 * time.Hour)}, AlwaysOpenSchedule(), t0.Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Elapsed != 2*time.Hour || c.State != ClockRunning {
		t.Fatalf("elapsed %s state %s, want 2h running", c.Elapsed, c.State)
	}
	if !c.DueAt.Equal(t0.Add(7 * time.Hour)) {
		t.Fatalf("due %s, want created+7h (3h target + 4h paused)", c.DueAt)
	}
}

func TestReplayReopenResumesResolution(t *testing.T) {
	tl := Timeline{Created: t0, Initial: workflow.SLARunning, Steps: []Step{
		{At: t0.Add(time.Hour), Kind: StepState, SLA: workflow.SLAStopped},
		{At: t0.Add(3 * time.Hour), Kind: StepState, SLA: workflow.SLARunning},
	}}
	target := Target{Metric: Resolution, Within: Duration(2 * time.Hour)}
	c, err := Replay(tl, target, AlwaysOpenSchedule(), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.State != ClockStopped || c.MetAt == nil || !c.MetAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("resolved: %+v", c)
	}
	c, err = Replay(tl, target, AlwaysOpenSchedule(), t0.Add(3*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.State != ClockRunning || c.MetAt != nil || c.Elapsed != 90*time.Minute || !c.DueAt.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("reopened: %+v", c)
	}
}

// genTimeline draws a ticket's life: state changes and replies at
// increasing instants.
func genTimeline(t *rapid.T) Timeline {
	behaviours := []workflow.SLABehaviour{workflow.SLARunning, workflow.SLAPaused, workflow.SLAStopped}
	tl := Timeline{Created: t0, Initial: rapid.SampledFrom(behaviours[:2]).Draw(t, "initial")}
	at := t0
	for i := range rapid.IntRange(0, 12).Draw(t, "steps") {
		_ = i
		at = at.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "gap_min")) * time.Minute)
		st := Step{At: at, Kind: StepKind(rapid.IntRange(0, 2).Draw(t, "kind"))}
		if st.Kind == StepState {
			st.SLA = rapid.SampledFrom(behaviours).Draw(t, "sla")
		}
		tl.Steps = append(tl.Steps, st)
	}
	return tl
}

// TestReplayProperties: for random histories, replaying later never counts
// less, never counts more than the wall-clock time since the start, and a
// running clock's due instant does not move while nothing happens.
func TestReplayProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tl := genTimeline(t)
		target := Target{
			Metric:      rapid.SampledFrom(Metrics).Draw(t, "metric"),
			Within:      Duration(time.Duration(rapid.IntRange(1, 48*60).Draw(t, "within_min")) * time.Minute),
			WarnPercent: rapid.IntRange(0, 99).Draw(t, "warn"),
		}
		s := AlwaysOpenSchedule()
		last := t0
		if n := len(tl.Steps); n > 0 {
			last = tl.Steps[n-1].At
		}
		now1 := last.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "after1")) * time.Minute)
		now2 := now1.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "after2")) * time.Minute)
		a, err := Replay(tl, target, s, now1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Replay(tl, target, s, now2)
		if err != nil {
			t.Fatal(err)
		}
		if a.Cycle != b.Cycle {
			t.Fatalf("cycle changed without steps: %d -> %d", a.Cycle, b.Cycle)
		}
		if b.Elapsed < a.Elapsed {
			t.Fatalf("elapsed went down: %s -> %s", a.Elapsed, b.Elapsed)
		}
		if b.Elapsed > now2.Sub(b.StartedAt) {
			t.Fatalf("elapsed %s exceeds wall time %s since the start", b.Elapsed, now2.Sub(b.StartedAt))
		}
		if a.State == ClockRunning {
			if !a.DueAt.Equal(*b.DueAt) {
				t.Fatalf("due moved while nothing happened: %s -> %s", a.DueAt, b.DueAt)
			}
			if b.Elapsed-a.Elapsed != now2.Sub(now1) {
				t.Fatalf("running 24x7 clock counted %s over %s", b.Elapsed-a.Elapsed, now2.Sub(now1))
			}
		} else if b.Elapsed != a.Elapsed {
			t.Fatalf("a %s clock counted time: %s -> %s", a.State, a.Elapsed, b.Elapsed)
		}
		if b.DueAt != nil && !b.DueAt.After(now2) && b.Elapsed < time.Duration(target.Within) {
			t.Fatalf("due %s passed but only %s of %s counted", b.DueAt, b.Elapsed, time.Duration(target.Within))
		}
	})
}

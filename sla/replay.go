package sla

import (
	"time"

	"github.com/loopdesk/loopdesk/workflow"
)

// StepKind is what happened at a Step.
type StepKind int

const (
	// StepState: the ticket entered a state with SLA behaviour Step.SLA.
	StepState StepKind = iota
	// StepTeamReply: a public reply by someone other than the requester.
	StepTeamReply
	// StepRequesterReply: a public reply by the requester.
	StepRequesterReply
)

// Step is one thing in a ticket's history that clocks care about.
type Step struct {
	At   time.Time
	Kind StepKind
	SLA  workflow.SLABehaviour // StepState only
}

// Timeline is a ticket's history as clocks see it.
type Timeline struct {
	Created time.Time
	Initial workflow.SLABehaviour // behaviour of the state it was created in
	Steps   []Step                // in order of At
}

// Computed is a clock replayed from a timeline up to an instant.
type Computed struct {
	State     ClockState
	Cycle     int // next_response: cycles started so far (0: none yet)
	StartedAt time.Time
	Elapsed   time.Duration // business time counted up to now
	// WarnAt and DueAt are the instants at which the counted time reached the
	// warning point and the target: past instants when that already
	// happened, projections while running, nil when neither (paused or
	// stopped short of them).
	WarnAt *time.Time
	DueAt  *time.Time
	MetAt  *time.Time
}

// Replay computes one target's clock from a timeline as of now. Steps after
// now are ignored. It only fails with ErrNoWorkingTime.
func Replay(tl Timeline, t Target, s *Schedule, now time.Time) (Computed, error) {
	r := replayer{t: t, s: s, within: time.Duration(t.Within), warn: t.warnOffset()}
	behaviour := tl.Initial
	answered := false // a team reply happened (first response met)
	// active: the metric is waiting for something (a response, resolution).
	active := t.Metric != NextResponse
	r.c.StartedAt = tl.Created
	r.c.Cycle = 1
	if t.Metric == NextResponse {
		r.c.Cycle = 0
	}
	last := tl.Created
	for _, st := range tl.Steps {
		if st.At.After(now) {
			break
		}
		at := st.At
		if at.Before(last) {
			at = last // out-of-order rows: never count time backwards
		}
		if active && behaviour == workflow.SLARunning {
			if err := r.count(last, at); err != nil {
				return Computed{}, err
			}
		}
		last = at
		switch st.Kind {
		case StepState:
			behaviour = st.SLA
			if t.Metric == Resolution {
				if behaviour == workflow.SLAStopped && r.c.MetAt == nil {
					r.c.MetAt = ptr(at)
				} else if behaviour != workflow.SLAStopped {
					r.c.MetAt = nil // reopened: the resolution clock resumes
				}
			}
		case StepTeamReply:
			switch t.Metric {
			case FirstResponse:
				if active {
					active = false
					r.c.MetAt = ptr(at)
				}
			case NextResponse:
				if active {
					active = false
					r.c.MetAt = ptr(at)
				}
			}
			answered = true
		case StepRequesterReply:
			// Next response measures from the oldest unanswered requester
			// reply after the first response; a second reply does not move it.
			if t.Metric == NextResponse && answered && !active {
				active = true
				r.startCycle(at)
			}
		}
	}
	if active && behaviour == workflow.SLARunning && now.After(last) {
		if err := r.count(last, now); err != nil {
			return Computed{}, err
		}
	}
	running := active && behaviour == workflow.SLARunning
	switch {
	case t.Metric == Resolution && r.c.MetAt != nil:
		r.c.State = ClockStopped
	case !active || behaviour == workflow.SLAStopped:
		r.c.State = ClockStopped
	case running:
		r.c.State = ClockRunning
	default:
		r.c.State = ClockPaused
	}
	if r.c.State == ClockRunning {
		// Project the instants not yet reached from now.
		if r.warn >= 0 && r.c.WarnAt == nil {
			at, err := s.Add(now, r.warn-r.c.Elapsed)
			if err != nil {
				return Computed{}, err
			}
			r.c.WarnAt = &at
		}
		if r.c.DueAt == nil {
			at, err := s.Add(now, r.within-r.c.Elapsed)
			if err != nil {
				return Computed{}, err
			}
			r.c.DueAt = &at
		}
	}
	return r.c, nil
}

type replayer struct {
	t      Target
	s      *Schedule
	within time.Duration
	warn   time.Duration // -1: none
	c      Computed
}

func (r *replayer) startCycle(at time.Time) {
	r.c.Cycle++
	r.c.StartedAt = at
	r.c.Elapsed = 0
	r.c.WarnAt, r.c.DueAt, r.c.MetAt = nil, nil, nil
}

// count adds the business time of [from, to) and notes the instants at
// which the warning point and the target were crossed inside it.
func (r *replayer) count(from, to time.Time) error {
	if !to.After(from) {
		return nil
	}
	d := r.s.Elapsed(from, to)
	before := r.c.Elapsed
	after := before + d
	if r.warn >= 0 && r.c.WarnAt == nil && before <= r.warn && r.warn < after {
		at, err := r.s.Add(from, r.warn-before)
		if err != nil {
			return err
		}
		r.c.WarnAt = &at
	}
	if r.c.DueAt == nil && before <= r.within && r.within < after {
		at, err := r.s.Add(from, r.within-before)
		if err != nil {
			return err
		}
		r.c.DueAt = &at
	}
	r.c.Elapsed = after
	return nil
}

func ptr[T any](v T) *T { return &v }

package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/looplab/fsm"
)

// ErrUnknownState means the stored state is not a state of the definition
// (a bad migration or a wrong pinned version): a server-side problem, not
// the caller's.
var ErrUnknownState = errors.New("workflow: unknown state")

// Result is a successful transition. The caller persists To and applies
// Actions; Category and SLA describe To.
type Result struct {
	From, To string
	Category Category
	SLA      SLABehaviour
	Actions  []Action
}

// NotAllowedError: the event is unknown, or not one that leaves State.
// Allowed lists what this subject may fire from State instead.
type NotAllowedError struct {
	Event, State string
	Allowed      []string
}

func (e *NotAllowedError) Error() string {
	msg := fmt.Sprintf("event %q is not allowed from state %q", e.Event, e.State)
	if len(e.Allowed) == 0 {
		return msg + "; no events are allowed now"
	}
	return msg + "; allowed now: " + strings.Join(e.Allowed, ", ")
}

// Fire moves a ticket in state current through event for subject s.
//
// It builds a fresh looplab/fsm instance per call (an instance is not safe
// for concurrent events, and its saved state is not validated, hence the
// check of current first). Guards run in the before_event callback, the
// only place that may veto; callbacks have no side effects and never call
// Event (that deadlocks). Errors: *NotAllowedError, *GuardError,
// ErrUnknownState (wrapped) or ctx's error. Fire is safe for concurrent use
// on one Definition as long as nobody mutates it.
func (d *Definition) Fire(ctx context.Context, current, event string, s Subject) (Result, error) {
	if d == nil {
		return Result{}, errors.New("workflow: no definition")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	cur, ok := d.State(current)
	if !ok {
		return Result{}, fmt.Errorf("%w %q in workflow %q", ErrUnknownState, current, d.Key)
	}

	// The machine only needs the events that leave current: fsm then
	// reports the others as unknown, which Fire maps to NotAllowedError
	// like an event from another state, and building it stays cheap.
	// Reverse order so that, should an unvalidated definition repeat an
	// event, the first one wins in fsm's map as it does in eventFrom.
	src := []string{current}
	var descs []fsm.EventDesc
	for i := len(d.Events) - 1; i >= 0; i-- {
		if ev := &d.Events[i]; slices.Contains(ev.From, current) {
			descs = append(descs, fsm.EventDesc{Name: ev.Name, Src: src, Dst: ev.To})
		}
	}
	var fired *Event
	machine := fsm.NewFSM(current, descs, fsm.Callbacks{
		"before_event": func(_ context.Context, e *fsm.Event) {
			ev := d.eventFrom(e.Event, e.Src)
			if ev == nil {
				e.Cancel(fmt.Errorf("workflow: event %q from %q vanished", e.Event, e.Src))
				return
			}
			if gerr := checkGuards(ev, cur, &s, false); gerr != nil {
				e.Cancel(gerr)
				return
			}
			fired = ev
		},
	})

	err := machine.Event(ctx, event)
	var noop fsm.NoTransitionError
	if errors.As(err, &noop) && noop.Err == nil {
		err = nil // a self-loop event (From contains To) is a success
	}
	if err != nil {
		return Result{}, d.fireError(current, event, s, err)
	}
	if fired == nil {
		return Result{}, errors.New("workflow: fsm moved without running guards")
	}
	to, ok := d.State(machine.Current())
	if !ok {
		return Result{}, fmt.Errorf("%w %q (target of %q) in workflow %q", ErrUnknownState, machine.Current(), event, d.Key)
	}
	return Result{
		From:     current,
		To:       to.Name,
		Category: to.Category,
		SLA:      to.SLA,
		Actions:  slices.Clone(fired.Actions),
	}, nil
}

func (d *Definition) fireError(current, event string, s Subject, err error) error {
	var invalid fsm.InvalidEventError
	var unknown fsm.UnknownEventError
	if errors.As(err, &invalid) || errors.As(err, &unknown) {
		opts := d.Available(current, s)
		allowed := make([]string, len(opts))
		for i, o := range opts {
			allowed[i] = o.Event
		}
		return &NotAllowedError{Event: event, State: current, Allowed: allowed}
	}
	var gerr *GuardError
	if errors.As(err, &gerr) {
		return gerr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var canceled fsm.CanceledError
	if errors.As(err, &canceled) && canceled.Err != nil {
		return canceled.Err
	}
	return fmt.Errorf("workflow: firing %q from %q: %w", event, current, err)
}

// eventFrom returns the first event called name that leaves from.
func (d *Definition) eventFrom(name, from string) *Event {
	for i := range d.Events {
		if ev := &d.Events[i]; ev.Name == name && slices.Contains(ev.From, from) {
			return ev
		}
	}
	return nil
}

// Available lists, in definition order, the events s may fire from current:
// every guard passes except those a request satisfies by sending fields.
// Those fields are in Option.RequireFields: the event's require_fields and,
// for a Knowledge guard while no article is linked, "no_article_reason"
// (linking an article instead also satisfies it). Fields already present in
// s.Fields are still listed, since they describe the request, not the
// ticket. An unknown current state has no options.
func (d *Definition) Available(current string, s Subject) []Option {
	cur, ok := d.State(current)
	if !ok {
		return nil
	}
	out := []Option{}
	for i := range d.Events {
		ev := &d.Events[i]
		// eventFrom, not just From: an unvalidated definition may repeat a
		// name, and Fire only ever uses the first match.
		if !slices.Contains(ev.From, current) || d.eventFrom(ev.Name, current) != ev {
			continue
		}
		if checkGuards(ev, cur, &s, true) != nil {
			continue
		}
		out = append(out, Option{Event: ev.Name, Label: ev.Label, To: ev.To, RequireFields: optionFields(ev, &s)})
	}
	return out
}

// Package sla holds SLA policies, business calendars, per-ticket clocks and
// the warnings and breaches they record.
//
// The database is the truth: a clock row says when its next instant (warning
// or due) is; an asynq timer at that instant is only an optimisation, and a
// cron sweep catches any clock whose instant passed unmarked. Timers are
// armed only for instants within a short horizon (DefaultTimerHorizon);
// the sweep arms the next ones as they come within it, so Redis holds
// minutes of timers, not one per open ticket. Clocks are
// always recomputed by replaying the ticket's history (Replay), never by
// adjusting them from "now", so a policy change or a priority change gives
// the same answer as if it had been true from the start.
package sla

import (
	"errors"
	"time"
)

// Metric names one SLA target kind.
type Metric string

const (
	// FirstResponse runs from creation to the first public reply by someone
	// other than the requester.
	FirstResponse Metric = "first_response"
	// NextResponse restarts at every public requester reply after the first
	// response and is met by the next public reply from the team.
	NextResponse Metric = "next_response"
	// Resolution runs from creation until the ticket enters a state whose SLA
	// behaviour is "stopped"; reopening resumes it.
	Resolution Metric = "resolution"
)

// Metrics lists every metric in display order.
var Metrics = []Metric{FirstResponse, NextResponse, Resolution}

// Errors returned by calendar maths and the service.
var (
	// ErrNoWorkingTime: the calendar has no working time in the span the
	// computation needs (e.g. every weekday empty, or a year of holidays).
	ErrNoWorkingTime = errors.New("the business calendar has no working time left to count; add working hours or remove holidays")
	// ErrCalendarInUse: a calendar that policies name cannot be deleted.
	ErrCalendarInUse = errors.New("policies use this calendar; point them at another calendar first")
)

// Clock is one metric's stored clock for one ticket, as the API shows it.
type Clock struct {
	TicketID      int64         `json:"ticket_id"`
	Metric        Metric        `json:"metric"`
	PolicyID      int64         `json:"policy_id"`
	Target        time.Duration `json:"-"`
	TargetSeconds int64         `json:"target_seconds"`
	Cycle         int           `json:"cycle"` // next_response: 1 + requester replies that restarted it
	State         ClockState    `json:"state"`
	StartedAt     time.Time     `json:"started_at"`
	// Elapsed is business time counted so far (up to the last pause/stop or,
	// while running, up to UpdatedAt).
	Elapsed        time.Duration `json:"-"`
	ElapsedSeconds int64         `json:"elapsed_seconds"`
	WarnAt         *time.Time    `json:"warn_at"` // nil while paused/stopped or without a warning point
	DueAt          *time.Time    `json:"due_at"`  // nil while paused or stopped
	FirstWarnedAt  *time.Time    `json:"first_warned_at"`
	BreachedAt     *time.Time    `json:"breached_at"`
	MetAt          *time.Time    `json:"met_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
}

// ClockState is what a clock is doing now.
type ClockState string

const (
	ClockRunning ClockState = "running"
	ClockPaused  ClockState = "paused"
	ClockStopped ClockState = "stopped" // met, or the ticket stopped needing it
)

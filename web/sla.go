package web

import (
	"fmt"
	"time"

	"github.com/loopdesk/loopdesk/sla"
)

// slaView is one clock as the ticket page shows it.
type slaView struct {
	Metric  string
	State   string // what a person reads: "Due in 42m", "Breached", "Met", "Paused"
	Class   string // badge colour: ok, warn, bad, muted
	Due     string
	DueISO  string
	Elapsed string // "1h10m of 4h"
	Cycle   int
}

var metricLabels = map[sla.Metric]string{
	sla.FirstResponse: "First response",
	sla.NextResponse:  "Next response",
	sla.Resolution:    "Resolution",
}

func slaViews(clocks []sla.Clock, now time.Time) []slaView {
	out := make([]slaView, 0, len(clocks))
	for _, c := range clocks {
		v := slaView{Metric: metricLabels[c.Metric], Cycle: c.Cycle,
			Elapsed: fmt.Sprintf("%s of %s", short(c.Elapsed), short(c.Target))}
		if c.DueAt != nil {
			v.Due, v.DueISO = clock(*c.DueAt), isoTime(*c.DueAt)
		}
		switch {
		case c.BreachedAt != nil && c.MetAt != nil:
			v.State, v.Class = "Met late", "bad"
		case c.BreachedAt != nil:
			v.State, v.Class = "Breached", "bad"
		case c.MetAt != nil:
			v.State, v.Class = "Met", "ok"
		case c.State == sla.ClockPaused:
			v.State, v.Class = "Paused", "muted"
		case c.State == sla.ClockStopped:
			v.State, v.Class = "Stopped", "muted"
		case c.DueAt != nil:
			left := c.DueAt.Sub(now)
			v.State, v.Class = "Due in "+short(left), "ok"
			if c.WarnAt != nil && !now.Before(*c.WarnAt) {
				v.Class = "warn"
			}
		}
		out = append(out, v)
	}
	return out
}

// short renders a duration to the minute: "2h5m", "45m", "<1m".
func short(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "<1m"
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h >= 48:
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dm", m)
}

package sla

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
)

// Report groupings.
const (
	GroupByMetric     = "metric"
	GroupByDepartment = "department"
	GroupByPriority   = "priority"
)

// ReportGroupings lists the accepted ReportQuery.GroupBy values.
var ReportGroupings = []string{GroupByMetric, GroupByDepartment, GroupByPriority}

// ReportQuery selects the tickets a compliance report covers: those created
// in [From, To), grouped by GroupBy ("" is GroupByMetric).
type ReportQuery struct {
	From    time.Time
	To      time.Time
	GroupBy string
}

// Report is SLA compliance over the tickets created in a period.
//
// What is counted, per clock (one per ticket and metric):
//   - a first_response or resolution clock is one unit; a next_response
//     clock is one unit per cycle (each requester reply that restarted it);
//   - breached: a breach was recorded (for next_response: per cycle, from
//     the recorded breach events);
//   - met on time: met without a breach (for next_response, every earlier
//     cycle that did not breach counts as met on time: a cycle only ends when
//     the team answers);
//   - running: neither met nor breached yet, running or paused;
//   - stopped: stopped without being met or breached (e.g. the ticket was
//     resolved without a public reply, so the first response never came);
//   - compliance: met on time / (met on time + breached), nil when both are 0;
//   - time to met: business time counted when the clock was met, over the met
//     clocks (next_response: the latest cycle of each ticket), met late
//     included.
type Report struct {
	From    time.Time
	To      time.Time
	GroupBy string
	Rows    []ReportRow // by group (no department first, then by id; P1..P4), then metric order
}

// ReportRow is one group's figures for one metric.
type ReportRow struct {
	DepartmentID   *int64 // GroupByDepartment: the department; nil for tickets without one
	DepartmentName string // GroupByDepartment
	Priority       string // GroupByPriority
	Metric         Metric

	Tickets   int // tickets with this clock
	Clocks    int // units counted (next_response: cycles)
	MetOnTime int
	Breached  int
	Running   int
	Stopped   int
	// CompliancePercent is 100 * MetOnTime / (MetOnTime + Breached), rounded
	// to two decimals; nil when nothing was met or breached yet.
	CompliancePercent *float64
	// Met counts the clocks whose time to met is known; the three figures
	// below are over them, in business time, nil when Met is 0.
	Met      int
	AvgToMet *time.Duration
	P50ToMet *time.Duration // nearest-rank percentiles
	P90ToMet *time.Duration
}

// maxReportSpan bounds a report's period; longer ones are a client mistake
// (or a very expensive question).
const maxReportSpan = 3 * 366 * 24 * time.Hour

// Validate lists every problem with q at once.
func (q ReportQuery) Validate() *accounts.ValidationError {
	ve := &accounts.ValidationError{}
	if q.GroupBy != "" && !slices.Contains(ReportGroupings, q.GroupBy) {
		ve.Add("group_by", fmt.Sprintf("%q is not a grouping; use metric, department or priority", q.GroupBy))
	}
	if q.From.IsZero() {
		ve.Add("from", "is required")
	}
	if q.To.IsZero() {
		ve.Add("to", "is required")
	}
	if !q.From.IsZero() && !q.To.IsZero() {
		if !q.To.After(q.From) {
			ve.Add("to", "must be after from")
		} else if q.To.Sub(q.From) > maxReportSpan {
			ve.Add("to", "the period is at most three years; ask for a shorter one")
		}
	}
	if len(ve.Fields) == 0 {
		return nil
	}
	return ve
}

// reportKey identifies a row while aggregating.
type reportKey struct {
	dept     int64 // 0: no department (ids start at 1)
	priority string
	metric   string
}

// reportScan is a result row of the report's queries: the group columns
// and whichever figures the query selects.
type reportScan struct {
	DepartmentID *int64
	Priority     string
	Metric       string

	Tickets   int64
	Cycles    int64
	Breached  int64
	MetOnTime int64
	Running   int64
	Stopped   int64
	Met       int64
	MetMs     int64
	N         int64
	ElapsedMs int64
}

func (g reportScan) key() reportKey {
	k := reportKey{priority: g.Priority, metric: g.Metric}
	if g.DepartmentID != nil {
		k.dept = *g.DepartmentID
	}
	return k
}

// Report computes compliance for q. Counting happens in portable SQL
// (integer sums only) and the arithmetic in Go, so SQLite and MySQL give
// identical answers.
func (s *Service) Report(ctx context.Context, q ReportQuery) (Report, error) {
	if q.GroupBy == "" {
		q.GroupBy = GroupByMetric
	}
	if ve := q.Validate(); ve != nil {
		return Report{}, ve
	}
	from, to := q.From.UTC().Truncate(time.Millisecond), q.To.UTC().Truncate(time.Millisecond)
	out := Report{From: from, To: to, GroupBy: q.GroupBy, Rows: []ReportRow{}}

	// The group columns: always both selected (constants when unused) so one
	// scan target serves every grouping.
	sel, by := "NULL AS department_id, '' AS priority", ""
	switch q.GroupBy {
	case GroupByDepartment:
		sel, by = "t.department_id AS department_id, '' AS priority", "t.department_id, "
	case GroupByPriority:
		sel, by = "NULL AS department_id, t.priority AS priority", "t.priority, "
	}
	const span = "t.created_at >= ? AND t.created_at < ?"
	db := s.conn(ctx)

	// 1. The latest cycle of every clock.
	var counts []reportScan
	err := db.Raw(`SELECT `+sel+`, c.metric AS metric,
  COUNT(*) AS tickets,
  SUM(c.cycle) AS cycles,
  SUM(CASE WHEN c.breached_at IS NOT NULL THEN 1 ELSE 0 END) AS breached,
  SUM(CASE WHEN c.breached_at IS NULL AND c.met_at IS NOT NULL THEN 1 ELSE 0 END) AS met_on_time,
  SUM(CASE WHEN c.breached_at IS NULL AND c.met_at IS NULL AND c.state <> ? THEN 1 ELSE 0 END) AS running,
  SUM(CASE WHEN c.breached_at IS NULL AND c.met_at IS NULL AND c.state = ? THEN 1 ELSE 0 END) AS stopped,
  SUM(CASE WHEN c.met_at IS NOT NULL THEN 1 ELSE 0 END) AS met,
  SUM(CASE WHEN c.met_at IS NOT NULL THEN c.elapsed_ms ELSE 0 END) AS met_ms
FROM tickets t JOIN sla_clocks c ON c.ticket_id = t.id
WHERE `+span+`
GROUP BY `+by+`c.metric`, string(ClockStopped), string(ClockStopped), from, to).Scan(&counts).Error
	if err != nil {
		return Report{}, fmt.Errorf("sla report: clocks: %w", err)
	}

	// 2. Earlier next_response cycles that breached (the clock row only
	// describes its latest cycle; the events remember every one).
	var past []reportScan
	err = db.Raw(`SELECT `+sel+`, c.metric AS metric, COUNT(*) AS n
FROM tickets t JOIN sla_clocks c ON c.ticket_id = t.id
  JOIN sla_events e ON e.ticket_id = c.ticket_id AND e.metric = c.metric AND e.cycle < c.cycle
WHERE e.kind = ? AND `+span+`
GROUP BY `+by+`c.metric`, KindBreach, from, to).Scan(&past).Error
	if err != nil {
		return Report{}, fmt.Errorf("sla report: events: %w", err)
	}
	pastBreached := make(map[reportKey]int64, len(past))
	for _, p := range past {
		pastBreached[p.key()] += p.N
	}

	// 3. Times to met, for the percentiles.
	var mets []reportScan
	err = db.Raw(`SELECT `+sel+`, c.metric AS metric, c.elapsed_ms AS elapsed_ms
FROM tickets t JOIN sla_clocks c ON c.ticket_id = t.id
WHERE c.met_at IS NOT NULL AND `+span, from, to).Scan(&mets).Error
	if err != nil {
		return Report{}, fmt.Errorf("sla report: times to met: %w", err)
	}
	durations := map[reportKey][]int64{}
	for _, m := range mets {
		durations[m.key()] = append(durations[m.key()], m.ElapsedMs)
	}

	rows := map[reportKey]*ReportRow{}
	for _, c := range counts {
		k := c.key()
		if !slices.Contains(Metrics, Metric(c.Metric)) {
			continue // a metric this version does not know; nothing to say about it
		}
		r := &ReportRow{DepartmentID: c.DepartmentID, Priority: c.Priority, Metric: Metric(c.Metric)}
		earlier := max(c.Cycles-c.Tickets, 0) // cycles before each clock's latest one
		pb := min(pastBreached[k], earlier)
		r.Tickets = int(c.Tickets)
		r.Clocks = int(c.Tickets + earlier)
		r.Breached = int(c.Breached + pb)
		r.MetOnTime = int(c.MetOnTime + earlier - pb)
		r.Running = int(c.Running)
		r.Stopped = int(c.Stopped)
		if d := r.MetOnTime + r.Breached; d > 0 {
			r.CompliancePercent = ptr(math.Round(10000*float64(r.MetOnTime)/float64(d)) / 100)
		}
		ds := durations[k]
		if n := len(ds); n > 0 {
			slices.Sort(ds)
			r.Met = n
			var sum int64
			for _, d := range ds {
				sum += d
			}
			r.AvgToMet = ptr(time.Duration(math.Round(float64(sum)/float64(n))) * time.Millisecond)
			r.P50ToMet = ptr(time.Duration(nearestRank(ds, 50)) * time.Millisecond)
			r.P90ToMet = ptr(time.Duration(nearestRank(ds, 90)) * time.Millisecond)
		}
		rows[k] = r
	}
	if q.GroupBy == GroupByMetric {
		for _, m := range Metrics {
			k := reportKey{metric: string(m)}
			if rows[k] == nil {
				rows[k] = &ReportRow{Metric: m}
			}
		}
	}
	for _, r := range rows {
		out.Rows = append(out.Rows, *r)
	}
	slices.SortFunc(out.Rows, func(a, b ReportRow) int {
		var ia, ib int64
		if a.DepartmentID != nil {
			ia = *a.DepartmentID
		}
		if b.DepartmentID != nil {
			ib = *b.DepartmentID
		}
		if ia != ib {
			if ia < ib {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return slices.Index(Metrics, a.Metric) - slices.Index(Metrics, b.Metric)
	})
	if q.GroupBy == GroupByDepartment {
		if err := s.departmentNames(ctx, out.Rows); err != nil {
			return Report{}, err
		}
	}
	return out, nil
}

// departmentNames fills DepartmentName in rows.
func (s *Service) departmentNames(ctx context.Context, rows []ReportRow) error {
	var ids []int64
	for _, r := range rows {
		if r.DepartmentID != nil && !slices.Contains(ids, *r.DepartmentID) {
			ids = append(ids, *r.DepartmentID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var names []struct {
		ID   int64
		Name string
	}
	if err := s.conn(ctx).Table("departments").Select("id", "name").Where("id IN ?", ids).Scan(&names).Error; err != nil {
		return fmt.Errorf("sla report: departments: %w", err)
	}
	byID := make(map[int64]string, len(names))
	for _, n := range names {
		byID[n.ID] = n.Name
	}
	for i := range rows {
		if rows[i].DepartmentID != nil {
			rows[i].DepartmentName = byID[*rows[i].DepartmentID]
		}
	}
	return nil
}

// nearestRank is the p-th percentile of sorted (non-empty) by the
// nearest-rank method: the smallest value with at least p% at or below it.
func nearestRank(sorted []int64, p int) int64 {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Package sla will hold SLA policies, business calendars, clocks and
// breaches. Built under the SLA issue.
package sla

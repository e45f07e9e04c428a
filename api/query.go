package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Query parameters are declared in the route table (route.Query), which
// both documents them and makes the route refuse undeclared ones.

// queryParam declares one query parameter of type typ ("string",
// "integer", "date-time"...); many: repeatable and comma-separated.
func queryParam(name, typ string, many bool, doc string, enum ...string) *Parameter {
	s := &Schema{Type: typ}
	switch typ {
	case "integer":
		s.Format = "int64"
	case "date-time":
		s = &Schema{Type: "string", Description: "RFC 3339 date-time, or a date YYYY-MM-DD (UTC)"}
	}
	for _, e := range enum {
		s.Enum = append(s.Enum, e)
	}
	if many {
		s = &Schema{Type: "array", Items: s}
		doc += " Repeat the parameter or separate values with commas; any value matches."
	}
	return &Parameter{Name: name, In: "query", Description: doc, Schema: s}
}

// queryNames lists every query parameter r accepts.
func (r route) queryNames() []string {
	var names []string
	for _, p := range r.Query {
		names = append(names, p.Name)
	}
	if r.Paged {
		names = append(names, "limit", "cursor")
	}
	return names
}

// onlyQuery refuses query parameters outside allowed, naming each one and
// the parameter it most likely meant.
func onlyQuery(allowed []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var unknown []FieldError
		for name := range c.Request.URL.Query() {
			if slices.Contains(allowed, name) {
				continue
			}
			msg := "unknown query parameter"
			if guess := closest(name, allowed); guess != "" {
				msg += fmt.Sprintf("; did you mean %q?", guess)
			}
			unknown = append(unknown, FieldError{Field: name, Message: msg})
		}
		if len(unknown) == 0 {
			return
		}
		sortFields(unknown)
		names := make([]string, len(unknown))
		for i, f := range unknown {
			names[i] = fmt.Sprintf("%q", f.Field)
		}
		WriteProblem(c, http.StatusBadRequest,
			"unknown query parameter "+strings.Join(names, ", ")+"; this endpoint accepts: "+strings.Join(allowed, ", "),
			unknown...)
	}
}

// closest returns the allowed name within two edits of name (ignoring
// case), or "".
func closest(name string, allowed []string) string {
	if len(name) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(name), a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions, so "stauts" is one edit from "status").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

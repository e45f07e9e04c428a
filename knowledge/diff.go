package knowledge

import (
	"fmt"
	"strings"
)

// A line diff by longest common subsequence, written out as a unified diff
// (3 lines of context), for comparing revisions. The common head and tail
// are trimmed first, so the table covers only the changed middle; past
// maxDiffCells the middle is reported as wholly replaced rather than
// spending quadratic memory on it.

const (
	diffContext  = 3
	maxDiffCells = 4_000_000
)

type opKind byte

const (
	opEqual opKind = ' '
	opDel   opKind = '-'
	opAdd   opKind = '+'
)

type diffOp struct {
	kind opKind
	text string
}

// splitLines splits text into lines without their newline; "" has none.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// diffLines returns the edit script from a to b.
func diffLines(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]diffOp, 0, len(a)+len(b))
	for _, l := range a[:pre] {
		ops = append(ops, diffOp{opEqual, l})
	}
	ops = append(ops, lcsMiddle(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, diffOp{opEqual, l})
	}
	return ops
}

func lcsMiddle(a, b []string) []diffOp {
	n, m := len(a), len(b)
	var ops []diffOp
	if n == 0 || m == 0 || n*m > maxDiffCells {
		for _, l := range a {
			ops = append(ops, diffOp{opDel, l})
		}
		for _, l := range b {
			ops = append(ops, diffOp{opAdd, l})
		}
		return ops
	}
	// Lines as small integers, so the table compares ints.
	ids := map[string]int32{}
	intern := func(ls []string) []int32 {
		out := make([]int32, len(ls))
		for i, l := range ls {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	x, y := intern(a), intern(b)
	// t[i][j] = LCS length of x[i:] and y[j:], in one flat slice.
	w := m + 1
	t := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			} else {
				t[i*w+j] = max(t[(i+1)*w+j], t[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			ops = append(ops, diffOp{opEqual, a[i]})
			i++
			j++
		case t[(i+1)*w+j] >= t[i*w+j+1]:
			ops = append(ops, diffOp{opDel, a[i]})
			i++
		default:
			ops = append(ops, diffOp{opAdd, b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, diffOp{opDel, a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, diffOp{opAdd, b[j]})
	}
	return ops
}

// unified writes the hunks of ops under --- fromName / +++ toName, and
// counts added and removed lines. Equal inputs give "".
func unified(fromName, toName string, ops []diffOp) (out string, added, removed int) {
	changed := false
	for _, op := range ops {
		switch op.kind {
		case opAdd:
			added++
			changed = true
		case opDel:
			removed++
			changed = true
		}
	}
	if !changed {
		return "", 0, 0
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", fromName, toName)
	// Positions (1-based line numbers in a and b) before each op.
	type pos struct{ a, b int }
	at := make([]pos, len(ops)+1)
	pa, pb := 1, 1
	for k, op := range ops {
		at[k] = pos{pa, pb}
		if op.kind != opAdd {
			pa++
		}
		if op.kind != opDel {
			pb++
		}
	}
	at[len(ops)] = pos{pa, pb}

	k := 0
	for k < len(ops) {
		// Next change.
		for k < len(ops) && ops[k].kind == opEqual {
			k++
		}
		if k == len(ops) {
			break
		}
		start := max(0, k-diffContext)
		end := k
		// Extend while the gap to the next change is at most 2*context.
		for end < len(ops) {
			if ops[end].kind != opEqual {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-end > 2*diffContext {
				end = min(len(ops), end+diffContext)
				break
			}
			end = run
		}
		aLen, bLen := 0, 0
		for _, op := range ops[start:end] {
			if op.kind != opAdd {
				aLen++
			}
			if op.kind != opDel {
				bLen++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(at[start].a, aLen), hunkRange(at[start].b, bLen))
		for _, op := range ops[start:end] {
			sb.WriteByte(byte(op.kind))
			sb.WriteString(op.text)
			sb.WriteByte('\n')
		}
		k = end
	}
	return sb.String(), added, removed
}

// hunkRange is a unified diff range: "start,len", or "start" for one line;
// an empty range names the line before it.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// diffRevisions compares two revisions: one-line fields as changes, title,
// summary and body as one unified diff with a file section per field.
func diffRevisions(from, to revisionRow) Diff {
	d := Diff{ArticleID: to.ArticleID, From: toRevision(from, nil, false), To: toRevision(to, nil, false)}
	for _, c := range []FieldChange{
		{"category", from.Category, to.Category},
		{"tags", strings.Join(decodeTags(from.Tags), ", "), strings.Join(decodeTags(to.Tags), ", ")},
		{"language", from.Language, to.Language},
		{"audience", from.Audience, to.Audience},
	} {
		if c.From != c.To {
			d.Changes = append(d.Changes, c)
		}
	}
	var sb strings.Builder
	for _, f := range []struct{ name, a, b string }{
		{"title", from.Title, to.Title},
		{"summary", from.Summary, to.Summary},
		{"body", from.Body, to.Body},
	} {
		u, add, del := unified(fmt.Sprintf("revision %d/%s", from.Number, f.name), fmt.Sprintf("revision %d/%s", to.Number, f.name),
			diffLines(splitLines(f.a), splitLines(f.b)))
		sb.WriteString(u)
		d.Added += add
		d.Removed += del
	}
	d.Unified = sb.String()
	return d
}

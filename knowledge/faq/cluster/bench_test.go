package cluster

import (
	"fmt"
	"github.com/loopdesk/loopdesk/internal/datasets"
	"testing"
)

// grow replicates questions to n with datasets.Vary; each copy keeps its
// question's intent.
func grow(ls []labelled, n int) []labelled {
	texts := make([]string, len(ls))
	for i, l := range ls {
		texts[i] = l.text
	}
	out := make([]labelled, n)
	for i, t := range datasets.Vary(texts, n) {
		out[i] = labelled{t, ls[i%len(ls)].intent}
	}
	return out
}

// scaleSet is BANKING77 test and CLINC150 test interleaved (7,580
// questions, 227 intents), grown to n tickets by grow.
func scaleSet(tb testing.TB, n int) ([]Item, []string) {
	dir := mustData(tb)
	b, err := loadBanking77(dir, "test")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := loadCLINC150(dir, "test")
	if err != nil {
		tb.Fatal(err)
	}
	var ls []labelled
	for i := range max(len(b), len(c)) {
		if i < len(b) {
			ls = append(ls, labelled{b[i].text, "banking77:" + b[i].intent})
		}
		if i < len(c) {
			ls = append(ls, labelled{c[i].text, "clinc150:" + c[i].intent})
		}
	}
	return asItems(grow(ls, n))
}

// BenchmarkCluster mines 10,000 and 100,000 tickets in one Cluster call
// (chunks of 10,000 through the incremental path) and reports the
// protocol's scores of the result.
func BenchmarkCluster(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		items, truth := scaleSet(b, n)
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			var groups []Group
			for b.Loop() {
				groups = Cluster(items, Options{})
			}
			s := score(groupLabels(len(items), groups), truth)
			b.ReportMetric(float64(s.proposals), "proposals")
			b.ReportMetric(s.clean, "clean")
			b.ReportMetric(s.found, "found")
			b.ReportMetric(s.coverage, "coverage")
			b.ReportMetric(s.ari, "ARI")
		})
	}
}

// BenchmarkAdd adds 1,000 new tickets to a State that already holds
// 100,000 (the nightly run of a large helpdesk).
func BenchmarkAdd(b *testing.B) {
	items, _ := scaleSet(b, 101_000)
	base, more := items[:100_000], items[100_000:]
	s := NewState(Options{})
	s.Add(base)
	js, err := s.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var r State
		if err := r.UnmarshalJSON(js); err != nil {
			b.Fatal(err)
		}
		r.Add(more)
	}
	b.ReportMetric(float64(len(js))/1e6, "state-MB")
	b.ReportMetric(float64(s.Held()), "held")
	b.ReportMetric(float64(len(s.props)), "proposals")
}

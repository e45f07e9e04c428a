package suggest

// Scale: a synthetic knowledge base of thousands of articles built from the
// intents of BANKING77 and CLINC150, each intent split into variants that
// differ by product, platform and country, with linked tickets made of the
// intent's training questions plus the variant's words. See
// docs/BENCHMARKS.md, "Article suggestions on BANKING77 and CLINC150".

import (
	"fmt"
	"github.com/loopdesk/loopdesk/internal/datasets"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	scaleProducts  = []string{"visa", "mastercard", "premium", "business", "student", "joint", "savings", "travel", "junior", "metal", "virtual", "crypto", "mortgage", "insurance", "pension"}
	scalePlatforms = []string{"android", "iphone", "website", "branch", "telephone", "tablet", "smartwatch"}
	scaleCountries = []string{"germany", "france", "spain", "italy", "ireland", "poland", "sweden", "austria", "belgium", "portugal", "greece", "finland", "norway"}
)

// scaleBase is a synthetic base: articles, linked tickets and test
// questions (with the article each should find).
type scaleBase struct {
	arts  []Article
	exs   []Example
	tests []labelledID
}

type labelledID struct {
	text string
	id   int64
}

// makeScaleBase makes nArticles articles and nExamples linked tickets from
// the intents of BANKING77 and CLINC150 (227 intents): article i is
// variant i/227 of intent i%227, named by a product, a platform and a
// country; its tickets are its intent's training questions with the
// variant's words, every other one with synthetic typos.
func makeScaleBase(dir string, nArticles, nExamples int) (*scaleBase, error) {
	b77, err := loadBanking77(dir)
	if err != nil {
		return nil, err
	}
	cl, err := loadCLINC150(dir, false)
	if err != nil {
		return nil, err
	}
	type intent struct {
		name        string
		train, test []string
	}
	var intents []*intent
	for _, ds := range []*dataset{b77, cl} {
		by := map[string]*intent{}
		for _, in := range ds.intents {
			by[in] = &intent{name: in}
			intents = append(intents, by[in])
		}
		for _, l := range ds.train {
			by[l.intent].train = append(by[l.intent].train, l.text)
		}
		for _, l := range ds.test {
			by[l.intent].test = append(by[l.intent].test, l.text)
		}
	}
	ni := len(intents)
	variant := func(v, i int) (product, platform, country string) {
		return scaleProducts[v%len(scaleProducts)],
			scalePlatforms[(v/len(scaleProducts)+i)%len(scalePlatforms)],
			scaleCountries[(v*7+i)%len(scaleCountries)]
	}
	phrase := func(rng *rand.Rand, q, product, platform, country string) string {
		switch rng.IntN(4) {
		case 0:
			return q + " (" + product + ", " + platform + ")"
		case 1:
			return "I have " + product + " and use " + platform + ". " + q
		case 2:
			return q + " - " + product + " customer in " + country + " on " + platform
		default:
			return product + " " + platform + " " + country + ": " + q
		}
	}
	sb := &scaleBase{}
	rng := rand.New(rand.NewPCG(11, 11))
	for a := range nArticles {
		in, v := intents[a%ni], a/ni
		product, platform, country := variant(v, a%ni)
		words := strings.ReplaceAll(in.name, "_", " ")
		art := intentArticle(int64(a+1), in.name)
		art.Title += " with " + product + " on " + platform
		art.Summary = "What to know about " + words + " for " + product + " customers on " + platform + " in " + country + "."
		art.Body += " For " + product + " accounts, on " + platform + ", in " + country + "."
		art.Tags = append(art.Tags, product, platform, country)
		sb.arts = append(sb.arts, art)
	}
	for e := range nExamples {
		a := e % nArticles
		in, v := intents[a%ni], a/ni
		product, platform, country := variant(v, a%ni)
		q := in.train[(e/nArticles*7+v)%len(in.train)]
		sb.exs = append(sb.exs, Example{ArticleID: int64(a + 1), Text: phrase(rng, q, product, platform, country)})
	}
	for i := range sb.exs {
		if i%2 == 1 {
			sb.exs[i].Text = synthetic([]Example{sb.exs[i]}, 2)[1].Text
		}
	}
	for t := range 2000 {
		a := (t * 7919) % nArticles
		in, v := intents[a%ni], a/ni
		product, platform, country := variant(v, a%ni)
		q := in.test[(t/7+v)%len(in.test)]
		sb.tests = append(sb.tests, labelledID{phrase(rng, q, product, platform, country), int64(a + 1)})
	}
	return sb, nil
}

// heapPeak samples the heap in use every few milliseconds until stopped.
type heapPeak struct {
	stop chan struct{}
	done sync.WaitGroup
	peak atomic.Uint64
	base uint64
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapPeak{stop: make(chan struct{}), base: ms.HeapAlloc}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// end returns the peak heap above the start and the heap still in use after
// a collection (what the caller kept), in MB.
func (h *heapPeak) end() (peakMB, keptMB float64) {
	close(h.stop)
	h.done.Wait()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak := max(h.peak.Load(), ms.HeapAlloc)
	return float64(peak-h.base) / (1 << 20), (float64(ms.HeapAlloc) - float64(h.base)) / (1 << 20)
}

// buildRankScale builds a model of a synthetic base and ranks its test
// questions one at a time, reporting Build time, peak heap, the model's
// heap, Rank p50/p99 (top 5), top-1 accuracy and the share of questions
// whose right first suggestion scores under MinScore.
func buildRankScale(b *testing.B, nArticles, nExamples int) {
	dir, ok := datasets.Dir()
	if !ok {
		b.Skip("shared data sets not found (../shared/data from the repository root, or $LOOPDESK_DATA_SETS)")
	}
	sb, err := makeScaleBase(dir, nArticles, nExamples)
	if err != nil {
		b.Fatal(err)
	}
	measureBuildRank(b, sb)
}

// measureBuildRank builds sb's model and ranks its test questions.
func measureBuildRank(b *testing.B, sb *scaleBase) {
	// LOOPDESK_SUGGEST_VARIANT: settings as in TestTune (parseVariant).
	p := defaultParams()
	opts := Options{p: &p}
	if v := os.Getenv("LOOPDESK_SUGGEST_VARIANT"); v != "" {
		parseVariant(b, v, &p, &opts)
	}
	var build time.Duration
	var peak, kept, top1, lostMin float64
	var lat []time.Duration
	for b.Loop() {
		h := startHeapPeak()
		t0 := time.Now()
		m := Build(sb.arts, sb.exs, opts)
		build = time.Since(t0)
		peak, kept = h.end()
		lat = lat[:0]
		hits, lost := 0, 0
		for _, q := range sb.tests {
			t0 := time.Now()
			s := m.Rank(q.text, 5)
			lat = append(lat, time.Since(t0))
			if len(s) > 0 && s[0].ArticleID == q.id {
				hits++
				if s[0].Score < MinScore {
					lost++
				}
			}
		}
		top1 = float64(hits) / float64(len(sb.tests))
		lostMin = float64(lost) / float64(len(sb.tests))
		runtime.KeepAlive(m)
	}
	slices.Sort(lat)
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(peak, "peak-heap-MB")
	b.ReportMetric(kept, "model-MB")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "rank-p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "rank-p99-µs")
	b.ReportMetric(top1, "top1")
	b.ReportMetric(lostMin, "top1-under-MinScore")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBuildRank10kArticles: 10,000 articles, 100,000 linked tickets.
func BenchmarkBuildRank10kArticles(b *testing.B) { buildRankScale(b, 10_000, 100_000) }

// BenchmarkBuildRankScale: smaller and larger bases, for the trend.
func BenchmarkBuildRankScale(b *testing.B) {
	for _, c := range []struct{ arts, exs int }{{150, 15_000}, {1_000, 10_000}, {1_000, 100_000}, {3_000, 30_000}} {
		b.Run(fmt.Sprintf("articles=%d/examples=%d", c.arts, c.exs), func(b *testing.B) { buildRankScale(b, c.arts, c.exs) })
	}
}

// BenchmarkSuggestMemory measures the CLINC150 base (150 articles) with its
// 15,000 training questions, and grown to 100,000 by synthetic.
func BenchmarkSuggestMemory(b *testing.B) {
	dir, ok := datasets.Dir()
	if !ok {
		b.Skip("shared data sets not found")
	}
	cl, err := loadCLINC150(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	arts, exs, ids := cl.articlesAndLinks()
	var tests []labelledID
	for _, l := range cl.test {
		tests = append(tests, labelledID{l.text, ids[l.intent]})
	}
	for _, n := range []int{15_000, 100_000} {
		b.Run(fmt.Sprintf("examples=%d", n), func(b *testing.B) {
			measureBuildRank(b, &scaleBase{arts: arts, exs: synthetic(exs, n), tests: tests})
		})
	}
}

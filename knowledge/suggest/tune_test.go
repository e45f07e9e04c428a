package suggest

// Tuning harness: how the settings in defaultParams were chosen, on
// validation splits only (the test questions are kept for
// TestSuggestDatasets). For example:
//
//	LOOPDESK_SUGGEST_TUNE=default,lr=2,chi=5,tw=1+tt=2 go test ./knowledge/suggest -run TestTune -v
//
// Each variant is "default" or settings joined by '+' (see parseVariant);
// LOOPDESK_SUGGEST_SHOTS=n keeps only n linked tickets per intent.

import (
	"github.com/loopdesk/loopdesk/internal/datasets"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// valSplit returns a data set for tuning: BANKING77 holds out every 5th
// training question of each intent; CLINC150 links train and evaluates val.
func valSplit(t *testing.T, name string) *dataset {
	dir, ok := datasets.Dir()
	if !ok {
		t.Skip("shared data sets not found")
	}
	if name == "CLINC150" {
		ds, err := loadCLINC150(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := loadCLINC150(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		ds.train, ds.test = tr.train, ds.train[len(tr.train):]
		return ds
	}
	ds, err := loadBanking77(dir)
	if err != nil {
		t.Fatal(err)
	}
	cnt := map[string]int{}
	var tr, va []labelled
	for _, l := range ds.train {
		if cnt[l.intent]++; cnt[l.intent]%5 == 0 {
			va = append(va, l)
		} else {
			tr = append(tr, l)
		}
	}
	ds.train, ds.test = tr, va
	return ds
}

// TestTune reports each variant on the validation splits: with all links,
// and with one intent in five unlinked (questions of unlinked / linked
// intents).
func TestTune(t *testing.T) {
	spec := os.Getenv("LOOPDESK_SUGGEST_TUNE")
	if spec == "" {
		t.Skip("LOOPDESK_SUGGEST_TUNE not set: tuning harness")
	}
	for _, name := range []string{"BANKING77", "CLINC150"} {
		ds := valSplit(t, name)
		if n, _ := strconv.Atoi(os.Getenv("LOOPDESK_SUGGEST_SHOTS")); n > 0 {
			cnt := map[string]int{}
			var tr []labelled
			for _, l := range ds.train {
				if cnt[l.intent]++; cnt[l.intent] <= n {
					tr = append(tr, l)
				}
			}
			ds.train = tr
		}
		arts, exs, ids := ds.articlesAndLinks()
		warmEx, cold := ds.coldSplit(exs, ids)
		var coldQ, warmQ []labelled
		for _, l := range ds.test {
			if cold[ids[l.intent]] {
				coldQ = append(coldQ, l)
			} else {
				warmQ = append(warmQ, l)
			}
		}
		for _, v := range strings.Split(spec, ",") {
			p := defaultParams()
			o := Options{p: &p}
			parseVariant(t, v, &p, &o)
			t0 := time.Now()
			full := Build(arts, exs, o)
			bt := time.Since(t0)
			none := Build(arts, nil, o)
			part := Build(arts, warmEx, o)
			t.Logf("%-9s %-24s links %v  build %v", name, v, evaluate(ds.test, ids, modelRanker(full)), bt.Round(time.Millisecond))
			t.Logf("%-9s %-24s none  %v", name, v, evaluate(ds.test, ids, modelRanker(none)))
			cm, wm := evaluate(coldQ, ids, modelRanker(part)), evaluate(warmQ, ids, modelRanker(part))
			t.Logf("%-9s %-24s 1/5 unlinked: unlinked %.3f/%.3f linked %.3f/%.3f", name, v, cm.top1, cm.top3, wm.top1, wm.top3)
		}
	}
}

// parseVariant applies "k=v+k=v" settings to p and o.
func parseVariant(t testing.TB, v string, p *params, o *Options) {
	if v == "default" {
		return
	}
	for _, kv := range strings.Split(v, "+") {
		k, val, _ := strings.Cut(kv, "=")
		f, _ := strconv.ParseFloat(val, 64)
		i := int(f)
		switch k {
		case "lr":
			p.lr = f
		case "ep":
			o.Epochs = i
		case "seed":
			o.Seed = uint64(i)
		case "clo":
			p.fz.charLo = i
		case "chi":
			p.fz.charHi = i
		case "bi":
			p.fz.bigrams = i == 1
		case "stem":
			p.fz.stem = i == 1
		case "cjk":
			p.fz.cjkChars = i == 1
		case "ks":
			p.fz.keepStop = i == 1
		case "tw":
			p.textWeight = f
		case "tt":
			p.textTemp = f
		case "tc":
			p.textCos = f
		case "tk":
			p.textK = f
		case "prune":
			p.prune = float32(f)
		case "neg":
			p.maxNeg = i
		case "cb":
			p.coldBoost = f
		case "nm":
			p.newMin = float32(f)
		case "mc":
			p.maxClasses = i
		case "row":
			p.maxRow = i
		case "all":
			p.allClasses = i == 1
		case "title":
			p.titleN = i
		default:
			t.Fatalf("unknown setting %q", k)
		}
	}
}

// Package datasets reads the public intent data sets (BANKING77, CLINC150)
// that benchmarks and measurement tests use from ../shared/data. They are
// never copied into the repository; callers skip with a clear message when
// Dir reports them absent.
package datasets

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Labelled is a question and its intent.
type Labelled struct {
	Text, Intent string
}

// Dir finds the data sets: $LOOPDESK_DATA_SETS, else ../shared/data next
// to the module root (the directory holding go.mod). ok is false when the
// directory does not exist.
func Dir() (dir string, ok bool) {
	if d := os.Getenv("LOOPDESK_DATA_SETS"); d != "" {
		_, err := os.Stat(d)
		return d, err == nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil {
			d := filepath.Join(wd, "..", "shared", "data")
			_, err := os.Stat(d)
			return d, err == nil
		}
		parent := filepath.Dir(wd)
		if parent == wd {
			return "", false
		}
		wd = parent
	}
}

// Banking77 reads banking77/<split>.csv ("train", "test").
func Banking77(dir, split string) ([]Labelled, error) {
	f, err := os.Open(filepath.Join(dir, "banking77", split+".csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("banking77 %s: %w", split, err)
	}
	out := make([]Labelled, 0, len(rows))
	for _, r := range rows[1:] {
		out = append(out, Labelled{r[0], r[1]})
	}
	return out, nil
}

// CLINC150 reads clinc150/data_full.json: every split by name ("train",
// "val", "test", and the out-of-scope "oos_train", "oos_val", "oos_test").
func CLINC150(dir string) (map[string][]Labelled, error) {
	b, err := os.ReadFile(filepath.Join(dir, "clinc150", "data_full.json"))
	if err != nil {
		return nil, err
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("clinc150: %w", err)
	}
	out := make(map[string][]Labelled, len(raw))
	for split, rows := range raw {
		ls := make([]Labelled, len(rows))
		for i, r := range rows {
			ls[i] = Labelled{r[0], r[1]}
		}
		out[split] = ls
	}
	return out, nil
}

// Vary returns n texts: the first min(n, len(texts)) unchanged, then copies
// of texts[i % len(texts)] for output i with deterministic small
// variations, as repeat tickets have: a dropped word, two words swapped,
// typos (two letters swapped or one dropped). The typos grow the
// vocabulary as a large real base does.
func Vary(texts []string, n int) []string {
	rng := rand.New(rand.NewPCG(7, 7))
	out := append([]string(nil), texts[:min(n, len(texts))]...)
	for len(out) < n {
		ws := strings.Fields(texts[len(out)%len(texts)])
		if len(ws) > 2 && rng.IntN(3) == 0 {
			i := rng.IntN(len(ws))
			ws = append(ws[:i:i], ws[i+1:]...)
		}
		if len(ws) > 1 && rng.IntN(3) == 0 {
			i := rng.IntN(len(ws) - 1)
			ws[i], ws[i+1] = ws[i+1], ws[i]
		}
		for i, w := range ws {
			if len(w) > 3 && rng.IntN(5) == 0 {
				j := 1 + rng.IntN(len(w)-2)
				v := w[:j] + w[j+1:]
				if rng.IntN(2) == 0 {
					v = w[:j] + w[j+1:j+2] + w[j:j+1] + w[j+2:]
				}
				// A typo inside a multi-byte letter (€, é) would leave
				// bytes that are not UTF-8; the word stays as it was.
				// The random draws are the same either way, so every
				// other copy is what it was before.
				if utf8.ValidString(v) {
					ws[i] = v
				}
			}
		}
		out = append(out, strings.Join(ws, " "))
	}
	return out
}

// Package search tokenizes Chinese, English and mixed text and keeps an
// inverted index in plain SQL tables shared by tickets and knowledge
// articles.
//
// Why character bigrams for CJK: they need no dictionary (a segmenter such as
// gse costs 130-200 MiB of memory and ~33 MB of binary), they find every
// two-character word (退款, 发货) wherever it sits in a sentence, and they are
// computed in Go, so the index behaves the same on SQLite, MySQL and MariaDB:
// MariaDB has no ngram FULLTEXT parser and InnoDB FULLTEXT ignores tokens
// shorter than 3 characters, which is most Chinese words and terms such as
// "ic" or "v2". The price is some noise bigrams across word boundaries,
// which BM25's IDF weighs down.
package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxTermBytes caps a term (the column is VARCHAR(64)); longer words are cut
// at a rune boundary, consistently for documents and queries.
const MaxTermBytes = 64

// stopWords is deliberately tiny: words so common in English support text
// that requiring them (MatchAll) only loses results. Negations ("not", "no")
// and question words stay: they change meaning.
var stopWords = map[string]struct{}{
	"a": {}, "an": {}, "and": {}, "are": {}, "as": {}, "at": {}, "be": {},
	"but": {}, "by": {}, "do": {}, "does": {}, "for": {}, "from": {},
	"has": {}, "have": {}, "i": {}, "in": {}, "is": {}, "it": {}, "its": {},
	"me": {}, "my": {}, "of": {}, "on": {}, "or": {}, "our": {}, "so": {},
	"that": {}, "the": {}, "this": {}, "to": {}, "was": {}, "we": {},
	"with": {}, "you": {}, "your": {},
}

// Tokenize returns the index terms of text in order, duplicates included.
//
//   - Text is NFKC-normalised (full-width ＰＩＮ becomes PIN) and lowercased.
//   - Runs of letters and digits become words: "e52", "v2", "ios17" stay whole.
//     Two-letter words ("ic", "pin") are kept; a lone letter is dropped (the
//     "t" of "can t", initials) but a lone digit is kept ("iPhone 8").
//   - An apostrophe inside a word is removed: "can't" is "cant".
//   - Words joined by '-', '.', '_' or '/' ("wi-fi", "v1.2", "foo_bar") give
//     their parts and also the parts glued together ("wifi"), so "wi-fi",
//     "wifi" and "Wi Fi" documents meet the query "wifi".
//   - A few English stop words are dropped (see stopWords).
//   - Han, Hiragana, Katakana and Hangul runs become overlapping character
//     bigrams (无法开机: 无法 法开 开机); a one-character run is a unigram.
//   - Emoji, symbols, punctuation and control characters separate terms.
//   - Terms are at most MaxTermBytes bytes.
func Tokenize(text string) []string {
	var out []string
	scan(text, indexMode, func(term string, _, _ int) { out = append(out, term) })
	return out
}

// TermFreqs counts the terms of text.
func TermFreqs(text string) map[string]int {
	m := map[string]int{}
	scan(text, indexMode, func(term string, _, _ int) { m[term]++ })
	return m
}

// queryTerms returns the distinct terms of a query in order. Compounds give
// only their glued form: every indexed compound also carries it, so "wi-fi"
// requires "wifi" rather than "wi", "fi" and "wifi".
func queryTerms(query string) []string {
	seen := map[string]struct{}{}
	var out []string
	scan(query, queryMode, func(term string, _, _ int) {
		if _, ok := seen[term]; !ok {
			seen[term] = struct{}{}
			out = append(out, term)
		}
	})
	return out
}

type mode int

const (
	indexMode mode = iota
	queryMode
)

type runeClass int

const (
	sepClass runeClass = iota
	wordClass
	cjkClass
	markClass
)

func classify(r rune) runeClass {
	switch {
	case r < utf8.RuneSelf:
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return wordClass
		}
		return sepClass
	case unicode.Is(unicode.Han, r), unicode.Is(unicode.Hiragana, r),
		unicode.Is(unicode.Katakana, r), unicode.Is(unicode.Hangul, r),
		r == 0x30FC: // ー, the Katakana length mark, is script Common
		return cjkClass
	case unicode.IsLetter(r), unicode.IsNumber(r):
		return wordClass
	case unicode.In(r, unicode.Mn, unicode.Mc) && !unicode.Is(unicode.Variation_Selector, r):
		// Combining marks NFKC could not compose (Devanagari vowel signs...)
		// belong to their word; variation selectors belong to emoji.
		return markClass
	}
	return sepClass
}

func isJoiner(r rune) bool { return r == '-' || r == '.' || r == '_' || r == '/' }

func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' }

type part struct {
	b          []byte
	start, end int
	letters    int // runes that are letters (not digits)
	runes      int
}

// tokenizer is a streaming state machine over normalised runes; each rune
// carries the byte range of the original text it came from, so Snippet can
// highlight the original.
type tokenizer struct {
	mode mode
	emit func(term string, start, end int)

	parts   []part
	cur     part
	inWord  bool
	pending rune // joiner or apostrophe seen after a word, waiting for the next rune

	prevCJK    rune
	prevStart  int
	cjkLen     int
	cjkS, cjkE int
	scratch    []byte
}

func scan(text string, m mode, emit func(term string, start, end int)) {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	t := &tokenizer{mode: m, emit: emit}
	var it norm.Iter
	it.InitString(norm.NFKC, text)
	for !it.Done() {
		start := it.Pos()
		seg := it.Next()
		end := it.Pos()
		for len(seg) > 0 {
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			t.rune(unicode.ToLower(r), start, end)
		}
	}
	t.flushWord()
	t.flushCJK()
}

func (t *tokenizer) rune(r rune, start, end int) {
	c := classify(r)
	if t.pending != 0 {
		p := t.pending
		t.pending = 0
		if c == wordClass {
			if !isApostrophe(p) {
				t.endPart()
			}
			t.addWordRune(r, start, end)
			return
		}
		t.flushWord()
	}
	switch c {
	case wordClass:
		t.flushCJK()
		t.addWordRune(r, start, end)
	case markClass:
		if t.inWord {
			t.addWordRune(r, start, end)
		}
		// A mark inside a CJK run or after a separator is ignored.
	case cjkClass:
		t.flushWord()
		t.addCJK(r, start, end)
	default:
		if t.inWord && (isJoiner(r) || isApostrophe(r)) && t.cur.runes > 0 {
			t.pending = r
			return
		}
		t.flushWord()
		t.flushCJK()
	}
}

func (t *tokenizer) addWordRune(r rune, start, end int) {
	if !t.inWord {
		t.inWord = true
		t.cur = part{start: start}
	}
	if t.cur.runes == 0 {
		t.cur.start = start
	}
	if len(t.cur.b)+utf8.RuneLen(r) <= MaxTermBytes {
		t.cur.b = utf8.AppendRune(t.cur.b, r)
	}
	t.cur.end = end
	t.cur.runes++
	if unicode.IsLetter(r) {
		t.cur.letters++
	}
}

func (t *tokenizer) endPart() {
	if t.cur.runes > 0 {
		t.parts = append(t.parts, t.cur)
	}
	t.cur = part{}
}

func (t *tokenizer) flushWord() {
	t.pending = 0
	if !t.inWord {
		return
	}
	t.endPart()
	t.inWord = false
	parts := t.parts
	t.parts = t.parts[:0]
	if len(parts) == 0 {
		return
	}
	if len(parts) == 1 || t.mode == indexMode {
		for _, p := range parts {
			if p.runes == 1 && p.letters == 1 {
				continue // lone letter: noise
			}
			s := string(p.b)
			if _, stop := stopWords[s]; stop {
				continue
			}
			t.emit(s, p.start, p.end)
		}
	}
	if len(parts) > 1 {
		t.scratch = t.scratch[:0]
		for _, p := range parts {
			t.scratch = append(t.scratch, p.b...)
		}
		t.emit(truncate(t.scratch), parts[0].start, parts[len(parts)-1].end)
	}
}

func (t *tokenizer) addCJK(r rune, start, end int) {
	if t.cjkLen > 0 {
		t.scratch = utf8.AppendRune(utf8.AppendRune(t.scratch[:0], t.prevCJK), r)
		t.emit(string(t.scratch), t.prevStart, end)
	} else {
		t.cjkS = start
	}
	t.prevCJK, t.prevStart = r, start
	t.cjkE = end
	t.cjkLen++
}

func (t *tokenizer) flushCJK() {
	if t.cjkLen == 1 {
		t.emit(string(t.prevCJK), t.cjkS, t.cjkE)
	}
	t.cjkLen = 0
}

// truncate cuts b to MaxTermBytes at a rune boundary.
func truncate(b []byte) string {
	if len(b) <= MaxTermBytes {
		return string(b)
	}
	b = b[:MaxTermBytes]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

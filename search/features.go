package search

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// IsCJKTerm reports whether a term produced by Tokenize is a CJK bigram or
// unigram (Han, Hiragana, Katakana, Hangul) rather than a Latin-style word.
func IsCJKTerm(term string) bool {
	r, _ := utf8.DecodeRuneInString(term)
	return r != utf8.RuneError && classify(r) == cjkClass
}

// Stem reduces a lowercased English word from Tokenize to a light stem so
// that inflections of one word meet: plurals ("cards" -> "card", "fees" ->
// "fee", "charges" -> "charg"), past tenses and gerunds ("arrived",
// "arriving", "arrive" -> "arriv"; "transferred" -> "transfer";
// "topped" -> "top"). It is deliberately lighter than Porter: it never
// touches derivational suffixes (-ation, -ment, -ly), so "payment" and "pay"
// stay apart. Words of 3 bytes or fewer, words with digits and non-ASCII
// words (CJK, accented) are returned unchanged. A stem is an index key, not
// a word to show.
func Stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return w
		}
	}
	switch {
	case hasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case hasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case hasSuffix(w, "ss"), hasSuffix(w, "us"), hasSuffix(w, "is"):
	case hasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case hasSuffix(w, "eed"):
		// "need", "feed", "agreed": keep.
	case hasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case hasSuffix(w, "ed") && hasVowel(w[:len(w)-2]) && len(w) > 4:
		w = undouble(w[:len(w)-2])
	case hasSuffix(w, "ing") && hasVowel(w[:len(w)-3]) && len(w) > 5:
		w = undouble(w[:len(w)-3])
	}
	// A final silent e: "arrive" and "arriv(ed)" meet, "charge" and
	// "charg(ing)".
	if len(w) > 4 && w[len(w)-1] == 'e' && w[len(w)-2] != 'e' {
		w = w[:len(w)-1]
	}
	return w
}

func hasSuffix(w, s string) bool { return len(w) > len(s) && w[len(w)-len(s):] == s }

func hasVowel(w string) bool {
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			return true
		}
	}
	return false
}

// undouble removes a doubled final consonant left by a suffix ("stopp" ->
// "stop") except for l, s and z ("fall", "miss", "buzz").
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] {
		switch w[n-1] {
		case 'a', 'e', 'i', 'o', 'u', 'l', 's', 'z':
			return w
		}
		return w[:n-1]
	}
	return w
}

// CharNGrams calls emit with every character n-gram of word, lo <= n <= hi,
// after wrapping it in boundary marks (' ' before and after, as in "char_wb"
// features), so "card" with 3..4 gives " ca", "car", "ard", "rd ", " car",
// "card", "ard ". The whole marked word is emitted once when it is shorter
// than lo. n counts runes, not bytes. The slice passed to emit is reused:
// copy it to keep it. Meant for words from Tokenize; n-grams make features
// robust to typos and inflections ("recieve" still shares most of
// "receive").
func CharNGrams(word string, lo, hi int, emit func(gram []byte)) {
	if lo < 1 || hi < lo || word == "" {
		return
	}
	// Rune start offsets in the marked word " word ".
	buf := make([]byte, 0, len(word)+2)
	buf = append(buf, ' ')
	buf = append(buf, word...)
	buf = append(buf, ' ')
	var starts [67]int
	offs := starts[:0]
	for i := 0; i < len(buf); {
		offs = append(offs, i)
		_, n := utf8.DecodeRune(buf[i:])
		i += n
	}
	runes := len(offs)
	offs = append(offs, len(buf))
	if runes < lo {
		emit(buf)
		return
	}
	for n := lo; n <= hi && n <= runes; n++ {
		for i := 0; i+n <= runes; i++ {
			emit(buf[offs[i]:offs[i+n]])
		}
	}
}

// CJKRunes calls emit for each CJK character of a CJK term from Tokenize
// (the two characters of a bigram), for callers that want character
// unigrams besides the bigrams: 卡 ("card") or 退 ("refund, return") carry
// meaning on their own. Non-CJK terms give nothing.
func CJKRunes(term string, emit func(r rune)) {
	for _, r := range term {
		if classify(r) == cjkClass {
			emit(r)
		}
	}
}

// TokenizeAll is Tokenize with the stop words and the lone letter "i" put
// back where the text has them: "how do I top up" gives how, do, i, top,
// up. Phrase features need them ("what is my balance" and "what is the
// balance" ask different things; "can i" starts a request), while search
// rightly drops them. Everything else (normalisation, compounds, CJK
// bigrams) is exactly Tokenize's.
func TokenizeAll(text string) []string {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	var out []string
	maxEnd := 0
	scan(text, indexMode, func(term string, start, end int) {
		if start > maxEnd {
			out = appendStopWords(out, text[maxEnd:start])
		}
		out = append(out, term)
		maxEnd = max(maxEnd, end)
	})
	if maxEnd < len(text) {
		out = appendStopWords(out, text[maxEnd:])
	}
	return out
}

// appendStopWords appends the stop words found in gap, a stretch of text
// between two Tokenize terms (so it holds only separators and words
// Tokenize dropped).
func appendStopWords(out []string, gap string) []string {
	gap = strings.ToLower(norm.NFKC.String(gap))
	var b []byte
	flush := func() {
		if len(b) > 0 {
			if _, stop := stopWords[string(b)]; stop {
				out = append(out, string(b))
			}
			b = b[:0]
		}
	}
	for _, r := range gap {
		switch {
		case isApostrophe(r):
			// "it's" is the stop word "its", as Tokenize sees it.
		case classify(r) == wordClass:
			b = utf8.AppendRune(b, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

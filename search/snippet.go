package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Snippet returns about width characters (runes) of text around the first
// place that matches a term of query, with every match in the window wrapped
// in « and », "…" marking cut ends, and whitespace runs collapsed to one
// space. Matching uses the tokenizer, so "ＰＩＮ" finds "pin" and 退款 is found
// inside 申请退款. Without a match it returns the start of text. The result is
// plain text: callers HTML-escape it and may then turn « » into <mark>; any «
// or » already in text becomes a plain quote so the markers stay unambiguous.
// width <= 0 means 160.
func Snippet(text, query string, width int) string {
	if width <= 0 {
		width = 160
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	want := map[string]struct{}{}
	scan(query, indexMode, func(term string, _, _ int) { want[term] = struct{}{} })

	// Matched byte ranges of the original text, merged (bigrams overlap).
	var spans [][2]int
	scan(text, indexMode, func(term string, start, end int) {
		if _, ok := want[term]; !ok {
			return
		}
		if n := len(spans); n > 0 && start <= spans[n-1][1] {
			spans[n-1][1] = max(spans[n-1][1], end)
			return
		}
		spans = append(spans, [2]int{start, end})
	})

	// Window: start a third of the width before the first match, in runes.
	from := 0
	if len(spans) > 0 {
		from = spans[0][0]
		// A third of the window before the match, more when the text ends
		// soon after it, so the window is full whenever the text allows.
		back := width / 3
		if tail := utf8.RuneCountInString(text[from:]); tail < width-back {
			back = width - tail
		}
		for ; back > 0 && from > 0; back-- {
			_, n := utf8.DecodeLastRuneInString(text[:from])
			from -= n
		}
		// Do not start inside a match's word: back up to the span start.
		from = min(from, spans[0][0])
	}
	to, runes := from, 0
	for to < len(text) && runes < width {
		_, n := utf8.DecodeRuneInString(text[to:])
		to += n
		runes++
	}
	// Never cut a highlighted match in half.
	for _, s := range spans {
		if s[0] < to && s[1] > to {
			to = s[1]
		}
	}

	var sb strings.Builder
	if from > 0 {
		sb.WriteString("…")
	}
	space := false
	si := 0
	for i := from; i < to; {
		for si < len(spans) && spans[si][1] <= i {
			si++
		}
		if si < len(spans) && spans[si][0] == i {
			sb.WriteString("«")
			sb.WriteString(clean(text[i:spans[si][1]]))
			sb.WriteString("»")
			i = spans[si][1]
			space = false
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if unicode.IsSpace(r) {
			if !space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		sb.WriteString(clean(string(r)))
	}
	out := strings.TrimRight(sb.String(), " ")
	if to < len(text) {
		out += "…"
	}
	return out
}

// clean replaces our markers and control characters in original text.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '«' || r == '»':
			return '"'
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}
